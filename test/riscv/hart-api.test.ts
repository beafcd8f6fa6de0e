// The Hart's host-facing contract (src/riscv/Hart.ts header): run() exit reasons, exitMask, register
// accessors, MMIO through the IoBus, requestExit(), and the --stats counters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, machine, toolchainMissing } from "./asm.js";
import { ExitReason, PRIV_S } from "../../src/riscv/Hart.js";
import type { BusDevice } from "../../src/memory/IoBus.js";

const skip = toolchainMissing();

test("run(N) retires exactly N instructions and returns Budget", { skip }, () => {
  const m = machine(assemble(`1: addi a0, a0, 1\n j 1b\n`));
  assert.equal(m.hart.run(10_001), ExitReason.Budget);
  assert.equal(m.hart.instret, 10_001);
  assert.equal(m.hart.getX(10), 5001n);
});

test("exitMask hands an ecall to the host with the pc left on the ecall", { skip }, () => {
  const m = machine(assemble(`.option norvc\n li a7, 64\n ecall\n li a0, 1\n ebreak\n`));
  m.hart.exitMask = (1 << 9) | (1 << 3);
  m.hart.priv = PRIV_S;
  assert.equal(m.hart.run(100), ExitReason.Trap);
  assert.equal(m.hart.exitCause, 9);
  assert.equal(m.hart.getPc(), 0x80000004n);
  assert.equal(m.hart.priv, PRIV_S, "no trap entry happened");
  m.hart.setPc(m.hart.getPc() + 4n);
  assert.equal(m.hart.run(100), ExitReason.Trap);
  assert.equal(m.hart.exitCause, 3);
  assert.equal(m.hart.getX(10), 1n);
  assert.equal(m.hart.instret, 2, "the trapped ecall and ebreak did not retire");
});

test("register accessors: raw 64-bit values, x0 stays zero", () => {
  const m = machine(new Uint8Array(0));
  m.hart.setX(5, -1n);
  assert.equal(m.hart.getX(5), 0xffffffffffffffffn);
  m.hart.setX(0, 7n);
  assert.equal(m.hart.getX(0), 0n);
  m.hart.setF(3, 0x7ff8000000000000n);
  assert.equal(m.hart.getF(3), 0x7ff8000000000000n);
  assert.ok(Number.isNaN(m.hart.f[3]));
  m.hart.setPc(0xffffffff80000001n);
  assert.equal(m.hart.getPc(), 0xffffffff80000000n, "bit 0 of the pc is always clear");
});

class Scratch implements BusDevice {
  readonly name = "scratch";
  regs = new Uint8Array(16);
  writes: string[] = [];
  onWrite?: () => void;
  read(off: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.regs[off + i]!;
    return v;
  }
  write(off: number, size: 1 | 2 | 4, value: number): void {
    this.writes.push(`${off}:${size}:${value.toString(16)}`);
    for (let i = 0; i < size; i++) this.regs[off + i] = (value / 256 ** i) & 0xff;
    this.onWrite?.();
  }
}

test("loads and stores outside RAM go to the IoBus with the right width and sign-extension", { skip }, () => {
  const m = machine(
    assemble(`
    li s0, 0x10000000
    li t0, 0x89abcdef
    sw t0, 0(s0)
    lb a0, 0(s0)
    lbu a1, 0(s0)
    lh a2, 2(s0)
    lw a3, 0(s0)
    lwu a4, 0(s0)
    li t1, -2
    sd t1, 8(s0)
    ld a5, 8(s0)
    sb t1, 4(s0)
    ebreak
  `),
  );
  const dev = new Scratch();
  m.bus.map(0x1000_0000, 16, dev);
  m.hart.exitMask = 1 << 3;
  assert.equal(m.hart.run(100), ExitReason.Trap);
  assert.equal(m.hart.getX(10), 0xffffffffffffffefn);
  assert.equal(m.hart.getX(11), 0xefn);
  assert.equal(m.hart.getX(12), 0xffffffffffff89abn);
  assert.equal(m.hart.getX(13), 0xffffffff89abcdefn);
  assert.equal(m.hart.getX(14), 0x89abcdefn);
  assert.equal(m.hart.getX(15), 0xfffffffffffffffen);
  assert.deepEqual(dev.writes, ["0:4:89abcdef", "8:4:fffffffe", "12:4:ffffffff", "4:1:fe"]);
});

test("fetching from a device is an instruction access fault", () => {
  const m = machine(new Uint8Array(0));
  m.bus.map(0x1000_0000, 16, new Scratch());
  m.hart.setPc(0x1000_0000n);
  m.hart.exitMask = 1 << 1;
  assert.equal(m.hart.run(10), ExitReason.Trap);
  assert.equal(m.hart.exitCause, 1);
  assert.equal(m.hart.exitTval, 0x1000_0000n);
});

test("requestExit() from a device ends run() with Halt after the storing instruction", { skip }, () => {
  const m = machine(assemble(`li s0, 0x10000000\n sw zero, 0(s0)\n li a0, 1\n 1: j 1b\n`));
  const dev = new Scratch();
  dev.onWrite = () => m.hart.requestExit();
  m.bus.map(0x1000_0000, 16, dev);
  assert.equal(m.hart.run(1_000_000), ExitReason.Halt);
  assert.equal(m.hart.getX(10), 0n, "stopped right after the store");
  assert.equal(m.hart.run(3), ExitReason.Budget);
  assert.equal(m.hart.getX(10), 1n);
});

test("stats count exceptions by cause, interrupts, CSR accesses, xRET, sfence.vma, wfi", { skip }, () => {
  const m = machine(
    assemble(`
    .option norvc
    la t0, h
    csrw mtvec, t0
    ecall
    ecall
    sfence.vma
    li t0, 0x80
    csrw mie, t0
    wfi                   # MTIP pending and enabled in mie: completes with MIE = 0
    csrsi mstatus, 8      # now the interrupt is taken; the handler skips the nop
    nop
    ebreak
h:  csrw mie, zero       # MTIP stays pending: disable it before returning
    csrr t1, mepc
    addi t1, t1, 4
    csrw mepc, t1
    mret
  `),
  );
  m.hart.exitMask = 1 << 3;
  m.hart.mtimecmp = 0n;
  assert.equal(m.hart.run(1000), ExitReason.Trap);
  const s = m.hart.stats;
  assert.equal(s.exceptions[11], 2);
  assert.equal(s.exceptions[3], 1);
  assert.equal(s.interrupts[7], 1);
  assert.equal(s.mret, 3);
  assert.equal(s.sfenceVma, 1);
  assert.equal(s.wfi, 1);
  assert.equal(s.csrAccesses, 12);
});
