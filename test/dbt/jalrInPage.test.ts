// Indirect jumps to a block of their own page (PageTranslator.jalrInPage, docs/DBT.md "Session 5:
// code") continue inside the unit instead of returning to the trampoline: calls and returns within a
// page, and a jump table, in lockstep with the interpreter, with far fewer unit calls than jumps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

test("returns and table jumps within a page stay inside the unit and match the interpreter", { skip }, () => {
  const { a, b } = pair(`
    li s1, 2000
    li s2, 0
    la s3, table
1:  andi t0, s1, 3
    call leaf              # a call and a return (JALR ra) in the same page
    slli t1, t0, 3
    add t1, t1, s3
    ld t1, 0(t1)
    jalr ra, 0(t1)         # an indirect call through a table of code addresses
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
leaf:
    addi s2, s2, 3
    xor s2, s2, s1
    ret
f0: addi s2, s2, 1
    ret
f1: slli s2, s2, 1
    ret
f2: addi s2, s2, -7
    ret
f3: srli s2, s2, 1
    jr ra
    .data
    .align 3
table: .dword f0, f1, f2, f3
  `);
  lockstepToEbreak(a, b, 5000, 0.9);
  const calls = a.dbt!.stats.unitCalls;
  assert.ok(calls < 400, `${calls} unit calls for 8000 indirect jumps`);
});
