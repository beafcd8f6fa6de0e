// A real workload with the translator on: Debian's riscv64 busybox under `typevisor exec --engine
// dbt` (pages translated on their first dispatch) must print exactly what the interpreter prints
// and what Debian's qemu-riscv64 prints: awk (F/D heavy), sha256sum/sha512sum, a gzip round trip, sort.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { debianRoot } from "../abi/DebianPackages.js";

const rv = await debianRoot("riscv64", ["busybox-static"]);
const runExec = join(new URL(".", import.meta.url).pathname, "..", "abi", "runExec.js");

const SCRIPT = [
  "awk 'BEGIN{x=7; for (i = 0; i < 3000; i++) { x = (x * 16807) % 2147483647; print x, x / 3.5, i % 17 } }' > /tmp/d",
  "sha256sum /tmp/d | cut -c1-64",
  "sha512sum /tmp/d | cut -c1-32",
  "gzip -c /tmp/d > /tmp/d.gz && gzip -d -c /tmp/d.gz | sha256sum | cut -c1-64",
  "sort -n -k2 /tmp/d | head -3",
  "rm -f /tmp/d /tmp/d.gz",
].join("; ");

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): { out: string; status: number | null; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 300_000, env: { ...process.env, ...env } });
  return { out: r.stdout, status: r.status, err: r.stderr };
}

test("busybox under exec --engine dbt prints what the interpreter and qemu-riscv64 print", (t) => {
  if (typeof rv !== "string") return t.skip(rv.skip);
  const bb = join(rv, "usr/bin/busybox");
  const q = spawnSync("qemu-riscv64", ["--version"]);
  const dbt = run(process.execPath, [runExec, "--engine", "dbt", bb, "sh", "-c", SCRIPT], {
    TYPEVISOR_DBT_HOT: "1",
    TYPEVISOR_DBT_STATS: "1",
  });
  assert.equal(dbt.status, 0, dbt.err);
  const m = /instructions translated (\d+)/.exec(dbt.err);
  assert.ok(m && Number(m[1]) > 1_000_000, `too little ran translated:\n${dbt.err}`);
  const interp = run(process.execPath, [runExec, "--engine", "interp", bb, "sh", "-c", SCRIPT]);
  assert.equal(interp.status, 0, interp.err);
  assert.equal(dbt.out, interp.out);
  if (q.status !== 0)
    return t.skip("qemu-riscv64 not installed (apt-get install qemu-user): compared with the interpreter only");
  const qemu = run("qemu-riscv64", [bb, "sh", "-c", SCRIPT]);
  assert.equal(dbt.out, qemu.out);
});
