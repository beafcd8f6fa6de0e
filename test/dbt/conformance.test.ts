// The hart's conformance programs (test/riscv-conformance/programs) with the binary translator on:
// each must pass exactly as it does on the interpreter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBareElf } from "../../src/cli/commands/runElf.js";
import { CC, buildProgram, hartMissing, haveTool } from "../riscv-conformance/toolchain.js";

// The same list as test/riscv-conformance/conformance.test.ts (importing it would register its tests again).
const PROGRAMS = ["rv64i", "rv64m", "rv64a", "rv64c", "bitmanip", "fd", "exceptions", "privilege", "interrupts", "vm"];
// Translate pages on their first dispatch so these mostly run-once programs really run translated
// (the default threshold, 512 dispatches, would leave most of their pages to the interpreter).
const ENGINE_OPTIONS = { hotThreshold: 1 };

const haveCc = haveTool(CC);
const missing = hartMissing();

for (const name of PROGRAMS) {
  test(`conformance program ${name} passes with --engine dbt`, (t) => {
    if (!haveCc) return t.skip(`${CC} is not installed (apt install gcc-riscv64-linux-gnu)`);
    if (missing) return t.skip(missing);
    const elf = buildProgram(name);
    let out = "";
    const r = runBareElf(readFileSync(elf), elf, {
      timeoutSeconds: 20,
      maxInsns: 50_000_000,
      engine: "dbt",
      engineOptions: ENGINE_OPTIONS,
      write: (_fd, d) => {
        out += Buffer.from(d).toString("latin1");
      },
    });
    assert.equal(r.status, 0, `${name}: ${r.message}${out ? `\nconsole: ${out}` : ""}\n${r.engineStats ?? ""}`);
    assert.match(r.engineStats ?? "", /pages translated [1-9]/, "nothing was translated");
  });
}
