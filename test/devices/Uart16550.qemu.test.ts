// Differential test against QEMU's 16550A (hw/char/serial.c) on the virt board: a bare-metal RV64
// program replays a register script on the real QEMU device and prints every value it read; the same
// script on our Uart16550 must read the same values. Skips when the RISC-V toolchain or
// qemu-system-riscv64 is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Uart16550 } from "../../src/devices/Uart16550.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import { TestIrq } from "./VirtioDriver.js";
import { tempDir } from "./helpers.js";

type Op = [kind: "r" | "w", offset: number, value: number, mask?: number];
// IIR: QEMU runs the 4-character receive timeout in real time, so it may report the character
// timeout (0x0c) where we report received data (0x04); both are the same priority-2 receive interrupt
// (datasheet table IV), so IIR reads are compared without bit 3.
const R = (o: number, mask = o === 2 ? 0xf7 : 0xff): Op => ["r", o, 0, mask];
const W = (o: number, v: number): Op => ["w", o, v];

// The script: reset values, scratch, divisor latch, IER, FIFO detection (how Linux tells a 16550A),
// loopback data, THRE interrupt identification, overrun and line-status interrupts, and modem lines
// in loopback (QEMU does not report MSR delta bits in loopback, the datasheet does: compare lines only).
const SCRIPT: Op[] = [
  R(1),
  R(2),
  R(3),
  R(4),
  R(5),
  R(6),
  R(7),
  W(7, 0x5a),
  R(7),
  W(3, 0x80),
  W(0, 0x01),
  W(1, 0x00),
  R(0),
  R(1),
  W(3, 0x03),
  R(3),
  R(1),
  W(1, 0x0f),
  R(1),
  W(1, 0x00),
  W(2, 0x07),
  R(2),
  W(4, 0x1f),
  R(4),
  R(6, 0xf0),
  W(4, 0x10),
  R(6, 0xf0),
  W(1, 0x01),
  W(0, 0x41),
  R(2),
  R(5),
  R(0),
  R(2),
  R(5),
  W(0, 0x42),
  W(0, 0x43),
  R(5),
  R(0),
  R(0),
  R(5),
  W(1, 0x02),
  R(2),
  R(2),
  W(0, 0x44),
  R(2),
  R(0),
  R(2),
  W(1, 0x00),
  ...Array.from({ length: 17 }, (_, i) => W(0, 0x61 + i)),
  R(5),
  R(5),
  ...Array.from({ length: 16 }, () => R(0)),
  R(5),
  W(1, 0x05),
  ...Array.from({ length: 17 }, (_, i) => W(0, 0x30 + i)),
  R(2),
  R(5),
  R(2),
  W(2, 0x03),
  R(5),
  R(2),
  W(1, 0x00),
  W(4, 0x00),
  R(4),
];

function asm(script: Op[]): string {
  const table = script.map(([k, o, v]) => `.byte ${k === "r" ? 0 : 1}, ${o}, ${v}`).join("\n");
  return `
  .section .text
  .globl _start
_start:
  li s0, 0x10000000
  la s1, table
  la s2, results
  la s3, table_end
loop:
  bgeu s1, s3, done
  lbu t0, 0(s1)
  lbu t1, 1(s1)
  lbu t2, 2(s1)
  addi s1, s1, 3
  add t3, s0, t1
  beqz t0, do_read
  sb t2, 0(t3)
  j loop
do_read:
  lbu t4, 0(t3)
  sb t4, 0(s2)
  addi s2, s2, 1
  j loop
done:
  li t0, 3
  sb t0, 3(s0)
  sb zero, 4(s0)
  sb zero, 1(s0)
  li t0, 7
  sb t0, 2(s0)
  li a0, 'R'
  jal putc
  li a0, ':'
  jal putc
  la s1, results
  la s4, hex
print:
  bgeu s1, s2, finish
  lbu s5, 0(s1)
  srli t1, s5, 4
  add t1, t1, s4
  lbu a0, 0(t1)
  jal putc
  andi t1, s5, 15
  add t1, t1, s4
  lbu a0, 0(t1)
  jal putc
  addi s1, s1, 1
  j print
finish:
  li a0, '\\n'
  jal putc
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
1: j 1b
putc:
  lbu t6, 5(s0)
  andi t6, t6, 0x20
  beqz t6, putc
  sb a0, 0(s0)
  ret
  .section .data
hex: .ascii "0123456789abcdef"
table:
${table}
table_end:
  .section .bss
results: .space 1024
`;
}

function ours(script: Op[]): number[] {
  const u = new Uart16550(new TestIrq(), new MemoryBackend());
  const out: number[] = [];
  for (const [k, o, v] of script) {
    if (k === "r") out.push(u.read(o, 1));
    else u.write(o, 1, v);
  }
  return out;
}

test("uart: every register read matches QEMU's 16550A for the same access script", (t) => {
  for (const tool of ["riscv64-linux-gnu-gcc", "qemu-system-riscv64"]) {
    if (spawnSync(tool, ["--version"]).status !== 0) {
      t.skip(`${tool} not installed`);
      return;
    }
  }
  const dir = tempDir(t);
  const src = join(dir, "probe.S");
  const elf = join(dir, "probe.elf");
  writeFileSync(src, asm(SCRIPT));
  execFileSync("riscv64-linux-gnu-gcc", [
    "-nostdlib",
    "-nostartfiles",
    "-static",
    "-march=rv64gc",
    "-mabi=lp64d",
    "-Wl,-Ttext=0x80000000",
    "-Wl,--no-relax",
    "-o",
    elf,
    src,
  ]);
  const res = spawnSync(
    "qemu-system-riscv64",
    [
      "-M",
      "virt",
      "-bios",
      "none",
      "-kernel",
      elf,
      "-display",
      "none",
      "-serial",
      "stdio",
      "-monitor",
      "none",
      "-nodefaults",
    ],
    { timeout: 20000, encoding: "latin1" },
  );
  const m = /R:([0-9a-f]*)\n/.exec(res.stdout);
  assert.ok(
    m,
    `QEMU printed the probe results (stdout: ${JSON.stringify(res.stdout.slice(0, 200))}, stderr: ${res.stderr.slice(0, 200)})`,
  );
  const qemu = m[1]!.match(/../g)!.map((h) => parseInt(h, 16));
  const mine = ours(SCRIPT);
  const reads = SCRIPT.filter((o) => o[0] === "r");
  assert.equal(qemu.length, reads.length);
  const diffs: string[] = [];
  reads.forEach((op, i) => {
    const mask = op[3] ?? 0xff;
    if ((qemu[i]! & mask) !== (mine[i]! & mask))
      diffs.push(`read #${i} of reg ${op[1]}: qemu 0x${qemu[i]!.toString(16)} ours 0x${mine[i]!.toString(16)}`);
  });
  assert.deepEqual(diffs, []);
});
