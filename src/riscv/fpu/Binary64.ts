// binary64 arithmetic (Unprivileged ISA ch. 12 "D"): fadd/fsub/fmul/fdiv/fsqrt/fmadd.d.
//
// Fast path: JS double arithmetic is IEEE 754 round-to-nearest-even, so the RNE result is
// one machine operation. The exact error of that result is recovered with error-free
// transformations (Knuth TwoSum, Dekker/Veltkamp TwoProduct; the division and square-root
// remainders follow from TwoProduct), which gives NX, and RTZ/RDN/RUP follow from the RNE
// result and the sign of the error: the exact value lies strictly between the RNE result
// and its neighbour on the error's side. Results that may be tiny or overflow, operands
// that would make the transformations inexact, and RMM (ties need more than a sign) take
// the exact BigInt path in ExactArithmetic.ts.
//
// NaN operands produce NaN here without flags; executeFp raises NV for signalling NaNs and
// writes the canonical NaN.

import { NX, OF, RDN, RMM, RNE, RTZ, RUP, UF, fpStatus } from "./FFlags.js";
import { MAX_FLOAT64, MIN_NORMAL64, isEven64, nextDown64, nextUp64 } from "./FloatBits.js";
import { BINARY64, exactAdd, exactDiv, exactFma, exactMul, exactSqrt } from "./ExactArithmetic.js";

/** Results at least this large are normal even after directed rounding: no UF to detect. */
const FAST_MIN_RESULT = 2 ** -1021;
/** Products at least this large have an error term that is itself exactly representable. */
const FAST_MIN_PRODUCT = 2 ** -960;
/** Veltkamp splitting multiplies by 2^27+1: operands above this could overflow. */
const FAST_MAX_OPERAND = 2 ** 995;
const FAST_MIN_OPERAND = 2 ** -1022;
const SPLITTER = 134217729; // 2^27 + 1

/** Exact a*b - p for p = RN(a*b) (Dekker's TwoProduct), valid within the fast bounds. */
export function productError(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return al * bl - (((p - ah * bh) - al * bh) - ah * bl);
}

/**
 * Apply a directed rounding mode to r = RN(x) given sign(x - r) = sign(err), err != 0.
 * Overflow: r is finite, so |x| < MAX + ulp/2; only rounding away past MAX overflows.
 */
export function directed64(r: number, err: number, rm: number): number {
  let v = r;
  if (rm === RUP) {
    if (err > 0) v = nextUp64(r);
  } else if (rm === RDN) {
    if (err < 0) v = nextDown64(r);
  } else if (rm === RTZ) {
    if (r > 0 && err < 0) v = nextDown64(r);
    else if (r < 0 && err > 0) v = nextUp64(r);
  }
  if (v - v !== 0) fpStatus.flags |= OF;
  return v;
}

/**
 * Rounding of a nonzero value whose magnitude is at most half the smallest subnormal (the
 * RNE result was 0): tiny and inexact. RMM is excluded by callers (a value of exactly half
 * rounds away in RMM).
 */
export function belowHalfMinSubnormal(neg: boolean, minSubnormal: number, rm: number): number {
  fpStatus.flags |= UF | NX;
  if (rm === RUP && !neg) return minSubnormal;
  if (rm === RDN && neg) return -minSubnormal;
  return neg ? -0 : 0;
}

function inFastRange(x: number): boolean {
  const ax = Math.abs(x);
  return ax >= FAST_MIN_OPERAND && ax <= FAST_MAX_OPERAND;
}

export function fadd64(a: number, b: number, rm: number): number {
  const s = a + b;
  const as = Math.abs(s);
  if (as >= FAST_MIN_RESULT && as <= MAX_FLOAT64 && rm !== RMM) {
    const bb = s - a;
    const err = (a - (s - bb)) + (b - bb);
    if (err === 0) return s;
    // An intermediate of TwoSum can overflow when an operand is within an ulp of MAX.
    if (err - err === 0) {
      fpStatus.flags |= NX;
      return rm === RNE ? s : directed64(s, err, rm);
    }
  }
  // A zero sum of finite operands is exact (IEEE 754-2008 §6.3 fixes its sign: -0 in RDN).
  if (s === 0 && a - a === 0 && b - b === 0) return rm === RDN ? -(-a + -b) : s;
  // A subnormal sum is exact (both operands are multiples of 2^-1074 and so is the sum).
  if (as < MIN_NORMAL64 && as !== 0) return s;
  return exactAdd(a, b, BINARY64, rm);
}

export function fsub64(a: number, b: number, rm: number): number {
  return fadd64(a, -b, rm);
}

export function fmul64(a: number, b: number, rm: number): number {
  const p = a * b;
  const ap = Math.abs(p);
  if (ap >= FAST_MIN_PRODUCT && ap <= MAX_FLOAT64 && rm !== RMM && inFastRange(a) && inFastRange(b)) {
    const err = productError(a, b, p);
    if (err === 0) return p;
    if (err - err === 0) {
      // (A split partial product can overflow when p is within an ulp of MAX.)
      fpStatus.flags |= NX;
      return rm === RNE ? p : directed64(p, err, rm);
    }
  }
  // Complete underflow (e.g. 1e-200 * 1e-200) is common enough to avoid BigInt.
  if (p === 0 && a !== 0 && b !== 0 && rm !== RMM) return belowHalfMinSubnormal((a < 0) !== (b < 0), Number.MIN_VALUE, rm);
  return exactMul(a, b, BINARY64, rm);
}

export function fdiv64(a: number, b: number, rm: number): number {
  const q = a / b;
  const aq = Math.abs(q);
  if (aq >= FAST_MIN_PRODUCT && aq <= FAST_MAX_OPERAND && rm !== RMM && inFastRange(b) && Math.abs(a) >= FAST_MIN_PRODUCT && Math.abs(a) <= FAST_MAX_OPERAND) {
    // Remainder a - q*b is exact (IEEE 754 division remainder is representable); its sign
    // times b's sign is the sign of the quotient's error.
    const p = q * b;
    const rem = (a - p) - productError(q, b, p);
    if (rem === 0) return q;
    fpStatus.flags |= NX;
    return rm === RNE ? q : directed64(q, b > 0 ? rem : -rem, rm);
  }
  if (q === 0 && a !== 0 && b - b === 0 && rm !== RMM) return belowHalfMinSubnormal((a < 0) !== (b < 0), Number.MIN_VALUE, rm);
  return exactDiv(a, b, BINARY64, rm);
}

export function fsqrt64(a: number, rm: number): number {
  const r = Math.sqrt(a); // IEEE 754 correctly rounded (RNE)
  if (a >= FAST_MIN_PRODUCT && a <= FAST_MAX_OPERAND && rm !== RMM) {
    const p = r * r;
    const rem = (a - p) - productError(r, r, p);
    if (rem === 0) return r;
    fpStatus.flags |= NX;
    return rm === RNE ? r : directed64(r, rem, rm);
  }
  return exactSqrt(a, BINARY64, rm);
}

/**
 * a*b + c rounded once. Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
 * proved algorithms using rounding to odd" (IEEE TC 2008): with uh+ul = a*b and th+tl =
 * c+uh exactly, RN(th + RO(tl+ul)) = RN(a*b+c), RO being round-to-odd.
 */
export function fmadd64(a: number, b: number, c: number, rm: number): number {
  const uh = a * b;
  const auh = Math.abs(uh);
  if (auh >= FAST_MIN_PRODUCT && auh <= MAX_FLOAT64 && rm !== RMM && inFastRange(a) && inFastRange(b) && c - c === 0) {
    const ul = productError(a, b, uh);
    const th = c + uh;
    let bb = th - c;
    const tl = (c - (th - bb)) + (uh - bb);
    const u = tl + ul;
    bb = u - tl;
    const ue = (tl - (u - bb)) + (ul - bb);
    let v = u;
    let dv = ue; // sign of (tl + ul) - v
    if (ue !== 0 && isEven64(u)) {
      v = ue > 0 ? nextUp64(u) : nextDown64(u);
      dv = -ue;
    }
    const r = th + v;
    const ar = Math.abs(r);
    if (ar >= FAST_MIN_RESULT && ar <= MAX_FLOAT64) {
      bb = r - th;
      const e2 = (th - (r - bb)) + (v - bb);
      // exact - r = e2 + ((tl+ul) - v); when e2 != 0 it dominates the round-to-odd error.
      const err = e2 !== 0 ? e2 : dv;
      if (err === 0) return r;
      if (err - err === 0) {
        fpStatus.flags |= NX;
        return rm === RNE ? r : directed64(r, err, rm);
      }
    }
  }
  return exactFma(a, b, c, BINARY64, rm);
}
