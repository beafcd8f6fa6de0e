// Exact reference arithmetic: every operation computes the exact real result with BigInt
// and rounds it once (IEEE 754-2008 §4.3, §7). This is the slow path behind the fast
// double-precision paths (taken for unusual rounding modes, results near the subnormal or
// overflow range, and operands that would break the error-free transformations), and the
// oracle the unit tests compare the fast paths against.
//
// All binary32 and binary64 values are exactly representable as JS numbers, so operands and
// results are plain numbers; NaN inputs return NaN (the caller raises NV for signalling NaNs
// because only it sees the encodings) and NaN outputs are canonicalised by the caller.

import { DZ, NV, NX, OF, RDN, RMM, RNE, RTZ, RUP, UF, fpStatus } from "./FFlags.js";
import { MAX_FLOAT32, MAX_FLOAT64, f64Hi, f64Lo, pow2 } from "./FloatBits.js";

/** A binary interchange format (IEEE 754-2008 §3.6): precision p and exponent range. */
export interface Format {
  readonly p: number;
  readonly emin: number;
  readonly emax: number;
  readonly max: number;
}

export const BINARY32: Format = { p: 24, emin: -126, emax: 127, max: MAX_FLOAT32 };
export const BINARY64: Format = { p: 53, emin: -1022, emax: 1023, max: MAX_FLOAT64 };

export function bitLength(m: bigint): number {
  return m.toString(2).length;
}

function roundIncrement(q: bigint, rem: bigint, half: bigint, neg: boolean, rm: number): boolean {
  if (rem === 0n) return false;
  switch (rm) {
    case RNE:
      return rem > half || (rem === half && (q & 1n) === 1n);
    case RTZ:
      return false;
    case RDN:
      return neg;
    case RUP:
      return !neg;
    default: // RMM
      return rem >= half;
  }
}

/**
 * Round the exact value (-1)^neg * mant * 2^exp to fmt. sticky = the true value is
 * strictly between mant*2^exp and (mant+1)*2^exp; callers that use it supply at least p+2
 * significant bits in mant so the sticky bit never reaches the rounding position.
 * Underflow is detected after rounding (tininess after rounding, Unprivileged ISA 11.2) and
 * raised only when the result is also inexact (IEEE 754-2008 §7.5).
 */
export function roundPack(neg: boolean, mant: bigint, exp: number, sticky: boolean, fmt: Format, rm: number): number {
  if (sticky) {
    mant = (mant << 2n) | 1n;
    exp -= 2;
  }
  if (mant === 0n) return neg ? -0 : 0;
  const p = fmt.p;
  const top = exp + bitLength(mant) - 1; // exponent of the leading bit
  let tiny = false;
  if (top < fmt.emin) {
    // Round as if the exponent range were unbounded: tiny if that result is still < 2^emin.
    const lsbU = top - p + 1;
    if (lsbU <= exp) {
      tiny = true; // exact with p bits: the value itself is below 2^emin
    } else {
      const s = BigInt(lsbU - exp);
      let q = mant >> s;
      if (roundIncrement(q, mant - (q << s), 1n << (s - 1n), neg, rm)) q += 1n;
      tiny = bitLength(q) + lsbU - 1 < fmt.emin;
    }
  }
  let lsb = Math.max(top - p + 1, fmt.emin - p + 1);
  let q: bigint;
  let inexact = false;
  if (lsb <= exp) {
    q = mant << BigInt(exp - lsb);
  } else {
    const s = BigInt(lsb - exp);
    q = mant >> s;
    const rem = mant - (q << s);
    inexact = rem !== 0n;
    if (roundIncrement(q, rem, 1n << (s - 1n), neg, rm)) q += 1n;
  }
  if (q >> BigInt(p) !== 0n) {
    q >>= 1n; // carried out to 2^p: renormalise (the dropped bit is 0)
    lsb += 1;
  }
  if (q !== 0n && bitLength(q) + lsb - 1 > fmt.emax) {
    fpStatus.flags |= OF | NX;
    const toInf = rm === RNE || rm === RMM || (rm === RDN && neg) || (rm === RUP && !neg);
    const mag = toInf ? Infinity : fmt.max;
    return neg ? -mag : mag;
  }
  if (inexact) fpStatus.flags |= tiny ? NX | UF : NX;
  const v = Number(q) * pow2(lsb); // q < 2^53 (or = 2^53), the product is exact
  return neg ? -v : v;
}

// Decoded finite value: (-1)^neg * mant * 2^exp. Module-level to avoid allocation.
let dNeg = false;
let dMant = 0n;
let dExp = 0;

function decode(x: number): void {
  const hi = f64Hi(x);
  const lo = f64Lo(x);
  dNeg = hi < 0;
  const e = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo >>> 0);
  if (e === 0) {
    dMant = frac;
    dExp = -1074;
  } else {
    dMant = frac | (1n << 52n);
    dExp = e - 1075;
  }
}

function isFiniteNum(x: number): boolean {
  return x - x === 0;
}

/** Exact zero result of a sum: +0, or -0 in RDN (IEEE 754-2008 §6.3). */
function zeroSum(a: number, b: number, rm: number): number {
  if (a === 0 && b === 0 && 1 / a < 0 === 1 / b < 0) return a;
  return rm === RDN ? -0 : 0;
}

/** (-1)^aNeg * aMant * 2^aExp + b, rounded; not both zero (so an exact zero is +0, or -0 in RDN). */
function sumExact(aNeg: boolean, aMant: bigint, aExp: number, b: number, fmt: Format, rm: number): number {
  decode(b);
  const e = Math.min(aExp, dExp);
  let m = aMant << BigInt(aExp - e);
  if (aNeg) m = -m;
  let mb = dMant << BigInt(dExp - e);
  if (dNeg) mb = -mb;
  const s = m + mb;
  if (s === 0n) return rm === RDN ? -0 : 0;
  return s < 0n ? roundPack(true, -s, e, false, fmt, rm) : roundPack(false, s, e, false, fmt, rm);
}

export function exactAdd(a: number, b: number, fmt: Format, rm: number): number {
  if (a !== a || b !== b) return NaN;
  if (!isFiniteNum(a) || !isFiniteNum(b)) {
    if (a === -b) {
      fpStatus.flags |= NV; // inf - inf
      return NaN;
    }
    return isFiniteNum(a) ? b : a;
  }
  if (a === 0 && b === 0) return zeroSum(a, b, rm);
  decode(a);
  return sumExact(dNeg, dMant, dExp, b, fmt, rm);
}

export function exactMul(a: number, b: number, fmt: Format, rm: number): number {
  if (a !== a || b !== b) return NaN;
  const p = a * b; // exact for zeros and infinities; NaN for inf * 0
  if (p !== p) {
    fpStatus.flags |= NV;
    return NaN;
  }
  if (!isFiniteNum(a) || !isFiniteNum(b) || a === 0 || b === 0) return p;
  decode(a);
  const neg = dNeg;
  const m = dMant;
  const e = dExp;
  decode(b);
  return roundPack(neg !== dNeg, m * dMant, e + dExp, false, fmt, rm);
}

/** a*b + c with a single rounding (IEEE 754-2008 §5.4.1 fusedMultiplyAdd). */
export function exactFma(a: number, b: number, c: number, fmt: Format, rm: number): number {
  if (a !== a || b !== b) return NaN;
  const p = a * b;
  if (p !== p) {
    // inf * 0 is invalid even when c is a quiet NaN (Unprivileged ISA 11.6).
    fpStatus.flags |= NV;
    return NaN;
  }
  if (c !== c) return NaN;
  if (!isFiniteNum(a) || !isFiniteNum(b)) {
    // The product is an infinity (JS computed its sign); inf + -inf is invalid.
    if (c === -p) {
      fpStatus.flags |= NV;
      return NaN;
    }
    return p;
  }
  if (!isFiniteNum(c)) return c;
  if (a === 0 || b === 0) {
    if (c === 0) return zeroSum(p, c, rm);
    return c; // c is already a value of fmt
  }
  decode(a);
  const neg = dNeg;
  const m = dMant;
  const e = dExp;
  decode(b);
  const pm = m * dMant;
  const pe = e + dExp;
  const pn = neg !== dNeg;
  if (c === 0) return roundPack(pn, pm, pe, false, fmt, rm);
  return sumExact(pn, pm, pe, c, fmt, rm);
}

export function exactDiv(a: number, b: number, fmt: Format, rm: number): number {
  if (a !== a || b !== b) return NaN;
  const aFin = isFiniteNum(a);
  const bFin = isFiniteNum(b);
  if ((!aFin && !bFin) || (a === 0 && b === 0)) {
    fpStatus.flags |= NV;
    return NaN;
  }
  if (!aFin || !bFin || a === 0) return a / b; // exact: inf, or signed zero
  if (b === 0) {
    fpStatus.flags |= DZ;
    return a / b;
  }
  decode(a);
  const neg = dNeg;
  const ma = dMant;
  const ea = dExp;
  decode(b);
  const k = Math.max(0, fmt.p + 3 + bitLength(dMant) - bitLength(ma));
  const num = ma << BigInt(k);
  const q = num / dMant;
  const r = num - q * dMant;
  return roundPack(neg !== dNeg, q, ea - dExp - k, r !== 0n, fmt, rm);
}

export function isqrt(m: bigint): bigint {
  if (m < 2n) return m;
  let x = 1n << BigInt((bitLength(m) + 1) >> 1);
  for (;;) {
    const y = (x + m / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function exactSqrt(a: number, fmt: Format, rm: number): number {
  if (a !== a) return NaN;
  if (a === 0 || a === Infinity) return a; // sqrt(-0) = -0 (IEEE 754-2008 §5.4.1)
  if (a < 0) {
    fpStatus.flags |= NV;
    return NaN;
  }
  decode(a);
  let m = dMant;
  let e = dExp;
  if (e & 1) {
    m <<= 1n;
    e -= 1;
  }
  const k = Math.max(0, Math.ceil((2 * (fmt.p + 3) - bitLength(m)) / 2));
  m <<= BigInt(2 * k);
  e -= 2 * k;
  const r = isqrt(m);
  return roundPack(false, r, e / 2, r * r !== m, fmt, rm);
}

/** Round an integer to fmt (fcvt.s.l, fcvt.d.lu, ...). */
export function exactFromInt(v: bigint, fmt: Format, rm: number): number {
  if (v === 0n) return 0;
  return v < 0n ? roundPack(true, -v, 0, false, fmt, rm) : roundPack(false, v, 0, false, fmt, rm);
}

/**
 * Round x + err to fmt, where x is a binary64 value, err is known only by its sign and is
 * smaller than half an ulp of x (x is the binary64 rounding of the true value, or exact).
 * Used by fcvt.s.d and by the binary32 fast paths when the result leaves the normal range.
 */
export function exactRoundNear(x: number, errSign: number, fmt: Format, rm: number): number {
  if (x !== x) return NaN;
  if (x === 0 || !isFiniteNum(x)) return x;
  decode(x);
  // Represent the true value by a point strictly between x and its binary64 neighbour on
  // the error's side: all fmt rounding boundaries are much coarser, so it rounds the same.
  let m = dMant << 2n;
  if (errSign !== 0) m += errSign > 0 !== dNeg ? 1n : -1n;
  return roundPack(dNeg, m, dExp - 2, false, fmt, rm);
}
