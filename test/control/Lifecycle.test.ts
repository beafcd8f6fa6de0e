// Lifecycle operations on one VM are serialized (issue 12, item 4): of concurrent starts one wins
// and the others get 409, and no VM process outlives its record.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { call } from "../../src/control/Client.js";
import { buildGuest, hasCrossGcc } from "./guest.js";
import { startDaemon, waitFor } from "./harness.js";

const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";
let env: Awaited<ReturnType<typeof startDaemon>>;
let guest = "";

before(async () => {
  if (skip) return;
  guest = buildGuest();
  // An image takes a moment to resolve (a real one is checked, or pulled): the window in which
  // concurrent starts of the same VM used to all pass the "not running" check.
  const resolveImage = async () => {
    await new Promise((r) => setTimeout(r, 300));
    return { kernel: guest };
  };
  env = await startDaemon({ allowDirs: [dirname(guest)], resolveImage });
});
after(async () => {
  if (!skip) await env.daemon.stop();
});

/** Pids of this process's children that run a VM. */
export function vmProcesses(): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && readFileSync(`/proc/${e}/cmdline`, "utf8").includes("VmProcess.js"))
        out.push(Number(e));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

test("three concurrent starts: one 200, two 409, one VM process; kill and delete leave none", { skip }, async () => {
  assert.equal(
    (await call(env.ep, "POST", "/v1/vms", { name: "race", image: "slow-image", memoryMiB: 64 })).status,
    201,
  );
  const starts = await Promise.all([1, 2, 3].map(() => call(env.ep, "POST", "/v1/vms/race/start")));
  assert.deepEqual(starts.map((r) => r.status).sort(), [200, 409, 409], starts.map((r) => r.text).join("\n"));
  for (const r of starts.filter((x) => x.status === 409))
    assert.match((r.body as { error: string }).error, /busy: a start is under way|is running/);
  assert.equal(vmProcesses().length, 1);
  // Racing kill, delete and start: whatever wins, no VM process is left without a running record.
  const rs = await Promise.all([
    call(env.ep, "POST", "/v1/vms/race/kill"),
    call(env.ep, "DELETE", "/v1/vms/race?force=true"),
    call(env.ep, "POST", "/v1/vms/race/start"),
  ]);
  for (const r of rs) assert.ok([200, 204, 409].includes(r.status), r.text);
  const v = await call(env.ep, "GET", "/v1/vms/race");
  if (v.status === 200 && (v.body as { status: string }).status === "running") {
    assert.equal(vmProcesses().length, 1);
    assert.equal((await call(env.ep, "DELETE", "/v1/vms/race?force=true")).status, 204);
  }
  await waitFor("no VM process left", () => vmProcesses().length === 0, 10_000);
  if ((await call(env.ep, "GET", "/v1/vms/race")).status === 200)
    assert.equal((await call(env.ep, "DELETE", "/v1/vms/race?force=true")).status, 204);
});

test("with vmsOutliveDaemon false, VM processes end when the daemon's process is killed", { skip }, async () => {
  const harness = fileURLToPath(new URL("./harness.js", import.meta.url));
  const script = `const { startDaemon } = await import(${JSON.stringify(harness)});
    const env = await startDaemon({ allowDirs: [${JSON.stringify(dirname(guest))}] });
    const vm = env.daemon.vms.create({ name: "v", kernel: ${JSON.stringify(guest)}, memoryMiB: 64, cpus: 1, arch: "riscv64", engine: "interp", disks: [] });
    await env.daemon.vms.start(vm.id);
    console.log(env.daemon.vms.pid(vm.id));`;
  const d = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const pid = Number(await new Promise<string>((r) => d.stdout.once("data", (b: Buffer) => r(b.toString()))));
  assert.ok(pid > 0);
  process.kill(pid, 0);
  d.kill("SIGKILL");
  await waitFor(
    "the VM process ends",
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    10_000,
  );
});
