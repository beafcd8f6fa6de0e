// `typevisor run-elf --lockstep[=CHUNK]`: a conformance program (test/riscv-conformance/programs)
// run on a translating and an interpreting machine at once, through the CLI: the program's output
// once, the verdict line, the program's own exit status, and clear errors for bad flag values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { CC, buildProgram, cliBin, hartMissing, haveTool } from "../riscv-conformance/toolchain.js";

const skip = !haveTool(CC) ? `${CC} is not installed (apt-get install gcc-riscv64-linux-gnu)` : hartMissing();

function runElf(...args: string[]) {
  return spawnSync(process.execPath, [cliBin, "run-elf", ...args], { encoding: "utf8", timeout: 60_000 });
}

test("run-elf --lockstep: console output printed once, no divergence, status of the program", { skip }, () => {
  const r = runElf(buildProgram("hello"), "--lockstep=50", "--lockstep-ram", "--stats");
  assert.equal(r.stdout, "hi\nsyscall\n");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /run-elf: PASS\nlockstep: \d+ instructions, no divergence\n/);
  assert.match(r.stderr, /dbt: pages translated [1-9]/, "nothing was translated");
});

test("run-elf --lockstep: interrupts, traps and privilege changes agree on both engines", { skip }, () => {
  for (const name of ["interrupts", "privilege", "vm"]) {
    const r = runElf(buildProgram(name), "--lockstep=7");
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /lockstep: \d+ instructions, no divergence/, name);
  }
});

test("run-elf --lockstep: a failing program keeps its status 1 and test number", { skip }, () => {
  const r = runElf(buildProgram("failing"), "--lockstep");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /FAIL: test 7 failed .*\nlockstep: \d+ instructions, no divergence/);
});

test("run-elf --lockstep: bad CHUNK values and conflicting flags are usage errors (status 2)", { skip }, () => {
  const elf = buildProgram("pass");
  for (const bad of ["0", "-5", "1.5", "abc", "", "10000001"]) {
    const r = runElf(elf, `--lockstep=${bad}`);
    assert.equal(r.status, 2, `--lockstep=${bad}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `--lockstep=${bad.replace(".", "\\.")}: CHUNK must be a whole number of instructions from 1 to 10000000`,
      ),
    );
  }
  const cases: [string[], RegExp][] = [
    [["--lockstep-ram"], /--lockstep-ram only applies to a lockstep run; add --lockstep/],
    [["--lockstep", "--engine", "dbt"], /--lockstep runs both engines .*drop --engine/],
    [["--lockstep", "--trace"], /--trace and --lockstep cannot be combined/],
  ];
  for (const [args, msg] of cases) {
    const r = runElf(elf, ...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});

test("run-elf --lockstep: --max-insns stops a program that never exits, status 3, still compared", { skip }, () => {
  const r = runElf(buildProgram("spin"), "--lockstep=1000", "--max-insns", "100000");
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /--max-insns 100000/);
  assert.match(r.stderr, /lockstep: 100000 instructions, no divergence/);
});

test("run-elf --help documents --lockstep and --lockstep-ram", () => {
  const r = runElf("--help");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--lockstep\[=CHUNK\]/);
  assert.match(r.stdout, /--lockstep-ram/);
});
