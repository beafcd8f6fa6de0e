// The hart's own tests (test/riscv/*.test.js: RV64I/M/A/C, Zb*, CSRs, traps, Sv39/48/57, the API)
// run again with the binary translator attached to every test machine (TYPEVISOR_TEST_ENGINE=dbt,
// see test/riscv/asm.ts), in a child `node --test` so their machines are built with it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const dir = join(new URL(".", import.meta.url).pathname, "..", "riscv");

test("every hart test passes with the binary translator attached", () => {
  const env: Record<string, string | undefined> = { ...process.env, TYPEVISOR_TEST_ENGINE: "dbt" };
  delete env["NODE_TEST_CONTEXT"]; // else the child talks to this runner instead of printing TAP
  const r = spawnSync(process.execPath, ["--test", "--test-reporter=tap", dir], {
    encoding: "utf8",
    timeout: 600_000,
    env,
  });
  const summary = /# pass (\d+)[\s\S]*# fail (\d+)/.exec(r.stdout);
  const failed = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("not ok"))
    .join("\n");
  assert.equal(r.status, 0, `hart tests failed with --engine dbt:\n${failed}\n${r.stdout.slice(-3000)}${r.stderr}`);
  assert.ok(summary && Number(summary[1]) > 20, `too few hart tests ran:\n${r.stdout.slice(-2000)}`);
});
