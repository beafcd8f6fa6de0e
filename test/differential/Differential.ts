// The differential harness: generates a batch of sequences from a seed, runs the batch's ELF on
// Debian's qemu-riscv64 (user mode) and on Typevisor's hart (in-process, M-mode, ecall served by
// the host), and compares every record (x1..x31, f0..f31, fcsr, 256 bytes of scratch memory).
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Random } from "./Random.js";
import { ALL_CLASSES, SCRATCH_BYTES, randomF, randomX, sequence, type InsnClass, type Insn } from "./Generator.js";
import {
  buildProgram,
  CODE_VADDR,
  DATA_VADDR,
  F_OFF,
  FCSR_OFF,
  RECORD_BYTES,
  X_OFF,
  type InitialState,
  type BuiltProgram,
} from "./TestProgram.js";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { Hart, ExitReason, PRIV_M } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";

export interface BatchOptions {
  seed: number;
  batch: number;
  sequences: number;
  length: number;
  classes?: readonly InsnClass[];
  /** Run the whole batch this many times (later passes start from the previous final states). */
  passes?: number;
}

export interface Batch {
  opts: BatchOptions;
  sequences: Insn[][];
  init: InitialState[];
  program: BuiltProgram;
}

export function makeBatch(opts: BatchOptions): Batch {
  // One PRNG stream per (seed, batch): any batch can be regenerated alone.
  const rng = new Random((Math.imul(opts.seed, 0x9e3779b1) ^ Math.imul(opts.batch + 1, 0x85ebca77)) >>> 0);
  const sequences: Insn[][] = [];
  const init: InitialState[] = [];
  for (let n = 0; n < opts.sequences; n++) {
    const x = Array.from({ length: 32 }, () => randomX(rng));
    const f = Array.from({ length: 32 }, () => randomF(rng));
    const fcsr = (rng.int(5) << 5) | rng.int(32);
    const scratch = new Uint8Array(SCRATCH_BYTES);
    for (let k = 0; k < SCRATCH_BYTES; k += 4) {
      const v = rng.chance(0.3) ? 0 : rng.u32();
      scratch[k] = v & 0xff;
      scratch[k + 1] = (v >>> 8) & 0xff;
      scratch[k + 2] = (v >>> 16) & 0xff;
      scratch[k + 3] = v >>> 24;
    }
    init.push({ x, f, fcsr, scratch });
    sequences.push(sequence(rng, opts.length, { classes: opts.classes ?? ALL_CLASSES }));
  }
  return { opts, sequences, init, program: buildProgram(sequences, init, opts.passes ?? 1) };
}

export interface RunOutput {
  /** Concatenated records written to fd 1. */
  out: Uint8Array;
  /** Why the run ended abnormally, if it did. */
  error?: string;
}

let workDir: string | undefined;
export function runQemu(program: BuiltProgram): RunOutput {
  workDir ??= mkdtempSync(join(tmpdir(), "tv-diff-"));
  const path = join(workDir, "batch.elf");
  writeFileSync(path, program.elf, { mode: 0o755 });
  const r = spawnSync("qemu-riscv64", ["-cpu", "rv64,zba=true,zbb=true,zbs=true", path], {
    maxBuffer: 1 << 28,
    timeout: 60_000,
  });
  const out = new Uint8Array(r.error ? new Uint8Array(0) : r.stdout);
  if (r.error) return { out, error: `qemu-riscv64 failed to run: ${r.error.message}` };
  if (r.status !== 0)
    return { out, error: `qemu-riscv64 exited with ${r.signal ?? r.status}: ${r.stderr.toString().trim()}` };
  return { out };
}

export function cleanupQemuDir(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

const MEM_BASE = 0x40_0000;
const MEM_SIZE = 0x40_0000;

export interface EngineOptions {
  /** Extra bytes after RAM for engine state (the binary translator needs DBT_ENGINE_BYTES). */
  engineBytes?: number;
  /** Called with the fresh hart before it runs (e.g. to attach the binary translator). */
  prepare?(hart: Hart): void;
}

/**
 * The binary translator as an engine option, loaded at run time (src/dbt/Dbt.ts: attachDbt and
 * DBT_ENGINE_BYTES) with a hot threshold of 1 so nearly all code runs translated. Returns the
 * reason as a string when the translator isn't there.
 */
export async function loadDbtEngine(): Promise<EngineOptions | string> {
  const url = new URL("../../src/dbt/Dbt.js", import.meta.url).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    return `the binary translator is not available: ${e instanceof Error ? e.message : String(e)}`;
  }
  const attach = mod["attachDbt"];
  const bytes = mod["DBT_ENGINE_BYTES"];
  if (typeof attach !== "function" || typeof bytes !== "number")
    return "src/dbt/Dbt.ts does not export attachDbt and DBT_ENGINE_BYTES";
  return {
    engineBytes: bytes,
    prepare: (hart: Hart) => {
      (attach as (h: Hart, o: { hotThreshold: number }) => unknown)(hart, { hotThreshold: 1 });
    },
  };
}

/** Runs the batch on a Typevisor hart in M-mode; ecall (cause 11) is the host's write/exit. */
export function runTypevisor(program: BuiltProgram, engine: EngineOptions = {}): RunOutput {
  const memory = new GuestMemory({
    base: MEM_BASE,
    size: MEM_SIZE,
    shared: engine.engineBytes !== undefined,
    engineBytes: engine.engineBytes,
  });
  // Load the two PT_LOAD segments from the ELF we wrote (layout in TestProgram.ts).
  const dv = new DataView(program.elf.buffer, program.elf.byteOffset, program.elf.byteLength);
  for (let p = 0; p < 2; p++) {
    const o = 64 + 56 * p;
    const off = Number(dv.getBigUint64(o + 8, true));
    const vaddr = Number(dv.getBigUint64(o + 16, true));
    const size = Number(dv.getBigUint64(o + 32, true));
    memory.write(gpa(vaddr), program.elf.subarray(off, off + size));
  }
  const hart = new Hart({ memory, bus: new IoBus() });
  hart.priv = PRIV_M;
  hart.writeCsr(0x300, 1n << 13n); // mstatus.FS = Initial: the FPU is usable, as for a Linux process
  hart.exitMask = 0xffff_ffff; // every exception comes back to the host
  hart.setPc(BigInt(CODE_VADDR));
  engine.prepare?.(hart);
  const chunks: Uint8Array[] = [];
  let total = 0;
  // 1000 budget exits of 1e6 instructions each; system calls (one write per sequence and pass) do not count.
  for (let guard = 0; guard < 1000;) {
    const reason = hart.run(1_000_000);
    if (reason !== ExitReason.Trap) {
      guard++;
      continue;
    }
    const pc = hart.getPc();
    if (hart.exitCause !== 11) {
      return {
        out: concat(chunks, total),
        error: `Typevisor raised exception cause ${hart.exitCause} (tval 0x${hart.exitTval.toString(16)}) at pc 0x${pc.toString(16)}`,
      };
    }
    const nr = Number(hart.getX(17));
    if (nr === 93) return { out: concat(chunks, total) };
    if (nr !== 64)
      return { out: concat(chunks, total), error: `unexpected system call ${nr} at pc 0x${pc.toString(16)}` };
    const data = memory.read(gpa(Number(hart.getX(11))), Number(hart.getX(12)));
    chunks.push(data);
    total += data.length;
    hart.setX(10, BigInt(data.length));
    hart.setPc(pc + 4n);
  }
  return { out: concat(chunks, total), error: "Typevisor did not reach exit() within 1e9 instructions" };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const XN = [
  "zero",
  "ra",
  "sp",
  "gp",
  "tp",
  "t0",
  "t1",
  "t2",
  "s0",
  "s1",
  "a0",
  "a1",
  "a2",
  "a3",
  "a4",
  "a5",
  "a6",
  "a7",
  "s2",
  "s3",
  "s4",
  "s5",
  "s6",
  "s7",
  "s8",
  "s9",
  "s10",
  "s11",
  "t3",
  "t4",
  "t5",
  "t6",
];
const hex = (v: bigint) => `0x${v.toString(16).padStart(16, "0")}`;

export interface Mismatch {
  batch: number;
  sequence: number;
  report: string;
}

/** Compares the two outputs record by record; returns a readable report per differing sequence. */
export function compare(b: Batch, qemu: RunOutput, tv: RunOutput, maxReports = 3): Mismatch[] {
  const out: Mismatch[] = [];
  const n = b.sequences.length * (b.opts.passes ?? 1);
  const header = `seed ${b.opts.seed} batch ${b.opts.batch} (reproduce: node dist/test/differential/fuzz.js --seed ${b.opts.seed} --batch ${b.opts.batch} --sequences ${b.opts.sequences} --length ${b.opts.length}${b.opts.passes && b.opts.passes > 1 ? ` --passes ${b.opts.passes}` : ""}${b.opts.classes ? ` --classes ${b.opts.classes.join(",")}` : ""})`;
  if (qemu.error) out.push({ batch: b.opts.batch, sequence: -1, report: `${header}\nQEMU: ${qemu.error}` });
  for (let rec = 0; rec < n && out.length < maxReports; rec++) {
    const s = rec % b.sequences.length;
    const pass = Math.floor(rec / b.sequences.length);
    const o = rec * RECORD_BYTES;
    const q = qemu.out.subarray(o, o + RECORD_BYTES);
    const t = tv.out.subarray(o, o + RECORD_BYTES);
    if (q.length < RECORD_BYTES && qemu.error) break;
    const diffs: string[] = [];
    if (t.length < RECORD_BYTES) {
      diffs.push(`Typevisor produced no record for this sequence${tv.error ? `: ${tv.error}` : ""}`);
    } else {
      const qd = new DataView(q.buffer, q.byteOffset, q.byteLength);
      const td = new DataView(t.buffer, t.byteOffset, t.byteLength);
      for (let r = 1; r < 32; r++) {
        const a = qd.getBigUint64(X_OFF + 8 * r, true),
          c = td.getBigUint64(X_OFF + 8 * r, true);
        if (a !== c) diffs.push(`x${r} (${XN[r]}): qemu ${hex(a)} typevisor ${hex(c)}`);
      }
      for (let r = 0; r < 32; r++) {
        const a = qd.getBigUint64(F_OFF + 8 * r, true),
          c = td.getBigUint64(F_OFF + 8 * r, true);
        if (a !== c) diffs.push(`f${r}: qemu ${hex(a)} typevisor ${hex(c)}`);
      }
      const fa = qd.getBigUint64(FCSR_OFF, true),
        fc = td.getBigUint64(FCSR_OFF, true);
      if (fa !== fc)
        diffs.push(`fcsr: qemu 0x${fa.toString(16)} typevisor 0x${fc.toString(16)} (frm<<5 | NV DZ OF UF NX)`);
      for (let k = 0; k < SCRATCH_BYTES; k += 8) {
        const a = qd.getBigUint64(k, true),
          c = td.getBigUint64(k, true);
        if (a !== c) diffs.push(`mem[s1+${k}]: qemu ${hex(a)} typevisor ${hex(c)}`);
      }
    }
    if (diffs.length === 0) continue;
    const init = b.init[s]!;
    const lines = [
      `MISMATCH in sequence ${s}${pass ? ` (pass ${pass + 1}: started from pass ${pass}'s final state, not the one below)` : ""} of ${header}`,
      `differences:`,
      ...diffs.map((d) => `  ${d}`),
      `sequence (at 0x${b.program.sequenceStart[s]!.toString(16)}):`,
      ...disassemble(b, s),
      `initial state: fcsr 0x${init.fcsr.toString(16)}`,
      ...init.x.map((v, r) => (r === 0 ? "" : `  x${r} (${XN[r]}) = ${hex(v)}`)).filter(Boolean),
      ...init.f.map((v, r) => `  f${r} = ${hex(v)}`),
      `  scratch (s1 = 0x${(DATA_VADDR + s * RECORD_BYTES).toString(16)}): ${Buffer.from(init.scratch).toString("hex")}`,
    ];
    out.push({ batch: b.opts.batch, sequence: s, report: lines.join("\n") });
  }
  if (out.length === 0 && tv.error)
    out.push({ batch: b.opts.batch, sequence: -1, report: `${header}\nTypevisor: ${tv.error}` });
  if (out.length === 0 && tv.out.length !== qemu.out.length) {
    out.push({
      batch: b.opts.batch,
      sequence: -1,
      report: `${header}\noutput lengths differ: qemu ${qemu.out.length} typevisor ${tv.out.length}`,
    });
  }
  return out;
}

/** objdump's disassembly of one sequence when binutils is there; the generator's own text otherwise. */
function disassemble(b: Batch, s: number): string[] {
  const own = b.sequences[s]!.map(
    (i) =>
      `  ${(i.size === 4 ? i.word.toString(16).padStart(8, "0") : i.word.toString(16).padStart(4, "0")).padEnd(8)}  ${i.text}`,
  );
  const start = b.program.sequenceStart[s]!,
    end = b.program.sequenceEnd[s]!;
  if (end === start) return ["  (empty)"];
  workDir ??= mkdtempSync(join(tmpdir(), "tv-diff-"));
  const raw = join(workDir, `seq-${s}.bin`);
  const codeOff = 0x1000 + (start - CODE_VADDR);
  writeFileSync(raw, b.program.elf.subarray(codeOff, codeOff + (end - start)));
  const r = spawnSync(
    "riscv64-linux-gnu-objdump",
    ["-D", "-b", "binary", "-m", "riscv:rv64", "-M", "no-aliases", `--adjust-vma=0x${start.toString(16)}`, raw],
    { encoding: "utf8" },
  );
  if (r.status !== 0) return own;
  const lines = r.stdout
    .split("\n")
    .filter((l) => /^\s+[0-9a-f]+:\t/.test(l))
    .map((l) => l.trim().replace(/\s+/g, " "));
  if (lines.length !== own.length) return own;
  // objdump 2.40 prints Zb* as .4byte without an arch option: keep the generator's text beside it.
  return lines.map((l, k) => `  ${l.padEnd(48)} ; ${b.sequences[s]![k]!.text}`);
}
