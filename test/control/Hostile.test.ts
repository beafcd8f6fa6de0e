// Hostile API requests: whatever a client sends, the daemon answers with a 4xx JSON error, logs
// one line (no stack) and keeps serving (issue 12, item 3).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { call } from "../../src/control/Client.js";
import { startDaemon } from "./harness.js";

let env: Awaited<ReturnType<typeof startDaemon>>;
before(async () => {
  env = await startDaemon();
});
after(async () => {
  await env.daemon.stop();
});

/** Sends raw bytes on the Unix socket; resolves with everything the daemon answered. */
export function raw(socket: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    const chunks: Buffer[] = [];
    c.on("data", (d) => chunks.push(d));
    c.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    c.on("error", reject);
    // Answers that keep the connection alive are complete once the body has arrived.
    c.setTimeout(2000, () => {
      c.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
    c.write(request);
  });
}

const upgrade =
  "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

function statusAndBody(answer: string): { status: number; body: unknown } {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
  assert.ok(m, `an HTTP answer, not ${JSON.stringify(answer.slice(0, 80))}`);
  const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
  return { status: Number(m[1]), body: JSON.parse(body) };
}

test("a WebSocket upgrade to '//[x' gets a 4xx and the daemon keeps serving", async () => {
  const a = statusAndBody(await raw(env.socket, `GET //[x HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`));
  assert.equal(a.status, 404);
  assert.match((a.body as { error: string }).error, /no WebSocket endpoint at \/\/\[x/);
  assert.equal((await call(env.ep, "GET", "/v1/vms")).status, 200);
});

test("malformed targets and percent-escapes get 4xx JSON, on HTTP and on upgrades, logged without a stack", async () => {
  env.logs.length = 0;
  // [method, target, status on plain HTTP, status on a WebSocket upgrade (only .../console is one)]
  const cases: [string, string, number, number][] = [
    ["GET", "/v1/vms/%E0%A4%A", 400, 404],
    ["GET", "/v1/vms/%E0%A4%A/console", 400, 400],
    ["POST", "/v1/vms/%ZZ/start", 400, 404],
    ["DELETE", "/v1/vms/%", 400, 404],
    ["GET", "//[x", 404, 404],
    ["GET", "*", 400, 400],
    ["GET", "http://evil.example/v1/vms/x/console", 400, 400],
    ["GET", "/v1/vms/a%2Fb/console", 404, 404],
  ];
  for (const [method, target, plain, upg] of cases) {
    for (const hdrs of ["", upgrade]) {
      const a = statusAndBody(
        await raw(env.socket, `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${hdrs}\r\n`),
      );
      assert.equal(a.status, hdrs ? upg : plain, `${method} ${target} ${hdrs ? "(upgrade)" : ""}`);
      assert.equal(typeof (a.body as { error: string }).error, "string");
    }
  }
  // A request line Node's parser itself rejects.
  const bad = await raw(env.socket, "GET /\x01 HTTP/1.1\r\n\r\n");
  assert.match(bad, /^HTTP\/1\.1 400/);
  assert.ok(env.logs.length >= cases.length, "each failure is logged");
  for (const l of env.logs) {
    assert.ok(!l.includes("\n"), `one line: ${l}`);
    assert.doesNotMatch(l, /internal error|    at /);
  }
  assert.equal((await call(env.ep, "GET", "/v1/vms")).status, 200);
});
