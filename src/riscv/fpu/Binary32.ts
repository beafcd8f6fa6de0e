// binary32 arithmetic (Unprivileged ISA ch. 11 "F"): fadd/fsub/fmul/fdiv/fsqrt/fmadd.s.
//
// Each operation is first computed in binary64 as d = RN64(exact), together with the sign of
// exact - d (TwoSum for sums, exact for products since 24+24 <= 53, a remainder for div and
// sqrt). roundToBinary32 then rounds to binary32 in any mode: d is never on the far side of
// a binary32 boundary from the exact value, and when d lands exactly on a boundary or a
// midpoint the error sign decides, so the double rounding is harmless for every mode.
// Operands are the binary32 values as JS numbers; NaN results are canonicalised by executeFp.

import { DZ, NV, NX, RDN, RMM, RNE, RTZ, RUP, fpIo, fpStatus } from "./FFlags.js";
import { MAX_FLOAT32, f64Lo, isEven32, nextDown32, nextUp32 } from "./FloatBits.js";
import { BINARY32, exactRoundNear } from "./ExactArithmetic.js";
import { belowHalfMinSubnormal, tp, twoProductError } from "./Binary64.js";

const io = fpIo;
// A private view for the midpoint test, so it stays inline.
const f64View = new Float64Array(1);
const f64Words = new Int32Array(f64View.buffer);

/** Values at least this large stay normal binary32 numbers after any rounding. */
const FAST_MIN = 2 ** -125;

/**
 * io[0] = io[0] + err rounded to binary32, where io[0] = x = RN64(exact value) and io[1] = err
 * has the sign of exact - x.
 * Raises NX/OF/UF as appropriate. The common case (RNE, normal result, not on a binary32
 * midpoint) is kept small so V8 inlines it into its callers: doubles passed to or returned
 * from a call that is not inlined are boxed, i.e. allocated, on every instruction.
 */
export function roundToBinary32Io(rm: number): void {
  const x = io[0]!;
  const err = io[1]!;
  if (rm === RNE) {
    const ax = Math.abs(x);
    if (ax >= FAST_MIN && ax < MAX_FLOAT32) {
      // Math.fround is RNE from x; it differs from RNE of the exact value only when x sits
      // exactly on a binary32 midpoint (the 29 fraction bits below binary32 precision are
      // 1000...0) and the error says which side the exact value is on.
      const s = Math.fround(x);
      if (err === 0) {
        if (s !== x) fpStatus.flags |= NX;
        io[0] = s;
        return;
      }
      fpStatus.flags |= NX;
      f64View[0] = x;
      if ((f64Words[0]! & 0x1fffffff) !== 0x10000000) {
        io[0] = s;
        return;
      }
    }
  }
  io[0] = roundToBinary32Slow(x, err, rm);
}

/** Value form of roundToBinary32Io. */
export function roundToBinary32(x: number, err: number, rm: number): number {
  io[0] = x;
  io[1] = err;
  roundToBinary32Io(rm);
  return io[0];
}

/** Every other case of roundToBinary32: directed modes, midpoints, tiny and huge values. */
function roundToBinary32Slow(x: number, err: number, rm: number): number {
  const ax = Math.abs(x);
  if (!(ax >= FAST_MIN && ax < MAX_FLOAT32)) {
    // Below half the smallest binary32 subnormal (then so is the exact value): no BigInt.
    if (ax < 2 ** -150 && ax !== 0) return belowHalfMinSubnormal(x < 0, 2 ** -149, rm);
    return exactRoundNear(x, err, BINARY32, rm);
  }
  const s = Math.fround(x);
  if (rm === RNE) {
    // Math.fround is RNE from x; it differs from RNE of the exact value only when x sits
    // exactly on a binary32 midpoint (the 29 fraction bits below binary32 precision are
    // 1000...0) and the error says which side the exact value is on.
    if (err === 0) {
      if (s !== x) fpStatus.flags |= NX;
      return s;
    }
    fpStatus.flags |= NX;
    if ((f64Lo(x) & 0x1fffffff) !== 0x10000000) return s;
    if (err > 0) return s > x ? s : nextUp32(s);
    return s < x ? s : nextDown32(s);
  }
  if (s === x) {
    if (err === 0) return s;
    fpStatus.flags |= NX;
    // The exact value is within a tiny distance of s: only directed modes move away from it.
    switch (rm) {
      case RUP:
        return err > 0 ? nextUp32(s) : s;
      case RDN:
        return err < 0 ? nextDown32(s) : s;
      case RTZ:
        return s > 0 ? (err < 0 ? nextDown32(s) : s) : err > 0 ? nextUp32(s) : s;
      default:
        return s;
    }
  }
  fpStatus.flags |= NX;
  let lo: number;
  let hi: number;
  if (s > x) {
    hi = s;
    lo = nextDown32(s);
  } else {
    lo = s;
    hi = nextUp32(s);
  }
  switch (rm) {
    case RDN:
      return lo;
    case RUP:
      return hi;
    case RTZ:
      return x > 0 ? lo : hi;
    default: {
      const mid = (lo + hi) / 2; // exact: 25 significant bits
      if (x < mid) return lo;
      if (x > mid) return hi;
      if (err > 0) return hi;
      if (err < 0) return lo;
      if (rm === RMM) return x > 0 ? hi : lo; // tie: away from zero
      return isEven32(lo) ? lo : hi; // tie: even
    }
  }
}

/** fadd.s: io[0] = io[0] + io[1] (binary32 values). */
export function fadd32Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const d = a + b;
  if (d - d !== 0) {
    if (d !== d && a === a && b === b) fpStatus.flags |= NV; // inf - inf
    io[0] = d;
    return;
  }
  if (d === 0) {
    io[0] = rm === RDN ? -(-a + -b) : d; // exact zero sum (IEEE 754-2008 §6.3)
    return;
  }
  const bb = d - a;
  io[1] = a - (d - bb) + (b - bb);
  io[0] = d;
  roundToBinary32Io(rm);
}

/** fmul.s: io[0] = io[0] * io[1]. */
export function fmul32Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const d = a * b; // exact in binary64
  if (d - d !== 0) {
    if (d !== d && a === a && b === b) fpStatus.flags |= NV; // inf * 0
    io[0] = d;
    return;
  }
  io[0] = d;
  if (d === 0) return;
  io[1] = 0;
  roundToBinary32Io(rm);
}

/** fdiv.s: io[0] = io[0] / io[1]. */
export function fdiv32Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const d = a / b;
  if (d - d !== 0) {
    if (d !== d) {
      if (a === a && b === b) fpStatus.flags |= NV; // 0/0, inf/inf
    } else if (b === 0 && a - a === 0) {
      fpStatus.flags |= DZ;
    }
    io[0] = d;
    return;
  }
  io[0] = d;
  if (d === 0) return; // 0/x or x/inf: exact (binary32 quotients never underflow binary64)
  const p = d * b;
  tp[0] = d;
  tp[1] = b;
  tp[2] = p;
  twoProductError();
  const rem = a - p - tp[0];
  io[1] = b > 0 ? rem : -rem;
  roundToBinary32Io(rm);
}

/** fsqrt.s: io[0] = sqrt(io[0]). */
export function fsqrt32Io(rm: number): void {
  const a = io[0]!;
  if (a < 0) {
    fpStatus.flags |= NV;
    io[0] = NaN;
    return;
  }
  const d = Math.sqrt(a);
  io[0] = d;
  if (d - d !== 0 || d === 0) return; // NaN, +inf, +-0
  const p = d * d;
  tp[0] = d;
  tp[1] = d;
  tp[2] = p;
  twoProductError();
  io[1] = a - p - tp[0];
  roundToBinary32Io(rm);
}

/** fmadd.s: io[0] = io[0]*io[1] + io[2], rounded once. */
export function fmadd32Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const c = io[2]!;
  const p = a * b; // exact in binary64
  if (p !== p) {
    if (a === a && b === b) fpStatus.flags |= NV; // inf * 0, even when c is a quiet NaN
    io[0] = p;
    return;
  }
  const d = p + c;
  if (d - d !== 0) {
    if (d !== d && c === c) fpStatus.flags |= NV; // inf - inf
    io[0] = d;
    return;
  }
  if (d === 0) {
    io[0] = rm === RDN ? -(-p + -c) : d;
    return;
  }
  const bb = d - p;
  io[1] = p - (d - bb) + (c - bb);
  io[0] = d;
  roundToBinary32Io(rm);
}

// Value forms, for tests and callers off the hot path.

export function fadd32(a: number, b: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  fadd32Io(rm);
  return io[0];
}

export function fsub32(a: number, b: number, rm: number): number {
  return fadd32(a, -b, rm);
}

export function fmul32(a: number, b: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  fmul32Io(rm);
  return io[0];
}

export function fdiv32(a: number, b: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  fdiv32Io(rm);
  return io[0];
}

export function fsqrt32(a: number, rm: number): number {
  io[0] = a;
  fsqrt32Io(rm);
  return io[0];
}

export function fmadd32(a: number, b: number, c: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  io[2] = c;
  fmadd32Io(rm);
  return io[0];
}
