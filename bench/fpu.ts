// FPU throughput: Typevisor's executeFp vs Debian's qemu-riscv64 (TCG + softfloat) on the same
// F/D instruction words, in the same run. Typevisor is timed on executeFp alone (no fetch or
// decode by a hart); qemu runs the instructions in a loop (2 loop instructions per 20 FP
// instructions are included in its time). Prints millions of FP instructions per second and
// the ratio, overall and per instruction.
// Usage: npx tsc -p . && node dist/bench/fpu.js [iterations]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { executeFp, type FpContext } from "../src/riscv/fpu/index.js";

const iters = Number(process.argv[2] ?? 2_000_000);

// A dependency chain that stays in the normal range: f1 converges to 1, f4 oscillates.
const fpBody = [
  "fmadd.d f1, f1, f2, f3",
  "fadd.d f4, f4, f1",
  "fmul.d f5, f4, f2",
  "fsub.d f4, f5, f4",
  "fdiv.d f6, f1, f4",
  "fsqrt.d f7, f1",
  "fmin.d f8, f6, f7",
  "feq.d t0, f8, f7",
  "fcvt.w.d t1, f6, rtz",
  "fcvt.d.w f9, t1",
  "fadd.s f10, f10, f11",
  "fmul.s f12, f10, f11",
  "fmadd.s f13, f12, f11, f14",
  "fdiv.s f15, f13, f11",
  "fsgnj.d f16, f1, f4",
  "fmv.x.d t2, f16",
  "fnmsub.d f17, f1, f2, f3",
  "fcvt.s.d f18, f17",
  "fle.d t3, f1, f17",
  "fmsub.d f19, f1, f1, f7",
];

function assembleWords(dir: string): { words: Uint32Array; exe: string } {
  const src = `.option norvc\n.globl _start\n_start:\n  la a0, init\n  fld f2, 0(a0)\n  fld f3, 8(a0)\n  fld f1, 16(a0)\n  fld f4, 16(a0)\n  flw f11, 24(a0)\n  flw f10, 28(a0)\n  flw f14, 28(a0)\n  li s0, ${iters}\nloop:\nbody:\n${fpBody.map((l) => "  " + l).join("\n")}\n  addi s0, s0, -1\n  bnez s0, loop\n  li a0, 0\n  li a7, 93\n  ecall\n.data\n.align 3\ninit: .double 0.999, 0.001, 1.5\n .float 0.75, 1.25\n`;
  writeFileSync(join(dir, "f.S"), src);
  execFileSync("riscv64-linux-gnu-as", ["-march=rv64gc", "-o", join(dir, "f.o"), join(dir, "f.S")]);
  execFileSync("riscv64-linux-gnu-ld", ["-static", "-o", join(dir, "f"), join(dir, "f.o")]);
  execFileSync("riscv64-linux-gnu-objcopy", ["-O", "binary", "--only-section=.text", join(dir, "f"), join(dir, "f.bin")]);
  const text = readFileSync(join(dir, "f.bin"));
  // Find the body: the encoding of the first instruction, fmadd.d f1,f1,f2,f3,dyn.
  const first = ((3 << 27) | (1 << 25) | (2 << 20) | (1 << 15) | (7 << 12) | (1 << 7) | 0x43) >>> 0;
  let off = -1;
  for (let i = 0; i + 4 <= text.length; i += 4) if (text.readUInt32LE(i) === first) off = i;
  if (off < 0) throw new Error("loop body not found in the assembled program");
  const words = new Uint32Array(fpBody.length);
  for (let i = 0; i < words.length; i++) words[i] = text.readUInt32LE(off + 4 * i);
  return { words, exe: join(dir, "f") };
}

function newCtx(): FpContext & { frm: number; fflags: number } {
  const fi = new Int32Array(64);
  const ctx = { x: new Int32Array(64), fi, f: new Float64Array(fi.buffer), frm: 0, fflags: 0 };
  ctx.f[2] = 0.999;
  ctx.f[3] = 0.001;
  ctx.f[1] = 1.5;
  ctx.f[4] = 1.5;
  const box = (r: number, v: number) => {
    const b = new DataView(new ArrayBuffer(4));
    b.setFloat32(0, v, true);
    fi[2 * r] = b.getInt32(0, true);
    fi[2 * r + 1] = -1;
  };
  box(11, 0.75);
  box(10, 1.25);
  box(14, 1.25);
  return ctx;
}

function timeTypevisor(words: Uint32Array, n: number): number {
  const ctx = newCtx();
  const len = words.length;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < len; j++) {
      if (!executeFp(ctx, words[j])) throw new Error(`illegal 0x${words[j].toString(16)}`);
    }
  }
  return (performance.now() - t0) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), "tv-bench-fpu-"));
try {
  const { words, exe } = assembleWords(dir);
  timeTypevisor(words, Math.min(iters, 200_000)); // warm-up (JIT)
  const tvSecs = timeTypevisor(words, iters);
  const nFp = iters * words.length;
  const tvM = nFp / tvSecs / 1e6;
  const q0 = performance.now();
  execFileSync("qemu-riscv64", [exe]);
  const qSecs = (performance.now() - q0) / 1000;
  const qM = nFp / qSecs / 1e6;
  console.log(`typevisor executeFp: ${nFp} FP instructions in ${tvSecs.toFixed(3)} s = ${tvM.toFixed(1)} M/s`);
  console.log(`qemu-riscv64:        ${nFp} FP instructions in ${qSecs.toFixed(3)} s = ${qM.toFixed(1)} M/s (incl. process start, loop overhead)`);
  console.log(`ratio typevisor/qemu: ${(tvM / qM).toFixed(2)}`);
  // Per instruction (Typevisor only): each word alone on its own register state.
  for (let j = 0; j < words.length; j++) {
    const one = words.subarray(j, j + 1);
    const n = Math.max(100_000, Math.floor(iters / 4));
    timeTypevisor(one, 50_000);
    const s = timeTypevisor(one, n);
    console.log(`  ${fpBody[j].padEnd(28)} ${((s / n) * 1e9).toFixed(1)} ns`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
