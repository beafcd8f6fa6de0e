// Every row of the opcode table (src/riscv/Opcodes.ts) that the translator emits WebAssembly for,
// run translated and interpreted on random operands (edge values included), compared in lockstep
// (registers, f registers, fcsr, pc, instret, RAM). A new translated instruction class gets its
// lockstep test by being marked translated in the table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExitReason } from "../../src/riscv/Hart.js";
import { OPCODES, lookupOpcode, type Opcode } from "../../src/riscv/Opcodes.js";
import { lockstep } from "../../src/dbt/Lockstep.js";
import { formatDbtStats } from "../../src/dbt/Dbt.js";
import { RAM_BASE } from "../riscv/asm.js";
import { dbtMachine, pair } from "./machine.js";
import { gpa } from "../../src/memory/Address.js";

const MSTATUS = 0x300,
  FS_DIRTY = 3n << 13n;
const BASE = 6; // the base register of loads, stores and AMOs: points into a data page
const DATA = RAM_BASE + 0x10000;
const COUNTER = 7; // the loop counter: the instances run PASSES times, so the later passes run translated
const PASSES = 16;
const PER_ROW = 40;

/** xorshift32 with a fixed seed: the same programs every run. */
let seed = 0x1234567;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const pick = <T>(a: readonly T[]): T => a[rnd() % a.length]!;

const EDGES = [
  0n,
  1n,
  -1n,
  2n,
  31n,
  32n,
  63n,
  64n,
  0x7fffffffn,
  -0x80000000n,
  0xffffffffn,
  0x7fffffffffffffffn,
  -0x8000000000000000n,
  0x8000n,
  -2n,
];
function xValue(): bigint {
  return rnd() % 3 === 0 ? pick(EDGES) : BigInt.asIntN(64, (BigInt(rnd()) << 32n) | BigInt(rnd()));
}
const f64bits = (v: number): bigint => new BigInt64Array(new Float64Array([v]).buffer)[0]!;
function fValue(): bigint {
  switch (rnd() % 6) {
    case 5:
    case 0:
      return f64bits(pick([0, -0, 1, -1, 0.5, 2 ** 53, -(2 ** 63), 2 ** 63, Infinity, -Infinity, NaN, 1e-310, 3.5]));
    case 1:
      return f64bits((rnd() | 0) * 1024); // an exact integer
    case 2:
      return f64bits(rnd() / 7);
    case 3:
      return (0xffffffffn << 32n) | BigInt(rnd()); // a NaN-boxed single
    default:
      return BigInt.asIntN(64, (BigInt(rnd()) << 32n) | BigInt(rnd()));
  }
}

/** A normal double of moderate magnitude, or an exact integer. */
function ordinaryF(): bigint {
  return rnd() % 4 === 0
    ? f64bits((rnd() | 0) % 100000)
    : f64bits((rnd() % 2 ? -1 : 1) * (1 + rnd() / 2 ** 32) * 2 ** ((rnd() % 81) - 40));
}

/** One random instance of the row (operands, immediates, rounding mode), constrained to run safely. */
function instance(o: Opcode): number {
  for (;;) {
    let insn = o.match | (rnd() & ~o.mask) | 0;
    const major = insn & 0x7f;
    const mem = major === 0x03 || major === 0x23 || major === 0x07 || major === 0x27 || major === 0x2f;
    if (mem) {
      insn = (insn & ~(31 << 15)) | (BASE << 15);
      // mostly naturally aligned immediates (imm[2:0] = 0); misaligned ones exit to the interpreter
      if (rnd() % 8 !== 0) insn &= major === 0x23 || major === 0x27 ? ~(7 << 7) : major === 0x2f ? -1 : ~(7 << 20);
    }
    if (o.rd === "x" && (((insn >>> 7) & 31) === BASE || ((insn >>> 7) & 31) === COUNTER)) continue; // keep base and counter
    // Rounding modes: rows translated for round-to-nearest-even only get RNE or DYN (frm = RNE) mostly.
    if (o.rm && rnd() % 2 === 0) insn = (insn & ~(7 << 12)) | (pick([0, 1, 2, 3, 4, 7]) << 12);
    // ... and operands mostly from f0..f15, which hold ordinary numbers (f16..f31 hold the edge cases).
    if (o.rneOnly && rnd() % 8 !== 0)
      insn = (insn & ~(7 << 12) & ~(0x3ff << 15)) | (pick([0, 7]) << 12) | ((rnd() & 15) << 15) | ((rnd() & 15) << 20);
    if (major === 0x63) {
      // a short forward branch: +4 or +8 (over the next instruction)
      insn &= 0x01fff07f;
      insn |= ((((rnd() % 2) + 1) * 4) & 0x1e) << 7;
    }
    if (major === 0x6f) insn = (insn & 0xfff) | ((((rnd() % 2) + 1) * 4) << 20); // JAL +4 / +8 (imm[10:1] at 30:21)
    if (lookupOpcode(insn) === o) return insn;
  }
}

const rows = OPCODES.filter((o) => o.translated && o.name !== "jalr");

test(`every translated opcode row (${rows.length}) matches the interpreter on random operands`, () => {
  const failures: string[] = [];
  let translated = 0;
  for (const o of rows) {
    // The instances in a loop: nop; 1: instances; nop; addi x7, x7, -1; bnez x7, 1b; ebreak. The first
    // passes fill the fetch cache, the TLB mirrors and the translator's block starts (every exit
    // adds one); the later ones run translated. A last jump or branch may skip the nop after them.
    const words: number[] = [0x00000013];
    for (let i = 0; i < PER_ROW; i++) words.push(instance(o));
    const back = -4 * (PER_ROW + 2); // from the bnez back to the first instance
    const bimm =
      ((back & 0x1e) << 7) | (((back >>> 11) & 1) << 7) | (((back >>> 5) & 0x3f) << 25) | (((back >>> 12) & 1) << 31);
    words.push(
      0x00000013,
      0xfff38393 /* addi x7, x7, -1 */,
      bimm | (COUNTER << 15) | (1 << 12) | 0x63 | 0 /* bne x7, x0 */,
      0x00100073,
    );
    const code = new Uint8Array(new Uint32Array(words).buffer);
    const a = dbtMachine(code, true, { hotThreshold: 1 }),
      b = dbtMachine(code, false);
    for (const m of [a, b]) {
      m.hart.exitMask = 1 << 3;
      m.hart.writeCsr(MSTATUS, FS_DIRTY);
    }
    for (let r = 1; r < 32; r++) {
      const v = r === BASE ? BigInt(DATA) : r === COUNTER ? BigInt(PASSES) : xValue();
      a.hart.setX(r, v);
      b.hart.setX(r, v);
    }
    for (let r = 0; r < 32; r++) {
      const v = r < 16 ? ordinaryF() : fValue();
      a.hart.setF(r, v);
      b.hart.setF(r, v);
    }
    const data = new Uint8Array(8192);
    for (let i = 0; i < data.length; i++) data[i] = rnd() & 0xff;
    a.memory.write(gpa(DATA - 4096), data);
    b.memory.write(gpa(DATA - 4096), data);
    a.hart.run(1);
    b.hart.run(1);
    const r = lockstep(a.hart, b.hart, { chunk: 100_000, maxInsns: 100_000, compareRam: true });
    if (r.divergence !== undefined) failures.push(`${o.name}: ${r.divergence}`);
    else if (r.reason !== ExitReason.Trap || a.hart.exitCause !== 3)
      failures.push(`${o.name}: did not reach its ebreak (reason ${r.reason}, cause ${a.hart.exitCause})`);
    const t = a.dbt!.stats.translatedInsns;
    if (t === 0)
      failures.push(
        `${o.name}: nothing ran translated (the row is marked translated)\n${formatDbtStats(a.dbt!.stats)}`,
      );
    translated += t;
  }
  assert.deepEqual(failures, []);
  assert.ok(translated > (rows.length * PER_ROW) / 2, `only ${translated} instructions ran translated`);
});

// The inexact flag of translated FADD/FSUB/FMUL/FDIV.D per operation: each operation on each operand
// pair alone, in a loop that runs translated, compared with the interpreter (result and fflags), so
// a wrong NX shows even though most operations of a longer run would be inexact. Operands: exact
// cases (small integers, powers of two, exact quotients), inexact ones, and the edges that must
// leave for the interpreter (NaN, infinities, zero divisors, subnormals, huge and tiny magnitudes).
test("translated FADD/FSUB/FMUL/FDIV.D give the interpreter's result and flags, operation by operation", () => {
  const exact = [1, 2, 3, 0.5, 0.25, 6, 1024, -8, 7, 1.5, 2 ** 40, 2 ** -40, 0, -0, 12, 4];
  const pairs: [number, number][] = [];
  for (let i = 0; i < 48; i++) {
    const k = i % 4;
    if (k === 0) pairs.push([pick(exact), pick(exact)]);
    else if (k === 1) pairs.push([(rnd() % 1000) / 8, (rnd() % 64) + 1]);
    else if (k === 2) pairs.push([rnd() / 7 - 1e8, 1 / ((rnd() % 97) + 1)]);
    else
      pairs.push([
        pick([NaN, Infinity, -Infinity, 1e-310, 2 ** 600, 2 ** -600, 0, 3]),
        pick([NaN, Infinity, 0, -0, 1e-310, 2 ** 700, 5]),
      ]);
  }
  const failures: string[] = [];
  let translated = 0;
  for (const [f7, name] of [
    [0x01, "fadd.d"],
    [0x05, "fsub.d"],
    [0x09, "fmul.d"],
    [0x0d, "fdiv.d"],
  ] as const) {
    for (const [x, y] of pairs) {
      for (const rm of [0, 7]) {
        const op = (f7 << 25) | (3 << 20) | (2 << 15) | (rm << 12) | (1 << 7) | 0x53; // OP f1, f2, f3
        // nop; 1: OP; addi x7, x7, -1; bne x7, x0, 1b; ebreak
        const words = [
          0x13,
          op,
          0xfff38393,
          ((-8 & 0x1e) << 7) | (1 << 7) | (0x3f << 25) | (1 << 31) | (COUNTER << 15) | (1 << 12) | 0x63 | 0,
          0x00100073,
        ];
        const code = new Uint8Array(new Uint32Array(words).buffer);
        const a = dbtMachine(code, true, { hotThreshold: 1 }),
          b = dbtMachine(code, false);
        for (const m of [a, b]) {
          m.hart.exitMask = 1 << 3;
          m.hart.writeCsr(MSTATUS, FS_DIRTY);
          m.hart.setX(COUNTER, 4n);
          m.hart.setF(2, f64bits(x));
          m.hart.setF(3, f64bits(y));
        }
        a.hart.run(1);
        b.hart.run(1);
        const r = lockstep(a.hart, b.hart, { chunk: 1000, maxInsns: 1000 });
        if (r.divergence !== undefined) failures.push(`${name} ${x}, ${y} (rm ${rm}): ${r.divergence}`);
        translated += a.dbt!.stats.translatedInsns;
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(translated > 4 * 48 * 2 * 4, `only ${translated} instructions ran translated`);
});
