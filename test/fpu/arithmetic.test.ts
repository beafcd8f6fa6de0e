// Edge cases of fadd/fsub/fmul/fdiv/fsqrt and the fused multiply-adds (Unprivileged ISA
// 11.6 / 12.4): signed zeros, infinities, NaNs, overflow and underflow thresholds, every
// rounding mode, and fused results a separate multiply and add would get wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CANON_D,
  CANON_S,
  D,
  DYN,
  DZ,
  FADD,
  FDIV,
  FMADD,
  FMSUB,
  FMUL,
  FNMADD,
  FNMSUB,
  FSQRT,
  FSUB,
  MAX_D,
  MAX_S,
  NV,
  NX,
  OF,
  RDN,
  RMM,
  RNE,
  RTZ,
  RUP,
  S,
  SNAN_D,
  SNAN_S,
  UF,
  d2,
  dFma,
  exec,
  getDBits,
  getSBits,
  newCtx,
  opFp,
  r4,
  s2,
  sFma,
  setD,
  setDBits,
  setS,
  setSBits,
} from "./harness.js";
import { executeFp } from "../../src/riscv/fpu/index.js";

const MIN_SUB_D = Number.MIN_VALUE; // 2^-1074
const MIN_NORM_D = 2 ** -1022;
const MIN_SUB_S = 2 ** -149;
const MIN_NORM_S = 2 ** -126;

function eq(actual: [number, number], value: number, flags: number, what: string): void {
  assert.ok(Object.is(actual[0], value), `${what}: value ${actual[0]} (expected ${value})`);
  assert.equal(actual[1], flags, `${what}: fflags ${actual[1]} (expected ${flags})`);
}

test("exact zero sums are +0 except in RDN, where they are -0; like-signed zeros keep their sign", () => {
  for (const rm of [RNE, RTZ, RUP, RMM]) {
    eq(d2(FADD, 0, -0, rm), 0, 0, `+0 + -0 rm${rm}`);
    eq(d2(FADD, 1.5, -1.5, rm), 0, 0, `x + -x rm${rm}`);
    eq(s2(FSUB, 2.25, 2.25, rm), 0, 0, `x - x (S) rm${rm}`);
    eq(dFma(FMADD, 3, 0.5, -1.5, rm), 0, 0, `3*0.5 - 1.5 rm${rm}`);
  }
  eq(d2(FADD, 0, -0, RDN), -0, 0, "+0 + -0 RDN");
  eq(d2(FADD, 1.5, -1.5, RDN), -0, 0, "x + -x RDN");
  eq(s2(FSUB, 2.25, 2.25, RDN), -0, 0, "x - x (S) RDN");
  eq(dFma(FMADD, 3, 0.5, -1.5, RDN), -0, 0, "fma exact zero RDN");
  eq(d2(FADD, -0, -0, RNE), -0, 0, "-0 + -0");
  eq(d2(FSUB, -0, 0, RUP), -0, 0, "-0 - +0");
  eq(d2(FADD, 0, 0, RDN), 0, 0, "+0 + +0 RDN");
  eq(dFma(FMADD, -0, 5, -0, RNE), -0, 0, "-0*5 + -0");
  eq(dFma(FMADD, -0, 5, 0, RNE), 0, 0, "-0*5 + +0");
  eq(dFma(FMADD, -0, 5, 0, RDN), -0, 0, "-0*5 + +0 RDN");
});

test("invalid operations give the canonical NaN and NV; NaN operands are never propagated", () => {
  const ctx = newCtx();
  setD(ctx, 1, Infinity);
  setD(ctx, 2, Infinity);
  exec(ctx, opFp(FSUB, D, 3, 1, 2, RNE));
  assert.equal(getDBits(ctx, 3), CANON_D);
  assert.equal(ctx.fflags, NV);
  eq(d2(FMUL, 0, -Infinity, RNE), NaN, NV, "0 * -inf");
  eq(d2(FDIV, 0, -0, RNE), NaN, NV, "0 / 0");
  eq(d2(FDIV, Infinity, -Infinity, RNE), NaN, NV, "inf / inf");
  eq(d2(FSQRT, -1, 0, RNE), NaN, NV, "sqrt(-1)");
  eq(s2(FSQRT, -Infinity, 0, RNE), NaN, NV, "sqrt(-inf) S");
  eq(s2(FMUL, Infinity, 0, RNE), NaN, NV, "inf * 0 S");

  // A quiet NaN with a payload and its sign set: result is the canonical NaN, no flags.
  const q = newCtx();
  setDBits(q, 1, 0xfff8dead00000000n);
  setD(q, 2, 1);
  exec(q, opFp(FADD, D, 3, 1, 2, RNE));
  assert.equal(getDBits(q, 3), CANON_D);
  assert.equal(q.fflags, 0);
  // A signalling NaN raises NV.
  setDBits(q, 1, SNAN_D);
  exec(q, opFp(FMUL, D, 3, 2, 1, RNE));
  assert.equal(getDBits(q, 3), CANON_D);
  assert.equal(q.fflags, NV);
  const s = newCtx();
  setSBits(s, 1, SNAN_S);
  setS(s, 2, 1);
  exec(s, opFp(FSQRT, S, 3, 1, 0, RNE));
  assert.equal(getSBits(s, 3), CANON_S);
  assert.equal(s.fflags, NV);
});

test("a binary32 operand that is not NaN-boxed reads as the canonical (quiet) NaN", () => {
  const ctx = newCtx();
  ctx.fi[2] = 0x3f800000; // 1.0f, but upper word 0: not boxed
  ctx.fi[3] = 0;
  setS(ctx, 2, 2);
  exec(ctx, opFp(FADD, S, 3, 1, 2, RNE));
  assert.equal(getSBits(ctx, 3), CANON_S);
  assert.equal(ctx.fflags, 0, "the canonical NaN is quiet: no NV");
  // Upper word all ones but one bit: still not boxed.
  ctx.fi[3] = -2;
  exec(ctx, opFp(FMUL, S, 3, 2, 1, RNE));
  assert.equal(getSBits(ctx, 3), CANON_S);
});

test("division by zero raises DZ and gives a correctly signed infinity", () => {
  eq(d2(FDIV, 1, 0, RNE), Infinity, DZ, "1/0");
  eq(d2(FDIV, 1, -0, RNE), -Infinity, DZ, "1/-0");
  eq(s2(FDIV, -3, 0, RTZ), -Infinity, DZ, "-3/0 S");
  eq(d2(FDIV, Infinity, 0, RNE), Infinity, 0, "inf/0 is exact, not DZ");
  eq(d2(FDIV, 5, Infinity, RNE), 0, 0, "5/inf");
  eq(d2(FDIV, -5, Infinity, RNE), -0, 0, "-5/inf");
});

test("sqrt: sqrt(-0) = -0, exact squares are exact, others are inexact in every mode", () => {
  eq(d2(FSQRT, -0, 0, RNE), -0, 0, "sqrt(-0)");
  eq(s2(FSQRT, -0, 0, RNE), -0, 0, "sqrt(-0) S");
  eq(d2(FSQRT, Infinity, 0, RNE), Infinity, 0, "sqrt(inf)");
  eq(d2(FSQRT, 2 ** -1074, 0, RNE), 2 ** -537, 0, "sqrt(min subnormal) is exact");
  eq(d2(FSQRT, 6.25, 0, RUP), 2.5, 0, "sqrt(6.25)");
  const r = Math.sqrt(2); // RNE: 1.4142135623730951 > sqrt(2)
  eq(d2(FSQRT, 2, 0, RNE), r, NX, "sqrt(2) RNE");
  eq(d2(FSQRT, 2, 0, RUP), r, NX, "sqrt(2) RUP");
  const below = 1.414213562373095; // nextDown(r)
  eq(d2(FSQRT, 2, 0, RDN), below, NX, "sqrt(2) RDN");
  eq(d2(FSQRT, 2, 0, RTZ), below, NX, "sqrt(2) RTZ");
  eq(s2(FSQRT, 2, 0, RNE), Math.fround(Math.SQRT2), NX, "sqrt(2) S");
});

test("overflow: OF|NX, infinity or the largest finite value depending on mode and sign", () => {
  for (const [rm, pos, neg] of [
    [RNE, Infinity, -Infinity],
    [RMM, Infinity, -Infinity],
    [RTZ, MAX_D, -MAX_D],
    [RDN, MAX_D, -Infinity],
    [RUP, Infinity, -MAX_D],
  ] as const) {
    eq(d2(FMUL, MAX_D, 2, rm), pos, OF | NX, `MAX*2 rm${rm}`);
    eq(d2(FMUL, MAX_D, -2, rm), neg, OF | NX, `MAX*-2 rm${rm}`);
    eq(s2(FADD, MAX_S, MAX_S, rm), pos === Infinity ? Infinity : MAX_S, OF | NX, `MAX+MAX S rm${rm}`);
  }
  // Just above MAX but below MAX + ulp/2: RNE keeps MAX (no overflow), RUP overflows.
  const tiny = 2 ** 960;
  eq(d2(FADD, MAX_D, tiny, RNE), MAX_D, NX, "MAX + small RNE");
  eq(d2(FADD, MAX_D, tiny, RUP), Infinity, OF | NX, "MAX + small RUP");
  eq(d2(FADD, MAX_D, tiny, RTZ), MAX_D, NX, "MAX + small RTZ");
  // Exactly MAX + ulp/2 ties to even, away from MAX: overflow.
  eq(d2(FADD, MAX_D, 2 ** 970, RNE), Infinity, OF | NX, "MAX + ulp/2 RNE");
  eq(d2(FADD, MAX_D, 2 ** 970, RTZ), MAX_D, NX, "MAX + ulp/2 RTZ: rounds to MAX with unbounded exponent, no OF");
});

test("subnormal results are produced (no flush to zero) and UF follows tininess after rounding", () => {
  eq(d2(FMUL, MIN_NORM_D, 0.5, RNE), 2 ** -1023, 0, "exact subnormal: no UF");
  eq(d2(FDIV, MIN_SUB_D, 2, RNE), 0, UF | NX, "min subnormal / 2 ties to even 0");
  eq(d2(FDIV, MIN_SUB_D, 2, RUP), MIN_SUB_D, UF | NX, "min subnormal / 2 RUP");
  eq(d2(FDIV, MIN_SUB_D, 2, RMM), MIN_SUB_D, UF | NX, "min subnormal / 2 RMM");
  eq(d2(FMUL, MIN_SUB_D, 0.75, RNE), MIN_SUB_D, UF | NX, "min subnormal * 0.75");
  eq(d2(FMUL, MIN_SUB_D, -0.25, RDN), -MIN_SUB_D, UF | NX, "-min subnormal / 4 RDN");
  eq(s2(FMUL, MIN_SUB_S, 0.5, RNE), 0, UF | NX, "S: min subnormal / 2");
  eq(s2(FMUL, MIN_NORM_S, 0.5, RNE), 2 ** -127, 0, "S: exact subnormal");
  // (2^25 - 1) * 2^-151 = 2^-126 * (1 - 2^-25): rounds to 2^-126 both in the subnormal grid
  // and with unbounded exponent, so it is not tiny after rounding: NX without UF.
  const a = 18631 * 2 ** -60;
  const b = 1801 * 2 ** -91;
  eq(s2(FMUL, a, b, RNE), MIN_NORM_S, NX, "S: rounds up to 2^-126, not tiny after rounding");
  // In RTZ it stays below 2^-126: tiny and inexact.
  eq(s2(FMUL, a, b, RTZ), MIN_NORM_S - MIN_SUB_S, UF | NX, "S: RTZ stays subnormal");
  // binary64: (1 - 2^-27) * (1 + 2^-27) * 2^-1022 = 2^-1022 * (1 - 2^-54) exactly.
  const da = (2 ** 27 - 1) * 2 ** -27;
  const db = (2 ** 27 + 1) * 2 ** -1049;
  eq(d2(FMUL, da, db, RNE), MIN_NORM_D, NX, "D: just below 2^-1022, not tiny after rounding");
  eq(d2(FMUL, da, db, RDN), MIN_NORM_D - MIN_SUB_D, UF | NX, "D: same in RDN is tiny");
  eq(dFma(FMADD, da, db, 0, RUP), MIN_NORM_D, NX, "D: fma RUP");
  eq(dFma(FMADD, da, db, -MIN_SUB_D, RNE), MIN_NORM_D - MIN_SUB_D, UF | NX, "D: fma with a subnormal addend");
  // Sums of subnormals are exact.
  eq(d2(FADD, MIN_SUB_D, MIN_SUB_D, RNE), 2 * MIN_SUB_D, 0, "subnormal sum");
});

test("every rounding mode on ties and non-ties (binary64 and binary32)", () => {
  // 1 + 2^-53 is exactly halfway between 1 and 1 + 2^-52.
  const h = 2 ** -53;
  const expect = (rm: number, v: number) => eq(d2(FADD, 1, h, rm), v, NX, `1 + 2^-53 rm${rm}`);
  expect(RNE, 1);
  expect(RTZ, 1);
  expect(RDN, 1);
  expect(RUP, 1 + 2 ** -52);
  expect(RMM, 1 + 2 ** -52);
  eq(d2(FADD, -1, -h, RMM), -1 - 2 ** -52, NX, "-1 - 2^-53 RMM");
  eq(d2(FADD, -1, -h, RDN), -1 - 2 ** -52, NX, "-1 - 2^-53 RDN");
  eq(d2(FADD, -1, -h, RTZ), -1, NX, "-1 - 2^-53 RTZ");
  // 1 + 3*2^-53 is halfway between 1+2^-52 and 1+2^-51: RNE goes to the even one (up).
  eq(d2(FADD, 1 + 2 ** -52, h, RNE), 1 + 2 ** -51, NX, "tie to even, upward");
  // binary32 ties: 1 + 2^-24.
  eq(s2(FADD, 1, 2 ** -24, RNE), 1, NX, "S tie RNE");
  eq(s2(FADD, 1, 2 ** -24, RMM), 1 + 2 ** -23, NX, "S tie RMM");
  eq(s2(FADD, 1, 2 ** -24, RUP), 1 + 2 ** -23, NX, "S tie RUP");
  eq(s2(FADD, -1, -(2 ** -24), RMM), -1 - 2 ** -23, NX, "S negative tie RMM");
  // 1/3 in each mode.
  const third = 1 / 3; // RNE, below the exact value
  eq(d2(FDIV, 1, 3, RNE), third, NX, "1/3 RNE");
  eq(d2(FDIV, 1, 3, RDN), third, NX, "1/3 RDN");
  eq(d2(FDIV, 1, 3, RUP), third + 2 ** -54, NX, "1/3 RUP");
  eq(d2(FDIV, -1, 3, RUP), -third, NX, "-1/3 RUP");
  eq(d2(FDIV, -1, 3, RDN), -third - 2 ** -54, NX, "-1/3 RDN");
  eq(s2(FDIV, 1, 3, RUP), Math.fround(1 / 3), NX, "S 1/3 RUP (RNE rounds up)");
  eq(s2(FDIV, 1, 3, RTZ), Math.fround(1 / 3) - 2 ** -25, NX, "S 1/3 RTZ");
});

test("dynamic rounding uses frm; reserved rm values and frm 5..7 are illegal", () => {
  const ctx = newCtx(RUP);
  setD(ctx, 1, 1);
  setD(ctx, 2, 2 ** -53);
  exec(ctx, opFp(FADD, D, 3, 1, 2, DYN));
  assert.equal(ctx.f[3], 1 + 2 ** -52);
  for (const rm of [5, 6]) assert.equal(executeFp(newCtx(), opFp(FADD, D, 3, 1, 2, rm)), false, `static rm ${rm}`);
  for (const frm of [5, 6, 7]) {
    const c = newCtx(frm);
    setD(c, 3, 42);
    assert.equal(executeFp(c, opFp(FADD, D, 3, 1, 2, DYN)), false, `frm ${frm}`);
    assert.equal(executeFp(c, r4(FMADD, S, 3, 1, 2, 4, DYN)), false, `frm ${frm} fmadd`);
    assert.equal(executeFp(c, opFp(0x18, D, 3, 1, 0, DYN)), false, `frm ${frm} fcvt.w.d`);
    assert.equal(c.f[3], 42, "rd untouched");
    assert.equal(c.fflags, 0, "flags untouched");
  }
});

test("fused multiply-add rounds once: cases where a*b+c with two roundings is wrong", () => {
  // (1+2^-30)^2 - 1 = 2^-29 + 2^-60 exactly; a*b rounded first loses 2^-60.
  const a = 1 + 2 ** -30;
  eq(dFma(FMADD, a, a, -1, RNE), 2 ** -29 + 2 ** -60, 0, "product low bits kept");
  // (1+2^-52)^2 + 2^-53 = 1 + 2^-51 + 2^-53 + 2^-104: just above a midpoint, rounds up.
  // Two roundings land exactly on the midpoint and tie to even (down).
  const b = 1 + 2 ** -52;
  eq(dFma(FMADD, b, b, 2 ** -53, RNE), 1 + 3 * 2 ** -52, NX, "double rounding avoided");
  eq(dFma(FMADD, b, b, 2 ** -53, RTZ), 1 + 2 * 2 ** -52, NX, "same in RTZ");
  // The error sign comes from far below the result: 2^-104 decides RUP.
  eq(dFma(FMADD, b, b, -(2 ** -51), RUP), 1 + 2 ** -52, NX, "RUP from the 2^-104 term");
  eq(dFma(FMADD, b, b, -(2 ** -51), RDN), 1, NX, "RDN from the 2^-104 term");
  // Singles: product exact in binary64, one rounding of product + c.
  const s = 1 + 2 ** -12;
  eq(sFma(FMADD, s, s, -1, RNE), 2 ** -11 + 2 ** -24, 0, "S product low bits kept");
  const s23 = 1 + 2 ** -23;
  eq(sFma(FMADD, s23, s23, 2 ** -24, RNE), 1 + 3 * 2 ** -23, NX, "S double rounding avoided");
  // fmsub, fnmsub, fnmadd signs (Unprivileged ISA 11.6).
  eq(dFma(FMSUB, 2, 3, 1, RNE), 5, 0, "fmsub 2*3-1");
  eq(dFma(FNMSUB, 2, 3, 1, RNE), -5, 0, "fnmsub -(2*3)+1");
  eq(dFma(FNMADD, 2, 3, 1, RNE), -7, 0, "fnmadd -(2*3)-1");
  eq(dFma(FNMADD, 2, 3, -6, RNE), 0, 0, "fnmadd exact zero is +0");
  eq(dFma(FNMADD, 2, 3, -6, RDN), -0, 0, "fnmadd exact zero RDN is -0");
  // fround(1/3) * 3 = 1 + 2^-25 exactly; fnmsub negates before the single rounding.
  eq(sFma(FNMSUB, Math.fround(1 / 3), 3, 0, RUP), -1, NX, "fnmsub rounds the negated value (RUP)");
  eq(sFma(FNMSUB, Math.fround(1 / 3), 3, 0, RDN), -(1 + 2 ** -23), NX, "fnmsub rounds the negated value (RDN)");
  // Intermediate product overflow is not a final overflow.
  eq(dFma(FMADD, MAX_D, 2, -MAX_D, RNE), MAX_D, 0, "MAX*2 - MAX = MAX exactly");
  eq(dFma(FMADD, 2 ** -600, 2 ** -600, 1, RNE), 1, NX, "tiny product: inexact");
  eq(dFma(FMADD, 2 ** -600, 2 ** -600, 1, RUP), 1 + 2 ** -52, NX, "tiny product RUP");
});

test("fma: inf*0 is invalid even with a quiet NaN addend; inf - inf is invalid", () => {
  const ctx = newCtx();
  setD(ctx, 1, Infinity);
  setD(ctx, 2, 0);
  setDBits(ctx, 3, CANON_D);
  exec(ctx, r4(FMADD, D, 4, 1, 2, 3, RNE));
  assert.equal(getDBits(ctx, 4), CANON_D);
  assert.equal(ctx.fflags, NV);
  eq(dFma(FMADD, Infinity, 2, -Infinity, RNE), NaN, NV, "inf*2 - inf");
  eq(dFma(FMADD, Infinity, 2, 5, RNE), Infinity, 0, "inf*2 + 5");
  eq(dFma(FMADD, 1, 2, -Infinity, RNE), -Infinity, 0, "1*2 - inf");
  eq(sFma(FMADD, 0, Infinity, 1, RNE), NaN, NV, "S 0*inf + 1");
  const q = newCtx();
  setD(q, 1, 2);
  setD(q, 2, 3);
  setDBits(q, 3, CANON_D);
  exec(q, r4(FMADD, D, 4, 1, 2, 3, RNE));
  assert.equal(q.fflags, 0, "quiet NaN addend alone: no NV");
  setDBits(q, 3, SNAN_D);
  exec(q, r4(FMADD, D, 4, 1, 2, 3, RNE));
  assert.equal(q.fflags, NV, "signalling NaN addend: NV");
});

test("fflags accrue: executeFp ORs new exceptions into fflags", () => {
  const ctx = newCtx();
  ctx.fflags = DZ;
  setD(ctx, 1, 1);
  setD(ctx, 2, 3);
  exec(ctx, opFp(FDIV, D, 3, 1, 2, RNE));
  assert.equal(ctx.fflags, DZ | NX);
});

test("results written to the same register as a source are correct (rd = rs1 = rs2)", () => {
  const ctx = newCtx();
  setD(ctx, 5, 1.5);
  exec(ctx, opFp(FMUL, D, 5, 5, 5, RNE));
  assert.equal(ctx.f[5], 2.25);
  setS(ctx, 6, 3);
  exec(ctx, r4(FMADD, S, 6, 6, 6, 6, RNE));
  assert.equal(getSBits(ctx, 6), 0x41400000); // 12.0f
});

test("complete underflow: ±0 or the smallest subnormal by mode, always UF|NX; exactly half ties", () => {
  for (const [rm, pos, neg] of [
    [RNE, 0, -0],
    [RTZ, 0, -0],
    [RDN, 0, -MIN_SUB_D],
    [RUP, MIN_SUB_D, -0],
    [RMM, 0, -0],
  ] as const) {
    eq(d2(FMUL, 1e-200, 1e-200, rm), pos, UF | NX, `1e-200^2 rm${rm}`);
    eq(d2(FMUL, -1e-200, 1e-200, rm), neg, UF | NX, `-1e-200^2 rm${rm}`);
    eq(d2(FDIV, -1e-300, 1e300, rm), neg, UF | NX, `-1e-300/1e300 rm${rm}`);
    eq(s2(FMUL, 1e-30, 1e-30, rm), pos === 0 ? 0 : MIN_SUB_S, UF | NX, `S 1e-30^2 rm${rm}`);
  }
  // Exactly half the smallest subnormal: ties to even (0) in RNE, away in RMM.
  eq(d2(FMUL, 2 ** -500, 2 ** -575, RNE), 0, UF | NX, "2^-1075 RNE");
  eq(d2(FMUL, 2 ** -500, 2 ** -575, RMM), MIN_SUB_D, UF | NX, "2^-1075 RMM");
  eq(s2(FMUL, 2 ** -75, 2 ** -75, RMM), MIN_SUB_S, UF | NX, "S 2^-150 RMM");
  eq(s2(FMUL, 2 ** -75, 2 ** -75, RNE), 0, UF | NX, "S 2^-150 RNE");
});

test("RMM rounds exact ties away from zero where RNE goes to even (mul, fma, add)", () => {
  // (2^27+1)(2^26+1) = 2^53 + 2^27 + 2^26 + 1: odd, exactly between two doubles 2 apart.
  const a = 2 ** 27 + 1;
  const b = 2 ** 26 + 1;
  const down = 2 ** 53 + 2 ** 27 + 2 ** 26;
  eq(d2(FMUL, a, b, RNE), down, NX, "RNE tie to even");
  eq(d2(FMUL, a, b, RMM), down + 2, NX, "RMM tie away");
  eq(d2(FMUL, -a, b, RMM), -down - 2, NX, "RMM negative tie away");
  eq(dFma(FMADD, a, b, 2 ** 20, RMM), down + 2 ** 20 + 2, NX, "fma RMM tie away");
  eq(dFma(FMADD, a, b, 2 ** 20, RNE), down + 2 ** 20, NX, "fma RNE tie even");
  eq(dFma(FMADD, a, b, 2 ** 20 + 2, RNE), down + 2 ** 20 + 4, NX, "fma RNE tie even, upward");
  eq(d2(FADD, 2 ** 53, 1, RMM), 2 ** 53 + 2, NX, "add RMM tie away");
  eq(d2(FADD, 2 ** 53 + 2, 1, RMM), 2 ** 53 + 4, NX, "add RMM tie away from an odd neighbour too");
  eq(d2(FADD, 2 ** 53 + 2, 1, RNE), 2 ** 53 + 4, NX, "add RNE tie to even");
});
