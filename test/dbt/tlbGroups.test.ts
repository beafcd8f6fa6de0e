// Hoisted TLB checks (PageTranslator.tlbCheck, docs/DBT.md "Session 5: code"): loads and stores of a
// block through the same base register share the first one's TLB-mirror check and only compare
// their page offset. Lockstep against the interpreter on accesses that cross into the next page,
// go below the first one, change size and alignment, overwrite their own base register, and fault.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair, runBothToLoadFault } from "./machine.js";

const skip = toolchainMissing();

test(
  "grouped loads and stores through one base register match the interpreter across pages, sizes and alignments",
  { skip },
  () => {
    const { a, b } = pair(`
    li s0, 0x80100f00      # walks over the page end at 0x80101000, 8 bytes per iteration
    li s1, 400
    li s2, 0
    li t1, 0x80102000      # a pointer chain: each word points to the next
    li t0, 0x80102008
    sd t0, 0(t1)
    li t0, 0x80102ff0
    sd t0, 8(t1)
    sd t1, 0(t0)
    li t5, 100             # fills the TLB mirrors first, so the loop below misses nowhere and its
0:  ld t2, 8(t1)           # block is not split at the re-entries after misses
    ld a0, 0(s0)
    sd a0, 0(s0)
    ld a0, 256(s0)
    sd a0, 256(s0)
    addi t5, t5, -1
    bnez t5, 0b
1:  lbu a6, 1(s0)          # a byte group: the ld below needs its own check, and starts a new group
    ld a0, 0(s0)
    lw a1, 8(s0)
    lwu a2, 16(s0)         # crosses into the next page before the first access does
    lw a3, -4(s0)          # below the first access
    lb a4, 3(s0)
    lhu a5, 6(s0)
    sd a0, 32(s0)
    sw a1, 24(s0)          # a store group below its first store
    sh a2, 42(s0)
    sb a3, 47(s0)
    ld t2, 8(t1)
    ld t1, 0(t1)           # the base register is overwritten by its own load...
    ld t3, 8(t1)           # ...so these go through the new value
    lw t4, 0(t1)
    add s2, s2, a0
    xor s2, s2, a1
    add s2, s2, a2
    xor s2, s2, a3
    add s2, s2, a4
    add s2, s2, a5
    xor s2, s2, a6
    add s2, s2, t2
    add s2, s2, t3
    xor s2, s2, t4
    addi s0, s0, 8
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
  `);
    lockstepToEbreak(a, b, 1000, 0.3);
  },
);

test("a grouped access that leaves RAM faults at its own pc with the earlier accesses done", { skip }, () => {
  const { a, b } = pair(`
    li s0, 0x80100000
    li s1, 50
1:  ld a0, 0(s0)           # the loop makes the block hot with s0 inside RAM
    ld a1, 8(s0)
    addi s1, s1, -1
    bnez s1, 1b
    li s0, 0x803ffff8      # the last 8 bytes of the 4 MiB of RAM
    li s1, 1
    li a0, 0
    li a1, 0
    j 1b
  `);
  runBothToLoadFault(a, b);
  assert.equal(a.hart.exitTval, 0x80400000n); // at 8(s0), past the end of RAM
});
