// Bit-level views of binary32/binary64 values (IEEE 754-2008 §3.4 encodings), canonical NaNs
// and the neighbour functions used by the rounding code. One shared scratch buffer: none of
// these functions allocate.

const scratch = new ArrayBuffer(8);
const f64 = new Float64Array(scratch);
const f32 = new Float32Array(scratch);
const i32 = new Int32Array(scratch);
// The typed arrays use host byte order; every supported Node host is little-endian, so
// i32[0] is the low word of f64[0]. Checked once here so a big-endian host fails loudly.
f64[0] = 1;
if (i32[1] !== 0x3ff00000) throw new Error("Typevisor FPU requires a little-endian host");

/** Canonical NaNs, Unprivileged ISA 11.3 "NaN Generation and Propagation" and 12.3. */
export const CANONICAL_NAN32 = 0x7fc00000;
export const CANONICAL_NAN64_HI = 0x7ff80000;

export const MAX_FLOAT32 = 3.4028234663852886e38; // 0x1.fffffep127
export const MIN_NORMAL32 = 1.1754943508222875e-38; // 2^-126
export const MAX_FLOAT64 = Number.MAX_VALUE;
export const MIN_NORMAL64 = 2.2250738585072014e-308; // 2^-1022

export function bitsToF32(bits: number): number {
  i32[0] = bits;
  return f32[0]!;
}

/** The binary32 encoding of v, which must be a value representable in binary32 (or NaN). */
export function f32ToBits(v: number): number {
  f32[0] = v;
  return i32[0]!;
}

export function f64Hi(v: number): number {
  f64[0] = v;
  return i32[1]!;
}

export function f64Lo(v: number): number {
  f64[0] = v;
  return i32[0]!;
}

export function wordsToF64(lo: number, hi: number): number {
  i32[0] = lo;
  i32[1] = hi;
  return f64[0]!;
}

/** 2^n for any integer n in [-1074, 1023], built from the encoding so it is exact. */
export function pow2(n: number): number {
  if (n >= -1022) return wordsToF64(0, (n + 1023) << 20);
  // Subnormal: 2^n = 2^(n+200) * 2^-200, both factors normal and the product exact.
  return wordsToF64(0, (n + 200 + 1023) << 20) * wordsToF64(0, (-200 + 1023) << 20);
}

/** The next binary64 above x (x finite, not NaN). nextUp(MAX) = +Infinity. */
export function nextUp64(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  let lo = i32[0]!;
  let hi = i32[1]!;
  if (x > 0) {
    lo = (lo + 1) | 0;
    if (lo === 0) hi = (hi + 1) | 0;
  } else {
    if (lo === 0) hi = (hi - 1) | 0;
    lo = (lo - 1) | 0;
  }
  i32[0] = lo;
  i32[1] = hi;
  return f64[0];
}

export function nextDown64(x: number): number {
  return -nextUp64(-x);
}

/** The next binary32 above x (x a finite binary32 value). */
export function nextUp32(x: number): number {
  if (x === 0) return 1.401298464324817e-45; // 2^-149
  f32[0] = x;
  i32[0] = x > 0 ? i32[0]! + 1 : i32[0]! - 1;
  return f32[0];
}

export function nextDown32(x: number): number {
  return -nextUp32(-x);
}

/** True when the least significant bit of x's binary64 significand is 0. */
export function isEven64(x: number): boolean {
  f64[0] = x;
  return (i32[0]! & 1) === 0;
}

export function isEven32(x: number): boolean {
  f32[0] = x;
  return (i32[0]! & 1) === 0;
}

/** Signalling NaN tests on raw encodings (quiet bit = MSB of the fraction, IEEE 754-2008 §6.2.1). */
export function isSNaN32Bits(bits: number): boolean {
  return (bits & 0x7fc00000) === 0x7f800000 && (bits & 0x003fffff) !== 0;
}

export function isSNaN64Words(lo: number, hi: number): boolean {
  return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x0007ffff) | lo) !== 0;
}
