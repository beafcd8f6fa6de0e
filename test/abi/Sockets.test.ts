// Sockets under `typevisor exec` (issue 15): programs/sockets.c against qemu-riscv64 (which uses
// the host's sockets, so it is the oracle), and TCP conversations between a guest program and a
// host one in both directions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { debianRoot } from "./DebianPackages.js";
import { compile, have, run, scratch, texec, TRANSLATE_EVERYTHING } from "./helpers.js";

const noGcc = !have("riscv64-linux-gnu-gcc")
  ? "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)"
  : undefined;
const noQemu = !have("qemu-riscv64") ? "qemu-riscv64 is not installed (apt-get install qemu-user)" : undefined;
const runner = join(import.meta.dirname, "runExec.js");

test("TCP, UDP, AF_UNIX, SCM_RIGHTS, poll/select/epoll/eventfd on sockets: the same output as under qemu-riscv64", (t) => {
  if (noGcc || noQemu) return t.skip(noGcc ?? noQemu);
  const bin = compile("sockets")!;
  const q = run("qemu-riscv64", [bin, scratch("sockets-qemu")], undefined, 60_000);
  assert.equal(q.status, 0, q.stderr);
  for (const engine of ["interp", "dbt"]) {
    const r = texec(
      ["--engine", engine, bin, scratch("sockets-tv-" + engine)],
      undefined,
      120_000,
      undefined,
      TRANSLATE_EVERYTHING,
    );
    assert.equal(r.stderr, "", r.stdout);
    assert.equal(r.stdout, q.stdout);
    assert.equal(r.status, 0);
  }
  assert.match(q.stdout, /tcp: echo of 300000 bytes intact: 1, then EOF/);
  assert.match(q.stdout, /unix child: got 'from parent'/);
});

test("AF_UNIX socket files stay inside --root", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("sockets")!;
  const root = scratch("sockets-root");
  const r = texec(["--root", root, bin, "/"], undefined, 60_000);
  // The program runs from the host path but every path it names is inside the root.
  assert.equal(r.status, 127, "the program itself is outside the root");
  const inside = join(root, "sockets");
  run("cp", [bin, inside]);
  const r2 = texec(["--root", root, "/sockets", "/"], undefined, 120_000);
  assert.equal(r2.stderr, "", r2.stdout);
  assert.equal(r2.status, 0, r2.stdout);
  assert.match(r2.stdout, /unix: bound file is a socket: 1\n/);
  assert.ok(!existsSync("/sock"), "the socket file was made inside the root, not at the host's /sock");
});

/** Runs `typevisor exec ARGS` asynchronously; resolves with its output when it exits. */
function texecAsync(
  args: string[],
  onStdout?: (text: string) => void,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [runner, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => c.kill("SIGKILL"), 60_000);
    c.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      onStdout?.(stdout);
    });
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("error", reject);
    c.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

test("a guest client talks to a host TCP server", async (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("netpeer")!;
  let heard = "";
  const server = net.createServer((c) => {
    c.on("data", (b) => {
      heard += b.toString();
      if (heard.includes("\n")) c.end(`host heard: ${heard}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const r = await texecAsync([bin, "client", String(port)]);
  server.close();
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  assert.equal(heard, "hello from the guest\n");
  assert.equal(r.stdout, "host heard: hello from the guest\n");
});

test("a host client talks to a guest TCP server (IPv6 listener, IPv4 client)", async (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("netpeer")!;
  let reply = "";
  let connected = false;
  const done = texecAsync([bin, "server"], (out) => {
    const m = /^port (\d+)\n/.exec(out);
    if (!m || connected) return;
    connected = true;
    const c = net.connect(Number(m[1]), "127.0.0.1", () => c.write("shout this\n"));
    c.on("data", (b) => (reply += b.toString()));
  });
  const r = await done;
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  assert.equal(reply, "SHOUT THIS\n");
  assert.match(r.stdout, /served a v4-mapped peer: 1\n$/);
});

test("busybox wget fetches from a local HTTP server, as under qemu-riscv64", async (t) => {
  const rv = await debianRoot("riscv64", ["busybox-static"]);
  if (typeof rv !== "string") return t.skip(rv.skip);
  const busybox = join(rv, "usr/bin/busybox");
  const body = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i}\n`).join(""));
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === "/data.txt") res.writeHead(200, { "content-type": "text/plain" }).end(body);
    else res.writeHead(404).end("no");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  try {
    const r = await texecAsync([busybox, "wget", "-q", "-O", "-", `${url}/data.txt`]);
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.ok(r.stdout === body.toString(), `wget's output differs (${r.stdout.length} bytes, want ${body.length})`);
    const missing = await texecAsync([busybox, "wget", "-q", "-O", "-", `${url}/missing`]);
    if (!noQemu) {
      const q = await runAsync("qemu-riscv64", [busybox, "wget", "-q", "-O", "-", `${url}/missing`]);
      assert.equal(missing.status, q.status);
      assert.equal(missing.stderr, q.stderr);
    }
    assert.notEqual(missing.status, 0);
    assert.deepEqual(seen.slice(0, 2), ["GET /data.txt", "GET /missing"]);
  } finally {
    server.close();
  }
});

/** Runs a host command asynchronously (the test's own server must keep serving meanwhile). */
function runAsync(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("error", reject);
    c.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
