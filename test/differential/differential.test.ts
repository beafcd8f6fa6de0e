// Differential testing of the hart against Debian's qemu-riscv64: random RV64GC + Zba/Zbb/Zbs
// sequences from fixed seeds (Generator.ts), run in both, compared register by register, fcsr and
// scratch memory (Differential.ts). Each test is one instruction mix, so a failure says which area
// broke; the report names the seed and batch to reproduce with fuzz.js (docs/TESTING.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { compare, cleanupQemuDir, makeBatch, runQemu, runTypevisor, loadDbtEngine } from "./Differential.js";
import { type InsnClass } from "./Generator.js";
import { hartMissing } from "../riscv-conformance/toolchain.js";

const haveQemu = spawnSync("qemu-riscv64", ["--version"], { stdio: "ignore" }).status === 0;
const missing = hartMissing();

const MIXES: { name: string; seed: number; batches: number; classes?: InsnClass[] }[] = [
  { name: "integer, M and Zba/Zbb/Zbs", seed: 101, batches: 6, classes: ["int", "m", "zb", "branch"] },
  { name: "loads, stores and atomics", seed: 202, batches: 6, classes: ["int", "mem", "a", "branch"] },
  { name: "compressed encodings", seed: 303, batches: 6, classes: ["c", "int", "branch"] },
  { name: "F and D with static and dynamic rounding modes", seed: 404, batches: 8, classes: ["fd", "mem", "int"] },
  { name: "everything mixed", seed: 505, batches: 10 },
];

for (const mix of MIXES) {
  test(`differential vs qemu-riscv64: ${mix.name} (${mix.batches * 100} sequences, seed ${mix.seed})`, (t) => {
    if (!haveQemu) return t.skip("qemu-riscv64 is not installed (apt install qemu-user)");
    if (missing) return t.skip(missing);
    const reports: string[] = [];
    for (let b = 0; b < mix.batches && reports.length === 0; b++) {
      const batch = makeBatch({ seed: mix.seed, batch: b, sequences: 100, length: 40, classes: mix.classes });
      const m = compare(batch, runQemu(batch.program), runTypevisor(batch.program), 2);
      reports.push(...m.map((x) => x.report));
    }
    cleanupQemuDir();
    assert.equal(
      reports.length,
      0,
      `\n${reports.join("\n\n")}${mix.classes ? `\n(classes: --classes ${mix.classes.join(",")})` : ""}`,
    );
  });
}

// With the translator attached: integer/bitmanip/memory/control flow, then F/D with loads, stores and
// atomics (the translated FP loads/stores, sign injection, moves, compares and exact conversions).
for (const [seed, classes] of [
  [606, ["int", "m", "zb", "c", "mem", "branch", "loop"]],
  [616, ["fd", "mem", "int", "a"]],
] as const) {
  test(`differential vs qemu-riscv64 with the binary translator attached (300 sequences x 3 passes, seed ${seed}: ${classes.join(",")})`, async (t) => {
    if (!haveQemu) return t.skip("qemu-riscv64 is not installed (apt install qemu-user)");
    if (missing) return t.skip(missing);
    const engine = await loadDbtEngine();
    if (typeof engine === "string") return t.skip(engine);
    const reports: string[] = [];
    for (let b = 0; b < 3 && reports.length === 0; b++) {
      const batch = makeBatch({ seed, batch: b, sequences: 100, length: 40, passes: 3, classes });
      reports.push(
        ...compare(batch, runQemu(batch.program), runTypevisor(batch.program, engine), 2).map((x) => x.report),
      );
    }
    cleanupQemuDir();
    assert.equal(reports.length, 0, `\n${reports.join("\n\n")}\n(engine: --engine dbt)`);
  });
}
