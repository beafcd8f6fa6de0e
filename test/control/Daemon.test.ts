// The daemon as a user runs it: TCP access needs the bearer token, and VMs survive the daemon
// being killed with SIGKILL: a restarted daemon re-adopts them (docs/CONTROL.md, "Persistence").
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import WebSocket from "ws";
import { connectChannel } from "../../src/control/VmChannel.js";
import type { FromVm, ToVm } from "../../src/control/VmProtocol.js";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { call } from "../../src/control/Client.js";
import { buildCGuest, buildGuest, hasCrossGcc } from "./guest.js";
import { startDaemon, waitFor } from "./harness.js";

const bin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));
const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";

test("on TCP, requests without the bearer token or with a wrong one get 401 and learn nothing", async () => {
  const token = "0123456789abcdef0123456789abcdef";
  const env = await startDaemon({ token, allowDirs: [dirname(bin)] });
  try {
    const url = `http://127.0.0.1:${env.daemon.tcpPort}`;
    await call(env.ep, "POST", "/v1/vms", { name: "secret-vm", kernel: bin, memoryMiB: 64 });
    for (const t of [undefined, "wrong-token-wrong-token-wrong-tok", token + "x"]) {
      for (const path of ["/v1/vms", "/v1/vms/secret-vm", "/metrics", "/v1/events", "/openapi.json", "/nowhere"]) {
        const r = await call({ url, ...(t ? { token: t } : {}) }, "GET", path);
        assert.equal(r.status, 401, `${path} with token ${t}`);
        assert.ok(!r.text.includes("secret-vm"), "no VM name leaks");
      }
    }
    const ok = await call({ url, token }, "GET", "/v1/vms");
    assert.equal(ok.status, 200);
    assert.match(ok.text, /secret-vm/);
  } finally {
    await env.daemon.stop();
  }
});

test("serve refuses --listen without a token file, and a short token", () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-serve-"));
  const r = spawnSyncText(["serve", "--state-dir", dir, "--listen", "127.0.0.1:0"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--listen needs --token-file/);
  writeFileSync(join(dir, "tok"), "short\n");
  const r2 = spawnSyncText(["serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--token-file", join(dir, "tok")]);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /shorter than 16 characters/);
});

function spawnSyncText(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 20_000 });
}

function serve(dir: string, allow: string): ChildProcess {
  return spawn(process.execPath, [bin, "serve", "--state-dir", dir, "--allow-dir", allow], {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Largest record number the disk guest reported written ("W<n>" lines). */
const lastWritten = (text: string) => Math.max(0, ...[...text.matchAll(/W(\d+)\n/g)].map((m) => Number(m[1])));

/**
 * The disk holds, in each sector s, a complete record n with n % 64 == s, at least as new as the
 * last record for s the guest saw completed (<= last) and at most one newer (in flight at the stop).
 */
function checkDisk(path: string, last: number): void {
  const disk = readFileSync(path);
  for (let sec = 0; sec < 64; sec++) {
    const want = last - ((((last - sec) % 64) + 64) % 64); // newest n <= last with n % 64 == sec
    const b = disk.subarray(sec * 512, sec * 512 + 512);
    if (want <= 0 && b[0] === 0) continue; // never written
    assert.equal(b.subarray(0, 4).toString("latin1"), "TVDK", `sector ${sec} holds a record`);
    const n = Number(b.readBigUInt64LE(4));
    assert.equal(n % 64, sec, `sector ${sec} holds its own record`);
    assert.ok(n >= want && n <= last + 1, `sector ${sec}: record ${n}, expected ${want} (last reported ${last})`);
    for (let i = 12; i < 512; i++) assert.equal(b[i], (n * 31 + i) & 255, `sector ${sec} byte ${i} is record ${n}'s`);
  }
}

test(
  "VMs survive kill -9 of the daemon: re-adopted as running, consoles reattach, disks consistent after a clean stop",
  { skip },
  async () => {
    const guest = buildCGuest("disk.c");
    const gdir = dirname(guest);
    const dir = mkdtempSync(join(tmpdir(), "tv-restart-"));
    const ep = { socket: join(dir, "typevisor.sock") };
    const up = async (what: string) =>
      waitFor(what, async () => (await call(ep, "GET", "/v1/vms").catch(() => ({ status: 0 }))).status === 200, 20_000);
    let d = serve(dir, gdir);
    try {
      await up("daemon answers");
      assert.equal(
        (await call(ep, "POST", "/v1/vms", { name: "keep", kernel: guest, memoryMiB: 64, cpus: 1 })).status,
        201,
      );
      const pids: Record<string, number> = {};
      for (const n of ["a", "b"]) {
        writeFileSync(join(gdir, `${n}.img`), Buffer.alloc(64 * 512));
        const r = await call(ep, "POST", "/v1/vms?start=true", {
          name: n,
          kernel: guest,
          memoryMiB: 64,
          disks: [{ path: join(gdir, `${n}.img`) }],
        });
        assert.equal(r.status, 201, r.text);
        await waitFor(
          `${n} writes`,
          async () => lastWritten((await call(ep, "GET", `/v1/vms/${n}/console`)).text) >= 20,
        );
        pids[n] = await waitFor(
          `${n} pid`,
          async () => ((await call(ep, "GET", `/v1/vms/${n}`)).body as { stats: { pid: number } | null }).stats?.pid,
        );
      }
      const before = lastWritten((await call(ep, "GET", "/v1/vms/b/console")).text);
      d.kill("SIGKILL");
      await new Promise((r) => d.once("exit", r));
      // No daemon: the VMs keep running (and writing).
      await new Promise((r) => setTimeout(r, 1000));
      for (const n of ["a", "b"]) assert.ok(pidAlive(pids[n]!), `VM ${n}'s process outlives the daemon`);
      d = serve(dir, gdir);
      await up("daemon answers again");
      const list = (await call(ep, "GET", "/v1/vms")).body as { name: string; status: string }[];
      assert.deepEqual(Object.fromEntries(list.map((v) => [v.name, v.status])), {
        keep: "created",
        a: "running",
        b: "running",
      });
      // The consoles reattach: output produced while no daemon was attached, then new output.
      await waitFor(
        "console of b after the restart",
        async () => lastWritten((await call(ep, "GET", "/v1/vms/b/console")).text) > before + 20,
      );
      // What b printed while no daemon was attached was kept (bounded) and arrives first.
      const firstAfter = Math.min(
        ...[...(await call(ep, "GET", "/v1/vms/b/console")).text.matchAll(/W(\d+)\n/g)].map((m) => Number(m[1])),
      );
      assert.ok(
        firstAfter <= before + 10,
        `the reattached console starts at W${firstAfter}, the old daemon saw up to W${before}`,
      );
      const ws = new WebSocket(`ws+unix://${ep.socket}:/v1/vms/a/console`);
      const got: Buffer[] = [];
      ws.on("message", (m: Buffer) => got.push(m));
      await waitFor("console of a over WebSocket", () => /W\d+\n/.test(Buffer.concat(got).toString()), 20_000);
      ws.close();
      // A clean stop (this guest ignores the power-off request: stopped after the timeout, disks flushed).
      for (const n of ["a", "b"])
        assert.equal((await call(ep, "POST", `/v1/vms/${n}/shutdown?timeoutSeconds=1`)).status, 200);
      for (const n of ["a", "b"]) {
        const v = await waitFor(`${n} stopped`, async () => {
          const x = (await call(ep, "GET", `/v1/vms/${n}`)).body as { status: string; lastExit: { reason: string } };
          return x.status === "stopped" ? x : undefined;
        });
        assert.equal(v.lastExit.reason, "shutdown-timeout");
        await waitFor(`${n}'s process ends`, () => !pidAlive(pids[n]!), 10_000);
        checkDisk(join(gdir, `${n}.img`), lastWritten((await call(ep, "GET", `/v1/vms/${n}/console`)).text));
      }
    } finally {
      d.kill("SIGTERM");
      await new Promise((r) => d.once("exit", r));
    }
  },
);

test(
  "a VM that powers off while no daemon is attached is recorded stopped with its own exit, and starts again",
  { skip },
  async () => {
    const guest = buildGuest();
    const dir = mkdtempSync(join(tmpdir(), "tv-restart-"));
    const ep = { socket: join(dir, "typevisor.sock") };
    let d = serve(dir, dirname(guest));
    try {
      await waitFor(
        "daemon answers",
        async () => (await call(ep, "GET", "/v1/vms").catch(() => ({ status: 0 }))).status === 200,
        20_000,
      );
      const r = await call(ep, "POST", "/v1/vms?start=true", { name: "off", kernel: guest, memoryMiB: 64 });
      assert.equal(r.status, 201, r.text);
      await waitFor("ready", async () =>
        (await call(ep, "GET", "/v1/vms/off/console")).text.includes("TV-GUEST-READY"),
      );
      const pid = await waitFor(
        "pid",
        async () => ((await call(ep, "GET", "/v1/vms/off")).body as { stats: { pid: number } | null }).stats?.pid,
      );
      const id = ((await call(ep, "GET", "/v1/vms/off")).body as { id: string }).id;
      d.kill("SIGKILL");
      await new Promise((res) => d.once("exit", res));
      // No daemon: talk to the VM process's own socket, as a daemon would, and make the guest power off.
      const ch = await connectChannel<FromVm, ToVm>(join(dir, "vms", id, "vm.sock"));
      ch.send({ t: "input", data: new TextEncoder().encode("p") });
      await waitFor("the VM process ends", () => !pidAlive(pid), 20_000);
      d = serve(dir, dirname(guest));
      await waitFor(
        "daemon answers again",
        async () => (await call(ep, "GET", "/v1/vms").catch(() => ({ status: 0 }))).status === 200,
        20_000,
      );
      const v = (await call(ep, "GET", "/v1/vms/off")).body as { status: string; lastExit: { reason: string } };
      assert.equal(v.status, "stopped");
      assert.equal(v.lastExit.reason, "poweroff");
      // It can be started again under the new daemon.
      assert.equal((await call(ep, "POST", "/v1/vms/off/start")).status, 200);
      await waitFor("guest output after restart", async () =>
        (await call(ep, "GET", "/v1/vms/off/console")).text.includes("TV-GUEST-READY"),
      );
      assert.equal((await call(ep, "POST", "/v1/vms/off/kill")).status, 200);
    } finally {
      d.kill("SIGTERM");
      await new Promise((res) => d.once("exit", res));
    }
  },
);
