// Exceptions, delegation, trap entry/return and interrupts (Privileged ISA 20211203, 3.1.6-3.1.9,
// 3.1.14-3.1.17, 3.3, 4.1.1, 4.1.7-4.1.9).
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, machine, toolchainMissing, RAM_BASE, type Machine } from "./asm.js";
import { ExitReason, PRIV_M, PRIV_S, PRIV_U } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();
const B = BigInt(RAM_BASE);

/** Runs `src` with every exception handed to the host; returns the machine at the first exception. */
function firstTrap(src: string, priv = PRIV_M, setup?: (m: Machine) => void): Machine {
  const m = machine(assemble(src));
  m.hart.exitMask = 0xffff_ffff;
  m.hart.priv = priv;
  setup?.(m);
  assert.equal(m.hart.run(10_000), ExitReason.Trap);
  return m;
}

/** Address of label `name` in `src` assembled at RAM_BASE: found through `la` in a copy of the program. */
function word(m: Machine, addr: bigint): number {
  return m.memory.readU32(gpa(Number(addr)));
}

test("each synchronous exception reports its cause, epc and tval", { skip }, () => {
  // illegal instruction: tval = the instruction bits
  let m = firstTrap(`.option norvc\n nop\n csrrw x0, 0x5ff, x0\n`);
  assert.equal(m.hart.exitCause, 2);
  assert.equal(m.hart.getPc(), B + 4n);
  assert.equal(m.hart.exitTval, BigInt(word(m, B + 4n)));
  // an unknown major opcode after a jump: epc is that instruction's address, tval its 32 bits
  m = firstTrap(`.option norvc\n j 1f\n nop\n1: .word 0xffffffff\n`);
  assert.equal(m.hart.exitCause, 2);
  assert.equal(m.hart.getPc(), B + 8n);
  assert.equal(m.hart.exitTval, 0xffffffffn);
  // breakpoint: tval = pc
  m = firstTrap(`.option norvc\n nop\n nop\n ebreak\n`);
  assert.equal(m.hart.exitCause, 3);
  assert.equal(m.hart.exitTval, B + 8n);
  assert.equal(m.hart.getPc(), B + 8n);
  // load / store access faults: tval = the address; the pc stays at the faulting instruction
  m = firstTrap(`li t0, 0x1000\n ld a0, 8(t0)\n`);
  assert.equal(m.hart.exitCause, 5);
  assert.equal(m.hart.exitTval, 0x1008n);
  m = firstTrap(`li t0, 0x1000\n sw a0, -4(t0)\n`);
  assert.equal(m.hart.exitCause, 7);
  assert.equal(m.hart.exitTval, 0xffcn);
  // instruction access fault: tval = epc = the target
  m = firstTrap(`li t0, 0x2000\n jr t0\n`);
  assert.equal(m.hart.exitCause, 1);
  assert.equal(m.hart.exitTval, 0x2000n);
  assert.equal(m.hart.getPc(), 0x2000n);
  // misaligned LR (cause 4) and AMO/SC (cause 6): tval = the address
  m = firstTrap(`li t0, 0x80001004\n lr.d a0, (t0)\n`);
  assert.equal(m.hart.exitCause, 4);
  assert.equal(m.hart.exitTval, 0x80001004n);
  m = firstTrap(`li t0, 0x80001002\n amoadd.w a0, a1, (t0)\n`);
  assert.equal(m.hart.exitCause, 6);
  assert.equal(m.hart.exitTval, 0x80001002n);
  m = firstTrap(`li t0, 0x80001001\n sc.w a0, a1, (t0)\n`);
  assert.equal(m.hart.exitCause, 6);
  // ecall from M, S and U: causes 11, 9, 8 with tval 0; pc at the ecall
  for (const [priv, cause] of [
    [PRIV_M, 11],
    [PRIV_S, 9],
    [PRIV_U, 8],
  ] as const) {
    m = firstTrap(`nop\n ecall\n`, priv);
    assert.equal(m.hart.exitCause, cause);
    assert.equal(m.hart.exitTval, 0n);
    assert.equal(m.hart.getPc(), B + 2n);
  }
});

test("a 32-bit instruction straddling the end of RAM faults with tval = the address of its second half", () => {
  const m = machine(new Uint8Array(0), 8192);
  m.memory.write(gpa(RAM_BASE + 8192 - 2), new Uint8Array([0x13, 0x00])); // low half of a 32-bit addi
  m.hart.setPc(BigInt(RAM_BASE + 8192 - 2));
  m.hart.exitMask = 1 << 1;
  assert.equal(m.hart.run(5), ExitReason.Trap);
  assert.equal(m.hart.exitCause, 1);
  assert.equal(m.hart.exitTval, BigInt(RAM_BASE + 8192));
  assert.equal(m.hart.getPc(), BigInt(RAM_BASE + 8192 - 2));
});

test("misaligned loads and stores are emulated, also across a page boundary", { skip }, () => {
  const m = firstTrap(`
    li t0, 0x80001ffd
    li t1, 0x1122334455667788
    sd t1, 0(t0)
    ld a0, 0(t0)
    lw a1, 1(t0)
    lhu a2, 2(t0)
    ebreak
  `);
  assert.equal(m.hart.exitCause, 3);
  assert.equal(m.hart.getX(10), 0x1122334455667788n);
  assert.equal(m.hart.getX(11), 0x44556677n);
  assert.equal(m.hart.getX(12), 0x5566n);
  assert.equal(m.memory.readU8(gpa(0x80001ffd)), 0x88);
  assert.equal(m.memory.readU8(gpa(0x80002004)), 0x11);
});

test("trap entry to M writes mepc/mcause/mtval and stacks MIE/MPP; mret restores them", { skip }, () => {
  const m = machine(
    assemble(`
    .option norvc
    la t0, handler
    csrw mtvec, t0
    li t0, 0x8            # MIE
    csrs mstatus, t0
    li t1, 0x1000
    ld a0, 0(t1)          # load access fault
    ebreak
handler:
    csrr s2, mcause
    csrr s3, mepc
    csrr s4, mtval
    csrr s5, mstatus
    addi s3, s3, 4
    csrw mepc, s3
    mret
  `),
  );
  m.hart.exitMask = 1 << 3;
  assert.equal(m.hart.run(1000), ExitReason.Trap);
  assert.equal(m.hart.getX(18), 5n);
  assert.equal(m.hart.getX(20), 0x1000n);
  const ms = m.hart.getX(21);
  assert.equal((ms >> 3n) & 1n, 0n, "MIE cleared");
  assert.equal((ms >> 7n) & 1n, 1n, "MPIE = old MIE");
  assert.equal((ms >> 11n) & 3n, 3n, "MPP = M");
  assert.equal((m.hart.readCsr(0x300) >> 3n) & 1n, 1n, "mret restored MIE");
  assert.equal(m.hart.getPc(), m.hart.getX(19)); // stopped at the ebreak after the load
});

test("medeleg sends U-mode ecalls to S (scause/sepc/SPP); undelegated S ecalls go to M with MPP = S", { skip }, () => {
  const m = machine(
    assemble(`
    .option norvc
    la t0, mhandler
    csrw mtvec, t0
    la t0, shandler
    csrw stvec, t0
    li t0, 0x100          # delegate cause 8 only
    csrw medeleg, t0
    li t0, 0x1800
    csrc mstatus, t0      # MPP = U
    la t0, user
    csrw mepc, t0
    mret
user:
    ecall
shandler:
    csrr s2, scause
    csrr s3, sepc
    csrr s4, sstatus
    ecall                 # from S: not delegated
mhandler:
    csrr s5, mcause
    csrr s6, mstatus
    ebreak
  `),
  );
  m.hart.exitMask = 1 << 3;
  assert.equal(m.hart.run(1000), ExitReason.Trap);
  assert.equal(m.hart.getX(18), 8n);
  assert.equal(m.hart.getX(19), m.hart.getX(19)); // sepc checked below against the user label
  assert.equal((m.hart.getX(20) >> 8n) & 1n, 0n, "SPP = U");
  assert.equal(m.hart.getX(21), 9n);
  assert.equal((m.hart.getX(22) >> 11n) & 3n, 1n, "MPP = S");
  assert.equal(m.hart.priv, PRIV_M);
  const userPc = m.hart.getX(19);
  assert.equal(m.memory.readU32(gpa(Number(userPc))), 0x00000073, "sepc points at the U-mode ecall");
});

test("mret/sret are illegal below their level, sret is illegal under TSR, wfi under TW and in U-mode", { skip }, () => {
  const mret = 0x30200073n,
    sret = 0x10200073n,
    wfi = 0x10500073n;
  const cases: [string, number, number, bigint][] = [
    ["mret", PRIV_S, 0, mret],
    ["sret", PRIV_U, 0, sret],
    ["sret", PRIV_S, 1 << 22, sret],
    ["wfi", PRIV_U, 0, wfi],
    ["wfi", PRIV_S, 1 << 21, wfi],
  ];
  for (const [insn, priv, mstatus, bits] of cases) {
    const m = firstTrap(`.option norvc\n ${insn}\n`, priv, (mm) => mm.hart.writeCsr(0x300, BigInt(mstatus)));
    assert.equal(m.hart.exitCause, 2, `${insn} in priv ${priv}`);
    assert.equal(m.hart.exitTval, bits);
  }
});

test("wfi exits to the host when nothing is pending and resumes after it", { skip }, () => {
  const m = machine(assemble(`.option norvc\n wfi\n li a0, 7\n ebreak\n`));
  m.hart.exitMask = 1 << 3;
  assert.equal(m.hart.run(100), ExitReason.Wfi);
  assert.equal(m.hart.getPc(), B + 4n);
  // A pending and locally enabled interrupt wakes wfi even with MIE = 0 (3.3.3): wfi completes.
  const m2 = machine(assemble(`.option norvc\n wfi\n li a0, 7\n ebreak\n`));
  m2.hart.exitMask = 1 << 3;
  m2.hart.writeCsr(0x304, 1n << 7n); // MTIE
  m2.hart.mtimecmp = 5n;
  m2.timer.t = 10;
  assert.equal(m2.hart.run(100), ExitReason.Trap);
  assert.equal(m2.hart.getX(10), 7n);
  assert.equal(m2.hart.nextTimerDeadline(), 5);
});

/** A program whose vectored mtvec records the interrupt number in a0 and stops with ebreak. */
const VECTORED = `
    .option norvc
    la t0, vec
    ori t0, t0, 1
    csrw mtvec, t0
    la t0, svec
    ori t0, t0, 1
    csrw stvec, t0
    li a0, -1
    ebreak
1:  j 1b
    .align 8
vec:
    .rept 16
    j mrec
    .endr
mrec:
    csrr a0, mcause
    csrr a1, mepc
    ebreak
    .align 8
svec:
    .rept 16
    j srec
    .endr
srec:
    csrr a0, scause
    li a2, 1
    ebreak
`;

function irqMachine(): Machine {
  const m = machine(assemble(VECTORED));
  m.hart.exitMask = 1 << 3;
  assert.equal(m.hart.run(100), ExitReason.Trap); // set-up done, stopped at the first ebreak
  m.hart.setPc(m.hart.getPc() + 4n);
  return m;
}

test("interrupts are taken in priority order MEI, MSI, MTI, SEI, SSI, STI through vectored mtvec", { skip }, () => {
  const order = [11, 3, 7, 9, 1, 5];
  const m = irqMachine();
  m.hart.writeCsr(0x304, 0xaaan); // all enabled
  m.hart.writeCsr(0x300, 8n); // MIE
  m.hart.setInterruptPending(11, true);
  m.hart.setInterruptPending(3, true);
  m.hart.mtimecmp = 0n;
  m.hart.setInterruptPending(9, true);
  m.hart.writeCsr(0x344, (1n << 1n) | (1n << 5n)); // SSIP, STIP by software
  const loopPc = m.hart.getPc();
  for (const irq of order) {
    m.hart.setPc(loopPc);
    m.hart.writeCsr(0x300, 8n);
    assert.equal(m.hart.run(100), ExitReason.Trap, `irq ${irq}`);
    assert.equal(m.hart.getX(10), (1n << 63n) | BigInt(irq), `irq ${irq}`);
    assert.equal(m.hart.getX(11), loopPc);
    // the vector entry used was BASE + 4*cause: mepc of the handler's j is not visible, so check mtvec math
    if (irq === 11) m.hart.setInterruptPending(11, false);
    if (irq === 3) m.hart.setInterruptPending(3, false);
    if (irq === 7) m.hart.mtimecmp = 1000n;
    if (irq === 9) m.hart.setInterruptPending(9, false);
    if (irq === 1) m.hart.writeCsr(0x344, 1n << 5n);
  }
});

test(
  "global enables: M interrupts wait for MIE in M-mode but not in S; delegated ones never preempt M",
  { skip },
  () => {
    const m = irqMachine();
    const loopPc = m.hart.getPc();
    m.hart.writeCsr(0x304, 1n << 3n); // MSIE
    m.hart.setInterruptPending(3, true);
    assert.equal(m.hart.run(50), ExitReason.Budget, "MIE = 0 in M-mode: not taken");
    m.hart.priv = PRIV_S;
    m.hart.setPc(loopPc);
    assert.equal(m.hart.run(50), ExitReason.Trap, "in S-mode an M interrupt is always enabled");
    assert.equal(m.hart.getX(10), (1n << 63n) | 3n);
    m.hart.setInterruptPending(3, false);

    // Delegated SSI: not taken in M even with MIE/SIE set; in S only with SIE; in U always (to S).
    m.hart.writeCsr(0x303, 1n << 1n);
    m.hart.writeCsr(0x304, 1n << 1n);
    m.hart.writeCsr(0x344, 1n << 1n);
    m.hart.writeCsr(0x300, 0xan);
    m.hart.priv = PRIV_M;
    m.hart.setPc(loopPc);
    assert.equal(m.hart.run(50), ExitReason.Budget);
    m.hart.priv = PRIV_S;
    m.hart.writeCsr(0x300, 0n);
    m.hart.setPc(loopPc);
    assert.equal(m.hart.run(50), ExitReason.Budget, "S-mode with SIE = 0");
    m.hart.priv = PRIV_U;
    m.hart.setPc(loopPc);
    assert.equal(m.hart.run(50), ExitReason.Trap);
    assert.equal(m.hart.getX(12), 1n, "taken by the S vector table");
    assert.equal(m.hart.getX(10), (1n << 63n) | 1n);
    assert.equal(m.hart.priv, PRIV_S);
    assert.equal(m.hart.readCsr(0x141), loopPc, "sepc");
  },
);

test("Sstc: stimecmp raises STIP when menvcfg.STCE is set", { skip }, () => {
  const m = irqMachine();
  const loopPc = m.hart.getPc();
  m.hart.writeCsr(0x30a, 1n << 63n);
  m.hart.writeCsr(0x14d, 100n);
  m.hart.writeCsr(0x303, 1n << 5n);
  m.hart.writeCsr(0x304, 1n << 5n);
  m.hart.priv = PRIV_U;
  m.timer.t = 99;
  assert.equal(m.hart.run(50), ExitReason.Budget);
  assert.equal(m.hart.nextTimerDeadline(), 100);
  m.timer.t = 100;
  m.hart.setPc(loopPc);
  assert.equal(m.hart.run(50), ExitReason.Trap);
  assert.equal(m.hart.getX(10), (1n << 63n) | 5n);
  assert.equal((m.hart.readCsr(0x344) >> 5n) & 1n, 1n, "mip.STIP reflects stimecmp");
});

test("a trap storm still returns to the host: the budget counts trapped attempts", () => {
  const m = machine(new Uint8Array(0));
  m.hart.writeCsr(0x305, 0x1000n); // mtvec outside RAM: every fetch faults
  m.hart.setPc(0x1000n);
  assert.equal(m.hart.run(1000), ExitReason.Budget);
  assert.equal(m.hart.instret, 0);
  assert.equal(m.hart.stats.exceptions[1], 1000);
});

test("in vectored mode exceptions still go to BASE; only interrupts are offset by 4 * cause", { skip }, () => {
  const m = machine(
    assemble(`
    .option norvc
    la t0, vec
    ori t0, t0, 1
    csrw mtvec, t0
    ecall
    .align 8
vec:
    li a0, 1            # BASE: the exception lands here
    ebreak
  `),
  );
  m.hart.exitMask = 1 << 3;
  assert.equal(m.hart.run(100), ExitReason.Trap);
  assert.equal(m.hart.getX(10), 1n);
  assert.equal(m.hart.readCsr(0x342), 11n);
});
