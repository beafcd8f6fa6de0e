// The F and D extensions' computational instructions (Unprivileged ISA ch. 11 "F" and
// ch. 12 "D"): major opcodes OP-FP (0x53) and MADD/MSUB/NMSUB/NMADD (0x43/0x47/0x4b/0x4f),
// formats S and D. Loads and stores stay in the hart (they go through the MMU).

import type { FpContext } from "./FpContext.js";
import { DYN, NV, fpStatus } from "./FFlags.js";
import {
  CANONICAL_NAN32,
  CANONICAL_NAN64_HI,
  bitsToF32,
  f32ToBits,
  isSNaN32Bits,
  isSNaN64Words,
} from "./FloatBits.js";
import { fadd64, fdiv64, fmadd64, fmul64, fsqrt64, fsub64 } from "./Binary64.js";
import { fadd32, fdiv32, fmadd32, fmul32, fsqrt32, fsub32, roundToBinary32 } from "./Binary32.js";
import { fcvtIntToF32, fcvtIntToF64, fcvtToInt } from "./IntConvert.js";

export type { FpContext } from "./FpContext.js";

// ---- register access -----------------------------------------------------------------

/**
 * The binary32 encoding held in f[r]. A value that is not NaN-boxed (upper 32 bits not all
 * ones) reads as the canonical NaN (Unprivileged ISA 12.2 "NaN Boxing of Narrower Values").
 */
function readS32Bits(fi: Int32Array, r: number): number {
  return fi[2 * r + 1] === -1 ? fi[2 * r] : CANONICAL_NAN32;
}

function readS(fi: Int32Array, r: number): number {
  return fi[2 * r + 1] === -1 ? bitsToF32(fi[2 * r]) : NaN;
}

function isSNaNS(fi: Int32Array, r: number): boolean {
  return fi[2 * r + 1] === -1 && isSNaN32Bits(fi[2 * r]);
}

function isSNaND(fi: Int32Array, r: number): boolean {
  return isSNaN64Words(fi[2 * r], fi[2 * r + 1]);
}

/** Write a binary32 result NaN-boxed; NaN results are the canonical NaN (ISA 11.3). */
function writeS(fi: Int32Array, rd: number, v: number): void {
  fi[2 * rd] = v === v ? f32ToBits(v) : CANONICAL_NAN32;
  fi[2 * rd + 1] = -1;
}

function writeD(ctx: FpContext, rd: number, v: number): void {
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

// ---- classification, comparisons, min/max (ISA 11.8-11.9) ---------------------------

/** fclass bit from sign, biased exponent (all-ones = expMax), fraction-is-zero, quiet bit. */
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

/**
 * fmin/fmax, IEEE 754-201x minimumNumber/maximumNumber as ISA 2.2 requires: -0 < +0, a single
 * NaN operand yields the other operand, two NaNs the canonical NaN, sNaN raises NV.
 */
function minMax(a: number, b: number, max: boolean): number {
  if (a !== a) return b;
  if (b !== b) return a;
  if (a === b) {
    // Equal values differ only for signed zeros: min prefers -0, max +0.
    const aNeg = 1 / a < 0;
    return aNeg === max ? b : a;
  }
  return (a < b) !== max ? a : b;
}

/** feq (quiet: NV only for sNaN) / flt, fle (signalling: NV for any NaN). ISA 11.8. */
function compare(a: number, b: number, funct3: number, aSNaN: boolean, bSNaN: boolean): number {
  if (a !== a || b !== b) {
    if (funct3 !== 2 || aSNaN || bSNaN) fpStatus.flags |= NV;
    return 0;
  }
  switch (funct3) {
    case 2:
      return a === b ? 1 : 0;
    case 1:
      return a < b ? 1 : 0;
    default:
      return a <= b ? 1 : 0;
  }
}

// ---- the instruction decoder -------------------------------------------------------------

/** Executes one OP-FP / fused multiply-add instruction; false = illegal instruction. */
export function executeFp(ctx: FpContext, insn: number): boolean {
  const opcode = insn & 0x7f;
  const rd = (insn >>> 7) & 31;
  const funct3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const fmt = (insn >>> 25) & 3; // 0 = S, 1 = D; H and Q are not implemented
  if (fmt > 1) return false;
  const fi = ctx.fi;
  fpStatus.flags = 0;

  if (opcode !== 0x53) {
    if ((opcode & 0x73) !== 0x43) return false; // 0x43, 0x47, 0x4b, 0x4f (R4-type)
    const rm = funct3 === DYN ? ctx.frm : funct3;
    if (rm > 4) return false;
    const rs3 = insn >>> 27;
    // Unprivileged ISA 11.6: fmsub = a*b - c, fnmsub = -a*b + c, fnmadd = -a*b - c.
    const negProd = opcode === 0x4b || opcode === 0x4f;
    const negAdd = opcode === 0x47 || opcode === 0x4f;
    let r: number;
    if (fmt === 0) {
      const a = readS(fi, rs1);
      const b = readS(fi, rs2);
      const c = readS(fi, rs3);
      r = fmadd32(negProd ? -a : a, b, negAdd ? -c : c, rm);
      if (r !== r && (isSNaNS(fi, rs1) || isSNaNS(fi, rs2) || isSNaNS(fi, rs3))) fpStatus.flags |= NV;
      writeS(fi, rd, r);
    } else {
      const f = ctx.f;
      const a = f[rs1];
      const b = f[rs2];
      const c = f[rs3];
      r = fmadd64(negProd ? -a : a, b, negAdd ? -c : c, rm);
      if (r !== r && (isSNaND(fi, rs1) || isSNaND(fi, rs2) || isSNaND(fi, rs3))) fpStatus.flags |= NV;
      writeD(ctx, rd, r);
    }
    if (fpStatus.flags !== 0) ctx.fflags |= fpStatus.flags;
    return true;
  }

  const funct5 = insn >>> 27;
  switch (funct5) {
    case 0x00: // fadd
    case 0x01: // fsub
    case 0x02: // fmul
    case 0x03: // fdiv
    case 0x0b: {
      // fsqrt
      if (funct5 === 0x0b && rs2 !== 0) return false;
      const rm = funct3 === DYN ? ctx.frm : funct3;
      if (rm > 4) return false;
      let r: number;
      if (fmt === 0) {
        const a = readS(fi, rs1);
        const b = readS(fi, rs2);
        switch (funct5) {
          case 0x00:
            r = fadd32(a, b, rm);
            break;
          case 0x01:
            r = fsub32(a, b, rm);
            break;
          case 0x02:
            r = fmul32(a, b, rm);
            break;
          case 0x03:
            r = fdiv32(a, b, rm);
            break;
          default:
            r = fsqrt32(a, rm);
        }
        if (r !== r && (isSNaNS(fi, rs1) || (funct5 !== 0x0b && isSNaNS(fi, rs2)))) fpStatus.flags |= NV;
        writeS(fi, rd, r);
      } else {
        const f = ctx.f;
        const a = f[rs1];
        const b = f[rs2];
        switch (funct5) {
          case 0x00:
            r = fadd64(a, b, rm);
            break;
          case 0x01:
            r = fsub64(a, b, rm);
            break;
          case 0x02:
            r = fmul64(a, b, rm);
            break;
          case 0x03:
            r = fdiv64(a, b, rm);
            break;
          default:
            r = fsqrt64(a, rm);
        }
        if (r !== r && (isSNaND(fi, rs1) || (funct5 !== 0x0b && isSNaND(fi, rs2)))) fpStatus.flags |= NV;
        writeD(ctx, rd, r);
      }
      break;
    }

    case 0x04: {
      // fsgnj / fsgnjn / fsgnjx: pure bit operations, NaN payloads preserved (ISA 11.7)
      if (funct3 > 2) return false;
      if (fmt === 0) {
        const a = readS32Bits(fi, rs1);
        const b = readS32Bits(fi, rs2);
        const sign = funct3 === 0 ? b : funct3 === 1 ? ~b : a ^ b;
        fi[2 * rd] = (a & 0x7fffffff) | (sign & 0x80000000);
        fi[2 * rd + 1] = -1;
      } else {
        const a = fi[2 * rs1 + 1];
        const b = fi[2 * rs2 + 1];
        const sign = funct3 === 0 ? b : funct3 === 1 ? ~b : a ^ b;
        fi[2 * rd] = fi[2 * rs1];
        fi[2 * rd + 1] = (a & 0x7fffffff) | (sign & 0x80000000);
      }
      break;
    }

    case 0x05: {
      // fmin / fmax
      if (funct3 > 1) return false;
      if (fmt === 0) {
        const a = readS(fi, rs1);
        const b = readS(fi, rs2);
        if (isSNaNS(fi, rs1) || isSNaNS(fi, rs2)) fpStatus.flags |= NV;
        writeS(fi, rd, minMax(a, b, funct3 === 1));
      } else {
        const a = ctx.f[rs1];
        const b = ctx.f[rs2];
        if ((a !== a || b !== b) && (isSNaND(fi, rs1) || isSNaND(fi, rs2))) fpStatus.flags |= NV;
        writeD(ctx, rd, minMax(a, b, funct3 === 1));
      }
      break;
    }

    case 0x08: {
      // fcvt.s.d (fmt S, rs2 = 1) / fcvt.d.s (fmt D, rs2 = 0), ISA 12.5
      if (rs2 !== 1 - fmt) return false;
      const rm = funct3 === DYN ? ctx.frm : funct3;
      if (rm > 4) return false;
      if (fmt === 0) {
        const a = ctx.f[rs1];
        if (a !== a) {
          if (isSNaND(fi, rs1)) fpStatus.flags |= NV;
          writeS(fi, rd, NaN);
        } else {
          writeS(fi, rd, roundToBinary32(a, 0, rm));
        }
      } else {
        const a = readS(fi, rs1);
        if (a !== a && isSNaNS(fi, rs1)) fpStatus.flags |= NV;
        writeD(ctx, rd, a); // exact
      }
      break;
    }

    case 0x14: {
      // feq / flt / fle
      if (funct3 > 2) return false;
      let r: number;
      if (fmt === 0) {
        r = compare(readS(fi, rs1), readS(fi, rs2), funct3, isSNaNS(fi, rs1), isSNaNS(fi, rs2));
      } else {
        r = compare(ctx.f[rs1], ctx.f[rs2], funct3, isSNaND(fi, rs1), isSNaND(fi, rs2));
      }
      writeX(ctx.x, rd, r, 0);
      break;
    }

    case 0x18: {
      // fcvt.{w,wu,l,lu}.{s,d}
      if (rs2 > 3) return false;
      const rm = funct3 === DYN ? ctx.frm : funct3;
      if (rm > 4) return false;
      const v = fmt === 0 ? readS(fi, rs1) : ctx.f[rs1];
      fcvtToInt(ctx.x, rd, v, rs2, rm);
      break;
    }

    case 0x1a: {
      // fcvt.{s,d}.{w,wu,l,lu}
      if (rs2 > 3) return false;
      const rm = funct3 === DYN ? ctx.frm : funct3;
      if (rm > 4) return false;
      const x = ctx.x;
      const lo = x[2 * rs1];
      const hi = x[2 * rs1 + 1];
      if (fmt === 0) writeS(fi, rd, fcvtIntToF32(lo, hi, rs2, rm));
      else writeD(ctx, rd, fcvtIntToF64(lo, hi, rs2, rm));
      break;
    }

    case 0x1c: {
      // fmv.x.w / fmv.x.d (funct3 0) and fclass (funct3 1)
      if (rs2 !== 0) return false;
      if (funct3 === 0) {
        // fmv.x.w copies the raw low 32 bits, sign-extended, NaN-boxed or not (ISA 11.7).
        if (fmt === 0) writeX(ctx.x, rd, fi[2 * rs1], fi[2 * rs1] >> 31);
        else writeX(ctx.x, rd, fi[2 * rs1], fi[2 * rs1 + 1]);
      } else if (funct3 === 1) {
        let c: number;
        if (fmt === 0) {
          const b = readS32Bits(fi, rs1);
          c = classify(b < 0, (b >>> 23) & 0xff, 0xff, (b & 0x7fffff) === 0, (b & 0x400000) !== 0);
        } else {
          const lo = fi[2 * rs1];
          const hi = fi[2 * rs1 + 1];
          c = classify(hi < 0, (hi >>> 20) & 0x7ff, 0x7ff, ((hi & 0xfffff) | lo) === 0, (hi & 0x80000) !== 0);
        }
        writeX(ctx.x, rd, c, 0);
      } else {
        return false;
      }
      break;
    }

    case 0x1e: {
      // fmv.w.x (NaN-boxes) / fmv.d.x
      if (rs2 !== 0 || funct3 !== 0) return false;
      const x = ctx.x;
      fi[2 * rd] = x[2 * rs1];
      fi[2 * rd + 1] = fmt === 0 ? -1 : x[2 * rs1 + 1];
      break;
    }

    default:
      return false;
  }
  if (fpStatus.flags !== 0) ctx.fflags |= fpStatus.flags;
  return true;
}
