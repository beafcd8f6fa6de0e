// The HTIF device on its own (no hart): exit encoding, bcd putchar, the syscall block, and that a
// hostile target (pointers outside RAM, absurd lengths, unknown commands) gets an error or an errno,
// never an exception in the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { Htif, SYS_EXIT, SYS_WRITE } from "../../src/devices/Htif.js";
import { gpa } from "../../src/memory/Address.js";

const BASE = 0x8000_0000;
function setup() {
  const memory = new GuestMemory({ base: BASE, size: 1 << 16, shared: false });
  const out: string[] = [];
  const htif = new Htif({
    memory,
    tohost: BASE + 0x1000,
    fromhost: BASE + 0x1040,
    write: (fd, d) => out.push(`${fd}:${Buffer.from(d).toString("latin1")}`),
  });
  return { memory, htif, out, cmd: (v: bigint) => memory.writeU64(gpa(BASE + 0x1000), v) };
}

test("htif: nothing pending is 'none'; (code << 1) | 1 is an exit with that code, and tohost is cleared", () => {
  const { htif, cmd, memory } = setup();
  assert.deepEqual(htif.poll(), { kind: "none" });
  cmd(1n);
  assert.deepEqual(htif.poll(), { kind: "exit", code: 0 });
  assert.equal(memory.readU64(gpa(BASE + 0x1000)), 0n);
  cmd((42n << 1n) | 1n);
  assert.deepEqual(htif.poll(), { kind: "exit", code: 42 });
});

test("htif: bcd putchar prints the byte and acknowledges through fromhost", () => {
  const { htif, cmd, out, memory } = setup();
  cmd((1n << 56n) | (1n << 48n) | 0x41n);
  assert.deepEqual(htif.poll(), { kind: "none" });
  assert.deepEqual(out, ["1:A"]);
  assert.notEqual(memory.readU64(gpa(BASE + 0x1040)), 0n);
});

test("htif: the syscall block serves write (return value in word 0) and exit", () => {
  const { htif, cmd, out, memory } = setup();
  const blk = BASE + 0x2000;
  memory.write(gpa(BASE + 0x3000), new TextEncoder().encode("hello"));
  memory.writeU64(gpa(blk), BigInt(SYS_WRITE));
  memory.writeU64(gpa(blk + 8), 2n);
  memory.writeU64(gpa(blk + 16), BigInt(BASE + 0x3000));
  memory.writeU64(gpa(blk + 24), 5n);
  cmd(BigInt(blk));
  assert.deepEqual(htif.poll(), { kind: "none" });
  assert.deepEqual(out, ["2:hello"]);
  assert.equal(memory.readU64(gpa(blk)), 5n);
  assert.equal(memory.readU64(gpa(BASE + 0x1040)), 1n);
  memory.writeU64(gpa(blk), BigInt(SYS_EXIT));
  memory.writeU64(gpa(blk + 8), 3n);
  cmd(BigInt(blk));
  assert.deepEqual(htif.poll(), { kind: "exit", code: 3 });
});

test("htif: hostile commands give errors or errnos, never host exceptions", () => {
  const { htif, cmd, out, memory } = setup();
  cmd(0x10n); // syscall block outside RAM (device 0, even pointer)
  assert.equal(htif.poll().kind, "error");
  const blk = BASE + 0x2000;
  memory.writeU64(gpa(blk), BigInt(SYS_WRITE));
  memory.writeU64(gpa(blk + 8), 1n);
  memory.writeU64(gpa(blk + 16), BigInt(BASE + 0xfff0));
  memory.writeU64(gpa(blk + 24), 0xffff_ffff_ffffn);
  cmd(BigInt(blk));
  assert.deepEqual(htif.poll(), { kind: "none" });
  assert.equal(memory.readU64(gpa(blk)), BigInt.asUintN(64, -14n)); // EFAULT
  memory.writeU64(gpa(blk), BigInt(SYS_WRITE));
  memory.writeU64(gpa(blk + 8), 7n);
  cmd(BigInt(blk));
  htif.poll();
  assert.equal(memory.readU64(gpa(blk)), BigInt.asUintN(64, -9n)); // EBADF
  memory.writeU64(gpa(blk), 1234n);
  cmd(BigInt(blk));
  assert.match((htif.poll() as { message: string }).message, /syscall 1234 is not supported/);
  cmd(0x0700_0000_0000_0000n);
  assert.match((htif.poll() as { message: string }).message, /unknown HTIF command/);
  assert.deepEqual(out, []);
  assert.throws(() => new Htif({ memory, tohost: 0x1000, fromhost: undefined, write: () => {} }), /outside guest RAM/);
});
