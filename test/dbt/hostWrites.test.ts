// Writes to translated code by something other than the harts' stores (device DMA, loaders) between
// two runs: with DbtOptions.hostWritesReported the translator learns of them from GuestMemory's
// marking writers instead of comparing every page with its snapshot at each run (docs/DBT.md
// "Session 7: lead"); without it the comparison still catches writes that bypass the marks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toolchainMissing, RAM_BASE, assemble } from "../riscv/asm.js";
import { dbtMachine } from "./machine.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();

// A loop calling a function on its own page; the test rewrites the function's first instruction.
const SRC = `
    li s0, 0
1:  call func
    add s0, s0, a0
    j 1b
    .balign 4096
func:
    .word 0x00100513       # addi a0, zero, 1 (rewritten to addi a0, zero, 2)
    ret
`;
const ADDI_A0_2 = new Uint8Array([0x13, 0x05, 0x20, 0x00]);

function translatedLoop(reported: boolean) {
  const m = dbtMachine(assemble(SRC), true, { hotThreshold: 1, hostWritesReported: reported });
  for (let i = 0; i < 20; i++) m.hart.run(5000);
  assert.ok(m.dbt!.stats.translatedInsns > 50_000, "the loop and the function run translated");
  assert.equal(m.hart.getX(10), 1n);
  return m;
}

test("a marked host write (DMA) to a translated page between runs is seen without re-comparing pages", { skip }, () => {
  const m = translatedLoop(true);
  const v0 = m.dbt!.stats.verifications;
  m.hart.run(20_000);
  assert.equal(m.dbt!.stats.verifications, v0, "no page compared again at a new run()");
  m.memory.write(gpa(RAM_BASE + 0x1000), ADDI_A0_2); // GuestMemory.write marks, like a device's DMA
  m.hart.run(20_000);
  assert.equal(m.hart.getX(10), 2n, "the rewritten function ran");
  assert.ok(m.dbt!.stats.invalidations >= 1);
});

test("without reported writes, a write that bypasses the marks is still caught at the next run()", { skip }, () => {
  const m = translatedLoop(false);
  m.memory.bytes.set(ADDI_A0_2, 0x1000);
  m.hart.run(20_000);
  assert.equal(m.hart.getX(10), 2n, "the rewritten function ran");
});
