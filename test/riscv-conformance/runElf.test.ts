// `typevisor run-elf` itself: exit statuses and messages for pass, a failing test number, console
// output through both HTIF forms, the instruction and time limits, and every kind of unusable file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CC, buildDir, buildProgram, cliBin, hartMissing, haveTool } from "./toolchain.js";

const haveCc = haveTool(CC);
const missing = hartMissing();

function runElf(...args: string[]) {
  return spawnSync(process.execPath, [cliBin, "run-elf", ...args], { encoding: "utf8", timeout: 60_000 });
}

test("run-elf: a passing program exits 0 and says PASS; --stats prints instructions and MIPS", (t) => {
  if (!haveCc) return t.skip(`${CC} is not installed`);
  if (missing) return t.skip(missing);
  const r = runElf(buildProgram("pass"), "--stats");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /PASS/);
  assert.match(r.stderr, /\d+ instructions in [\d.]+ s \([\d.]+ MIPS\)/);
});

test("run-elf: a failing program exits 1 and names the failing test number", (t) => {
  if (!haveCc) return t.skip(`${CC} is not installed`);
  if (missing) return t.skip(missing);
  const r = runElf(buildProgram("failing"));
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /test 7 failed/);
});

test("run-elf: HTIF bcd putchar and the syscall block (SYS_write, SYS_exit) reach stdout", (t) => {
  if (!haveCc) return t.skip(`${CC} is not installed`);
  if (missing) return t.skip(missing);
  const r = runElf(buildProgram("hello"));
  assert.equal(r.stdout, "hi\nsyscall\n");
  assert.equal(r.status, 0, r.stderr);
});

test("run-elf: --max-insns stops a program that never exits, status 3", (t) => {
  if (!haveCc) return t.skip(`${CC} is not installed`);
  if (missing) return t.skip(missing);
  const r = runElf(buildProgram("spin"), "--max-insns", "100000", "--stats");
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /--max-insns 100000/);
  assert.match(r.stderr, /\b100000 instructions\b/);
});

test("run-elf: --timeout stops a program that never exits, status 3", (t) => {
  if (!haveCc) return t.skip(`${CC} is not installed`);
  if (missing) return t.skip(missing);
  const r = runElf(buildProgram("spin"), "--timeout", "0.3");
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /timed out after 0.3 s/);
});

test("run-elf: wfi with no timer armed stops at once with a clear message, status 3", (t) => {
  if (!haveCc) return t.skip(`${CC} is not installed`);
  if (missing) return t.skip(missing);
  const r = runElf(buildProgram("wfi-hang"), "--timeout", "30");
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /waits in wfi .* nothing can wake it/);
});

test("run-elf: files that are not RV64 ELF executables get a clear error naming the file, status 2", (t) => {
  if (!haveCc) return t.skip(`${CC} is not installed`);
  const good = readFileSync(buildProgram("pass"));
  const dir = buildDir();
  const variant = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ["text.elf", new TextEncoder().encode("just some text\n"), /not an ELF file/],
    ["class32.elf", Uint8Array.from(good, (b, i) => (i === 4 ? 1 : b)), /not ELFCLASS64/],
    ["x86.elf", Uint8Array.from(good, (b, i) => (i === 18 ? 62 : i === 19 ? 0 : b)), /x86-64, expected RISC-V/],
    ["short.elf", good.subarray(0, 40), /truncated/],
    ["cut.elf", good.subarray(0, 200), /outside the file|truncated/],
  ];
  for (const [name, bytes, why] of cases) {
    const p = variant(name, bytes);
    const r = runElf(p);
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.ok(r.stderr.includes(p), `${name}: the message names the file: ${r.stderr}`);
    assert.match(r.stderr, why);
  }
  const stripped = join(dir, "stripped.elf");
  writeFileSync(stripped, good);
  if (spawnSync("riscv64-linux-gnu-strip", [stripped]).status === 0) {
    const s = runElf(stripped);
    assert.equal(s.status, 2, s.stderr);
    assert.match(s.stderr, /stripped\.elf has no 'tohost' symbol/);
  }
  const r = runElf(join(dir, "does-not-exist.elf"));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot read .*does-not-exist\.elf: no such file/);
});

test("run-elf: a bad flag value is a usage error, status 2", () => {
  const r = runElf("x.elf", "--max-insns", "lots");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--max-insns 'lots' is not a positive integer/);
});
