// LR/SC the translator's step import does without the interpreter (Hart.lrscInstruction, docs/DBT.md
// "Session 7: exits"), in lockstep against the interpreter: the reservation is the hart's own
// (Unprivileged ISA 8.2), so an SC succeeds after an LR of its address, fails without one, after an
// SC, after an LR of another address and after a trap (the interpreter's trap entry clears it), and
// misaligned LR/SC raise their exceptions through the interpreter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

const ITERATIONS = 300;

test("LR/SC inside units share the interpreter's reservation", { skip }, () => {
  const { a, b } = pair(`
    .option norvc          # the trap handler skips 4-byte instructions
    la t0, trap
    csrw mtvec, t0
    li s0, 0x80100000      # two words
    li s1, ${ITERATIONS}
loop:
    lr.d a0, (s0)          # an atomic increment: succeeds
    addi a0, a0, 1
    sc.d a1, a0, (s0)
    add s2, s2, a1
    sc.d a1, a0, (s0)      # no reservation any more: fails
    add s2, s2, a1
    addi t1, s0, 8
    lr.w a2, (t1)
    lr.d a3, (s0)          # the reservation moves to the other address
    sc.w a1, a2, (t1)      # fails
    add s2, s2, a1
    lr.w a2, (t1)
    addi a2, a2, 3
    andi t2, s1, 7
    bnez t2, 1f
    ecall                  # a trap between LR and SC clears the reservation: the SC fails
1:  sc.w a1, a2, (t1)
    add s2, s2, a1
    andi t2, s1, 31
    bnez t2, 2f
    addi t3, s0, 4
    lr.d a4, (t3)          # misaligned: a load address misaligned exception (the handler skips it)
    sc.d a4, a4, (t3)      # misaligned: a store/AMO address misaligned exception
2:  addi s1, s1, -1
    bnez s1, loop
    ebreak
trap:
    csrr t4, mcause
    li t5, 3
    beq t4, t5, done       # the final ebreak
    add s3, s3, t4
    csrr t4, mepc
    addi t4, t4, 4
    csrw mepc, t4
    mret
done:
    ebreak
  `);
  lockstepToEbreak(a, b, 1000, 0.5);
  const t = Math.floor(ITERATIONS / 8),
    m = Math.floor(ITERATIONS / 32);
  assert.equal(a.hart.getX(18), BigInt(2 * ITERATIONS + t), "s2: the SCs that failed");
  assert.equal(a.hart.getX(19), BigInt(11 * t + (4 + 6) * m), "s3: ecalls (11) and misaligned LR (4) / SC (6)");
  assert.ok(a.dbt!.stats.lrscFast > 6 * ITERATIONS, `only ${a.dbt!.stats.lrscFast} LR/SC done inside units`);
});
