// Test helper: two identical machines (RAM with the translator's engine area) running the same
// assembled program, one with the binary translator attached.
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { Hart, PRIV_M } from "../../src/riscv/Hart.js";
import { attachDbt, DBT_ENGINE_BYTES, type Dbt, type DbtOptions } from "../../src/dbt/Dbt.js";
import { ManualTimer, RAM_BASE, assemble } from "../riscv/asm.js";
import { gpa } from "../../src/memory/Address.js";
import assert from "node:assert/strict";
import { ExitReason } from "../../src/riscv/Hart.js";
import { compareHarts, lockstep } from "../../src/dbt/Lockstep.js";

export interface DbtMachine {
  memory: GuestMemory;
  bus: IoBus;
  hart: Hart;
  timer: ManualTimer;
  dbt: Dbt | undefined;
}

export function dbtMachine(
  code: Uint8Array,
  withDbt: boolean,
  opts: DbtOptions = { hotThreshold: 1 },
  ramSize = 4 << 20,
): DbtMachine {
  // Shared when units are translated elsewhere (the compiler reads the pages from it), as under `run`.
  const shared = withDbt && opts.compiler !== undefined;
  const memory = new GuestMemory({ base: RAM_BASE, size: ramSize, shared, engineBytes: DBT_ENGINE_BYTES });
  memory.write(gpa(RAM_BASE), code);
  const bus = new IoBus("test");
  bus.log = () => {};
  const timer = new ManualTimer();
  const hart = new Hart({ memory, bus, hartId: 0, timer });
  hart.priv = PRIV_M;
  hart.setPc(BigInt(RAM_BASE));
  const dbt = withDbt ? attachDbt(hart, opts) : undefined;
  return { memory, bus, hart, timer, dbt };
}

/** The program assembled once, loaded on a translating and an interpreting machine. */
export function pair(src: string, opts?: DbtOptions): { a: DbtMachine; b: DbtMachine } {
  const code = assemble(src);
  return { a: dbtMachine(code, true, opts), b: dbtMachine(code, false) };
}

/**
 * A loop whose body is rewritten (store + fence.i) three times; s1 ends at 5 * iterations (with a
 * translator compiling elsewhere, a rewrite may land while the page's translation is compiling).
 */
export const rewriteLoop = (iterations: number): string => `
    li s1, 0
    li s2, 3
    li s0, 0x80100000
outer:
    li t0, ${iterations}
loop:
    .option push
    .option norvc
patch:
    addi s1, s1, 1         # rewritten to addi s1, s1, 2 below (4 bytes: no RVC here)
    .option pop
    sd s1, 0(s0)
    ld t3, 0(s0)
    add s3, s3, t3
    addi t0, t0, -1
    bnez t0, loop
    la t1, patch
    li t2, 0x00248493      # addi s1, s1, 2
    sw t2, 0(t1)
    fence.i
    addi s2, s2, -1
    bnez s2, outer
    ebreak
`;

/**
 * Runs a pair in lockstep until the program's ebreak, comparing RAM at every chunk; fails on a
 * divergence, and unless at least `minTranslated` of the instructions ran translated.
 */
export function lockstepToEbreak(a: DbtMachine, b: DbtMachine, chunk: number, minTranslated: number): void {
  a.hart.exitMask = b.hart.exitMask = 1 << 3;
  const r = lockstep(a.hart, b.hart, { chunk, maxInsns: 1_000_000, compareRam: true });
  assert.equal(r.divergence, undefined);
  assert.equal(r.reason, ExitReason.Trap);
  assert.equal(a.hart.exitCause, 3);
  const done = a.dbt!.stats.translatedInsns;
  assert.ok(done > minTranslated * a.hart.instret, `only ${done} of ${a.hart.instret} instructions ran translated`);
}

/** Runs both machines until a load access fault (cause 5) and checks they stopped in the same state there. */
export function runBothToLoadFault(a: DbtMachine, b: DbtMachine): void {
  for (const m of [a, b]) m.hart.exitMask = (1 << 3) | (1 << 5);
  assert.equal(a.hart.run(100000), ExitReason.Trap);
  assert.equal(b.hart.run(100000), ExitReason.Trap);
  assert.equal(a.hart.exitCause, 5);
  assert.equal(compareHarts(a.hart, b.hart, true), undefined);
}

/**
 * Turns Sv39 on with the root table at 0x80200000, delegates the exceptions in `medeleg` to S-mode
 * (trap vector `strap`) and enters S-mode at `kmain`.
 */
export const enterS = (medeleg: string) => `    li t1, (8 << 60) | (0x80200000 >> 12)
    csrw satp, t1
    sfence.vma
    li t1, ${medeleg}
    csrw medeleg, t1
    la t1, strap
    csrw stvec, t1
    li t1, 1 << 11         # MPP = S
    csrw mstatus, t1
    la t1, kmain
    csrw mepc, t1`;

/** Assembly: from M-mode into S-mode at `label` (mstatus.MPP = S, mepc, mret). */
export const mretToS = (label: string): string => `
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 0x800           # MPP = S
    csrs mstatus, t0
    la t0, ${label}
    csrw mepc, t0
    mret
`;

/**
 * Assembly: `n` times a load and a store through each of s0 and s1 (both TLB mirrors, two pages
 * when s0 and s1 point to different ones); label `label`, s2 and s3 clobbered.
 */
export const twoPageLoop = (n: number, label = 1): string => `
    li s2, ${n}
    li s3, 0
${label}:  ld a0, 0(s0)
    add s3, s3, a0
    sd s3, 8(s1)
    ld a1, 16(s1)
    add s3, s3, a1
    sd a1, 16(s0)
    addi s2, s2, -1
    bnez s2, ${label}b
`;

/** Sv39/48/57 PTE bits (Privileged ISA 4.3.1). */
export const PTE = { V: 1n, R: 2n, W: 4n, X: 8n, U: 16n, A: 64n, D: 128n } as const;
