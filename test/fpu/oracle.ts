// Differential oracle for the FPU: Debian's qemu-riscv64 (user mode, softfloat: an exact
// IEEE 754 reference) runs a tiny RISC-V program that executes one F/D instruction per
// record of its input and reports the result registers and fflags. The same instruction
// words run through executeFp, and everything is compared bit for bit.
//
// The program is generated from OPS below: one 8-byte stub "<insn>; j next" per
// (operation, rounding-mode) variant, so the instruction words come from the real assembler.
// Record in:  u32 stub index, u32 frm, u64 fa0, u64 fa1, u64 fa2 (a0 = the fa0 bits too).
// Record out: u64 fa0, u64 a0, u64 fflags, after the instruction.

import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Fmt = "s" | "d";
/** Operand shapes: f sources (count), or one integer source; destination f or x. */
export interface OpSpec {
  readonly mnemonic: string; // e.g. "fadd.s"
  readonly fmt: Fmt; // format of the floating-point operands (the source format for fcvt.d.s etc.)
  readonly srcs: "f" | "ff" | "fff" | "x";
  readonly dest: "f" | "x";
  readonly rounding: boolean; // takes a rounding-mode operand
  readonly intKind?: "w" | "wu" | "l" | "lu";
}

function ops(): OpSpec[] {
  const list: OpSpec[] = [];
  for (const fmt of ["s", "d"] as const) {
    const o = (
      m: string,
      srcs: OpSpec["srcs"],
      dest: OpSpec["dest"],
      rounding: boolean,
      intKind?: OpSpec["intKind"],
      f: Fmt = fmt,
    ) => list.push({ mnemonic: m, fmt: f, srcs, dest, rounding, intKind });
    for (const m of ["fadd", "fsub", "fmul", "fdiv"]) o(`${m}.${fmt}`, "ff", "f", true);
    o(`fsqrt.${fmt}`, "f", "f", true);
    for (const m of ["fmadd", "fmsub", "fnmsub", "fnmadd"]) o(`${m}.${fmt}`, "fff", "f", true);
    for (const m of ["fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"]) o(`${m}.${fmt}`, "ff", "f", false);
    for (const m of ["feq", "flt", "fle"]) o(`${m}.${fmt}`, "ff", "x", false);
    o(`fclass.${fmt}`, "f", "x", false);
    for (const k of ["w", "wu", "l", "lu"] as const) {
      o(`fcvt.${k}.${fmt}`, "f", "x", true, k);
      // binutils takes no rounding operand on the always-exact fcvt.d.w/fcvt.d.wu.
      o(`fcvt.${fmt}.${k}`, "x", "f", !(fmt === "d" && (k === "w" || k === "wu")), k);
    }
    o(fmt === "s" ? "fmv.x.w" : "fmv.x.d", "f", "x", false);
    o(fmt === "s" ? "fmv.w.x" : "fmv.d.x", "x", "f", false);
  }
  list.push({ mnemonic: "fcvt.s.d", fmt: "d", srcs: "f", dest: "f", rounding: true });
  list.push({ mnemonic: "fcvt.d.s", fmt: "s", srcs: "f", dest: "f", rounding: false });
  return list;
}

export const OPS: readonly OpSpec[] = ops();

/** Rounding-mode operands: dyn (uses frm) and each static mode, Unprivileged ISA Table 11.1. */
export const RM_NAMES = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"] as const;

export interface Variant {
  readonly op: OpSpec;
  readonly rm: string | null; // static rounding operand, or null when the op has none
}

export const VARIANTS: readonly Variant[] = OPS.flatMap((op): Variant[] =>
  op.rounding ? RM_NAMES.map((rm) => ({ op, rm })) : [{ op, rm: null }],
);

function asmLine(v: Variant): string {
  const { op } = v;
  const dst = op.dest === "f" ? "fa0" : "a0";
  const srcs = op.srcs === "x" ? ["a0"] : ["fa0", "fa1", "fa2"].slice(0, op.srcs.length);
  const rm = v.rm === null ? [] : [v.rm];
  return `${op.mnemonic} ${[dst, ...srcs, ...rm].join(", ")}`;
}

export const MAX_BATCH = 100_000;

function programSource(): string {
  const stubs = VARIANTS.map((v, i) => `stub${i}:\n  ${asmLine(v)}\n  j after`).join("\n");
  return `
  .option norvc
  .section .text
  .globl _start
_start:
  la s0, inbuf
  li s1, 0
1:
  li a0, 0
  add a1, s0, s1
  li a2, ${MAX_BATCH * 32}
  sub a2, a2, s1
  beqz a2, 2f
  li a7, 63          # read
  ecall
  blez a0, 2f
  add s1, s1, a0
  j 1b
2:
  la s2, outbuf
  mv s3, s0
  add s4, s0, s1
loop:
  bgeu s3, s4, done
  lwu t0, 0(s3)
  lwu t1, 4(s3)
  fsrm t1
  fsflags zero
  fld fa0, 8(s3)
  fld fa1, 16(s3)
  fld fa2, 24(s3)
  ld a0, 8(s3)
  la t2, stubs
  slli t0, t0, 3
  add t2, t2, t0
  jr t2
after:
  frflags t3
  fsd fa0, 0(s2)
  sd a0, 8(s2)
  sd t3, 16(s2)
  addi s2, s2, 24
  addi s3, s3, 32
  j loop
done:
  la s5, outbuf
3:
  bgeu s5, s2, 4f
  li a0, 1
  mv a1, s5
  sub a2, s2, s5
  li a7, 64          # write
  ecall
  blez a0, 5f
  add s5, s5, a0
  j 3b
4:
  li a0, 0
  li a7, 93          # exit
  ecall
5:
  li a0, 1
  li a7, 93
  ecall
  .balign 8
stubs:
${stubs}
  .bss
  .balign 8
inbuf: .space ${MAX_BATCH * 32}
outbuf: .space ${MAX_BATCH * 24}
`;
}

export interface Oracle {
  readonly exe: string;
  /** Instruction word of each variant (rd = fa0/a0, rs1 = fa0/a0, rs2 = fa1, rs3 = fa2). */
  readonly words: Uint32Array;
}

/** Why the oracle cannot run here, or null when the tools are present. */
export function oracleUnavailable(): string | null {
  for (const tool of ["riscv64-linux-gnu-gcc", "riscv64-linux-gnu-objcopy", "qemu-riscv64"]) {
    const r = spawnSync("sh", ["-c", `command -v ${tool}`]);
    if (r.status !== 0)
      return `${tool} not installed (apt: gcc-riscv64-linux-gnu, binutils-riscv64-linux-gnu, qemu-user)`;
  }
  return null;
}

/** Assembles the oracle program (cached in the temp directory by source hash). */
export function buildOracle(): Oracle {
  const src = programSource();
  const dir = join(tmpdir(), `typevisor-fpu-oracle-${createHash("sha256").update(src).digest("hex").slice(0, 16)}`);
  const exe = join(dir, "fpu-oracle");
  const stubsBin = join(dir, "stubs.bin");
  if (!existsSync(exe) || !existsSync(stubsBin)) {
    // Several test processes may build at once: each works on its own temporary names and
    // renames into place (stubs first, so a present exe implies complete stubs).
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `build-${process.pid}-${Date.now()}`);
    mkdirSync(tmp);
    try {
      const srcFile = join(tmp, "fpu-oracle.S");
      const tmpExe = join(tmp, "fpu-oracle");
      writeFileSync(srcFile, src);
      execFileSync("riscv64-linux-gnu-gcc", [
        "-march=rv64gc",
        "-mabi=lp64d",
        "-nostdlib",
        "-static",
        "-o",
        tmpExe,
        srcFile,
      ]);
      // The stubs start at symbol "stubs": dump .text and locate it through the symbol table.
      const nm = execFileSync("riscv64-linux-gnu-nm", [tmpExe]).toString();
      const sym = (name: string) => {
        const m = new RegExp(`^([0-9a-f]+) [tT] ${name}$`, "m").exec(nm);
        if (!m) throw new Error(`symbol ${name} missing from oracle program`);
        return parseInt(m[1]!, 16);
      };
      const textBin = join(tmp, "text.bin");
      execFileSync("riscv64-linux-gnu-objcopy", ["-O", "binary", "--only-section=.text", tmpExe, textBin]);
      const text = readFileSync(textBin);
      const off = sym("stubs") - sym("_start");
      writeFileSync(join(tmp, "stubs.bin"), text.subarray(off, off + VARIANTS.length * 8));
      renameSync(join(tmp, "stubs.bin"), stubsBin);
      renameSync(tmpExe, exe);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const raw = readFileSync(stubsBin);
  const words = new Uint32Array(VARIANTS.length);
  for (let i = 0; i < VARIANTS.length; i++) words[i] = raw.readUInt32LE(i * 8);
  return { exe, words };
}

export interface Case {
  variant: number;
  frm: number;
  a: bigint; // 64-bit patterns loaded into fa0 (and a0), fa1, fa2
  b: bigint;
  c: bigint;
}

export interface Outcome {
  fa0: bigint;
  a0: bigint;
  fflags: number;
}

/** Runs the cases on qemu-riscv64, in batches. */
export function runOnQemu(oracle: Oracle, cases: readonly Case[]): Outcome[] {
  const out: Outcome[] = [];
  for (let start = 0; start < cases.length; start += MAX_BATCH) {
    const batch = cases.slice(start, start + MAX_BATCH);
    const input = Buffer.alloc(batch.length * 32);
    batch.forEach((c, i) => {
      input.writeUInt32LE(c.variant, i * 32);
      input.writeUInt32LE(c.frm, i * 32 + 4);
      input.writeBigUInt64LE(c.a, i * 32 + 8);
      input.writeBigUInt64LE(c.b, i * 32 + 16);
      input.writeBigUInt64LE(c.c, i * 32 + 24);
    });
    const res = execFileSync("qemu-riscv64", [oracle.exe], { input, maxBuffer: 64 << 20 });
    if (res.length !== batch.length * 24)
      throw new Error(`oracle returned ${res.length} bytes, expected ${batch.length * 24}`);
    for (let i = 0; i < batch.length; i++) {
      out.push({
        fa0: res.readBigUInt64LE(i * 24),
        a0: res.readBigUInt64LE(i * 24 + 8),
        fflags: Number(res.readBigUInt64LE(i * 24 + 16)),
      });
    }
  }
  return out;
}
