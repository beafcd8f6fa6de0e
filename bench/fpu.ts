// FPU throughput: Typevisor vs Debian's qemu-riscv64 (TCG + softfloat) on the same loop of 20
// F/D instructions (+2 loop instructions), in the same run, as CPU time (the machine may be
// shared). Three measurements: executeFp alone on the loop's instruction words (no fetch or
// decode), the whole program on Typevisor's Hart, and qemu-riscv64 (including its start-up).
// Prints millions of instructions per second, the ratios, and executeFp's time per instruction.
// Usage: npx tsc -p . && node dist/bench/fpu.js [iterations]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { executeFp, type FpContext } from "../src/riscv/fpu/index.js";
import { assemble, machine } from "../test/riscv/asm.js";

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

const program = `  la a0, init\n  fld f2, 0(a0)\n  fld f3, 8(a0)\n  fld f1, 16(a0)\n  fld f4, 16(a0)\n  flw f11, 24(a0)\n  flw f10, 28(a0)\n  flw f14, 28(a0)\n  li s0, ${iters}\nloop:\n${fpBody.map((l) => "  " + l).join("\n")}\n  addi s0, s0, -1\n  bnez s0, loop\n`;
const data = `.data\n.align 3\ninit: .double 0.999, 0.001, 1.5\n .float 0.75, 1.25\n`;

function assembleWords(dir: string): { words: Uint32Array; exe: string } {
  const src = `.option norvc\n.globl _start\n_start:\n${program}  li a0, 0\n  li a7, 93\n  ecall\n${data}`;
  writeFileSync(join(dir, "f.S"), src);
  execFileSync("riscv64-linux-gnu-as", ["-march=rv64gc", "-o", join(dir, "f.o"), join(dir, "f.S")]);
  execFileSync("riscv64-linux-gnu-ld", ["-static", "-o", join(dir, "f"), join(dir, "f.o")]);
  execFileSync("riscv64-linux-gnu-objcopy", [
    "-O",
    "binary",
    "--only-section=.text",
    join(dir, "f"),
    join(dir, "f.bin"),
  ]);
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

/** CPU seconds (user + system) this process spends in fn. */
function cpuSeconds(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

function timeExecuteFp(words: Uint32Array, n: number): number {
  const ctx = newCtx();
  const len = words.length;
  return cpuSeconds(() => {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < len; j++) {
        if (!executeFp(ctx, words[j]!)) throw new Error(`illegal 0x${words[j]!.toString(16)}`);
      }
    }
  });
}

/** The same program on Typevisor's Hart (M-mode, FS enabled); returns [instructions, CPU s]. */
function timeHart(): [number, number] {
  const m = machine(assemble(`  li t0, 0x2000\n  csrs mstatus, t0\n${program}  ebreak\n${data}`));
  m.hart.exitMask = 1 << 3;
  let r = 0;
  const secs = cpuSeconds(() => {
    r = m.hart.run(Number.MAX_SAFE_INTEGER);
  });
  if (r !== 1) throw new Error(`hart stopped with exit ${r}, cause ${m.hart.exitCause}`);
  return [Number(m.hart.instret), secs];
}

/** qemu-riscv64's CPU time for the program, measured by bash's time (child rusage). */
function timeQemu(exe: string): number {
  const out = execFileSync("bash", ["-c", `TIMEFORMAT=%U+%S; { time qemu-riscv64 ${exe}; } 2>&1`])
    .toString()
    .trim();
  const [u, sy] = out.split("+").map(Number);
  return (u ?? 0) + (sy ?? 0);
}

const dir = mkdtempSync(join(tmpdir(), "tv-bench-fpu-"));
try {
  const { words, exe } = assembleWords(dir);
  const nFp = iters * words.length;
  const nAll = iters * (words.length + 2);
  timeExecuteFp(words, Math.min(iters, 200_000)); // warm-up (JIT)
  const fpSecs = timeExecuteFp(words, iters);
  const [hartN, hartSecs] = timeHart();
  const qSecs = timeQemu(exe);
  const fpM = nFp / fpSecs / 1e6;
  const hartM = hartN / hartSecs / 1e6;
  const qM = nAll / qSecs / 1e6;
  console.log(`typevisor executeFp only: ${nFp} FP instructions in ${fpSecs.toFixed(3)} s CPU = ${fpM.toFixed(1)} M/s`);
  console.log(
    `typevisor hart:           ${hartN} instructions in ${hartSecs.toFixed(3)} s CPU = ${hartM.toFixed(1)} MIPS`,
  );
  console.log(
    `qemu-riscv64:             ${nAll} instructions in ${qSecs.toFixed(3)} s CPU = ${qM.toFixed(1)} MIPS (includes process start)`,
  );
  console.log(`ratio hart/qemu: ${(hartM / qM).toFixed(3)}   ratio executeFp/qemu: ${(fpM / qM).toFixed(3)}`);
  console.log("executeFp per instruction (each alone, on its own register state):");
  for (let j = 0; j < words.length; j++) {
    const one = words.subarray(j, j + 1);
    const n = Math.max(100_000, Math.floor(iters / 2));
    timeExecuteFp(one, 50_000);
    const t = timeExecuteFp(one, n);
    console.log(`  ${fpBody[j]!.padEnd(28)} ${((t / n) * 1e9).toFixed(1)} ns`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
