// Loads and stores that the TLB mirror must serve without leaving translated code, whatever their
// alignment or grouping (PageTranslator.tlbCheck, docs/DBT.md "Session 6: TLB mirror"): a hoisted
// check whose later access lies in the next page (a stack frame across a page end, which a guest's
// randomised stack put there in one workload run of three) and misaligned accesses (a guest's
// memcpy takes misaligned paths when Linux measured misaligned accesses as fast, again in some
// runs only) each missed the mirror at every execution: millions of exits to the interpreter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

const ITERATIONS = 20_000;

/** Runs the loop in lockstep with the interpreter and checks the mirror missed only to fill its pages. */
function fewMisses(src: string): void {
  const { a, b } = pair(src);
  lockstepToEbreak(a, b, 10_000, 0.9);
  const misses = a.dbt!.stats.exitCauses[0]!;
  assert.ok(misses < 50, `${misses} TLB-mirror misses in ${ITERATIONS} iterations`);
}

test("grouped accesses across a page boundary hit the TLB mirror after the first fill", { skip }, () => {
  fewMisses(`
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
});

test("misaligned loads and stores inside a page run translated, like the interpreter's", { skip }, () => {
  fewMisses(`
    li s0, 0x80100803
    li s1, ${ITERATIONS}
    li s2, 0
    li t0, 0x0123456789abcdef
    sd t0, 0(s0)
1:  ld a0, 0(s0)           # misaligned by 3, 1, 5 bytes
    lw a1, 6(s0)
    lhu a2, 2(s0)
    lh a3, 10(s0)
    lwu a4, 14(s0)
    add s2, s2, a0
    xor s2, s2, a1
    add s2, s2, a2
    xor s2, s2, a3
    add s2, s2, a4
    addi a0, a0, 3
    sd a0, 0(s0)
    sw s2, 9(s0)
    sh a1, 21(s0)
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
  `);
});

test("a misaligned access across a page end matches the interpreter", { skip }, () => {
  const { a, b } = pair(`
    li s0, 0x80100ffd      # 8 bytes from 0xffd: 3 in this page, 5 in the next
    li s1, 200
    li t0, 0x1122334455667788
1:  sd t0, 0(s0)
    ld a0, 0(s0)
    lw a1, 1(s0)
    add t0, t0, a0
    add t0, t0, a1
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
  `);
  lockstepToEbreak(a, b, 100, 0);
});
