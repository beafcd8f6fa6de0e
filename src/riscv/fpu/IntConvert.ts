// Conversions between floating-point and integer registers, Unprivileged ISA 11.7 / 12.5
// ("Single/Double-Precision Floating-Point Conversion and Move Instructions").

import { NV, NX, RDN, RMM, RNE, RTZ, RUP, fpIo, fpStatus } from "./FFlags.js";
import { BINARY64, exactFromInt } from "./ExactArithmetic.js";
import { directed64 } from "./Binary64.js";
import { roundToBinary32Io } from "./Binary32.js";

const io = fpIo;

/** Integer kinds, numbered as the rs2 field of fcvt.int.fmt / fcvt.fmt.int encodes them. */
export const W = 0;
export const WU = 1;
export const L = 2;
export const LU = 3;

const TWO32 = 4294967296;
const TWO31 = 2147483648;
const TWO63 = 9223372036854775808;
const TWO64 = 18446744073709551616;

/** io[0] rounded to an integral value in mode rm (IEEE 754-2008 §5.9 roundToIntegral). */
export function roundToIntegralIo(rm: number): void {
  const v = io[0]!;
  if (!(Math.abs(v) < 4503599627370496)) return; // >= 2^52 (or inf/NaN): already integral
  const t = Math.trunc(v);
  const f = v - t; // exact
  if (f === 0) return;
  let r = t;
  switch (rm) {
    case RTZ:
      break;
    case RDN:
      if (v < 0) r = t - 1;
      break;
    case RUP:
      if (v > 0) r = t + 1;
      break;
    case RNE: {
      const af = Math.abs(f);
      if (af > 0.5 || (af === 0.5 && t % 2 !== 0)) r = v < 0 ? t - 1 : t + 1;
      break;
    }
    default: // RMM
      if (Math.abs(f) >= 0.5) r = v < 0 ? t - 1 : t + 1;
  }
  io[0] = r;
}

export function roundToIntegral(v: number, rm: number): number {
  io[0] = v;
  roundToIntegralIo(rm);
  return io[0];
}

/**
 * fcvt.{w,wu,l,lu}.{s,d}: write the conversion of io[0] into x[rd] (an int32 pair; 32-bit results
 * sign-extended, RV64 11.7). Out-of-range and NaN inputs saturate as Unprivileged ISA Table
 * 11.4 specifies and raise NV only; in-range inexact results raise NX.
 */
export function fcvtToIntIo(x: Int32Array, rd: number, kind: number, rm: number): void {
  let lo: number;
  let hi: number;
  const v = io[0];
  roundToIntegralIo(rm);
  const r = io[0]!;
  let inRange: boolean;
  switch (kind) {
    case W:
      inRange = r >= -TWO31 && r < TWO31;
      break;
    case WU:
      inRange = r >= 0 && r < TWO32; // -0 (e.g. -0.3 in RTZ) is in range
      break;
    case L:
      inRange = r >= -TWO63 && r < TWO63;
      break;
    default:
      inRange = r >= 0 && r < TWO64;
  }
  if (inRange) {
    if (r !== v) fpStatus.flags |= NX;
    if (kind <= WU) {
      lo = r | 0; // ToInt32 wraps [2^31, 2^32) of WU onto the sign-extended pattern
      hi = lo >> 31;
    } else {
      const h = Math.floor(r / TWO32); // exact: division by a power of two, then floor
      lo = (r - h * TWO32) | 0;
      hi = h | 0;
    }
  } else {
    fpStatus.flags |= NV;
    const neg = r < 0; // NaN and +inf saturate to the maximum
    switch (kind) {
      case W:
        lo = neg ? -0x80000000 : 0x7fffffff;
        hi = neg ? -1 : 0;
        break;
      case WU:
        lo = neg ? 0 : -1;
        hi = lo;
        break;
      case L:
        lo = neg ? 0 : -1;
        hi = neg ? -0x80000000 : 0x7fffffff;
        break;
      default:
        lo = neg ? 0 : -1;
        hi = lo;
    }
  }
  if (rd !== 0) {
    x[2 * rd] = lo;
    x[2 * rd + 1] = hi;
  }
}

/**
 * fcvt.d.{w,wu,l,lu}: io[0] = the integer in the int32 pair (lo, hi), rounded to binary64.
 * The integer is split exactly as h + l (h a multiple of 2^32), added with TwoSum.
 */
export function fcvtIntToF64Io(lo: number, hi: number, kind: number, rm: number): void {
  const h = kind === W ? (lo < 0 ? -TWO32 : 0) : kind === WU ? 0 : kind === L ? hi * TWO32 : (hi >>> 0) * TWO32;
  const l = lo >>> 0;
  const d = h + l; // RN of the exact integer
  const bb = d - h;
  const err = h - (d - bb) + (l - bb); // TwoSum: exact
  if (err === 0) {
    io[0] = d;
  } else if (rm === RMM) {
    const big = kind === L ? (BigInt(hi) << 32n) | BigInt(l) : (BigInt(hi >>> 0) << 32n) | BigInt(l);
    io[0] = exactFromInt(big, BINARY64, rm);
  } else {
    fpStatus.flags |= NX;
    io[0] = rm === RNE ? d : directed64(d, err, rm);
  }
}

/** fcvt.s.{w,wu,l,lu}: io[0] = the integer rounded to binary32. */
export function fcvtIntToF32Io(lo: number, hi: number, kind: number, rm: number): void {
  const h = kind === W ? (lo < 0 ? -TWO32 : 0) : kind === WU ? 0 : kind === L ? hi * TWO32 : (hi >>> 0) * TWO32;
  const l = lo >>> 0;
  const d = h + l;
  const bb = d - h;
  io[1] = h - (d - bb) + (l - bb);
  io[0] = d;
  if (d !== 0) roundToBinary32Io(rm);
}

export function fcvtToInt(x: Int32Array, rd: number, v: number, kind: number, rm: number): void {
  io[0] = v;
  fcvtToIntIo(x, rd, kind, rm);
}

export function fcvtIntToF64(lo: number, hi: number, kind: number, rm: number): number {
  fcvtIntToF64Io(lo, hi, kind, rm);
  return io[0]!;
}

export function fcvtIntToF32(lo: number, hi: number, kind: number, rm: number): number {
  fcvtIntToF32Io(lo, hi, kind, rm);
  return io[0]!;
}
