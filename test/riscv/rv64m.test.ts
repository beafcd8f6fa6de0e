// M extension (Unprivileged ISA ch. 7): products' high halves and the division corner cases of table 7.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAsm, toolchainMissing, sx } from "./asm.js";

const skip = toolchainMissing();

test("mul, mulh, mulhsu, mulhu on large and negative operands", { skip }, () => {
  const { hart } = runAsm(`
    li t0, 0x123456789abcdef1
    li t1, -0x0fedcba987654321
    mul a0, t0, t1
    mulh a1, t0, t1
    mulhu a2, t0, t1
    mulhsu a3, t1, t0
    li t2, -1
    mulhu a4, t2, t2
    mulh a5, t2, t2
    li t3, 0x8000000000000000
    mulh a6, t3, t3
    mulw a7, t0, t1
    ebreak
  `);
  const a = 0x123456789abcdef1n, b = -0x0fedcba987654321n;
  const u = (v: bigint) => BigInt.asUintN(64, v);
  assert.equal(hart.getX(10), u(a * b));
  assert.equal(hart.getX(11), u((a * b) >> 64n));
  assert.equal(hart.getX(12), u((a * u(b)) >> 64n));
  assert.equal(hart.getX(13), u((b * a) >> 64n));
  assert.equal(hart.getX(14), 0xfffffffffffffffen);
  assert.equal(hart.getX(15), 0n);
  assert.equal(hart.getX(16), 0x4000000000000000n);
  assert.equal(hart.getX(17), u(BigInt.asIntN(32, a * b)));
});

test("division by zero and signed overflow give the results of table 7.1", { skip }, () => {
  const { hart } = runAsm(`
    li t0, 1234
    div a0, t0, zero
    divu a1, t0, zero
    rem a2, t0, zero
    remu a3, t0, zero
    li t1, 0x8000000000000000
    li t2, -1
    div a4, t1, t2
    rem a5, t1, t2
    li t3, -7
    li t4, 2
    div a6, t3, t4        # rounds toward zero
    rem a7, t3, t4        # sign of the dividend
    divu s2, t3, t4
    remu s3, t3, t4
    li t5, 0x80000000
    divw s4, t5, t2       # -2^31 / -1 overflows 32 bits
    remw s5, t5, t2
    divuw s6, t3, zero
    remuw s7, t3, zero
    divw s8, t0, zero
    remw s9, t3, zero
    li t6, 0x1ffffffff
    divuw s10, t6, t4     # only the low 32 bits: 0xffffffff / 2
    ebreak
  `);
  assert.equal(sx(hart.getX(10)), -1n);
  assert.equal(hart.getX(11), 0xffffffffffffffffn);
  assert.equal(hart.getX(12), 1234n);
  assert.equal(hart.getX(13), 1234n);
  assert.equal(hart.getX(14), 0x8000000000000000n);
  assert.equal(hart.getX(15), 0n);
  assert.equal(sx(hart.getX(16)), -3n);
  assert.equal(sx(hart.getX(17)), -1n);
  assert.equal(hart.getX(18), (0xfffffffffffffff9n) / 2n);
  assert.equal(hart.getX(19), 1n);
  assert.equal(hart.getX(20), 0xffffffff80000000n);
  assert.equal(hart.getX(21), 0n);
  assert.equal(sx(hart.getX(22)), -1n);
  assert.equal(sx(hart.getX(23)), -7n);
  assert.equal(sx(hart.getX(24)), -1n);
  assert.equal(sx(hart.getX(25)), -7n);
  assert.equal(hart.getX(26), 0x7fffffffn);
});
