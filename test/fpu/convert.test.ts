// fcvt between FP and integer registers (Unprivileged ISA 11.7 / 12.5, Table 11.4
// saturation), fcvt.s.d / fcvt.d.s, in every rounding mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CANON_D,
  CANON_S,
  D,
  FCVT_FF,
  FCVT_FI,
  FCVT_IF,
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
  exec,
  getDBits,
  getS,
  getSBits,
  getX,
  newCtx,
  opFp,
  setD,
  setDBits,
  setS,
  setSBits,
  setX,
} from "./harness.js";

const W = 0,
  WU = 1,
  L = 2,
  LU = 3;

/** fcvt.<kind>.<fmt> x5, f1 in mode rm; returns [x5 as signed 64-bit, fflags]. */
function toInt(fmt: number, kind: number, v: number | bigint, rm: number): [bigint, number] {
  const ctx = newCtx();
  if (typeof v === "bigint") {
    if (fmt === D) setDBits(ctx, 1, v);
    else setSBits(ctx, 1, Number(v));
  } else if (fmt === D) setD(ctx, 1, v);
  else setS(ctx, 1, v);
  exec(ctx, opFp(FCVT_IF, fmt, 5, 1, kind, rm));
  return [getX(ctx, 5), ctx.fflags];
}

const I32_MAX = 0x7fffffffn,
  I32_MIN = -0x80000000n;
const I64_MAX = 0x7fffffffffffffffn,
  I64_MIN = -0x8000000000000000n;
const ALL_ONES = -1n; // 2^32-1 sign-extended, and 2^64-1

test("fcvt to integer saturates per Table 11.4 and raises only NV when out of range or NaN", () => {
  for (const fmt of [S, D]) {
    const f = fmt === D ? "d" : "s";
    const nan = fmt === D ? CANON_D : BigInt(CANON_S);
    const snan = fmt === D ? SNAN_D : BigInt(SNAN_S);
    const cases: [number, number | bigint, bigint][] = [
      [W, nan, I32_MAX],
      [W, snan, I32_MAX],
      [W, Infinity, I32_MAX],
      [W, -Infinity, I32_MIN],
      [W, 2 ** 31, I32_MAX],
      [W, -(2 ** 31) - (fmt === D ? 1 : 256), I32_MIN],
      [W, 1e30, I32_MAX],
      [WU, nan, ALL_ONES],
      [WU, Infinity, ALL_ONES],
      [WU, -Infinity, 0n],
      [WU, -1, 0n],
      [WU, 2 ** 32, ALL_ONES],
      [L, nan, I64_MAX],
      [L, Infinity, I64_MAX],
      [L, -Infinity, I64_MIN],
      [L, 2 ** 63, I64_MAX],
      [L, -(2 ** 64), I64_MIN],
      [LU, nan, ALL_ONES],
      [LU, Infinity, ALL_ONES],
      [LU, -Infinity, 0n],
      [LU, -1, 0n],
      [LU, 2 ** 64, ALL_ONES],
    ];
    for (const [kind, v, want] of cases) {
      for (const rm of [RNE, RTZ, RDN, RUP, RMM]) {
        assert.deepEqual(toInt(fmt, kind, v, rm), [want, NV], `fcvt.${["w", "wu", "l", "lu"][kind]}.${f} ${v} rm${rm}`);
      }
    }
  }
});

test("fcvt to integer: in-range boundaries are exact, rounding into range raises NX, out raises NV", () => {
  assert.deepEqual(toInt(D, W, -(2 ** 31), RNE), [I32_MIN, 0]);
  assert.deepEqual(toInt(D, W, 2 ** 31 - 1, RNE), [I32_MAX, 0]);
  assert.deepEqual(toInt(D, W, 2147483647.5, RNE), [I32_MAX, NV], "rounds to 2^31: out of range");
  assert.deepEqual(toInt(D, W, 2147483647.5, RDN), [I32_MAX, NX]);
  assert.deepEqual(toInt(D, W, 2147483647.5, RTZ), [I32_MAX, NX]);
  assert.deepEqual(toInt(D, W, -2147483648.5, RTZ), [I32_MIN, NX]);
  assert.deepEqual(toInt(D, W, -2147483648.5, RDN), [I32_MIN, NV]);
  assert.deepEqual(toInt(D, WU, 4294967295, RNE), [ALL_ONES, 0], "2^32-1 sign-extends on RV64");
  assert.deepEqual(toInt(D, WU, 3e9, RNE), [BigInt.asIntN(32, 3000000000n), 0]);
  assert.deepEqual(toInt(D, WU, -0.5, RTZ), [0n, NX], "rounds to -0: in range");
  assert.deepEqual(toInt(D, WU, -0.5, RNE), [0n, NX]);
  assert.deepEqual(toInt(D, WU, -0.5, RDN), [0n, NV], "rounds to -1: out of range");
  assert.deepEqual(toInt(D, WU, -0, RNE), [0n, 0]);
  assert.deepEqual(toInt(D, LU, -0.9, RUP), [0n, NX]);
  assert.deepEqual(toInt(D, L, -(2 ** 63), RNE), [I64_MIN, 0]);
  assert.deepEqual(toInt(D, L, 2 ** 63 - 1024, RNE), [I64_MAX - 1023n, 0], "largest double below 2^63");
  assert.deepEqual(toInt(D, LU, 2 ** 64 - 2048, RNE), [-2048n, 0], "largest double below 2^64");
  assert.deepEqual(toInt(S, L, -(2 ** 63), RNE), [I64_MIN, 0]);
  assert.deepEqual(toInt(S, W, 2 ** 31 - 128, RNE), [0x7fffff80n, 0]);
  assert.deepEqual(toInt(S, LU, 2 ** 63, RNE), [I64_MIN, 0], "2^63 fits in lu");
  assert.deepEqual(toInt(D, W, 123456.0, RMM), [123456n, 0]);
});

test("fcvt to integer in every rounding mode (Table 11.1)", () => {
  const table: [number, bigint, bigint, bigint, bigint, bigint][] = [
    //  value  RNE  RTZ  RDN  RUP  RMM
    [2.5, 2n, 2n, 2n, 3n, 3n],
    [3.5, 4n, 3n, 3n, 4n, 4n],
    [-2.5, -2n, -2n, -3n, -2n, -3n],
    [-1.5, -2n, -1n, -2n, -1n, -2n],
    [0.5, 0n, 0n, 0n, 1n, 1n],
    [-0.5, -0n, 0n, -1n, 0n, -1n],
    [1.25, 1n, 1n, 1n, 2n, 1n],
    [-1.75, -2n, -1n, -2n, -1n, -2n],
    [4503599627370495.5, 4503599627370496n, 4503599627370495n, 4503599627370495n, 4503599627370496n, 4503599627370496n],
  ];
  for (const [v, ...want] of table) {
    [RNE, RTZ, RDN, RUP, RMM].forEach((rm, i) => {
      assert.deepEqual(toInt(D, L, v, rm), [want[i], NX], `fcvt.l.d ${v} rm${rm}`);
      if (Math.abs(v) < 2 ** 20) assert.deepEqual(toInt(S, W, v, rm), [want[i], NX], `fcvt.w.s ${v} rm${rm}`);
    });
  }
});

/** fcvt.<fmt>.<kind> f5, x1 in mode rm; returns [result value, fflags]. */
function fromInt(fmt: number, kind: number, v: bigint, rm: number): [number, number] {
  const ctx = newCtx();
  setX(ctx, 1, v);
  exec(ctx, opFp(FCVT_FI, fmt, 5, 1, kind, rm));
  return [fmt === D ? ctx.f[5]! : getS(ctx, 5), ctx.fflags];
}

test("fcvt from integer: exact small values, ties and every rounding mode for wide values", () => {
  assert.deepEqual(fromInt(D, W, -1n, RNE), [-1, 0]);
  assert.deepEqual(fromInt(D, WU, -1n, RNE), [4294967295, 0], "wu reads the low 32 bits unsigned");
  assert.deepEqual(fromInt(D, W, 0x1_0000_0005n, RNE), [5, 0], "w ignores the upper 32 bits");
  assert.deepEqual(fromInt(D, LU, -1n, RNE), [2 ** 64, NX]);
  assert.deepEqual(fromInt(D, LU, -1n, RTZ), [2 ** 64 - 2048, NX]);
  assert.deepEqual(fromInt(D, L, -1n, RNE), [-1, 0]);
  assert.deepEqual(fromInt(D, L, I64_MIN, RNE), [-(2 ** 63), 0]);
  assert.ok(Object.is(fromInt(D, L, 0n, RDN)[0], 0), "integer zero converts to +0 even in RDN");
  // 2^53 + 1: a tie between 2^53 and 2^53 + 2.
  const t = 2n ** 53n + 1n;
  const two53 = 2 ** 53;
  assert.deepEqual(fromInt(D, L, t, RNE), [two53, NX]);
  assert.deepEqual(fromInt(D, L, t, RMM), [two53 + 2, NX]);
  assert.deepEqual(fromInt(D, L, t, RUP), [two53 + 2, NX]);
  assert.deepEqual(fromInt(D, L, -t, RMM), [-two53 - 2, NX]);
  assert.deepEqual(fromInt(D, L, -t, RUP), [-two53, NX]);
  assert.deepEqual(fromInt(D, L, 2n ** 53n + 3n, RNE), [two53 + 4, NX], "tie to even, upward");
  // binary32: 2^24 + 1 ties, 2^24 + 3 ties up to even.
  assert.deepEqual(fromInt(S, W, 16777217n, RNE), [16777216, NX]);
  assert.deepEqual(fromInt(S, W, 16777217n, RMM), [16777218, NX]);
  assert.deepEqual(fromInt(S, W, 16777219n, RNE), [16777220, NX]);
  assert.deepEqual(fromInt(S, W, -16777217n, RDN), [-16777218, NX]);
  assert.deepEqual(fromInt(S, W, -16777217n, RTZ), [-16777216, NX]);
  assert.deepEqual(fromInt(S, WU, -1n, RNE), [4294967296, NX]);
  assert.deepEqual(fromInt(S, WU, -1n, RTZ), [4294967040, NX]);
  assert.deepEqual(fromInt(S, LU, -1n, RUP), [2 ** 64, NX]);
  assert.deepEqual(fromInt(S, L, I64_MIN + 1n, RTZ), [-(2 ** 63) + 2 ** 39, NX]);
  // 2^53 + 2^29 + 1: binary64 rounding would land on a binary32 midpoint; one rounding must not.
  assert.deepEqual(fromInt(S, L, 2n ** 53n + 2n ** 29n + 1n, RNE), [2 ** 53 + 2 ** 30, NX]);
  assert.deepEqual(fromInt(S, L, 2n ** 53n + 2n ** 29n, RNE), [2 ** 53, NX]);
});

function cvtSD(v: number | bigint, rm: number): [number, number, number] {
  const ctx = newCtx();
  if (typeof v === "bigint") setDBits(ctx, 1, v);
  else setD(ctx, 1, v);
  exec(ctx, opFp(FCVT_FF, S, 5, 1, 1, rm));
  return [getS(ctx, 5), getSBits(ctx, 5), ctx.fflags];
}

test("fcvt.s.d rounds once in every mode, overflows, underflows and canonicalises NaNs", () => {
  assert.deepEqual(cvtSD(0.1, RNE).slice(0, 1), [Math.fround(0.1)]);
  assert.equal(cvtSD(0.1, RNE)[2], NX);
  assert.equal(cvtSD(0.1, RTZ)[0], Math.fround(0.1) - 2 ** -27, "0.1f rounds up in RNE, so RTZ is one below");
  assert.deepEqual(cvtSD(1e39, RNE), [Infinity, 0x7f800000, OF | NX]);
  assert.deepEqual(cvtSD(1e39, RTZ), [MAX_S, 0x7f7fffff, OF | NX]);
  assert.deepEqual(cvtSD(-1e39, RUP), [-MAX_S, 0xff7fffff, OF | NX]);
  assert.deepEqual(cvtSD(Infinity, RTZ), [Infinity, 0x7f800000, 0]);
  assert.deepEqual(cvtSD(1e-50, RNE), [0, 0, UF | NX]);
  assert.deepEqual(cvtSD(-1e-50, RDN), [-(2 ** -149), 0x80000001, UF | NX]);
  assert.deepEqual(cvtSD(2 ** -149, RNE), [2 ** -149, 1, 0]);
  assert.deepEqual(cvtSD(2 ** -150, RNE), [0, 0, UF | NX], "half the smallest subnormal ties to 0");
  assert.deepEqual(cvtSD(2 ** -150, RMM), [2 ** -149, 1, UF | NX]);
  assert.deepEqual(cvtSD(-0, RNE), [-0, 0x80000000, 0]);
  assert.deepEqual(cvtSD(CANON_D, RNE), [NaN, CANON_S, 0]);
  assert.deepEqual(cvtSD(0xfff8000000000123n, RNE), [NaN, CANON_S, 0]);
  assert.deepEqual(cvtSD(SNAN_D, RNE), [NaN, CANON_S, NV]);
  // Largest double that rounds (RNE) to MAX_S instead of overflowing: MAX_S + half ulp - tiny.
  assert.deepEqual(cvtSD(MAX_S + 2 ** 103 - 2 ** 75, RNE), [MAX_S, 0x7f7fffff, NX]);
  assert.deepEqual(cvtSD(MAX_S + 2 ** 103, RNE), [Infinity, 0x7f800000, OF | NX]);
});

test("fcvt.d.s is exact; a signalling NaN raises NV and an unboxed operand is the canonical NaN", () => {
  const ctx = newCtx();
  setSBits(ctx, 1, 0x00000001);
  exec(ctx, opFp(FCVT_FF, D, 5, 1, 0, RNE));
  assert.equal(ctx.f[5], 2 ** -149);
  assert.equal(ctx.fflags, 0);
  setSBits(ctx, 1, SNAN_S);
  exec(ctx, opFp(FCVT_FF, D, 5, 1, 0, RNE));
  assert.equal(getDBits(ctx, 5), CANON_D);
  assert.equal(ctx.fflags, NV);
  const u = newCtx();
  setD(u, 1, 1.0); // a double in f1: its upper word is not all ones
  exec(u, opFp(FCVT_FF, D, 5, 1, 0, RNE));
  assert.equal(getDBits(u, 5), CANON_D);
  assert.equal(u.fflags, 0);
});

test("integer destination x0 is never written", () => {
  const ctx = newCtx();
  setD(ctx, 1, 7.5);
  exec(ctx, opFp(FCVT_IF, D, 0, 1, L, RNE));
  assert.equal(ctx.x[0], 0);
  assert.equal(ctx.x[1], 0);
  assert.equal(ctx.fflags, NX, "flags are still raised");
});
