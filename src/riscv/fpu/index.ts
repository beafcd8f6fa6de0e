// The F and D extensions' computational instructions (Unprivileged ISA ch. 11 "F" and
// ch. 12 "D"): major opcodes OP-FP (0x53) and MADD/MSUB/NMSUB/NMADD (0x43/0x47/0x4b/0x4f),
// formats S and D. Loads and stores stay in the hart (they go through the MMU).
//
// executeFp dispatches through tables of small per-instruction handlers that take only the
// context and the instruction word. Each handler is its own inlining unit for V8, so the
// arithmetic it calls inlines into it: doubles never cross a call V8 does not inline, which
// would box (allocate) them on every instruction.

import type { FpContext } from "./FpContext.js";
import { DYN, NV, fpIo, fpStatus } from "./FFlags.js";
import { CANONICAL_NAN32, CANONICAL_NAN64_HI, isSNaN32Bits, isSNaN64Words } from "./FloatBits.js";
import { fadd64Io, fdiv64Io, fmadd64Io, fmul64Io, fsqrt64Io } from "./Binary64.js";
import { fadd32Io, fdiv32Io, fmadd32Io, fmul32Io, fsqrt32Io, roundToBinary32Io } from "./Binary32.js";
import { fcvtIntToF32Io, fcvtIntToF64Io, fcvtToIntIo } from "./IntConvert.js";

const io = fpIo;

export type { FpContext } from "./FpContext.js";

type Handler = (ctx: FpContext, insn: number) => boolean;

// ---- instruction fields and register access --------------------------------------------

function rdOf(insn: number): number {
  return (insn >>> 7) & 31;
}
function rs1Of(insn: number): number {
  return (insn >>> 15) & 31;
}
function rs2Of(insn: number): number {
  return (insn >>> 20) & 31;
}

/** The effective rounding mode, or -1 for a reserved one (static 5/6, or DYN with frm 5..7). */
function rmOf(ctx: FpContext, insn: number): number {
  let rm = (insn >>> 12) & 7;
  if (rm === DYN) rm = ctx.frm;
  return rm > 4 ? -1 : rm;
}

/**
 * The binary32 encoding held in f[r]. A value that is not NaN-boxed (upper 32 bits not all
 * ones) reads as the canonical NaN (Unprivileged ISA 12.2 "NaN Boxing of Narrower Values").
 */
function readS32Bits(fi: Int32Array, r: number): number {
  return fi[2 * r + 1] === -1 ? fi[2 * r]! : CANONICAL_NAN32;
}

// binary32 <-> number conversion through a private view, written out in loadS/storeS so
// that no call sits between the conversion and the store into io.
const s32 = new Float32Array(1);
const s32Bits = new Int32Array(s32.buffer);

/** io[slot] = the binary32 value in f[r] (NaN when not NaN-boxed). */
function loadS(fi: Int32Array, r: number, slot: number): void {
  if (fi[2 * r + 1] === -1) {
    s32Bits[0] = fi[2 * r]!;
    io[slot] = s32[0]!;
  } else {
    io[slot] = NaN;
  }
}

function isSNaNS(fi: Int32Array, r: number): boolean {
  return fi[2 * r + 1] === -1 && isSNaN32Bits(fi[2 * r]!);
}

function isSNaND(fi: Int32Array, r: number): boolean {
  return isSNaN64Words(fi[2 * r]!, fi[2 * r + 1]!);
}

/** f[rd] = io[0] as binary32, NaN-boxed; NaN results are the canonical NaN (ISA 11.3). */
function storeS(fi: Int32Array, rd: number): void {
  const v = io[0]!;
  if (v === v) {
    s32[0] = v; // exact: v is a binary32 value
    fi[2 * rd] = s32Bits[0]!;
  } else {
    fi[2 * rd] = CANONICAL_NAN32;
  }
  fi[2 * rd + 1] = -1;
}

/** f[rd] = io[0]; NaN results are the canonical NaN. */
function storeD(ctx: FpContext, rd: number): void {
  const v = io[0]!;
  if (v === v) {
    ctx.f[rd] = v;
  } else {
    ctx.fi[2 * rd] = 0;
    ctx.fi[2 * rd + 1] = CANONICAL_NAN64_HI;
  }
}

function writeX(x: Int32Array, rd: number, lo: number, hi: number): void {
  if (rd !== 0) {
    x[2 * rd] = lo;
    x[2 * rd + 1] = hi;
  }
}

/** NaN results of arithmetic: NV if an operand was a signalling NaN (ISA 11.3). */
function signalS(fi: Int32Array, r1: number, r2: number): void {
  if (isSNaNS(fi, r1) || isSNaNS(fi, r2)) fpStatus.flags |= NV;
}

function signalD(fi: Int32Array, r1: number, r2: number): void {
  if (isSNaND(fi, r1) || isSNaND(fi, r2)) fpStatus.flags |= NV;
}

// ---- fadd/fsub/fmul/fdiv/fsqrt (ISA 11.6, 12.4) ------------------------------------------
// Each handler loads its operands into io, runs the operation, raises NV for signalling NaN
// operands of a NaN result, and stores io[0].

const illegal: Handler = () => false;

function addS(ctx: FpContext, insn: number, negB: boolean): boolean {
  const rm = rmOf(ctx, insn);
  if (rm < 0) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  loadS(fi, rs1, 0);
  loadS(fi, rs2, 1);
  if (negB) io[1] = -io[1]!;
  fadd32Io(rm);
  if (io[0] !== io[0]) signalS(fi, rs1, rs2);
  storeS(fi, rdOf(insn));
  return true;
}

function addD(ctx: FpContext, insn: number, negB: boolean): boolean {
  const rm = rmOf(ctx, insn);
  if (rm < 0) return false;
  const f = ctx.f;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  io[0] = f[rs1]!;
  io[1] = negB ? -f[rs2]! : f[rs2]!;
  fadd64Io(rm);
  if (io[0] !== io[0]) signalD(ctx.fi, rs1, rs2);
  storeD(ctx, rdOf(insn));
  return true;
}

const faddS: Handler = (ctx, insn) => addS(ctx, insn, false);
const fsubS: Handler = (ctx, insn) => addS(ctx, insn, true);
const faddD: Handler = (ctx, insn) => addD(ctx, insn, false);
const fsubD: Handler = (ctx, insn) => addD(ctx, insn, true);

/** fmul.s / fdiv.s share their shape: two binary32 operands, one binary32 result. */
function mulDivS(ctx: FpContext, insn: number, div: boolean): boolean {
  const rm = rmOf(ctx, insn);
  if (rm < 0) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  loadS(fi, rs1, 0);
  loadS(fi, rs2, 1);
  if (div) fdiv32Io(rm);
  else fmul32Io(rm);
  if (io[0] !== io[0]) signalS(fi, rs1, rs2);
  storeS(fi, rdOf(insn));
  return true;
}

function mulDivD(ctx: FpContext, insn: number, div: boolean): boolean {
  const rm = rmOf(ctx, insn);
  if (rm < 0) return false;
  const f = ctx.f;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  io[0] = f[rs1]!;
  io[1] = f[rs2]!;
  if (div) fdiv64Io(rm);
  else fmul64Io(rm);
  if (io[0] !== io[0]) signalD(ctx.fi, rs1, rs2);
  storeD(ctx, rdOf(insn));
  return true;
}

const fmulS: Handler = (ctx, insn) => mulDivS(ctx, insn, false);
const fdivS: Handler = (ctx, insn) => mulDivS(ctx, insn, true);
const fmulD: Handler = (ctx, insn) => mulDivD(ctx, insn, false);
const fdivD: Handler = (ctx, insn) => mulDivD(ctx, insn, true);

const fsqrtS: Handler = (ctx, insn) => {
  const rm = rmOf(ctx, insn);
  if (rm < 0 || rs2Of(insn) !== 0) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  loadS(fi, rs1, 0);
  fsqrt32Io(rm);
  if (io[0] !== io[0]) signalS(fi, rs1, rs1);
  storeS(fi, rdOf(insn));
  return true;
};

const fsqrtD: Handler = (ctx, insn) => {
  const rm = rmOf(ctx, insn);
  if (rm < 0 || rs2Of(insn) !== 0) return false;
  const rs1 = rs1Of(insn);
  io[0] = ctx.f[rs1]!;
  fsqrt64Io(rm);
  if (io[0] !== io[0]) signalD(ctx.fi, rs1, rs1);
  storeD(ctx, rdOf(insn));
  return true;
};

// ---- fused multiply-add (ISA 11.6): fmadd = a*b+c, fmsub = a*b-c, fnmsub = -a*b+c,
// fnmadd = -a*b-c, each rounded once -------------------------------------------------------

function fmaS(ctx: FpContext, insn: number, negProd: boolean, negAdd: boolean): boolean {
  const rm = rmOf(ctx, insn);
  if (rm < 0) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  const rs3 = insn >>> 27;
  loadS(fi, rs1, 0);
  loadS(fi, rs2, 1);
  loadS(fi, rs3, 2);
  if (negProd) io[0] = -io[0]!;
  if (negAdd) io[2] = -io[2]!;
  fmadd32Io(rm);
  if (io[0] !== io[0] && (isSNaNS(fi, rs1) || isSNaNS(fi, rs2) || isSNaNS(fi, rs3))) fpStatus.flags |= NV;
  storeS(fi, rdOf(insn));
  return true;
}

function fmaD(ctx: FpContext, insn: number, negProd: boolean, negAdd: boolean): boolean {
  const rm = rmOf(ctx, insn);
  if (rm < 0) return false;
  const f = ctx.f;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  const rs3 = insn >>> 27;
  io[0] = negProd ? -f[rs1]! : f[rs1]!;
  io[1] = f[rs2]!;
  io[2] = negAdd ? -f[rs3]! : f[rs3]!;
  fmadd64Io(rm);
  if (io[0] !== io[0] && (isSNaND(fi, rs1) || isSNaND(fi, rs2) || isSNaND(fi, rs3))) fpStatus.flags |= NV;
  storeD(ctx, rdOf(insn));
  return true;
}

// ---- sign injection, min/max, compare, classify, moves (ISA 11.7-11.9, 12.x) -----------

/** fsgnj/fsgnjn/fsgnjx: pure bit operations, NaN payloads preserved (ISA 11.7). */
function signInject(a: number, b: number, funct3: number): number {
  const sign = funct3 === 0 ? b : funct3 === 1 ? ~b : a ^ b;
  return (a & 0x7fffffff) | (sign & 0x80000000);
}

const fsgnjS: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (funct3 > 2) return false;
  const fi = ctx.fi;
  const rd = rdOf(insn);
  fi[2 * rd] = signInject(readS32Bits(fi, rs1Of(insn)), readS32Bits(fi, rs2Of(insn)), funct3);
  fi[2 * rd + 1] = -1;
  return true;
};

const fsgnjD: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (funct3 > 2) return false;
  const fi = ctx.fi;
  const rd = rdOf(insn);
  const rs1 = rs1Of(insn);
  const lo = fi[2 * rs1]!;
  fi[2 * rd + 1] = signInject(fi[2 * rs1 + 1]!, fi[2 * rs2Of(insn) + 1]!, funct3);
  fi[2 * rd] = lo;
  return true;
};

/**
 * fmin/fmax on io[0], io[1] into io[0]: IEEE 754-201x minimumNumber/maximumNumber as ISA 2.2
 * requires: -0 < +0, a single NaN operand yields the other operand, two NaNs the canonical
 * NaN (the caller raises NV for sNaN).
 */
function minMaxIo(max: boolean): void {
  const a = io[0]!;
  const b = io[1]!;
  if (a !== a) io[0] = b;
  else if (b !== b) io[0] = a;
  else if (a === b)
    io[0] = 1 / a < 0 === max ? b : a; // signed zeros: min prefers -0
  else io[0] = a < b !== max ? a : b;
}

const fminmaxS: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (funct3 > 1) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  signalS(fi, rs1, rs2);
  loadS(fi, rs1, 0);
  loadS(fi, rs2, 1);
  minMaxIo(funct3 === 1);
  storeS(fi, rdOf(insn));
  return true;
};

const fminmaxD: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (funct3 > 1) return false;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  const a = ctx.f[rs1]!;
  const b = ctx.f[rs2]!;
  if (a !== a || b !== b) signalD(ctx.fi, rs1, rs2);
  io[0] = a;
  io[1] = b;
  minMaxIo(funct3 === 1);
  storeD(ctx, rdOf(insn));
  return true;
};

/** feq (quiet: NV only for sNaN) / flt, fle (signalling: NV for any NaN) on io[0], io[1]. ISA 11.8. */
function compareIo(funct3: number, anySNaN: boolean): number {
  const a = io[0]!;
  const b = io[1]!;
  if (a !== a || b !== b) {
    if (funct3 !== 2 || anySNaN) fpStatus.flags |= NV;
    return 0;
  }
  if (funct3 === 2) return a === b ? 1 : 0;
  if (funct3 === 1) return a < b ? 1 : 0;
  return a <= b ? 1 : 0;
}

const fcmpS: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (funct3 > 2) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  loadS(fi, rs1, 0);
  loadS(fi, rs2, 1);
  writeX(ctx.x, rdOf(insn), compareIo(funct3, isSNaNS(fi, rs1) || isSNaNS(fi, rs2)), 0);
  return true;
};

const fcmpD: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (funct3 > 2) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const rs2 = rs2Of(insn);
  io[0] = ctx.f[rs1]!;
  io[1] = ctx.f[rs2]!;
  writeX(ctx.x, rdOf(insn), compareIo(funct3, isSNaND(fi, rs1) || isSNaND(fi, rs2)), 0);
  return true;
};

/** fclass bit (Table 11.5) from sign, biased exponent (all ones = expMax), fraction, quiet bit. */
function classify(neg: boolean, exp: number, expMax: number, fracZero: boolean, quiet: boolean): number {
  if (exp === expMax) {
    if (fracZero) return neg ? 1 << 0 : 1 << 7;
    return quiet ? 1 << 9 : 1 << 8;
  }
  if (exp === 0) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

/** fmv.x.w (funct3 0) / fclass.s (funct3 1). */
const fmvxClassS: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (rs2Of(insn) !== 0 || funct3 > 1) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  if (funct3 === 0) {
    // fmv.x.w copies the raw low 32 bits, sign-extended, NaN-boxed or not (ISA 11.7).
    writeX(ctx.x, rdOf(insn), fi[2 * rs1]!, fi[2 * rs1]! >> 31);
  } else {
    const b = readS32Bits(fi, rs1);
    const c = classify(b < 0, (b >>> 23) & 0xff, 0xff, (b & 0x7fffff) === 0, (b & 0x400000) !== 0);
    writeX(ctx.x, rdOf(insn), c, 0);
  }
  return true;
};

/** fmv.x.d (funct3 0) / fclass.d (funct3 1). */
const fmvxClassD: Handler = (ctx, insn) => {
  const funct3 = (insn >>> 12) & 7;
  if (rs2Of(insn) !== 0 || funct3 > 1) return false;
  const fi = ctx.fi;
  const rs1 = rs1Of(insn);
  const lo = fi[2 * rs1]!;
  const hi = fi[2 * rs1 + 1]!;
  if (funct3 === 0) {
    writeX(ctx.x, rdOf(insn), lo, hi);
  } else {
    const c = classify(hi < 0, (hi >>> 20) & 0x7ff, 0x7ff, ((hi & 0xfffff) | lo) === 0, (hi & 0x80000) !== 0);
    writeX(ctx.x, rdOf(insn), c, 0);
  }
  return true;
};

/** fmv.w.x: NaN-boxes the low 32 bits of rs1. */
const fmvwx: Handler = (ctx, insn) => {
  if (rs2Of(insn) !== 0 || ((insn >>> 12) & 7) !== 0) return false;
  const rd = rdOf(insn);
  ctx.fi[2 * rd] = ctx.x[2 * rs1Of(insn)]!;
  ctx.fi[2 * rd + 1] = -1;
  return true;
};

const fmvdx: Handler = (ctx, insn) => {
  if (rs2Of(insn) !== 0 || ((insn >>> 12) & 7) !== 0) return false;
  const rd = rdOf(insn);
  const rs1 = rs1Of(insn);
  ctx.fi[2 * rd] = ctx.x[2 * rs1]!;
  ctx.fi[2 * rd + 1] = ctx.x[2 * rs1 + 1]!;
  return true;
};

// ---- conversions (ISA 11.7, 12.5) -------------------------------------------------------

/** fcvt.s.d (fmt S, rs2 = 1): rounds. */
const fcvtSD: Handler = (ctx, insn) => {
  const rm = rmOf(ctx, insn);
  if (rm < 0 || rs2Of(insn) !== 1) return false;
  const rs1 = rs1Of(insn);
  const a = ctx.f[rs1]!;
  io[0] = a;
  if (a !== a) {
    if (isSNaND(ctx.fi, rs1)) fpStatus.flags |= NV;
  } else {
    io[1] = 0;
    roundToBinary32Io(rm);
  }
  storeS(ctx.fi, rdOf(insn));
  return true;
};

/** fcvt.d.s (fmt D, rs2 = 0): exact. */
const fcvtDS: Handler = (ctx, insn) => {
  if (rmOf(ctx, insn) < 0 || rs2Of(insn) !== 0) return false;
  const rs1 = rs1Of(insn);
  loadS(ctx.fi, rs1, 0);
  if (io[0] !== io[0] && isSNaNS(ctx.fi, rs1)) fpStatus.flags |= NV;
  storeD(ctx, rdOf(insn));
  return true;
};

/** fcvt.{w,wu,l,lu}.s (rs2 selects the integer type). */
const fcvtIntS: Handler = (ctx, insn) => {
  const rm = rmOf(ctx, insn);
  const kind = rs2Of(insn);
  if (rm < 0 || kind > 3) return false;
  loadS(ctx.fi, rs1Of(insn), 0);
  fcvtToIntIo(ctx.x, rdOf(insn), kind, rm);
  return true;
};

const fcvtIntD: Handler = (ctx, insn) => {
  const rm = rmOf(ctx, insn);
  const kind = rs2Of(insn);
  if (rm < 0 || kind > 3) return false;
  io[0] = ctx.f[rs1Of(insn)]!;
  fcvtToIntIo(ctx.x, rdOf(insn), kind, rm);
  return true;
};

/** fcvt.s.{w,wu,l,lu}. */
const fcvtSInt: Handler = (ctx, insn) => {
  const rm = rmOf(ctx, insn);
  const kind = rs2Of(insn);
  if (rm < 0 || kind > 3) return false;
  const rs1 = rs1Of(insn);
  fcvtIntToF32Io(ctx.x[2 * rs1]!, ctx.x[2 * rs1 + 1]!, kind, rm);
  storeS(ctx.fi, rdOf(insn));
  return true;
};

const fcvtDInt: Handler = (ctx, insn) => {
  const rm = rmOf(ctx, insn);
  const kind = rs2Of(insn);
  if (rm < 0 || kind > 3) return false;
  const rs1 = rs1Of(insn);
  fcvtIntToF64Io(ctx.x[2 * rs1]!, ctx.x[2 * rs1 + 1]!, kind, rm);
  storeD(ctx, rdOf(insn));
  return true;
};

// ---- dispatch ----------------------------------------------------------------------------

/** OP-FP handlers indexed by funct5 << 1 | fmt (fmt 0 = S, 1 = D). */
const OP_FP: Handler[] = new Array<Handler>(64).fill(illegal);
function opFp(funct5: number, s: Handler, d: Handler): void {
  OP_FP[funct5 << 1] = s;
  OP_FP[(funct5 << 1) | 1] = d;
}
opFp(0x00, faddS, faddD);
opFp(0x01, fsubS, fsubD);
opFp(0x02, fmulS, fmulD);
opFp(0x03, fdivS, fdivD);
opFp(0x0b, fsqrtS, fsqrtD);
opFp(0x04, fsgnjS, fsgnjD);
opFp(0x05, fminmaxS, fminmaxD);
opFp(0x08, fcvtSD, fcvtDS);
opFp(0x14, fcmpS, fcmpD);
opFp(0x18, fcvtIntS, fcvtIntD);
opFp(0x1a, fcvtSInt, fcvtDInt);
opFp(0x1c, fmvxClassS, fmvxClassD);
opFp(0x1e, fmvwx, fmvdx);

/** R4-type handlers indexed by (opcode >> 2 & 3) << 1 | fmt: fmadd, fmsub, fnmsub, fnmadd. */
const FUSED: readonly Handler[] = [
  (ctx, insn) => fmaS(ctx, insn, false, false),
  (ctx, insn) => fmaD(ctx, insn, false, false),
  (ctx, insn) => fmaS(ctx, insn, false, true),
  (ctx, insn) => fmaD(ctx, insn, false, true),
  (ctx, insn) => fmaS(ctx, insn, true, false),
  (ctx, insn) => fmaD(ctx, insn, true, false),
  (ctx, insn) => fmaS(ctx, insn, true, true),
  (ctx, insn) => fmaD(ctx, insn, true, true),
];

/** Executes one OP-FP / fused multiply-add instruction; false = illegal instruction. */
export function executeFp(ctx: FpContext, insn: number): boolean {
  const fmt = (insn >>> 25) & 3; // 0 = S, 1 = D; H and Q are not implemented
  if (fmt > 1) return false;
  const opcode = insn & 0x7f;
  let handler: Handler;
  if (opcode === 0x53) handler = OP_FP[((insn >>> 27) << 1) | fmt]!;
  else if ((opcode & 0x73) === 0x43) handler = FUSED[(((opcode >>> 2) & 3) << 1) | fmt]!;
  else return false;
  fpStatus.flags = 0;
  if (!handler(ctx, insn)) return false;
  if (fpStatus.flags !== 0) ctx.fflags |= fpStatus.flags;
  return true;
}
