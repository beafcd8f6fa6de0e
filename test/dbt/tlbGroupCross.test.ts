// A hoisted TLB check (PageTranslator.tlbCheck group) whose later access lies in the next page must
// not miss the TLB mirror every time the block runs: a stack frame or buffer that straddles a page
// boundary (in a guest, where address-space randomisation puts it) made every execution of such an
// access leave translated code (docs/DBT.md "Session 6: TLB mirror").
import { test } from "node:test";
import assert from "node:assert/strict";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

const ITERATIONS = 20_000;

test("grouped accesses across a page boundary hit the TLB mirror after the first fill", { skip }, () => {
  const { a, b } = pair(`
    li s0, 0x80100ff0      # 0(s0), 8(s0) in one page; 16(s0), 24(s0) in the next
    li s1, ${ITERATIONS}
    li s2, 0
1:  ld a0, 0(s0)
    ld a1, 8(s0)
    ld a2, 16(s0)
    ld a3, 24(s0)
    add s2, s2, a0
    add s2, s2, a3
    addi a2, a2, 1
    sd a2, 16(s0)
    sd a1, -8(s0)
    sd a3, 24(s0)
    sd a0, 0(s0)
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
  `);
  lockstepToEbreak(a, b, 10_000, 0.9);
  const misses = a.dbt!.stats.exitCauses[0]!;
  // Compulsory fills only: a handful per page and mirror, not one per iteration.
  assert.ok(misses < 50, `${misses} TLB-mirror misses in ${ITERATIONS} iterations`);
});
