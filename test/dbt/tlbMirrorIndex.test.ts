// The TLB mirror's index (EngineArea.mirrorIndex) mixes address bits above 32 into the page-number
// bits 12..24: a kernel's regions start at multiples of 2^32 or more, so with bits 12..24 alone two
// pages at the same offset of two regions (or a page and its alias in another region) took turns in
// one entry, a miss at every other access (23 M misses in one workload run: docs/DBT.md "Session 6:
// TLB mirror"). S-mode Sv39 loop over one physical page through two virtual addresses with the same
// low 32 bits, translated against interpreted in lockstep.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExitReason } from "../../src/riscv/Hart.js";
import { lockstep } from "../../src/dbt/Lockstep.js";
import { toolchainMissing, RAM_BASE } from "../riscv/asm.js";
import { mretToS, pair, PTE, twoPageLoop } from "./machine.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();
const ITERATIONS = 20_000;

test("two pages whose addresses differ only above bit 31 do not evict each other from the TLB mirror", { skip }, () => {
  const PT = 0x80300000;
  const { a, b } = pair(`
    li t0, 0x8000000000000000 | (${PT} >> 12)
    csrw satp, t0
    sfence.vma
    ${mretToS("sstart")}
sstart:
    li s0, 0x80100000          # the same physical page through two gigapages:
    li s1, 0xffffffc080100000  # low 32 bits equal, bits 32..38 not
    ${twoPageLoop(ITERATIONS)}
    ebreak
  `);
  for (const m of [a, b]) {
    const { V, R, W, X, A, D } = PTE;
    const giga = (BigInt(RAM_BASE >>> 12) << 10n) | V | R | W | X | A | D;
    m.memory.writeU64(gpa(PT + 8 * 2), giga); // VA 0x80000000
    m.memory.writeU64(gpa(PT + 8 * 0x102), giga); // VA 0xffffffc080000000
    m.hart.exitMask = 1 << 3;
  }
  const r = lockstep(a.hart, b.hart, { chunk: 10_000, maxInsns: 1_000_000, compareRam: true });
  assert.equal(r.divergence, undefined);
  assert.equal(r.reason, ExitReason.Trap);
  assert.equal(a.hart.exitCause, 3);
  const s = a.dbt!.stats;
  assert.ok(s.translatedInsns > 0.9 * a.hart.instret, `only ${s.translatedInsns} of ${a.hart.instret} translated`);
  const misses = s.exitCauses[0]!;
  assert.ok(misses < 50, `${misses} TLB-mirror misses in ${ITERATIONS} iterations`);
});
