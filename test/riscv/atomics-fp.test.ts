// A extension (Unprivileged ISA ch. 8: LR/SC reservations, AMOs .W/.D with aq/rl) and the F/D loads and
// stores the hart owns (11.5, 12.3: NaN-boxing), with mstatus.FS gating and dirty tracking (Privileged 3.1.6.6).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAsm, machine, assemble, toolchainMissing } from "./asm.js";
import { ExitReason } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();

test("LR/SC succeed on a held reservation and fail after SC, a trap, or on another address", { skip }, () => {
  const { hart, memory } = runAsm(
    `
    la s0, data
    li t0, 5
    lr.d a0, (s0)
    sc.d a1, t0, (s0)      # succeeds: a1 = 0
    sc.d a2, t0, (s0)      # reservation consumed: fails
    addi t3, s0, 8
    lr.w.aq a3, (t3)
    addi t1, s0, 16
    sc.w.rl a4, t0, (t1)   # different address: fails
    lr.d a5, (s0)
    ecall                  # a trap clears the reservation
    sc.d a6, t0, (s0)
    ebreak
mtrap:
    csrr t2, mepc
    addi t2, t2, 4
    csrw mepc, t2
    mret
    .align 3
data: .dword 1, 0xffffffff80000000, 3
  `.replace("la s0, data", "la t2, mtrap\n csrw mtvec, t2\n la s0, data"),
  );
  assert.equal(hart.getX(10), 1n);
  assert.equal(hart.getX(11), 0n);
  assert.equal(hart.getX(12), 1n);
  assert.equal(hart.getX(13), 0xffffffff80000000n, "lr.w sign-extends");
  assert.equal(hart.getX(14), 1n);
  assert.equal(hart.getX(15), 5n);
  assert.equal(hart.getX(16), 1n);
  void memory;
});

test("every AMO returns the old value and stores the operation's result, .W sign-extended", { skip }, () => {
  const { hart, memory } = runAsm(`
    la s0, data
    li t0, -2
    amoswap.d a0, t0, (s0)
    amoadd.d.aqrl a1, t0, (s0)
    li t1, 0x0f
    addi t3, s0, 8
    amoand.w a2, t1, (t3)
    addi t3, s0, 12
    amoor.w a3, t1, (t3)
    addi t3, s0, 16
    amoxor.d a4, t1, (t3)
    li t2, -1
    addi t3, s0, 24
    amomin.w a5, t2, (t3)
    addi t3, s0, 28
    amomax.w a6, t2, (t3)
    addi t3, s0, 32
    amominu.d a7, t2, (t3)
    addi t3, s0, 40
    amomaxu.d s2, t2, (t3)
    addi t3, s0, 48
    amominu.w s3, t2, (t3)
    addi t3, s0, 52
    amomaxu.w s4, t2, (t3)
    ebreak
    .align 3
data:
    .dword 7
    .word 0xf0f0f0f0, 0x80000000
    .dword 0xff
    .word 5, -5
    .dword 3, 3
    .word 0x80000000, 0x80000000
  `);
  const base = Number(hart.getX(8));
  assert.equal(hart.getX(10), 7n);
  assert.equal(hart.getX(11), 0xfffffffffffffffen);
  assert.equal(memory.readU64(gpa(base)), 0xfffffffffffffffcn);
  assert.equal(hart.getX(12), 0xfffffffff0f0f0f0n);
  assert.equal(memory.readU32(gpa(base + 8)), 0x0);
  assert.equal(hart.getX(13), 0xffffffff80000000n);
  assert.equal(memory.readU32(gpa(base + 12)), 0x8000000f);
  assert.equal(memory.readU64(gpa(base + 16)), 0xf0n);
  assert.equal(hart.getX(15), 5n);
  assert.equal(memory.readU32(gpa(base + 24)), 0xffffffff, "min(5, -1) = -1");
  assert.equal(memory.readU32(gpa(base + 28)), 0xffffffff, "max(-5, -1) = -1");
  assert.equal(memory.readU64(gpa(base + 32)), 3n, "minu(3, 2^64-1) = 3");
  assert.equal(memory.readU64(gpa(base + 40)), 0xffffffffffffffffn);
  assert.equal(memory.readU32(gpa(base + 48)), 0x80000000);
  assert.equal(memory.readU32(gpa(base + 52)), 0xffffffff);
  assert.equal(hart.getX(19), 0xffffffff80000000n);
});

test("FLW NaN-boxes, FSW stores the low word, FLD/FSD move 64 bits, and loads set FS = Dirty", { skip }, () => {
  const m = machine(
    assemble(
      `
    li t0, 0x2000
    csrs mstatus, t0       # FS = Initial
    la s0, data
    flw fa0, 0(s0)
    fld fa1, 8(s0)
    fsw fa1, 16(s0)
    fsd fa0, 24(s0)
    c.fldsp fa2, 0(s0)
    ebreak
    .align 3
data: .word 0x3f800000, 0
    .dword 0x400921fb54442d18
    .dword 0, 0
  `.replace("c.fldsp fa2, 0(s0)", "mv sp, s0\n c.fldsp fa2, 8(sp)"),
    ),
  );
  m.hart.exitMask = 1 << 3;
  assert.equal(m.hart.run(100), ExitReason.Trap);
  const base = Number(m.hart.getX(8));
  assert.equal(m.hart.getF(10), 0xffffffff3f800000n);
  assert.equal(m.hart.getF(11), 0x400921fb54442d18n);
  assert.equal(m.memory.readU64(gpa(base + 16)), 0x54442d18n, "fsw writes only the low 32 bits");
  assert.equal(m.memory.readU64(gpa(base + 24)), 0xffffffff3f800000n);
  assert.equal(m.hart.getF(12), 0x400921fb54442d18n);
  assert.equal((m.hart.readCsr(0x300) >> 13n) & 3n, 3n, "FS = Dirty");
  assert.equal(m.hart.readCsr(0x300) >> 63n, 1n, "SD");
});

test("FP loads, stores and OP-FP are illegal while FS = Off", { skip }, () => {
  for (const insn of [
    "flw fa0, 0(sp)",
    "fsd fa0, 0(sp)",
    "c.fld fa0, 0(a0)",
    "fadd.d fa0, fa1, fa2",
    "fmadd.s fa0, fa1, fa2, fa3",
  ]) {
    const m = machine(assemble(`${insn}\n`));
    m.hart.exitMask = 1 << 2;
    assert.equal(m.hart.run(10), ExitReason.Trap, insn);
    assert.equal(m.hart.exitCause, 2, insn);
    const w = m.memory.readU32(gpa(0x80000000));
    assert.equal(m.hart.exitTval, BigInt((w & 3) === 3 ? w : w & 0xffff), insn);
  }
});
