// The daemon's /ui/ route and the dashboard's WebSocket authentication, without a browser: the
// dashboard's files are served without the token (they hold no VM data) and never from outside
// their directory; the API stays behind the token; a console WebSocket accepts the token as a
// subprotocol (a browser cannot set headers) and selects the console protocol, never echoing the
// token, and refuses a wrong one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { startDaemon } from "../control/harness.js";
import { BEARER_PROTOCOL_PREFIX, CONSOLE_PROTOCOL } from "../../src/control/Api.js";

const TOKEN = "ui-route-test-token-0123456789";

test("/ui/ serves the dashboard's files without the token, nothing outside them, and the API still needs it", async () => {
  const root = mkdtempSync(join(tmpdir(), "tv-ui-"));
  mkdirSync(join(root, "ui"));
  writeFileSync(join(root, "ui", "index.html"), "<!doctype html>dashboard");
  writeFileSync(join(root, "secret.txt"), "secret");
  const env = await startDaemon({ token: TOKEN, uiDir: join(root, "ui") });
  const base = `http://127.0.0.1:${env.daemon.tcpPort}`;
  try {
    const index = await fetch(`${base}/ui/`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /dashboard/);
    assert.match(index.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const redirect = await fetch(`${base}/ui`, { redirect: "manual" });
    assert.equal(redirect.status, 301);
    for (const p of ["/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/..%2fsecret.txt", "/ui/nothing.js"]) {
      const r = await fetch(`${base}${p}`);
      assert.notEqual(r.status, 200, p);
      assert.doesNotMatch(await r.text(), /secret/, p);
    }
    assert.equal((await fetch(`${base}/v1/vms`)).status, 401);
    assert.equal((await fetch(`${base}/ui/x/../../v1/vms`)).status, 401); // normalized by fetch: still the API
  } finally {
    await env.daemon.stop();
  }
});

test("a console WebSocket takes the token as a subprotocol and refuses a wrong one", async () => {
  const env = await startDaemon({ token: TOKEN });
  const base = `ws://127.0.0.1:${env.daemon.tcpPort}`;
  try {
    const kernel = join(env.dir, "kernel.bin");
    writeFileSync(kernel, new Uint8Array(4096));
    const vm = env.daemon.vms.create({
      name: "w",
      kernel,
      memoryMiB: 64,
      cpus: 1,
      arch: "riscv64",
      engine: "interp",
      disks: [],
    });
    const open = (token: string) =>
      new Promise<{ ok: boolean; protocol: string; status?: number }>((resolve) => {
        const enc = Buffer.from(token).toString("base64url");
        const ws = new WebSocket(`${base}/v1/vms/${vm.id}/console`, [CONSOLE_PROTOCOL, BEARER_PROTOCOL_PREFIX + enc]);
        ws.on("open", () => {
          resolve({ ok: true, protocol: ws.protocol });
          ws.close();
        });
        ws.on("unexpected-response", (_req, res) => resolve({ ok: false, protocol: "", status: res.statusCode }));
        ws.on("error", () => resolve({ ok: false, protocol: "" }));
      });
    const good = await open(TOKEN);
    assert.deepEqual(good, { ok: true, protocol: CONSOLE_PROTOCOL });
    const bad = await open("wrong-token-wrong-token-wrong");
    assert.equal(bad.ok, false);
    assert.equal(bad.status, 401);
  } finally {
    await env.daemon.stop();
  }
});
