// The register cache of translated blocks (PageTranslator getReg/setReg, docs/DBT.md "Session 6:
// code"): a unit caches guest registers in a small pool of locals, so a block that reads more
// registers than the pool holds gives slots up (the register read furthest ahead first) and reloads
// from the engine area. Lockstep against the interpreter on a block that reads and writes 24
// registers, with a stepped CSR read into a cached register and the instructions whose scratch
// locals the cache shares (AMO, DIV/REM, MULH, REV8).
import { test } from "node:test";
import assert from "node:assert/strict";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

test("a block with more live registers than cache slots matches the interpreter", { skip }, () => {
  const regs = ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "t0", "t1", "t2", "t3", "t4", "t5", "t6"];
  const more = ["s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10"];
  const all = [...regs, ...more];
  const init = all.map((r, i) => `    li ${r}, ${0x1234567 * (i + 3)}`).join("\n");
  // Every register read at several distances: near, far, and after the others were read.
  const mix = all
    .map((r, i) => {
      const x = all[(i + 7) % all.length]!,
        y = all[(i + 13) % all.length]!;
      return `    add ${r}, ${r}, ${x}\n    xor ${x}, ${x}, ${y}\n    slli ${y}, ${y}, 1`;
    })
    .join("\n");
  const { a, b } = pair(`
    li s0, 0x80100000      # a word for the AMO
    li s1, 300
${init}
1:
${mix}
    csrr a3, mscratch      # stepped by the interpreter: a3's cached value is stale afterwards
    add a4, a4, a3
    csrw mscratch, a5
    amoadd.d a6, a7, (s0)  # scratch locals shared with the cache
    add a7, a7, a6
    ori t0, t0, 1
    div t1, t2, t0
    rem t2, t3, t0
    mulh t3, t4, t5
    mulhu t4, t5, t6
    rev8 t5, t6
    add t6, t6, a0
${mix}
    add a0, a0, a3
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
  `);
  lockstepToEbreak(a, b, 1000, 0.8);
  assert.ok(a.dbt!.stats.stepped > 250, "the CSR reads were stepped inside the unit");
});
