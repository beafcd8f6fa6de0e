// CSR accesses the translator's step import does without the interpreter (Dbt.csrStep, docs/DBT.md
// "Session 7: exits"): sstatus read-modify-writes (Linux's local_irq_save/restore and the uaccess
// SUM toggles), sscratch and rdtime, in lockstep against the interpreter: a pending interrupt taken
// right after the write that sets SIE, user-page accesses with SUM on (the mirrors' key switched
// inside the unit) and a load page fault with SUM off, sstatus read values (SD with FS Dirty), and
// U-mode accesses raising illegal instruction.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExitReason } from "../../src/riscv/Hart.js";
import { lockstep } from "../../src/dbt/Lockstep.js";
import { toolchainMissing } from "../riscv/asm.js";
import { enterS, pair } from "./machine.js";

const skip = toolchainMissing();

const ITERATIONS = 400;

const program = `
    .option norvc          # the fault handler skips 4-byte instructions
    li t0, 0x80200000      # Sv39 root table: gigapages, 2 GiB -> RAM for S only, 1 GiB -> RAM for U too
    li t1, ((0x80000000 >> 12) << 10) | 0xcf
    sd t1, 16(t0)
    li t1, ((0x80000000 >> 12) << 10) | 0xdf
    sd t1, 8(t0)
    li t1, 2               # the supervisor software interrupt: delegated and enabled
    csrw mideleg, t1
    csrw mie, t1
    csrw mcounteren, t1    # TM: S-mode may read time (U-mode may not: scounteren = 0)
${enterS("(1 << 2) | (1 << 13) | (1 << 8)")}   # illegal instruction, load page fault, U ecall -> S
    mret
kmain:
    csrsi sstatus, 2       # SIE on
    li s1, ${ITERATIONS}
    li s0, 0x40100000      # user data (the U alias of 0x80100000)
loop:
    csrrci a0, sstatus, 2  # local_irq_save
    add s2, s2, a0
    li t0, 1 << 18
    csrs sstatus, t0       # SUM on: S-mode may access the user page
    ld a1, 0(s0)
    add s2, s2, a1
    sd s2, 8(s0)
    csrc sstatus, t0       # SUM off
    andi t1, s1, 15
    bnez t1, 2f
    ld a1, 16(s0)          # without SUM: a load page fault (the handler skips it)
    csrsi sip, 2           # SSIP pending while SIE = 0
2:  rdtime a2
    add s2, s2, a2
    li t0, 0x6000
    andi t1, s1, 4
    beqz t1, 3f
    csrs sstatus, t0       # FS Dirty: sstatus.SD reads 1
    j 4f
3:  csrc sstatus, t0       # FS Off
4:  csrr a3, sstatus
    add s2, s2, a3
    csrs sstatus, a0       # local_irq_restore: SIE on again, a pending SSIP is taken right after
    csrrw a4, sscratch, s2
    add s2, s2, a4
    csrrsi a5, sstatus, 0  # a read (uimm 0 writes nothing)
    add s2, s2, a5
    addi s1, s1, -1
    bnez s1, loop
    la t0, umain
    li t1, 0x40000000
    sub t0, t0, t1         # umain's U-mode alias
    csrw sepc, t0
    li t0, 1 << 8
    csrc sstatus, t0       # SPP = U
    sret
umain:
    csrr a5, sstatus       # illegal in U-mode: the handler skips it
    csrsi sstatus, 2       # illegal
    rdtime a6              # illegal: scounteren.TM = 0
    ecall
strap:
    csrr t2, scause
    bltz t2, irq
    li t3, 8
    beq t2, t3, done       # ecall from U
    addi s4, s4, 1
    add s5, s5, t2
    csrr t3, sepc
    addi t3, t3, 4
    csrw sepc, t3
    sret
irq:
    addi s3, s3, 1
    csrci sip, 2
    sret
done:
    ebreak
`;

for (const chunk of [1000, 37]) {
  test(`sstatus/sscratch/time accesses inside units match the interpreter (chunk ${chunk})`, { skip }, () => {
    const { a, b } = pair(program);
    a.hart.exitMask = b.hart.exitMask = 1 << 3;
    const r = lockstep(a.hart, b.hart, {
      chunk,
      maxInsns: 1_000_000,
      compareRam: true,
      onChunk: () => {
        a.timer.t += 997; // both harts read the same, moving time
        b.timer.t += 997;
        return "continue";
      },
    });
    assert.equal(r.divergence, undefined);
    assert.equal(r.reason, ExitReason.Trap);
    assert.equal(a.hart.exitCause, 3);
    const faults = ITERATIONS / 16;
    assert.equal(a.hart.getX(19), BigInt(faults), "s3: one SSIP taken per csrsi sip");
    assert.equal(a.hart.getX(20), BigInt(faults + 3), "s4: the load faults and three illegal U-mode accesses");
    assert.equal(a.hart.getX(21), BigInt(13 * faults + 3 * 2), "s5: causes 13 and 2");
    const st = a.dbt!.stats;
    assert.ok(st.csrFast > 3 * ITERATIONS, `only ${st.csrFast} CSR accesses done inside units`);
    assert.ok(st.csrSumSwitches > ITERATIONS / 4, `only ${st.csrSumSwitches} SUM switches inside units`);
    assert.ok(st.translatedInsns > 0.3 * a.hart.instret, `only ${st.translatedInsns} of ${a.hart.instret} translated`);
  });
}
