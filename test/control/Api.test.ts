// The control plane's HTTP API: every endpoint with valid and invalid requests, VMs running apart
// from each other and from the daemon, consoles over WebSocket, events and metrics.
import { DEFAULT_ENGINE } from "../../src/dbt/Engine.js";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import WebSocket from "ws";
import { call } from "../../src/control/Client.js";
import { buildGuest, hasCrossGcc } from "./guest.js";
import { startDaemon, waitFor, get } from "./harness.js";

let env: Awaited<ReturnType<typeof startDaemon>>;
let guest = "";
const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";

before(async () => {
  if (skip) return;
  guest = buildGuest();
  env = await startDaemon({ shutdownTimeoutMs: 60_000, allowDirs: [dirname(guest)] });
});
after(async () => {
  if (!skip) await env.daemon.stop();
});

const spec = (name: string, extra: Record<string, unknown> = {}) => ({ name, kernel: guest, memoryMiB: 64, ...extra });
const consoleText = async (id: string) => (await call(env.ep, "GET", `/v1/vms/${id}/console`)).text;

test("the Unix socket is owner-only and /openapi.json describes every endpoint", { skip }, async () => {
  assert.equal(statSync(env.socket).mode & 0o777, 0o600);
  const doc = await get(env.ep, "/openapi.json");
  assert.equal(doc["openapi"], "3.1.0");
  const paths = Object.keys(doc["paths"] as object);
  for (const p of [
    "/v1/vms",
    "/v1/vms/{id}",
    "/v1/vms/{id}/start",
    "/v1/vms/{id}/pause",
    "/v1/vms/{id}/resume",
    "/v1/vms/{id}/shutdown",
    "/v1/vms/{id}/kill",
    "/v1/vms/{id}/resize",
    "/v1/vms/{id}/console",
    "/v1/events",
    "/metrics",
  ]) {
    assert.ok(paths.includes(p), `${p} is documented`);
  }
});

test("malformed create requests get 400 naming the field and the reason", { skip }, async () => {
  const bad: [unknown, RegExp][] = [
    [{ ...spec("x1"), colour: "red" }, /unknown field 'colour'/],
    [{ ...spec("x2"), memoryMiB: 1 << 20 }, /memoryMiB: must be <= 2048/],
    [{ ...spec("x3"), cpus: 0 }, /cpus: must be >= 1/],
    [{ name: "x4", memoryMiB: 64 }, /give 'image'.*or 'kernel'/],
    [{ ...spec("x5"), image: "debian-riscv64" }, /either 'image' or 'kernel', not both/],
    [{ ...spec("x6"), kernel: `${dirname(guest)}/nonexistent` }, /kernel: '.*\/nonexistent' does not exist/],
    [{ ...spec("x7"), kernel: "relative/kernel" }, /kernel: .* must be an absolute path/],
    [{ ...spec("bad name!") }, /name: must match pattern/],
    [{ ...spec("x8"), disks: [{ path: `${dirname(guest)}/nonexistent.img` }] }, /disks\/0\/path: .* does not exist/],
    [{ ...spec("x9"), engine: "jit" }, /engine: must be one of interp, dbt/],
    [[1, 2], /must be a JSON object/],
  ];
  for (const [body, re] of bad) {
    const r = await call(env.ep, "POST", "/v1/vms", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match((r.body as { error: string }).error, re);
  }
  const notJson = await new Promise<number>((resolve) => {
    void import("node:http").then(({ request }) => {
      const req = request(
        { socketPath: env.socket, method: "POST", path: "/v1/vms", headers: { "content-type": "application/json" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.end("{not json");
    });
  });
  assert.equal(notJson, 400);
  assert.equal(((await get(env.ep, "/v1/vms")) as unknown as unknown[]).length, 0, "nothing was created");
});

test("unknown VMs get 404, illegal state changes 409, unmeetable requests 422", { skip }, async () => {
  assert.equal((await call(env.ep, "GET", "/v1/vms/nope")).status, 404);
  assert.equal((await call(env.ep, "POST", "/v1/vms/nope/start")).status, 404);
  assert.equal((await call(env.ep, "GET", "/v1/nothing")).status, 404);
  const c = await call(env.ep, "POST", "/v1/vms", spec("idle"));
  assert.equal(c.status, 201);
  assert.equal((await call(env.ep, "POST", "/v1/vms", spec("idle"))).status, 409, "duplicate name");
  for (const action of ["pause", "resume", "shutdown", "kill"]) {
    const r = await call(env.ep, "POST", `/v1/vms/idle/${action}`);
    assert.equal(r.status, 409, action);
    assert.match((r.body as { error: string }).error, /is created: cannot/);
  }
  // The console size: checked before the state, then only a running VM takes it.
  for (const bad of [{}, { cols: 0, rows: 24 }, { cols: 80, rows: 1001 }, { cols: 80.5, rows: 24 }])
    assert.equal((await call(env.ep, "POST", "/v1/vms/idle/resize", bad)).status, 400, JSON.stringify(bad));
  assert.equal((await call(env.ep, "POST", "/v1/vms/idle/resize", { cols: 80, rows: 24 })).status, 409);
  const img = await call(env.ep, "POST", "/v1/vms?start=true", { name: "img", image: "debian-riscv64", memoryMiB: 64 });
  assert.equal(img.status, 422);
  assert.match((img.body as { error: string }).error, /image 'debian-riscv64'/);
  assert.equal((await call(env.ep, "DELETE", "/v1/vms/img")).status, 204);
  assert.equal((await call(env.ep, "DELETE", "/v1/vms/idle")).status, 204);
  assert.equal((await call(env.ep, "GET", "/v1/vms/idle")).status, 404);
});

test(
  "three VMs run at once, each with its own console; one killed with SIGKILL leaves the others running",
  { skip },
  async () => {
    const ids: string[] = [];
    for (const n of ["a", "b", "c"]) {
      const r = await call(env.ep, "POST", "/v1/vms?start=true", spec(n));
      assert.equal(r.status, 201, r.text);
      assert.equal((r.body as { status: string }).status, "running");
      ids.push((r.body as { id: string }).id);
    }
    for (const id of ids)
      await waitFor(`console of ${id}`, async () => (await consoleText(id)).includes("TV-GUEST-READY"));
    // Console input reaches the right guest: each echoes its own text.
    for (const [i, id] of ids.entries()) {
      const ws = new WebSocket(`ws+unix://${env.socket}:/v1/vms/${id}/console?mode=write`);
      await new Promise((r) => ws.once("open", r));
      ws.send(`hello-${i}`);
      await waitFor(`echo in ${id}`, async () => (await consoleText(id)).includes(`hello-${i}`));
      ws.close();
    }
    for (const [i, id] of ids.entries()) {
      const text = await consoleText(id);
      for (let j = 0; j < 3; j++)
        if (j !== i) assert.ok(!text.includes(`hello-${j}`), `console of VM ${i} has no input of VM ${j}`);
    }
    // SIGKILL the second VM's process from outside.
    const pid = env.daemon.vms.pid(ids[1]!);
    assert.ok(pid);
    process.kill(pid, "SIGKILL");
    const b = await waitFor("VM b stopped", async () => {
      const v = await get(env.ep, `/v1/vms/${ids[1]}`);
      return v["status"] === "stopped" ? v : undefined;
    });
    assert.equal((b["lastExit"] as { reason: string }).reason, "killed");
    const insns = async (id: string) =>
      ((await get(env.ep, `/v1/vms/${id}`))["stats"] as { instructions: number } | null)?.instructions ?? 0;
    const before = await Promise.all([ids[0]!, ids[2]!].map(insns));
    await waitFor("the other VMs keep executing", async () => {
      const now = await Promise.all([ids[0]!, ids[2]!].map(insns));
      return now.every((n, k) => n > before[k]!);
    });
    for (const id of [ids[0]!, ids[2]!]) assert.equal((await get(env.ep, `/v1/vms/${id}`))["status"], "running");
    for (const id of ids) await call(env.ep, "DELETE", `/v1/vms/${id}?force=true`);
  },
);

test("console input sent while the VM process is still starting reaches the guest", { skip }, async () => {
  const r = await call(env.ep, "POST", "/v1/vms", spec("early"));
  assert.equal(r.status, 201, r.text);
  const id = (r.body as { id: string }).id;
  const started = call(env.ep, "POST", `/v1/vms/${id}/start`);
  // (No "p" in the text: the guest powers off on "p".) The daemon knows the VM's process as soon as it has spawned it, ~0.1-0.5 s before the process
  // listens on its socket: input sent in that window used to be dropped.
  let sentEarly = false;
  for (let i = 0; i < 5000 && !sentEarly; i++) {
    try {
      env.daemon.vms.sendInput(id, Buffer.from("early-echo"));
      sentEarly = true;
    } catch {
      await new Promise((res) => setImmediate(res));
    }
  }
  assert.ok(sentEarly, "the VM never became able to take input");
  assert.equal((await started).status, 200);
  await waitFor("the echo of the early input", async () => (await consoleText(id)).includes("early-echo"));
  await call(env.ep, "DELETE", `/v1/vms/${id}?force=true`);
});

test("a VM created with engine dbt runs on the binary translator and its stats say so", { skip }, async () => {
  const r = await call(env.ep, "POST", "/v1/vms?start=true", spec("t", { engine: "dbt" }));
  assert.equal(r.status, 201, r.text);
  const id = (r.body as { id: string; spec: { engine: string } }).id;
  assert.equal((r.body as { spec: { engine: string } }).spec.engine, "dbt");
  await waitFor("ready", async () => (await consoleText(id)).includes("TV-GUEST-READY"));
  const ws = new WebSocket(`ws+unix://${env.socket}:/v1/vms/${id}/console?mode=write`);
  await new Promise((res) => ws.once("open", res));
  ws.send("hello-dbt");
  await waitFor("echo", async () => (await consoleText(id)).includes("hello-dbt"));
  ws.close();
  // The guest's UART polling loop is dispatched often enough to be translated (Dbt hotThreshold).
  const stats = await waitFor("translator statistics", async () => {
    const s = (await get(env.ep, `/v1/vms/${id}/stats`)) as {
      engine?: string;
      dbt?: { pagesTranslated: number };
    } | null;
    return s?.dbt && s.dbt.pagesTranslated > 0 ? s : undefined;
  });
  assert.equal(stats.engine, "dbt");
  // A spec without an engine gets DEFAULT_ENGINE; an interpreter VM's stats carry no translator section.
  const dflt = await call(env.ep, "POST", "/v1/vms", spec("t-default"));
  assert.equal((dflt.body as { spec: { engine: string } }).spec.engine, DEFAULT_ENGINE);
  assert.equal((await call(env.ep, "DELETE", `/v1/vms/${(dflt.body as { id: string }).id}?force=true`)).status, 204);
  const d = await call(env.ep, "POST", "/v1/vms?start=true", spec("t-interp", { engine: "interp" }));
  const did = (d.body as { id: string; spec: { engine: string } }).id;
  assert.equal((d.body as { spec: { engine: string } }).spec.engine, "interp");
  const ds = await waitFor("interpreter statistics", async () => {
    const s = (await get(env.ep, `/v1/vms/${did}/stats`)) as { engine?: string; dbt?: unknown } | null;
    return s?.engine ? s : undefined;
  });
  assert.equal(ds.engine, "interp");
  assert.equal(ds.dbt, undefined);
  for (const v of [id, did]) assert.equal((await call(env.ep, "DELETE", `/v1/vms/${v}?force=true`)).status, 204);
});

test("pause stops the guest's progress and resume continues it; metrics count its instructions", { skip }, async () => {
  const r = await call(env.ep, "POST", "/v1/vms?start=true", spec("p"));
  const id = (r.body as { id: string }).id;
  await waitFor("ready", async () => (await consoleText(id)).includes("TV-GUEST-READY"));
  assert.equal((await call(env.ep, "POST", `/v1/vms/${id}/pause`)).status, 200);
  assert.equal((await call(env.ep, "POST", `/v1/vms/${id}/pause`)).status, 409, "pausing a paused VM");
  await new Promise((res) => setTimeout(res, 1500));
  const a = ((await get(env.ep, `/v1/vms/${id}`))["stats"] as { instructions: number }).instructions;
  await new Promise((res) => setTimeout(res, 1500));
  const b = ((await get(env.ep, `/v1/vms/${id}`))["stats"] as { instructions: number }).instructions;
  assert.equal(b, a, "no instructions retire while paused");
  assert.equal((await call(env.ep, "POST", `/v1/vms/${id}/resume`)).status, 200);
  await waitFor(
    "progress after resume",
    async () => ((await get(env.ep, `/v1/vms/${id}`))["stats"] as { instructions: number }).instructions > b,
  );
  const metrics = (await call(env.ep, "GET", "/metrics")).text;
  assert.match(metrics, new RegExp(`typevisor_vm_instructions_total\\{vm="${id}",name="p"\\} [1-9]\\d*`));
  assert.match(metrics, /# TYPE typevisor_vm_up gauge/);
  assert.match(metrics, new RegExp(`typevisor_vm_rss_bytes\\{vm="${id}",name="p"\\} [1-9]`));
  assert.equal((await call(env.ep, "DELETE", `/v1/vms/${id}`)).status, 409, "deleting a running VM needs force");
  assert.equal((await call(env.ep, "DELETE", `/v1/vms/${id}?force=true`)).status, 204);
});

test(
  "the guest's own poweroff and a shutdown timeout both end as stopped, with reasons, as server-sent events",
  { skip },
  async () => {
    const events: string[] = [];
    const ctl = new AbortController();
    const http = await import("node:http");
    http
      .get({ socketPath: env.socket, path: "/v1/events", signal: ctl.signal }, (res) => {
        res.setEncoding("utf8");
        res.on("data", (d: string) => events.push(d));
        res.on("error", () => {});
      })
      .on("error", () => {});
    const r = await call(env.ep, "POST", "/v1/vms?start=true", spec("off"));
    const id = (r.body as { id: string }).id;
    await waitFor("ready", async () => (await consoleText(id)).includes("TV-GUEST-READY"));
    // A second writer is refused while one is attached; readers are fine.
    const w = new WebSocket(`ws+unix://${env.socket}:/v1/vms/${id}/console?mode=write`);
    await new Promise((res) => w.once("open", res));
    const w2 = new WebSocket(`ws+unix://${env.socket}:/v1/vms/${id}/console?mode=write`);
    const status = await new Promise<number>((res) =>
      w2.once("unexpected-response", (_q, s) => res(s.statusCode ?? 0)),
    );
    assert.equal(status, 409);
    const reader = new WebSocket(`ws+unix://${env.socket}:/v1/vms/${id}/console`);
    const seen: Buffer[] = [];
    reader.on("message", (d: Buffer) => seen.push(d));
    await new Promise((res) => reader.once("open", res));
    reader.send("ignored"); // a reader's input is not delivered
    w.send("p"); // the guest powers itself off
    const v = await waitFor("poweroff", async () => {
      const x = await get(env.ep, `/v1/vms/${id}`);
      return x["status"] === "stopped" ? x : undefined;
    });
    assert.deepEqual(
      { reason: (v["lastExit"] as { reason: string }).reason, status: (v["lastExit"] as { status: number }).status },
      { reason: "poweroff", status: 0 },
    );
    assert.match(Buffer.concat(seen).toString(), /TV-GUEST-READY/, "a late reader sees recent output");
    assert.ok(!(await consoleText(id)).includes("ignored"));
    w.close();
    reader.close();

    // This guest ignores the SysRq power-off request: the daemon stops it after the timeout.
    assert.equal((await call(env.ep, "POST", `/v1/vms/${id}/start`)).status, 200);
    assert.equal((await call(env.ep, "POST", `/v1/vms/${id}/shutdown?timeoutSeconds=abc`)).status, 400);
    const s = await call(env.ep, "POST", `/v1/vms/${id}/shutdown?timeoutSeconds=1`);
    assert.equal((s.body as { status: string }).status, "stopping");
    const v2 = await waitFor("shutdown timeout", async () => {
      const x = await get(env.ep, `/v1/vms/${id}`);
      return x["status"] === "stopped" ? x : undefined;
    });
    assert.equal((v2["lastExit"] as { reason: string }).reason, "shutdown-timeout");
    await waitFor("events", () => events.join("").includes('"reason":"shutdown-timeout"'), 5000);
    ctl.abort();
    const all = events.join("");
    assert.match(all, /event: created\ndata: \{"type":"created","vm":"[0-9a-f]+","name":"off"/);
    assert.match(all, /event: exit\ndata: .*"reason":"poweroff","status":0/);
    assert.match(all, /"status":"stopping"/);
    await call(env.ep, "DELETE", `/v1/vms/${id}`);
  },
);

test("a CPU quota bounds how much the VM runs", { skip }, async () => {
  const full = (await call(env.ep, "POST", "/v1/vms?start=true", spec("full"))).body as { id: string };
  const capped = (await call(env.ep, "POST", "/v1/vms?start=true", spec("capped", { cpuQuota: 0.2 }))).body as {
    id: string;
  };
  const insns = async (id: string) =>
    ((await get(env.ep, `/v1/vms/${id}`))["stats"] as { instructions: number } | null)?.instructions ?? 0;
  await waitFor("both running", async () => (await insns(full.id)) > 0 && (await insns(capped.id)) > 0);
  const a0 = [await insns(full.id), await insns(capped.id)];
  await new Promise((r) => setTimeout(r, 4000));
  const a1 = [await insns(full.id), await insns(capped.id)];
  const dFull = a1[0]! - a0[0]!;
  const dCapped = a1[1]! - a0[1]!;
  assert.ok(dCapped > 0, "the capped VM still runs");
  assert.ok(dCapped < dFull * 0.6, `capped VM ran ${dCapped} instructions against ${dFull} unlimited`);
  for (const v of [full, capped]) await call(env.ep, "DELETE", `/v1/vms/${v.id}?force=true`);
});
