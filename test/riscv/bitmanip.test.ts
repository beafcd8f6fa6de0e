// Zba, Zbb, Zbs (Bit-Manipulation ISA-extensions 1.0.0), RV64 forms including the .uw/.w variants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAsm, toolchainMissing } from "./asm.js";

const skip = toolchainMissing();

test("Zba address generation zero-extends the .uw operand", { skip }, () => {
  const { hart } = runAsm(`
    li t0, 0xffffffff80000001
    li t1, 0x1000
    sh1add a0, t0, t1
    sh2add a1, t0, t1
    sh3add a2, t0, t1
    add.uw a3, t0, t1
    sh1add.uw a4, t0, t1
    sh2add.uw a5, t0, t1
    sh3add.uw a6, t0, t1
    slli.uw a7, t0, 4
    slli.uw s2, t0, 40
    zext.w s3, t0
    ebreak
  `);
  const a = 0xffffffff80000001n,
    b = 0x1000n,
    M = (1n << 64n) - 1n;
  assert.equal(hart.getX(10), ((a << 1n) + b) & M);
  assert.equal(hart.getX(11), ((a << 2n) + b) & M);
  assert.equal(hart.getX(12), ((a << 3n) + b) & M);
  assert.equal(hart.getX(13), 0x80000001n + b);
  assert.equal(hart.getX(14), (0x80000001n << 1n) + b);
  assert.equal(hart.getX(15), (0x80000001n << 2n) + b);
  assert.equal(hart.getX(16), (0x80000001n << 3n) + b);
  assert.equal(hart.getX(17), 0x80000001n << 4n);
  assert.equal(hart.getX(18), (0x80000001n << 40n) & M);
  assert.equal(hart.getX(19), 0x80000001n);
});

test("Zbb counts, min/max, rotates, byte ops and sign/zero extension", { skip }, () => {
  const { hart } = runAsm(`
    li t0, 0x0000100000000000
    clz a0, t0
    ctz a1, t0
    cpop a2, t0
    clz a3, zero
    ctz a4, zero
    li t1, 0xffffffff00000010
    clzw a5, t1
    ctzw a6, t1
    cpopw a7, t1
    li t2, -5
    li t3, 3
    min s2, t2, t3
    max s3, t2, t3
    minu s4, t2, t3
    maxu s5, t2, t3
    li t4, 0x8000000000000001
    rori s6, t4, 1
    rol s7, t4, t3
    ror s8, t4, t3
    li t5, 0x80000001
    roriw s9, t5, 1
    rolw s10, t5, t3
    rorw s11, t5, t3
    ebreak
  `);
  assert.equal(hart.getX(10), 19n);
  assert.equal(hart.getX(11), 44n);
  assert.equal(hart.getX(12), 1n);
  assert.equal(hart.getX(13), 64n);
  assert.equal(hart.getX(14), 64n);
  assert.equal(hart.getX(15), 27n);
  assert.equal(hart.getX(16), 4n);
  assert.equal(hart.getX(17), 1n);
  assert.equal(hart.getX(18), 0xfffffffffffffffbn);
  assert.equal(hart.getX(19), 3n);
  assert.equal(hart.getX(20), 3n);
  assert.equal(hart.getX(21), 0xfffffffffffffffbn);
  assert.equal(hart.getX(22), 0xc000000000000000n);
  assert.equal(hart.getX(23), 0x000000000000000cn);
  assert.equal(hart.getX(24), 0x3000000000000000n);
  assert.equal(hart.getX(25), 0xffffffffc0000000n);
  assert.equal(hart.getX(26), 0x0cn);
  assert.equal(hart.getX(27), 0x30000000n);
});

test("Zbb logic with negation, orc.b, rev8, sext and zext.h", { skip }, () => {
  const { hart } = runAsm(`
    li t0, 0x00ff00f0000a0000
    li t1, 0x0f0f0f0f0f0f0f0f
    andn a0, t0, t1
    orn a1, t0, t1
    xnor a2, t0, t1
    orc.b a3, t0
    rev8 a4, t0
    li t2, 0x1234567890abcd80
    sext.b a5, t2
    sext.h a6, t2
    zext.h a7, t2
    ebreak
  `);
  const a = 0x00ff00f0000a0000n,
    b = 0x0f0f0f0f0f0f0f0fn,
    M = (1n << 64n) - 1n;
  assert.equal(hart.getX(10), a & ~b & M);
  assert.equal(hart.getX(11), (a | ~b) & M);
  assert.equal(hart.getX(12), ~(a ^ b) & M);
  assert.equal(hart.getX(13), 0x00ff00ff00ff0000n);
  assert.equal(hart.getX(14), 0x00000a00f000ff00n);
  assert.equal(hart.getX(15), 0xffffffffffffff80n);
  assert.equal(hart.getX(16), 0xffffffffffffcd80n);
  assert.equal(hart.getX(17), 0xcd80n);
});

test("Zbs single-bit operations at bit 0, 31, 32 and 63", { skip }, () => {
  const { hart } = runAsm(`
    li t0, -1
    bclri a0, t0, 63
    bclri a1, t0, 31
    li t1, 32
    bclr a2, t0, t1
    bseti a3, zero, 63
    bset a4, zero, t1
    binvi a5, zero, 31
    binv a6, t0, zero
    li t2, 0x8000000100000000
    bexti a7, t2, 63
    bext s2, t2, t1
    bexti s3, t2, 31
    ebreak
  `);
  assert.equal(hart.getX(10), 0x7fffffffffffffffn);
  assert.equal(hart.getX(11), 0xffffffff7fffffffn);
  assert.equal(hart.getX(12), 0xfffffffeffffffffn);
  assert.equal(hart.getX(13), 0x8000000000000000n);
  assert.equal(hart.getX(14), 0x100000000n);
  assert.equal(hart.getX(15), 0x80000000n);
  assert.equal(hart.getX(16), 0xfffffffffffffffen);
  assert.equal(hart.getX(17), 1n);
  assert.equal(hart.getX(18), 1n);
  assert.equal(hart.getX(19), 0n);
});
