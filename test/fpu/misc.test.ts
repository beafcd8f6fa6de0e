// Sign injection, min/max, comparisons, fclass, moves (Unprivileged ISA 11.7-11.9, 12.x) and
// the encodings executeFp must reject.
import { test } from "node:test";
import assert from "node:assert/strict";
import { executeFp } from "../../src/riscv/fpu/index.js";
import {
  CANON_D,
  CANON_S,
  D,
  FADD,
  FCMP,
  FCVT_FF,
  FCVT_FI,
  FCVT_IF,
  FMADD,
  FMINMAX,
  FMV_FX,
  FMV_XF,
  FSGNJ,
  FSQRT,
  NV,
  RNE,
  S,
  SNAN_D,
  SNAN_S,
  exec,
  getDBits,
  getSBits,
  getX,
  newCtx,
  opFp,
  r4,
  setD,
  setDBits,
  setS,
  setSBits,
  setX,
} from "./harness.js";

test("fsgnj/fsgnjn/fsgnjx move sign bits only and keep NaN payloads", () => {
  const ctx = newCtx();
  setDBits(ctx, 1, 0x7ff4000000000123n); // sNaN with payload
  setD(ctx, 2, -1);
  exec(ctx, opFp(FSGNJ, D, 3, 1, 2, 0));
  assert.equal(getDBits(ctx, 3), 0xfff4000000000123n);
  assert.equal(ctx.fflags, 0, "no NV: sign injection is not arithmetic");
  exec(ctx, opFp(FSGNJ, D, 3, 1, 2, 1));
  assert.equal(getDBits(ctx, 3), 0x7ff4000000000123n);
  setD(ctx, 4, -2.5);
  exec(ctx, opFp(FSGNJ, D, 3, 4, 2, 2)); // fsgnjx: -2.5 with sign xor (-) = +2.5 (fabs idiom)
  assert.equal(ctx.f[3], 2.5);
  exec(ctx, opFp(FSGNJ, D, 3, 4, 4, 1)); // fneg
  assert.equal(ctx.f[3], 2.5);
  const s = newCtx();
  setSBits(s, 1, 0x3f800000);
  setSBits(s, 2, 0x80000000);
  exec(s, opFp(FSGNJ, S, 3, 1, 2, 0));
  assert.equal(getSBits(s, 3), 0xbf800000);
  // An unboxed operand is the canonical NaN, whose sign is then injected.
  s.fi[2] = 0x3f800000;
  s.fi[3] = 0x12345678;
  exec(s, opFp(FSGNJ, S, 3, 1, 2, 0));
  assert.equal(getSBits(s, 3), (CANON_S | 0x80000000) >>> 0);
  setSBits(s, 1, 0x3f800000);
  s.fi[5] = 0; // rs2 unboxed: sign source is the canonical NaN (positive)
  s.fi[4] = -1;
  exec(s, opFp(FSGNJ, S, 3, 1, 2, 0));
  assert.equal(getSBits(s, 3), 0x3f800000);
});

function minmax(fmt: number, max: boolean, a: number | bigint, b: number | bigint): [bigint, number] {
  const ctx = newCtx();
  const put = (r: number, v: number | bigint) => {
    if (fmt === D) typeof v === "bigint" ? setDBits(ctx, r, v) : setD(ctx, r, v);
    else typeof v === "bigint" ? setSBits(ctx, r, Number(v)) : setS(ctx, r, v);
  };
  put(1, a);
  put(2, b);
  exec(ctx, opFp(FMINMAX, fmt, 3, 1, 2, max ? 1 : 0));
  return [fmt === D ? getDBits(ctx, 3) : BigInt(getSBits(ctx, 3)), ctx.fflags];
}

test("fmin/fmax: -0 < +0, one NaN gives the other operand, two NaNs the canonical NaN, sNaN raises NV", () => {
  assert.deepEqual(minmax(D, false, 0, -0), [0x8000000000000000n, 0]);
  assert.deepEqual(minmax(D, false, -0, 0), [0x8000000000000000n, 0]);
  assert.deepEqual(minmax(D, true, -0, 0), [0n, 0]);
  assert.deepEqual(minmax(D, true, 0, -0), [0n, 0]);
  assert.deepEqual(minmax(D, false, CANON_D, 3), [0x4008000000000000n, 0]);
  assert.deepEqual(minmax(D, true, -3, 0xfff8000000000001n), [0xc008000000000000n, 0]);
  assert.deepEqual(minmax(D, false, SNAN_D, 3), [0x4008000000000000n, NV]);
  assert.deepEqual(minmax(D, true, CANON_D, 0x7ff8000000000005n), [CANON_D, 0]);
  assert.deepEqual(minmax(D, true, SNAN_D, CANON_D), [CANON_D, NV]);
  assert.deepEqual(minmax(D, false, -Infinity, 5), [0xfff0000000000000n, 0]);
  assert.deepEqual(minmax(D, true, 2 ** -1074, 0), [1n, 0]);
  assert.deepEqual(minmax(S, false, 0, -0), [0x80000000n, 0]);
  assert.deepEqual(minmax(S, true, BigInt(SNAN_S), 1.5), [0x3fc00000n, NV]);
  assert.deepEqual(minmax(S, true, BigInt(SNAN_S), BigInt(SNAN_S)), [BigInt(CANON_S), NV]);
  assert.deepEqual(minmax(S, false, 2, 1), [0x3f800000n, 0]);
});

function cmp(fmt: number, funct3: number, a: number | bigint, b: number | bigint): [bigint, number] {
  const ctx = newCtx();
  setX(ctx, 5, 99n);
  const put = (r: number, v: number | bigint) => {
    if (fmt === D) typeof v === "bigint" ? setDBits(ctx, r, v) : setD(ctx, r, v);
    else typeof v === "bigint" ? setSBits(ctx, r, Number(v)) : setS(ctx, r, v);
  };
  put(1, a);
  put(2, b);
  exec(ctx, opFp(FCMP, fmt, 5, 1, 2, funct3));
  return [getX(ctx, 5), ctx.fflags];
}
const FEQ = 2,
  FLT = 1,
  FLE = 0;

test("feq is quiet (NV only for sNaN); flt and fle signal NV for any NaN", () => {
  for (const fmt of [S, D]) {
    const q = fmt === D ? CANON_D : BigInt(CANON_S);
    const sn = fmt === D ? SNAN_D : BigInt(SNAN_S);
    assert.deepEqual(cmp(fmt, FEQ, 0, -0), [1n, 0]);
    assert.deepEqual(cmp(fmt, FLT, -0, 0), [0n, 0]);
    assert.deepEqual(cmp(fmt, FLE, -0, 0), [1n, 0]);
    assert.deepEqual(cmp(fmt, FLT, 1, 2), [1n, 0]);
    assert.deepEqual(cmp(fmt, FLE, 2, 1), [0n, 0]);
    assert.deepEqual(cmp(fmt, FLT, -Infinity, Infinity), [1n, 0]);
    assert.deepEqual(cmp(fmt, FEQ, q, q), [0n, 0]);
    assert.deepEqual(cmp(fmt, FEQ, q, 1), [0n, 0]);
    assert.deepEqual(cmp(fmt, FEQ, 1, sn), [0n, NV]);
    assert.deepEqual(cmp(fmt, FLT, q, 1), [0n, NV]);
    assert.deepEqual(cmp(fmt, FLE, 1, q), [0n, NV]);
    assert.deepEqual(cmp(fmt, FLE, sn, sn), [0n, NV]);
  }
  // An unboxed single compares as a quiet NaN.
  const ctx = newCtx();
  setS(ctx, 1, 1);
  ctx.fi[4] = 0x3f800000;
  ctx.fi[5] = 0;
  exec(ctx, opFp(FCMP, S, 5, 1, 2, FEQ));
  assert.equal(getX(ctx, 5), 0n);
  assert.equal(ctx.fflags, 0);
});

test("fclass sets exactly one of the ten class bits (Table 11.5)", () => {
  const d: [bigint, number][] = [
    [0xfff0000000000000n, 0],
    [0xbff0000000000000n, 1],
    [0x800fffffffffffffn, 2],
    [0x8000000000000000n, 3],
    [0x0000000000000000n, 4],
    [0x0000000000000001n, 5],
    [0x7fefffffffffffffn, 6],
    [0x7ff0000000000000n, 7],
    [SNAN_D, 8],
    [0x7ff7ffffffffffffn, 8],
    [CANON_D, 9],
    [0xfff8000000000001n, 9],
  ];
  for (const [bits, cls] of d) {
    const ctx = newCtx();
    setDBits(ctx, 1, bits);
    exec(ctx, opFp(FMV_XF, D, 5, 1, 0, 1));
    assert.equal(getX(ctx, 5), 1n << BigInt(cls), `fclass.d 0x${bits.toString(16)}`);
  }
  const s: [number, number][] = [
    [0xff800000, 0],
    [0xbf800000, 1],
    [0x807fffff, 2],
    [0x80000000, 3],
    [0, 4],
    [1, 5],
    [0x7f7fffff, 6],
    [0x7f800000, 7],
    [SNAN_S, 8],
    [CANON_S, 9],
  ];
  for (const [bits, cls] of s) {
    const ctx = newCtx();
    setSBits(ctx, 1, bits);
    exec(ctx, opFp(FMV_XF, S, 5, 1, 0, 1));
    assert.equal(getX(ctx, 5), 1n << BigInt(cls), `fclass.s 0x${bits.toString(16)}`);
    assert.equal(ctx.fflags, 0);
  }
  const u = newCtx();
  setD(u, 1, -1); // not NaN-boxed as a single
  exec(u, opFp(FMV_XF, S, 5, 1, 0, 1));
  assert.equal(getX(u, 5), 1n << 9n, "unboxed single classifies as quiet NaN");
});

test("fmv.x.w sign-extends the raw low word; fmv.w.x NaN-boxes; fmv.x.d/fmv.d.x copy 64 bits", () => {
  const ctx = newCtx();
  setDBits(ctx, 1, 0x12345678_8badf00dn); // not a boxed single: fmv.x.w still copies the low word
  exec(ctx, opFp(FMV_XF, S, 5, 1, 0, 0));
  assert.equal(getX(ctx, 5), BigInt.asIntN(32, 0x8badf00dn));
  exec(ctx, opFp(FMV_XF, D, 6, 1, 0, 0));
  assert.equal(getX(ctx, 6), 0x12345678_8badf00dn);
  setX(ctx, 7, 0x7ff0000000000001n); // sNaN pattern: moved untouched, no NV
  exec(ctx, opFp(FMV_FX, D, 2, 7, 0, 0));
  assert.equal(getDBits(ctx, 2), SNAN_D);
  setX(ctx, 8, 0xaaaaaaaa_7f800001n);
  exec(ctx, opFp(FMV_FX, S, 3, 8, 0, 0));
  assert.equal(getDBits(ctx, 3), 0xffffffff_7f800001n);
  assert.equal(ctx.fflags, 0);
  exec(ctx, opFp(FMV_XF, D, 0, 1, 0, 0));
  assert.equal(getX(ctx, 0), 0n, "x0 stays zero");
});

test("reserved encodings are rejected without side effects", () => {
  const bad = [
    opFp(FADD, 2, 3, 1, 2, RNE), // fmt H (Zfh not implemented)
    opFp(FADD, 3, 3, 1, 2, RNE), // fmt Q
    r4(FMADD, 2, 3, 1, 2, 4, RNE),
    opFp(FADD, D, 3, 1, 2, 5), // reserved rm
    opFp(FADD, D, 3, 1, 2, 6),
    r4(FMADD, D, 3, 1, 2, 4, 5),
    opFp(FSQRT, D, 3, 1, 2, RNE), // rs2 != 0
    opFp(FSGNJ, D, 3, 1, 2, 3),
    opFp(FMINMAX, D, 3, 1, 2, 2),
    opFp(FCMP, D, 3, 1, 2, 3),
    opFp(FCVT_IF, D, 3, 1, 4, RNE), // rs2 selects w/wu/l/lu only
    opFp(FCVT_FI, S, 3, 1, 5, RNE),
    opFp(FCVT_FF, S, 3, 1, 0, RNE), // fcvt.s.s
    opFp(FCVT_FF, D, 3, 1, 1, RNE), // fcvt.d.d
    opFp(FCVT_FF, S, 3, 1, 1, 6),
    opFp(FMV_XF, D, 3, 1, 0, 2),
    opFp(FMV_XF, D, 3, 1, 1, 0),
    opFp(FMV_FX, D, 3, 1, 0, 1),
    opFp(0x06, D, 3, 1, 2, RNE),
    opFp(0x1f, D, 3, 1, 2, RNE),
    0x00000013, // addi: not an FP opcode
    0x0000003b,
  ];
  for (const insn of bad) {
    const ctx = newCtx();
    setD(ctx, 1, 1.5);
    setD(ctx, 2, 2.5);
    setD(ctx, 3, 42);
    setX(ctx, 3, 42n);
    assert.equal(executeFp(ctx, insn), false, `0x${insn.toString(16)} must be illegal`);
    assert.equal(ctx.f[3], 42);
    assert.equal(getX(ctx, 3), 42n);
    assert.equal(ctx.fflags, 0);
  }
});
