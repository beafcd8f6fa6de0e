// Every subcommand answers --help with its usage and exits 0; an unknown command is a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { commands } from "../../src/cli/commands/index.js";

const bin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));

test("typevisor --help lists every subcommand", () => {
  const r = spawnSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0);
  for (const c of commands) assert.match(r.stdout, new RegExp(`\\b${c.name}\\b`));
});

for (const c of commands) {
  test(`typevisor ${c.name} --help prints its usage`, () => {
    const r = spawnSync(process.execPath, [bin, c.name, "--help"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Usage: typevisor/);
  });
}

test("an unknown subcommand names itself and exits 2", () => {
  const r = spawnSync(process.execPath, [bin, "frobnicate"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});
