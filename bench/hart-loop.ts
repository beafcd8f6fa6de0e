// Interpreter speed on a CPU-bound loop: Typevisor's hart vs Debian's qemu-riscv64 (user mode, TCG)
// on the same instructions, in the same run. Prints guest MIPS for both and the ratio.
// Usage: npx tsc -p . && node dist/bench/hart-loop.js [iterations]
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { assemble, machine } from "../test/riscv/asm.js";

const iters = Number(process.argv[2] ?? 5_000_000);
// 12 instructions per iteration: ALU, 64-bit shifts, mul, a load/store pair, compressed forms, a branch.
const body = `
    li s0, ${iters}
    li s1, 0x12345
    la s2, buf
1:  add s1, s1, s0
    slli t0, s1, 13
    xor s1, s1, t0
    srli t0, s1, 7
    xor s1, s1, t0
    mul t1, s1, s0
    sd t1, 0(s2)
    ld t2, 0(s2)
    add s1, s1, t2
    andi t3, s1, 0xff
    addi s0, s0, -1
    bnez s0, 1b
`;
const PER_ITER = 12;

const m = machine(assemble(`${body}\n ebreak\n.data\n.align 3\nbuf: .dword 0\n`));
m.hart.exitMask = 1 << 3;
// CPU time rather than wall time: the machine is shared, and both sides are measured the same way.
const c0 = process.cpuUsage();
const t0 = performance.now();
const r = m.hart.run(Number.MAX_SAFE_INTEGER);
const wall = (performance.now() - t0) / 1000;
const cu = process.cpuUsage(c0);
const secs = (cu.user + cu.system) / 1e6;
if (r !== 1) throw new Error(`unexpected exit ${r}`);
const n = m.hart.instret;
const tvMips = n / secs / 1e6;
console.log(
  `typevisor hart: ${n} instructions in ${secs.toFixed(3)} s CPU (${wall.toFixed(3)} s wall) = ${tvMips.toFixed(1)} MIPS (checksum ${m.hart.getX(9).toString(16)})`,
);

// The same loop as a Linux user program under qemu-riscv64.
const dir = mkdtempSync(join(tmpdir(), "tv-bench-"));
try {
  writeFileSync(
    join(dir, "b.S"),
    `.globl _start\n_start:\n${body}\n li a7, 93\n li a0, 0\n ecall\n.data\n.align 3\nbuf: .dword 0\n`,
  );
  execFileSync("riscv64-linux-gnu-as", ["-march=rv64gc", "-o", join(dir, "b.o"), join(dir, "b.S")]);
  execFileSync("riscv64-linux-gnu-ld", ["-static", "-o", join(dir, "b"), join(dir, "b.o")]);
  // qemu's CPU time, as the child's rusage (includes its start-up).
  const before = process.resourceUsage();
  execFileSync("qemu-riscv64", [join(dir, "b")]);
  void before;
  const out = execFileSync("bash", ["-c", `TIMEFORMAT=%U+%S; { time qemu-riscv64 ${join(dir, "b")}; } 2>&1`])
    .toString()
    .trim();
  const [u, sy] = out.split("+").map(Number);
  const qs = (u ?? 0) + (sy ?? 0);
  const qMips = (iters * PER_ITER) / qs / 1e6;
  console.log(
    `qemu-riscv64:   ${iters * PER_ITER} instructions in ${qs.toFixed(3)} s = ${qMips.toFixed(1)} MIPS CPU time (includes process start)`,
  );
  console.log(`ratio typevisor/qemu: ${(tvMips / qMips).toFixed(3)}`);
} catch (e) {
  console.log(`qemu-riscv64 comparison skipped: ${(e as Error).message.split("\n")[0]}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
