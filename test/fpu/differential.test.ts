// executeFp against Debian's qemu-riscv64 (softfloat) on thousands of seeded edge-case and
// random operand sets, every F/D computational instruction and every rounding mode (static
// and dynamic): results, untouched registers and fflags must match bit for bit.
// More cases locally: FPU_DIFF_COUNT=1000000 [FPU_DIFF_SEED=n] node --test dist/test/fpu/
import { test } from "node:test";
import assert from "node:assert/strict";
import { executeFp } from "../../src/riscv/fpu/index.js";
import { VARIANTS, buildOracle, oracleUnavailable, runOnQemu, type Case, type Outcome } from "./oracle.js";
import { generateCases } from "./cases.js";

const COUNT = Number(process.env.FPU_DIFF_COUNT ?? 6000);
const SEED = Number(process.env.FPU_DIFF_SEED ?? 20260101);

function hex(v: bigint): string {
  return "0x" + v.toString(16).padStart(16, "0");
}

function runOurs(word: number, c: Case): Outcome {
  const fi = new Int32Array(64);
  const x = new Int32Array(64);
  const f = new Float64Array(fi.buffer);
  const set = (arr: Int32Array, r: number, v: bigint) => {
    arr[2 * r] = Number(v & 0xffffffffn) | 0;
    arr[2 * r + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
  };
  set(fi, 10, c.a);
  set(fi, 11, c.b);
  set(fi, 12, c.c);
  set(x, 10, c.a);
  const ctx = { x, fi, f, frm: c.frm, fflags: 0 };
  if (!executeFp(ctx, word)) throw new Error(`executeFp rejected 0x${word.toString(16)}`);
  const get = (arr: Int32Array, r: number) => (BigInt(arr[2 * r + 1]! >>> 0) << 32n) | BigInt(arr[2 * r]! >>> 0);
  return { fa0: get(fi, 10), a0: get(x, 10), fflags: ctx.fflags };
}

test(`executeFp matches qemu-riscv64 bit for bit on ${COUNT} seeded cases (seed ${SEED})`, (t) => {
  const why = oracleUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const oracle = buildOracle();
  const cases = generateCases(SEED, COUNT);
  const expected = runOnQemu(oracle, cases);
  const failures: string[] = [];
  const perOp = new Map<string, number>();
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const v = VARIANTS[c.variant]!;
    const got = runOurs(oracle.words[c.variant]!, c);
    const exp = expected[i]!;
    if (got.fa0 !== exp.fa0 || got.a0 !== exp.a0 || got.fflags !== exp.fflags) {
      const name = `${v.op.mnemonic}${v.rm ? "," + v.rm : ""}`;
      perOp.set(name, (perOp.get(name) ?? 0) + 1);
      if (failures.length < 25) {
        failures.push(
          `#${i} ${name} frm=${c.frm} a=${hex(c.a)} b=${hex(c.b)} c=${hex(c.c)}: ` +
            `qemu fa0=${hex(exp.fa0)} a0=${hex(exp.a0)} flags=${exp.fflags}, ours fa0=${hex(got.fa0)} a0=${hex(got.a0)} flags=${got.fflags}`,
        );
      }
    }
  }
  if (failures.length) {
    const summary = [...perOp].map(([k, n]) => `${k}: ${n}`).join(", ");
    assert.fail(`mismatches (${summary}):\n${failures.join("\n")}`);
  }
});
