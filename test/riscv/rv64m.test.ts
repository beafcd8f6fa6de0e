// M extension (Unprivileged ISA ch. 7): products' high halves and the division corner cases of table 7.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAsm, toolchainMissing, sx } from "./asm.js";
import { gpa } from "../../src/memory/Address.js";

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
  const a = 0x123456789abcdef1n,
    b = -0x0fedcba987654321n;
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
  assert.equal(hart.getX(18), 0xfffffffffffffff9n / 2n);
  assert.equal(hart.getX(19), 1n);
  assert.equal(hart.getX(20), 0xffffffff80000000n);
  assert.equal(hart.getX(21), 0n);
  assert.equal(sx(hart.getX(22)), -1n);
  assert.equal(sx(hart.getX(23)), -7n);
  assert.equal(sx(hart.getX(24)), -1n);
  assert.equal(sx(hart.getX(25)), -7n);
  assert.equal(hart.getX(26), 0x7fffffffn);
});

test("mulh, mulhsu and mulhu agree with 128-bit arithmetic on every pair of edge values", { skip }, () => {
  const vals = [
    0n,
    1n,
    2n,
    0x7fffffffn,
    0x80000000n,
    0xffffffffn,
    0x100000000n,
    0x7fffffffffffffffn,
    0x8000000000000000n,
    0xffffffffffffffffn,
    0xfffffffffffffffen,
    0x123456789abcdef1n,
    0xfedcba9876543210n,
    0xdeadbeefn,
  ];
  const pairs: [bigint, bigint][] = [];
  for (const a of vals) for (const b of vals) pairs.push([a, b]);
  const { hart, memory } = runAsm(`
    la s0, pairs
    la s1, out
    li s2, ${pairs.length}
1:  ld t0, 0(s0)
    ld t1, 8(s0)
    mulh t2, t0, t1
    mulhsu t3, t0, t1
    mulhu t4, t0, t1
    mul t5, t0, t1
    sd t2, 0(s1)
    sd t3, 8(s1)
    sd t4, 16(s1)
    sd t5, 24(s1)
    addi s0, s0, 16
    addi s1, s1, 32
    addi s2, s2, -1
    bnez s2, 1b
    ebreak
    .align 3
pairs:
    ${pairs.map(([a, b]) => `.dword 0x${a.toString(16)}, 0x${b.toString(16)}`).join("\n    ")}
out:
    .space ${pairs.length * 32}
  `);
  const out = Number(hart.getX(9)) - pairs.length * 32;
  const s = (v: bigint) => BigInt.asIntN(64, v),
    u = (v: bigint) => BigInt.asUintN(64, v);
  pairs.forEach(([a, b], i) => {
    const at = out + 32 * i;
    const what = `a=0x${a.toString(16)} b=0x${b.toString(16)}`;
    assert.equal(memory.readU64(gpa(at)), u((s(a) * s(b)) >> 64n), `mulh ${what}`);
    assert.equal(memory.readU64(gpa(at + 8)), u((s(a) * b) >> 64n), `mulhsu ${what}`);
    assert.equal(memory.readU64(gpa(at + 16)), u((a * b) >> 64n), `mulhu ${what}`);
    assert.equal(memory.readU64(gpa(at + 24)), u(a * b), `mul ${what}`);
  });
});

test("div, divu, rem and remu agree with BigInt on edge values around 2^31, 2^52 and 2^63", { skip }, () => {
  const vals = [
    0n,
    1n,
    3n,
    7n,
    0x7fffffffn,
    0x80000000n,
    0xffffffffn,
    0x100000001n,
    0xfffffffffffffn,
    0x10000000000000n,
    0x1fffffffffffffn,
    0x7fffffffffffffffn,
    0x8000000000000000n,
    0xffffffffffffffffn,
    0xfff0000000000001n,
    0xffffffff80000000n,
    0xfffffffffffffff9n,
  ];
  const pairs: [bigint, bigint][] = [];
  for (const a of vals) for (const b of vals) pairs.push([a, b]);
  const { hart, memory } = runAsm(`
    la s0, pairs
    la s1, out
    li s2, ${pairs.length}
1:  ld t0, 0(s0)
    ld t1, 8(s0)
    div t2, t0, t1
    divu t3, t0, t1
    rem t4, t0, t1
    remu t5, t0, t1
    sd t2, 0(s1)
    sd t3, 8(s1)
    sd t4, 16(s1)
    sd t5, 24(s1)
    addi s0, s0, 16
    addi s1, s1, 32
    addi s2, s2, -1
    bnez s2, 1b
    ebreak
    .align 3
pairs:
    ${pairs.map(([a, b]) => `.dword 0x${a.toString(16)}, 0x${b.toString(16)}`).join("\n    ")}
out:
    .space ${pairs.length * 32}
  `);
  const out = Number(hart.getX(9)) - pairs.length * 32;
  const s = (v: bigint) => BigInt.asIntN(64, v),
    u = (v: bigint) => BigInt.asUintN(64, v);
  const MIN = -(1n << 63n);
  pairs.forEach(([a, b], i) => {
    const at = out + 32 * i;
    const what = `a=0x${a.toString(16)} b=0x${b.toString(16)}`;
    const sa = s(a),
      sb = s(b);
    const div = sb === 0n ? -1n : sa === MIN && sb === -1n ? MIN : sa / sb;
    const rem = sb === 0n ? sa : sa === MIN && sb === -1n ? 0n : sa % sb;
    assert.equal(memory.readU64(gpa(at)), u(div), `div ${what}`);
    assert.equal(memory.readU64(gpa(at + 8)), b === 0n ? u(-1n) : a / b, `divu ${what}`);
    assert.equal(memory.readU64(gpa(at + 16)), u(rem), `rem ${what}`);
    assert.equal(memory.readU64(gpa(at + 24)), b === 0n ? a : a % b, `remu ${what}`);
  });
});
