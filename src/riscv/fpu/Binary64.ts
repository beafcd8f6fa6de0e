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

import { NX, OF, RDN, RMM, RNE, RTZ, RUP, UF, fpIo, fpStatus } from "./FFlags.js";
import { MAX_FLOAT64, MIN_NORMAL64, nextDown64, nextUp64 } from "./FloatBits.js";
import { BINARY64, exactAdd, exactDiv, exactFma, exactMul, exactSqrt } from "./ExactArithmetic.js";

/** Results at least this large are normal even after directed rounding: no UF to detect. */
const FAST_MIN_RESULT = 2 ** -1021;
/** Products at least this large have an error term that is itself exactly representable. */
const FAST_MIN_PRODUCT = 2 ** -960;
/** Veltkamp splitting multiplies by 2^27+1: operands above this could overflow. */
const FAST_MAX_OPERAND = 2 ** 995;
const FAST_MIN_OPERAND = 2 ** -1022;
const SPLITTER = 134217729; // 2^27 + 1

/** Operands of twoProductError: a, b, p = RN(a*b); the error replaces tp[0]. */
export const tp = new Float64Array(3);

/** tp[0] = a*b - p exactly (Dekker's TwoProduct), valid within the fast bounds. */
export function twoProductError(): void {
  const a = tp[0]!;
  const b = tp[1]!;
  const p = tp[2]!;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  tp[0] = al * bl - (p - ah * bh - al * bh - ah * bl);
}

/** Exact a*b - p for p = RN(a*b) (value form of twoProductError). */
export function productError(a: number, b: number, p: number): number {
  tp[0] = a;
  tp[1] = b;
  tp[2] = p;
  twoProductError();
  return tp[0];
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

const io = fpIo;

/** fadd.d: io[0] = io[0] + io[1]. */
export function fadd64Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const s = a + b;
  const as = Math.abs(s);
  if (as >= FAST_MIN_RESULT && as <= MAX_FLOAT64 && rm !== RMM) {
    const bb = s - a;
    const err = a - (s - bb) + (b - bb);
    if (err === 0) {
      io[0] = s;
      return;
    }
    // An intermediate of TwoSum can overflow when an operand is within an ulp of MAX.
    if (err - err === 0) {
      fpStatus.flags |= NX;
      io[0] = rm === RNE ? s : directed64(s, err, rm);
      return;
    }
  }
  // A zero sum of finite operands is exact (IEEE 754-2008 §6.3 fixes its sign: -0 in RDN).
  if (s === 0 && a - a === 0 && b - b === 0) io[0] = rm === RDN ? -(-a + -b) : s;
  // A subnormal sum is exact (both operands are multiples of 2^-1074 and so is the sum).
  else if (as < MIN_NORMAL64 && as !== 0) io[0] = s;
  else io[0] = exactAdd(a, b, BINARY64, rm);
}

/** fmul.d: io[0] = io[0] * io[1]. */
export function fmul64Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const p = a * b;
  const ap = Math.abs(p);
  if (
    ap >= FAST_MIN_PRODUCT &&
    ap <= MAX_FLOAT64 &&
    rm !== RMM &&
    Math.abs(a) >= FAST_MIN_OPERAND &&
    Math.abs(a) <= FAST_MAX_OPERAND &&
    Math.abs(b) >= FAST_MIN_OPERAND &&
    Math.abs(b) <= FAST_MAX_OPERAND
  ) {
    tp[0] = a;
    tp[1] = b;
    tp[2] = p;
    twoProductError();
    const err = tp[0]!;
    if (err === 0) {
      io[0] = p;
      return;
    }
    if (err - err === 0) {
      // (A split partial product can overflow when p is within an ulp of MAX.)
      fpStatus.flags |= NX;
      io[0] = rm === RNE ? p : directed64(p, err, rm);
      return;
    }
  }
  // Complete underflow (e.g. 1e-200 * 1e-200) is common enough to avoid BigInt.
  if (p === 0 && a !== 0 && b !== 0 && rm !== RMM) io[0] = belowHalfMinSubnormal(a < 0 !== b < 0, Number.MIN_VALUE, rm);
  else io[0] = exactMul(a, b, BINARY64, rm);
}

/** fdiv.d: io[0] = io[0] / io[1]. */
export function fdiv64Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const q = a / b;
  const aq = Math.abs(q);
  if (
    aq >= FAST_MIN_PRODUCT &&
    aq <= FAST_MAX_OPERAND &&
    rm !== RMM &&
    Math.abs(b) >= FAST_MIN_OPERAND &&
    Math.abs(b) <= FAST_MAX_OPERAND &&
    Math.abs(a) >= FAST_MIN_PRODUCT &&
    Math.abs(a) <= FAST_MAX_OPERAND
  ) {
    // Remainder a - q*b is exact (IEEE 754 division remainder is representable); its sign
    // times b's sign is the sign of the quotient's error.
    const p = q * b;
    tp[0] = q;
    tp[1] = b;
    tp[2] = p;
    twoProductError();
    const rem = a - p - tp[0];
    if (rem === 0) {
      io[0] = q;
      return;
    }
    fpStatus.flags |= NX;
    io[0] = rm === RNE ? q : directed64(q, b > 0 ? rem : -rem, rm);
    return;
  }
  if (q === 0 && a !== 0 && b - b === 0 && rm !== RMM)
    io[0] = belowHalfMinSubnormal(a < 0 !== b < 0, Number.MIN_VALUE, rm);
  else io[0] = exactDiv(a, b, BINARY64, rm);
}

/** fsqrt.d: io[0] = sqrt(io[0]). */
export function fsqrt64Io(rm: number): void {
  const a = io[0]!;
  const r = Math.sqrt(a); // IEEE 754 correctly rounded (RNE)
  if (a >= FAST_MIN_PRODUCT && a <= FAST_MAX_OPERAND && rm !== RMM) {
    const p = r * r;
    tp[0] = r;
    tp[1] = r;
    tp[2] = p;
    twoProductError();
    const rem = a - p - tp[0];
    if (rem === 0) {
      io[0] = r;
      return;
    }
    fpStatus.flags |= NX;
    io[0] = rm === RNE ? r : directed64(r, rem, rm);
    return;
  }
  io[0] = exactSqrt(a, BINARY64, rm);
}

// Round-to-odd needs the significand's last bit; a private view keeps it inline.
const roBits = new Float64Array(1);
const roWords = new Int32Array(roBits.buffer);

/**
 * fmadd.d: io[0] = io[0]*io[1] + io[2] rounded once. Boldo & Melquiond, "Emulation of FMA
 * and correctly rounded sums: proved algorithms using rounding to odd" (IEEE TC 2008): with
 * uh+ul = a*b and th+tl = c+uh exactly, RN(th + RO(tl+ul)) = RN(a*b+c), RO = round-to-odd.
 */
export function fmadd64Io(rm: number): void {
  const a = io[0]!;
  const b = io[1]!;
  const c = io[2]!;
  const uh = a * b;
  const auh = Math.abs(uh);
  if (
    auh >= FAST_MIN_PRODUCT &&
    auh <= MAX_FLOAT64 &&
    rm !== RMM &&
    Math.abs(a) >= FAST_MIN_OPERAND &&
    Math.abs(a) <= FAST_MAX_OPERAND &&
    Math.abs(b) >= FAST_MIN_OPERAND &&
    Math.abs(b) <= FAST_MAX_OPERAND &&
    c - c === 0
  ) {
    tp[0] = a;
    tp[1] = b;
    tp[2] = uh;
    twoProductError();
    const ul = tp[0]!;
    const th = c + uh;
    let bb = th - c;
    const tl = c - (th - bb) + (uh - bb);
    const u = tl + ul;
    bb = u - tl;
    const ue = tl - (u - bb) + (ul - bb);
    let v = u;
    let dv = ue; // sign of (tl + ul) - v
    if (ue !== 0) {
      roBits[0] = u;
      const lo = roWords[0]!;
      if ((lo & 1) === 0) {
        // u is even: round to odd = its neighbour on the error's side (u != 0 here, since a
        // sum that rounds to zero is exact). Step the encoding by one unit, away from or
        // toward zero.
        if (ue > 0 === u > 0) {
          roWords[0] = lo | 1;
        } else {
          if (lo === 0) roWords[1] = roWords[1]! - 1;
          roWords[0] = lo - 1;
        }
        v = roBits[0];
        dv = -ue;
      }
    }
    const r = th + v;
    const ar = Math.abs(r);
    if (ar >= FAST_MIN_RESULT && ar <= MAX_FLOAT64) {
      bb = r - th;
      const e2 = th - (r - bb) + (v - bb);
      // exact - r = e2 + ((tl+ul) - v); when e2 != 0 it dominates the round-to-odd error.
      const err = e2 !== 0 ? e2 : dv;
      if (err === 0) {
        io[0] = r;
        return;
      }
      if (err - err === 0) {
        fpStatus.flags |= NX;
        io[0] = rm === RNE ? r : directed64(r, err, rm);
        return;
      }
    }
  }
  io[0] = exactFma(a, b, c, BINARY64, rm);
}

// Value forms, for tests and callers off the hot path.

export function fadd64(a: number, b: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  fadd64Io(rm);
  return io[0];
}

export function fsub64(a: number, b: number, rm: number): number {
  return fadd64(a, -b, rm);
}

export function fmul64(a: number, b: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  fmul64Io(rm);
  return io[0];
}

export function fdiv64(a: number, b: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  fdiv64Io(rm);
  return io[0];
}

export function fsqrt64(a: number, rm: number): number {
  io[0] = a;
  fsqrt64Io(rm);
  return io[0];
}

export function fmadd64(a: number, b: number, c: number, rm: number): number {
  io[0] = a;
  io[1] = b;
  io[2] = c;
  fmadd64Io(rm);
  return io[0];
}
