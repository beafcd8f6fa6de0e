// The optimizing tier (DbtOptions.hotTier, src/dbt/OptimizingCompile.ts): a unit that has run enough
// instructions is translated again and compiled by TurboFan (the compiler WasmTiering registers for a
// Liftoff-only process), and keeps the interpreter's results, in lockstep.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setWasmTiering } from "../../src/dbt/WasmTiering.js";
import { optimizingCompiler } from "../../src/dbt/OptimizingCompile.js";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

test("a hot unit compiled again by TurboFan gives the interpreter's registers and memory", { skip }, () => {
  setWasmTiering({ tierUp: false }); // as a VM's process: Liftoff only, and the optimizing compiler registered
  assert.ok(optimizingCompiler() !== undefined);
  const { a, b } = pair(
    `
    li s0, 0x80100000
    li s1, 3000
    li a0, 12345
    li s2, 0
1:  slli t0, a0, 13        # xorshift64
    xor a0, a0, t0
    srli t0, a0, 7
    xor a0, a0, t0
    slli t0, a0, 17
    xor a0, a0, t0
    srli a1, a0, 40
    andi a3, a1, 1016
    add a4, s0, a3
    ld a5, 0(a4)
    xor a5, a5, a0
    sd a5, 0(a4)
    lw a6, 4(a4)
    sb a1, 1(a4)
    add s2, s2, a6
    jal ra, helper         # a call and a return through JALR in and out of the unit
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
helper:
    slli t1, a0, 7
    xor s2, s2, t1
    ret
`,
    { hotThreshold: 1, hotTier: 20_000 },
  );
  lockstepToEbreak(a, b, 5000, 0.9);
  assert.ok(a.dbt!.stats.optimized >= 1, "the page was compiled by the optimizing tier");
});
