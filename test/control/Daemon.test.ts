// The daemon as a user runs it: TCP access needs the bearer token, and VM definitions and their
// last states survive the daemon being killed with SIGKILL and started again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { call } from "../../src/control/Client.js";
import { buildGuest, hasCrossGcc } from "./guest.js";
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
  return spawn(process.execPath, [bin, "serve", "--state-dir", dir, "--allow-dir", allow], { stdio: ["ignore", "ignore", "pipe"] });
}

test("VM definitions and last states survive kill -9 of the daemon; the VM's process does not outlive it", { skip }, async () => {
  const guest = buildGuest();
  const dir = mkdtempSync(join(tmpdir(), "tv-restart-"));
  const ep = { socket: join(dir, "typevisor.sock") };
  let d = serve(dir, dirname(guest));
  try {
    await waitFor("daemon socket", () => existsSync(ep.socket), 20_000);
    await waitFor("daemon answers", async () => (await call(ep, "GET", "/v1/vms").catch(() => ({ status: 0 }))).status === 200, 20_000);
    assert.equal((await call(ep, "POST", "/v1/vms", { name: "keep", kernel: guest, memoryMiB: 64, cpus: 1 })).status, 201);
    const run = await call(ep, "POST", "/v1/vms?start=true", { name: "running", kernel: guest, memoryMiB: 64 });
    assert.equal(run.status, 201);
    const id = (run.body as { id: string }).id;
    await waitFor("guest output", async () => (await call(ep, "GET", `/v1/vms/${id}/console`)).text.includes("TV-GUEST-READY"));
    const stats = await waitFor("stats", async () => ((await call(ep, "GET", `/v1/vms/${id}`)).body as { stats: { rssBytes: number; pid: number } | null }).stats ?? undefined);
    assert.ok(stats.rssBytes > 0);
    d.kill("SIGKILL");
    await new Promise((r) => d.once("exit", r));
    const alive = () => {
      try {
        process.kill(stats.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor("the orphaned VM process to stop", () => !alive(), 20_000);
    d = serve(dir, dirname(guest));
    await waitFor("daemon answers again", async () => (await call(ep, "GET", "/v1/vms").catch(() => ({ status: 0 }))).status === 200, 20_000);
    const list = (await call(ep, "GET", "/v1/vms")).body as { name: string; status: string; spec: { memoryMiB: number }; lastExit: { reason: string } | null }[];
    const byName = Object.fromEntries(list.map((v) => [v.name, v]));
    assert.equal(byName["keep"]?.status, "created");
    assert.equal(byName["keep"]?.spec.memoryMiB, 64);
    assert.equal(byName["running"]?.status, "stopped");
    assert.equal(byName["running"]?.lastExit?.reason, "daemon-restart");
    // It can be started again under the new daemon.
    assert.equal((await call(ep, "POST", `/v1/vms/running/start`)).status, 200);
    await waitFor("guest output after restart", async () => (await call(ep, "GET", `/v1/vms/running/console`)).text.includes("TV-GUEST-READY"));
    assert.equal((await call(ep, "POST", `/v1/vms/running/kill`)).status, 200);
  } finally {
    d.kill("SIGTERM");
    await new Promise((r) => d.once("exit", r));
  }
});
