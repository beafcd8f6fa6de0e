// Seeded operand generator for the FPU differential test: edge values (zeros, infinities,
// quiet and signalling NaNs, subnormal and overflow boundaries, integer-conversion
// boundaries, rounding midpoints), correlated pairs (cancellation, fma where a*b ~ -c) and
// random encodings. Deterministic for a given seed.

import { VARIANTS, type Case } from "./oracle.js";

/** xorshift128+ over BigInt-free 32-bit halves; good enough for test operands. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  constructor(seed: number) {
    this.s0 = seed | 0 || 1;
    this.s1 = 0x9e3779b9;
    this.s2 = 0x243f6a88;
    this.s3 = 0xb7e15162;
    for (let i = 0; i < 16; i++) this.u32();
  }
  /** xoshiro128** step. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const M64 = (1n << 64n) - 1n;
const BOX = 0xffffffff00000000n;

const buf = new DataView(new ArrayBuffer(8));
export function f64Bits(v: number): bigint {
  buf.setFloat64(0, v, true);
  return buf.getBigUint64(0, true);
}
export function bitsF64(b: bigint): number {
  buf.setBigUint64(0, b & M64, true);
  return buf.getFloat64(0, true);
}
export function f32Bits(v: number): number {
  buf.setFloat32(0, v, true);
  return buf.getUint32(0, true);
}
export function bitsF32(b: number): number {
  buf.setUint32(0, b >>> 0, true);
  return buf.getFloat32(0, true);
}

const SPECIAL32 = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0xff800001,
  0x7fc00001, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000, 0x00800001, 0x7f7fffff,
  0xff7fffff, 0x7f7ffffe, 0x3f800000, 0xbf800000, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000, 0xbfc00000,
  0x3f400000, 0x3e800000, 0x4f000000, 0x4effffff, 0xcf000000, 0xcf000001, 0x4f800000, 0x4f7fffff, 0x5f000000,
  0x5effffff, 0xdf000000, 0xdf000001, 0x5f800000, 0x5f7fffff, 0x4b800000, 0x4b7fffff, 0x4b000001, 0x34000000,
  0x33800000, 0x00400000, 0x01000000, 0x0c800000, 0x7e800000, 0x7f000000,
];

const SPECIAL64 = [
  0x0000000000000000n,
  0x8000000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0xfff8000000000000n,
  0x7ff0000000000001n,
  0x7ff7ffffffffffffn,
  0xfff0000000000001n,
  0x7ff8000000000001n,
  0x0000000000000001n,
  0x8000000000000001n,
  0x000fffffffffffffn,
  0x800fffffffffffffn,
  0x0010000000000000n,
  0x8010000000000000n,
  0x0010000000000001n,
  0x7fefffffffffffffn,
  0xffefffffffffffffn,
  0x7feffffffffffffen,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x3fe0000000000000n,
  0xbfe0000000000000n,
  0x3ff8000000000000n,
  0x4004000000000000n,
  0x3fe8000000000000n,
  0x41e0000000000000n,
  0x41dfffffffffffffn,
  0x41dfffffffc00000n,
  0x41dfffffffe00000n,
  0xc1e0000000000000n,
  0xc1e0000000100000n,
  0xc1e00000001fffffn,
  0x41f0000000000000n,
  0x41efffffffffffffn,
  0x41effffffff00000n,
  0x41effffffff80000n,
  0x43e0000000000000n,
  0x43dfffffffffffffn,
  0xc3e0000000000000n,
  0xc3e0000000000001n,
  0x43f0000000000000n,
  0x43efffffffffffffn,
  0x4340000000000000n,
  0x433fffffffffffffn,
  0x4330000000000001n,
  0x3cb0000000000000n,
  0x0008000000000000n,
  0x0020000000000000n,
  0x47efffffe0000000n,
  0x47effffff0000000n,
  0x47efffffffffffffn,
  0x47f0000000000000n,
  0x3810000000000000n,
  0x380fffffffffffffn,
  0x36a0000000000000n,
  0x3690000000000000n,
  0x3690000000000001n,
  0x369fffffffffffffn,
  0x380ffffff0000000n,
  0x380fffffe0000000n,
  0x7fe0000000000000n,
  0x0360000000000000n,
];

const SPECIAL_INT = [
  0n,
  1n,
  M64,
  2n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0xffffffff80000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0x8000000000000001n,
  0x1000000n,
  0x1000001n,
  0xffffffn,
  0x1000003n,
  0x20000000000000n,
  0x20000000000001n,
  0x20000000000003n,
  0xfffffffffe000001n,
  0xffffffff7fffffffn,
  0x00000000ffffff80n,
  0xffffffffffffff81n,
  0x7fffff8000000000n,
  0x7fffffc000000000n,
  0xffffff8000000000n,
];

function jitter(rng: Rng, bits: bigint, width: number): bigint {
  const d = BigInt(rng.int(9) - 4);
  const mask = (1n << BigInt(width)) - 1n;
  return (bits + d) & mask;
}

/** A binary32 encoding (not yet NaN-boxed). */
export function gen32(rng: Rng): number {
  const r = rng.int(100);
  if (r < 18) return rng.pick(SPECIAL32);
  if (r < 28) return Number(jitter(rng, BigInt(rng.pick(SPECIAL32)), 32));
  if (r < 58) return ((rng.int(2) << 31) | ((rng.int(60) + 97) << 23) | rng.int(1 << 23)) >>> 0; // moderate
  if (r < 70) return ((rng.int(2) << 31) | (rng.int(256) << 23) | (rng.u32() & ((1 << rng.int(24)) - 1))) >>> 0; // short significands
  if (r < 90) return ((rng.int(2) << 31) | (rng.int(256) << 23) | rng.int(1 << 23)) >>> 0;
  return rng.u32();
}

export function gen64(rng: Rng): bigint {
  const r = rng.int(100);
  if (r < 18) return rng.pick(SPECIAL64);
  if (r < 28) return jitter(rng, rng.pick(SPECIAL64), 64);
  const sign = BigInt(rng.int(2)) << 63n;
  if (r < 58) return sign | (BigInt(rng.int(240) + 903) << 52n) | (rng.u64() & ((1n << 52n) - 1n));
  if (r < 70) return sign | (BigInt(rng.int(2048)) << 52n) | (rng.u64() & ((1n << BigInt(rng.int(53))) - 1n));
  if (r < 76) return f64Bits(bitsF32(gen32(rng))); // a binary32 value: exercises fcvt.s.d ties and exact cases
  if (r < 90) return sign | (BigInt(rng.int(2048)) << 52n) | (rng.u64() & ((1n << 52n) - 1n));
  return rng.u64();
}

function genInt(rng: Rng): bigint {
  const r = rng.int(100);
  if (r < 25) return rng.pick(SPECIAL_INT);
  if (r < 45) return jitter(rng, rng.pick(SPECIAL_INT), 64);
  if (r < 60) return BigInt.asUintN(64, BigInt(rng.int(2001) - 1000));
  if (r < 80) {
    // An integer of random width: rounding boundaries for fcvt.s.l / fcvt.d.l.
    const w = rng.int(64) + 1;
    const v = rng.u64() & ((1n << BigInt(w)) - 1n);
    return rng.chance(0.5) ? v : BigInt.asUintN(64, -v);
  }
  // Sign-extended 32-bit value (what fcvt.s.w sees; upper bits are ignored anyway).
  return rng.chance(0.5) ? BigInt.asUintN(64, BigInt.asIntN(32, BigInt(rng.u32()))) : rng.u64();
}

/** A NaN-boxed binary32 value, occasionally not properly boxed. */
function boxed32(rng: Rng, v: number): bigint {
  if (rng.chance(0.03)) return (rng.chance(0.5) ? 0n : rng.u64() & 0xfffffffe00000000n) | BigInt(v >>> 0);
  return BOX | BigInt(v >>> 0);
}

/** A second operand related to the first: same value, neighbours, negation, cancellation. */
function related(rng: Rng, a: bigint, is32: boolean): bigint {
  const width = is32 ? 32 : 64;
  const raw = is32 ? a & 0xffffffffn : a;
  const signBit = 1n << BigInt(width - 1);
  switch (rng.int(4)) {
    case 0:
      return raw ^ signBit;
    case 1:
      return jitter(rng, raw ^ (rng.chance(0.5) ? signBit : 0n), width);
    case 2: {
      // Nearby exponent, random significand.
      const expShift = BigInt(rng.int(60) - 30) << (is32 ? 23n : 52n);
      return (raw + expShift) & ((1n << BigInt(width)) - 1n);
    }
    default:
      return raw;
  }
}

/** Generates `count` cases over all variants. */
export function generateCases(seed: number, count: number): Case[] {
  const rng = new Rng(seed);
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const variant = rng.int(VARIANTS.length);
    const op = VARIANTS[variant]!.op;
    const frm = rng.int(5);
    const is32 = op.fmt === "s";
    const f = () => (is32 ? boxed32(rng, gen32(rng)) : gen64(rng));
    let a: bigint;
    let b: bigint;
    let c: bigint;
    if (op.srcs === "x") {
      a = genInt(rng);
      b = rng.u64();
      c = rng.u64();
    } else {
      a = f();
      b = rng.chance(0.3) ? (is32 ? boxed32(rng, Number(related(rng, a, true))) : related(rng, a, false)) : f();
      c = f();
      if (op.srcs === "fff" && rng.chance(0.4)) c = fmaAddend(rng, a, b, is32);
    }
    cases.push({ variant, frm, a, b, c });
  }
  return cases;
}

/** An addend that nearly cancels a*b, or sits near a rounding boundary of it. */
function fmaAddend(rng: Rng, a: bigint, b: bigint, is32: boolean): bigint {
  if (is32) {
    const p = bitsF32(Number(a & 0xffffffffn)) * bitsF32(Number(b & 0xffffffffn));
    let cb = BigInt(f32Bits(Math.fround(rng.chance(0.5) ? -p : p * 2 ** -(rng.int(30) + 20))));
    if (rng.chance(0.5)) cb = jitter(rng, cb, 32);
    return BOX | cb;
  }
  const p = bitsF64(a) * bitsF64(b);
  const cb = f64Bits(rng.chance(0.5) ? -p : p * 2 ** -(rng.int(60) + 50));
  return rng.chance(0.5) ? jitter(rng, cb, 64) : cb;
}
