// The hart's conformance programs (programs/*.S, one per ISA area, each checking its own results
// and reporting pass or the failing test number through HTIF). Every program also runs on QEMU's
// spike board first, so a wrong expectation in a program shows up as a QEMU failure, not as a
// "hart bug".
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBareElf } from "../../src/cli/commands/runElf.js";
import { CC, buildProgram, hartMissing, haveTool, runOnQemu } from "./toolchain.js";

/** One program per area (see docs/TESTING.md). */
export const PROGRAMS = [
  "rv64i",
  "rv64m",
  "rv64a",
  "rv64c",
  "bitmanip",
  "fd",
  "exceptions",
  "privilege",
  "interrupts",
  "vm",
] as const;

const haveCc = haveTool(CC);
const haveQemu = haveTool("qemu-system-riscv64");
const missing = hartMissing();

for (const name of PROGRAMS) {
  test(`conformance program ${name} passes on QEMU (validates the program itself)`, (t) => {
    if (!haveCc) return t.skip(`${CC} is not installed (apt install gcc-riscv64-linux-gnu)`);
    if (!haveQemu) return t.skip("qemu-system-riscv64 is not installed (apt install qemu-system-misc)");
    const elf = buildProgram(name, true);
    const r = runOnQemu(elf);
    assert.equal(r.status, 0, `${name} failed test ${r.status} on QEMU${r.output ? `:\n${r.output}` : ""}`);
  });

  test(`conformance program ${name} passes on Typevisor`, (t) => {
    if (!haveCc) return t.skip(`${CC} is not installed (apt install gcc-riscv64-linux-gnu)`);
    if (missing) return t.skip(missing);
    const elf = buildProgram(name);
    let out = "";
    const r = runBareElf(readFileSync(elf), elf, {
      timeoutSeconds: 20,
      maxInsns: 50_000_000,
      write: (_fd, d) => {
        out += Buffer.from(d).toString("latin1");
      },
    });
    assert.equal(
      r.status,
      0,
      `${name}: ${r.message}${out ? `\nconsole: ${out}` : ""} (disassemble with riscv64-linux-gnu-objdump -d ${elf}; test_N labels mark each case)`,
    );
  });
}
