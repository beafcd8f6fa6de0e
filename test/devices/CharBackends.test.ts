// Host backends for serial consoles: terminal escapes (Ctrl-A x/h/c/b), Unix socket, log file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TerminalBackend, TERMINAL_HELP } from "../../src/devices/chardev/TerminalBackend.js";
import { UnixSocketBackend } from "../../src/devices/chardev/UnixSocketBackend.js";
import { FileBackend } from "../../src/devices/chardev/FileBackend.js";
import { Uart16550 } from "../../src/devices/Uart16550.js";
import { TestIrq } from "./VirtioDriver.js";
import { tempDir } from "./helpers.js";

function term(): {
  tb: TerminalBackend;
  out: string[];
  got: number[];
  quits: number;
  monitors: number;
  breaks: number;
} {
  const input = new PassThrough() as unknown as NodeJS.ReadStream;
  const outStream = new PassThrough() as unknown as NodeJS.WriteStream;
  const st = { out: [] as string[], got: [] as number[], quits: 0, monitors: 0, breaks: 0 } as {
    tb: TerminalBackend;
    out: string[];
    got: number[];
    quits: number;
    monitors: number;
    breaks: number;
  };
  (outStream as unknown as PassThrough).on("data", (d: Buffer) => st.out.push(d.toString("latin1")));
  st.tb = new TerminalBackend({ input, output: outStream, onQuit: () => st.quits++, onMonitor: () => st.monitors++ });
  st.tb.attach({ input: (d) => st.got.push(...d), break: () => st.breaks++ });
  return st;
}

test("terminal: Ctrl-A x asks the VMM to quit, other bytes reach the guest", async () => {
  const s = term();
  s.tb.handleInput(Buffer.from("ls\x01x"));
  assert.equal(s.quits, 1);
  assert.deepEqual(s.got, [...Buffer.from("ls")]);
  await s.tb.close();
});

test("terminal: Ctrl-A h prints help, Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A c and b, escape split across reads", async () => {
  const s = term();
  s.tb.handleInput(Buffer.from("\x01h"));
  await new Promise((r) => setImmediate(r));
  assert.ok(s.out.join("").includes(TERMINAL_HELP));
  s.tb.handleInput(Buffer.from("a\x01"));
  s.tb.handleInput(Buffer.from("\x01b"));
  s.tb.handleInput(Buffer.from("\x01c\x01b"));
  assert.deepEqual(s.got, [0x61, 0x01, 0x62]);
  assert.equal(s.monitors, 1);
  assert.equal(s.breaks, 1);
  assert.equal(s.quits, 0);
  await s.tb.close();
});

test("unix socket: guest output (including output from before the client connected) and input both ways", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "serial.sock");
  const be = new UnixSocketBackend(path);
  await be.ready;
  const irq = new TestIrq();
  const u = new Uart16550(irq, be);
  u.write(1, 1, 0x01); // ERBFI
  for (const c of "boot log\n") u.write(0, 1, c.charCodeAt(0));
  u.flushTx();
  const sock = connect(path);
  const received: Buffer[] = [];
  sock.on("data", (d) => received.push(d));
  await new Promise((r) => sock.once("connect", r));
  for (const c of "more\n") u.write(0, 1, c.charCodeAt(0));
  u.flushTx();
  sock.write("hi");
  for (let i = 0; i < 100 && (received.join("").length < 14 || !(u.read(5, 1) & 1)); i++)
    await new Promise((r) => setTimeout(r, 5));
  assert.equal(Buffer.concat(received).toString(), "boot log\nmore\n");
  assert.equal(irq.level, true);
  assert.equal(String.fromCharCode(u.read(0, 1)), "h");
  sock.destroy();
  await u.close();
});

test("file backend: guest output lands in the log file", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "serial.log");
  const u = new Uart16550(new TestIrq(), new FileBackend(path));
  for (const c of "Linux version 6.1\n") u.write(0, 1, c.charCodeAt(0));
  await u.close();
  assert.equal(readFileSync(path, "utf8"), "Linux version 6.1\n");
});
