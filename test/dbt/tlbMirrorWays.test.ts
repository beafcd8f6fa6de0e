// The TLB mirror is 2-way set-associative (EngineArea.MIRROR_WAYS): two hot pages whose virtual
// addresses have the same mirror set (here 32 MiB apart: bits 25..31 are not in mirrorIndex) both
// stay in it. Direct-mapped, they took turns in one entry and every other access left translated
// code; the random placement of a process's stack and mmaps did that in about one in-guest workload
// run of four (1-4 M misses, docs/DBT.md "Session 7: mirror"). S-mode Sv39 loops with 4 KiB pages,
// translated against interpreted in lockstep (RAM compared), also across three pages of one set
// (way replacement) and an address-specific SFENCE.VMA of a page held in way 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExitReason } from "../../src/riscv/Hart.js";
import { lockstep } from "../../src/dbt/Lockstep.js";
import { toolchainMissing, RAM_BASE } from "../riscv/asm.js";
import { mretToS, pair, PTE, twoPageLoop, type DbtMachine } from "./machine.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();
const ITERATIONS = 20_000;
const ROOT = 0x80380000;
/** Data pages: virtual 0x00100000, 0x02100000, 0x04100000 (one mirror set) -> these physical pages. */
const DATA = [0x80300000, 0x80301000, 0x80302000];
/** The level-0 table of virtual page 0x0i100000 / 2 MiB (one per data page). */
const l0 = (i: number): number => ROOT + 0x2000 + 0x1000 * i;

/** Sv39 tables: identity gigapage at 0x80000000 (code, tables), and the data pages as 4 KiB pages. */
function mapPages(m: DbtMachine): void {
  const { V, R, W, X, A, D } = PTE;
  const leaf = (pa: number): bigint => (BigInt(pa >>> 12) << 10n) | V | R | W | A | D;
  const table = (pa: number): bigint => (BigInt(pa >>> 12) << 10n) | V;
  m.memory.writeU64(gpa(ROOT + 8 * 2), (BigInt(RAM_BASE >>> 12) << 10n) | V | R | W | X | A | D);
  m.memory.writeU64(gpa(ROOT), table(ROOT + 0x1000)); // gigapage 0: a level-1 table
  for (let i = 0; i < DATA.length; i++) {
    m.memory.writeU64(gpa(ROOT + 0x1000 + 8 * 16 * i), table(l0(i))); // 2 MiB region 16 i (VA 32 MiB * i)
    m.memory.writeU64(gpa(l0(i) + 8 * 0x100), leaf(DATA[i]!)); // + 1 MiB
  }
  m.hart.exitMask = 1 << 3;
}

/** Runs `body` (S-mode, after satp is set) in lockstep to its ebreak; returns the TLB-mirror misses and single-page evictions. */
function run(
  body: string,
  minTranslated = 0.9,
  mirrorWays: 1 | 2 = 2,
): { tlbMiss: number; pageEvictions: number; way1: number; replaced: number } {
  const { a, b } = pair(
    `
    li t0, 0x8000000000000000 | (${ROOT} >> 12)
    csrw satp, t0
    sfence.vma
    ${mretToS("sstart")}
sstart:
    li s0, 0x00100000
    li s1, 0x02100000
    li s4, 0x04100000
    ${body}
    ebreak
  `,
    { hotThreshold: 1, countMirror: true, mirrorWays },
  );
  for (const m of [a, b]) mapPages(m);
  const r = lockstep(a.hart, b.hart, { chunk: 10_000, maxInsns: 2_000_000, compareRam: true });
  assert.equal(r.divergence, undefined);
  assert.equal(r.reason, ExitReason.Trap);
  assert.equal(a.hart.exitCause, 3);
  const s = a.dbt!.stats;
  assert.ok(
    s.translatedInsns >= minTranslated * a.hart.instret,
    `only ${s.translatedInsns} of ${a.hart.instret} translated`,
  );
  return {
    tlbMiss: s.exitCauses[0]!,
    pageEvictions: s.tlbPageEvictions,
    way1: s.mirrorWay1Hits,
    replaced: s.mirrorReplacements,
  };
}

test("two hot pages of one TLB-mirror set both stay in the mirror", { skip }, () => {
  const r = run(twoPageLoop(ITERATIONS));
  assert.ok(r.tlbMiss < 50, `${r.tlbMiss} TLB-mirror misses in ${ITERATIONS} iterations (4 accesses each)`);
  // one page of each mirror in way 1: the misses a direct-mapped mirror had
  assert.ok(r.way1 > 1.9 * ITERATIONS, `${r.way1} lookups found their page in way 1`);
  assert.equal(r.replaced, 0);
});

test("direct-mapped (DbtOptions.mirrorWays 1), the two pages miss at every other access", { skip }, () => {
  const r = run(twoPageLoop(2000), 0, 1); // the dispatcher drops the page as unprofitable now and then
  assert.ok(r.tlbMiss > 400, `${r.tlbMiss} TLB-mirror misses`);
  assert.equal(r.way1, 0);
});

test("three pages of one TLB-mirror set take turns in its two ways, as the interpreter computes", { skip }, () => {
  const misses = run(
    `
    li s2, 2000
    li s3, 0
1:  ld a0, 0(s0)
    add s3, s3, a0
    sd s3, 8(s1)
    ld a1, 16(s4)
    add s3, s3, a1
    sd a1, 16(s0)
    ld a2, 8(s1)
    sd a2, 24(s4)
    addi s2, s2, -1
    bnez s2, 1b
  `,
    0,
  ); // each access may miss: the dispatcher drops the page as unprofitable now and then
  assert.ok(misses.tlbMiss > 0, "three pages in two ways miss");
  assert.ok(misses.replaced > 0, "and push each other out of the set");
});

test("an address-specific SFENCE.VMA drops a page from either way of its set", { skip }, () => {
  // After the loop, the guest maps virtual 0x02100000 to the third data page and fences that
  // address only: the loop after it must use the new page (lockstep compares RAM).
  const misses = run(`
    ${twoPageLoop(1000)}
    li t0, ${l0(1) + 8 * 0x100}
    li t1, ${Number((BigInt(DATA[2]! >>> 12) << 10n) | PTE.V | PTE.R | PTE.W | PTE.A | PTE.D)}
    sd t1, 0(t0)
    sfence.vma s1
    ${twoPageLoop(1000, 2)}
  `);
  assert.ok(misses.tlbMiss < 50, `${misses.tlbMiss} TLB-mirror misses`);
  assert.ok(misses.pageEvictions > 0, "the fence dropped a single page");
});
