// The fast paths (binary64 arithmetic plus error-free transformations, binary32 via binary64)
// against the exact BigInt reference in ExactArithmetic.ts, operation by operation, in
// every rounding mode, results and flags. Operands concentrate on the thresholds where the
// fast paths hand over to the exact path (tiny results, huge operands, cancellation).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fpStatus } from "../../src/riscv/fpu/FFlags.js";
import { fadd64, fdiv64, fmadd64, fmul64, fsqrt64 } from "../../src/riscv/fpu/Binary64.js";
import { fadd32, fdiv32, fmadd32, fmul32, fsqrt32 } from "../../src/riscv/fpu/Binary32.js";
import {
  BINARY32,
  BINARY64,
  exactAdd,
  exactDiv,
  exactFma,
  exactMul,
  exactSqrt,
} from "../../src/riscv/fpu/ExactArithmetic.js";
import { Rng, bitsF32, bitsF64, gen32, gen64 } from "./cases.js";

const N = Number(process.env.FPU_FAST_COUNT ?? 3000);

function pow2(e: number): number {
  return 2 ** e;
}

/** A double near one of the fast-path thresholds, or from the general generator. */
function d(rng: Rng): number {
  if (rng.chance(0.35)) {
    const e = rng.pick([
      -1074, -1060, -1022, -1021, -1000, -970, -960, -900, -540, -511, 0, 500, 511, 994, 995, 996, 1000, 1023,
    ]);
    const m = 1 + rng.int(1 << 20) / 2 ** 20 + rng.int(1 << 30) * 2 ** -52;
    const v = e <= -1023 ? pow2(e) * rng.int(1 << 20) : m * pow2(Math.max(-1022, Math.min(1023, e + rng.int(5) - 2)));
    return rng.chance(0.5) ? -v : v;
  }
  const v = bitsF64(gen64(rng));
  return v === v ? v : 1.5;
}

function s(rng: Rng): number {
  const v = bitsF32(gen32(rng));
  return v === v ? v : 0.75;
}

function same(fast: () => number, exact: () => number, what: string): void {
  fpStatus.flags = 0;
  const a = fast();
  const fa = fpStatus.flags;
  fpStatus.flags = 0;
  const b = exact();
  const fb = fpStatus.flags;
  const ok = (Object.is(a, b) || (a !== a && b !== b)) && fa === fb;
  if (!ok) assert.fail(`${what}: fast ${a} flags ${fa}, exact ${b} flags ${fb}`);
}

test(`binary64 fast paths agree with exact arithmetic on ${N} operand sets in all modes`, () => {
  const rng = new Rng(12345);
  for (let i = 0; i < N; i++) {
    const a = d(rng);
    let b = rng.chance(0.3) ? -a * (1 + (rng.int(64) - 32) * 2 ** -52) : d(rng);
    if (rng.chance(0.1)) b = a * pow2(rng.int(40) - 20);
    let c = d(rng);
    if (rng.chance(0.5)) c = -(a * b) * (rng.chance(0.5) ? 1 : 1 + (rng.int(16) - 8) * 2 ** -52);
    if (rng.chance(0.1)) c = a * b * pow2(-(rng.int(60) + 40));
    for (let rm = 0; rm < 5; rm++) {
      const tag = `a=${a} b=${b} c=${c} rm=${rm}`;
      same(
        () => fadd64(a, b, rm),
        () => exactAdd(a, b, BINARY64, rm),
        `fadd ${tag}`,
      );
      same(
        () => fmul64(a, b, rm),
        () => exactMul(a, b, BINARY64, rm),
        `fmul ${tag}`,
      );
      same(
        () => fdiv64(a, b, rm),
        () => exactDiv(a, b, BINARY64, rm),
        `fdiv ${tag}`,
      );
      same(
        () => fsqrt64(Math.abs(a), rm),
        () => exactSqrt(Math.abs(a), BINARY64, rm),
        `fsqrt ${tag}`,
      );
      same(
        () => fmadd64(a, b, c, rm),
        () => exactFma(a, b, c, BINARY64, rm),
        `fmadd ${tag}`,
      );
    }
  }
});

test(`binary32 paths agree with exact arithmetic on ${N} operand sets in all modes`, () => {
  const rng = new Rng(777);
  for (let i = 0; i < N; i++) {
    const a = s(rng);
    const b = rng.chance(0.3) ? Math.fround(-a * (1 + (rng.int(64) - 32) * 2 ** -23)) : s(rng);
    let c = s(rng);
    if (rng.chance(0.5)) c = Math.fround(-(a * b) * (rng.chance(0.5) ? 1 : 1 + (rng.int(16) - 8) * 2 ** -23));
    for (let rm = 0; rm < 5; rm++) {
      const tag = `a=${a} b=${b} c=${c} rm=${rm}`;
      same(
        () => fadd32(a, b, rm),
        () => exactAdd(a, b, BINARY32, rm),
        `fadd.s ${tag}`,
      );
      same(
        () => fmul32(a, b, rm),
        () => exactMul(a, b, BINARY32, rm),
        `fmul.s ${tag}`,
      );
      same(
        () => fdiv32(a, b, rm),
        () => exactDiv(a, b, BINARY32, rm),
        `fdiv.s ${tag}`,
      );
      same(
        () => fsqrt32(Math.abs(a), rm),
        () => exactSqrt(Math.abs(a), BINARY32, rm),
        `fsqrt.s ${tag}`,
      );
      same(
        () => fmadd32(a, b, c, rm),
        () => exactFma(a, b, c, BINARY32, rm),
        `fmadd.s ${tag}`,
      );
    }
  }
});
