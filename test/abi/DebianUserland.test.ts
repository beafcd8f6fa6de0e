// Debian's python3 and perl from the debian-riscv64-userland image under `typevisor exec --root`
// (issue 15), against qemu-riscv64 -L on the same tree. The scripts (programs/probe.py, probe.pl)
// come on stdin, so the image's tree is used as it is. Lines that run a child program are checked
// against their known value instead: qemu-riscv64 -L cannot execve a riscv64 program (the host has
// no binfmt_misc entry), so it is no oracle there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pullImage } from "../../src/images/index.js";
import { have, programsDir, run, texec } from "./helpers.js";

const noQemu = !have("qemu-riscv64") ? "qemu-riscv64 is not installed (apt-get install qemu-user)" : undefined;

let tree: Promise<string | { skip: string }> | undefined;

/** The image's root tree with python3 and perl, or why it is not available (checked once per file). */
function userland(): Promise<string | { skip: string }> {
  tree ??= pullUserland();
  return tree;
}

async function pullUserland(): Promise<string | { skip: string }> {
  try {
    let r = await pullImage("debian-riscv64-userland");
    // An image assembled before python3 and perl joined the package list: assemble it again.
    if (r.root && !existsSync(join(r.root, "usr/bin/python3")))
      r = await pullImage("debian-riscv64-userland", { force: true });
    if (!r.root) return { skip: "debian-riscv64-userland has no root tree" };
    return r.root;
  } catch (e) {
    return { skip: `debian-riscv64-userland can't be assembled here: ${(e as Error).message.split("\n")[0]}` };
  }
}

/** Both runs' output, with the lines that need execve taken out of the qemu one. */
function compare(tv: string, qemu: string, childLines: RegExp): void {
  const keep = (s: string) => s.split("\n").filter((l) => !childLines.test(l));
  assert.deepEqual(keep(tv), keep(qemu));
}

test(
  "Debian's python3 runs hashlib, zlib, json, threading, socket, select, subprocess and signal as under qemu-riscv64",
  { timeout: 600_000 },
  async (t) => {
    if (noQemu) return t.skip(noQemu);
    const root = await userland();
    if (typeof root !== "string") return t.skip(root.skip);
    const script = readFileSync(join(programsDir, "probe.py"));
    // -B: python3 would write __pycache__ into the image's tree, which then no longer matches its
    // manifest (the image is shared and checked on every pull).
    const q = run("env", ["-i", "qemu-riscv64", "-L", root, join(root, "usr/bin/python3"), "-B", "-"], script, 300_000);
    const r = texec(
      ["--clear-env", "--engine", "interp", "--root", root, "/usr/bin/python3", "-B", "-"],
      script,
      300_000,
    );
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    compare(r.stdout, q.stdout, /^subprocess|^signals|^done|^$/);
    assert.match(r.stdout, /^threads 1600 \[0, 1, 4, 9, 16, 25, 36, 49\]$/m);
    assert.match(r.stdout, /^tcp echo 30000 b'HELLO HELLO '$/m);
    assert.match(r.stdout, /^subprocess 3 42\nsubprocess ppid True\nsignals \[10, 14\]\ndone\n$/m);
  },
);

test(
  "Debian's perl runs regexes, hashes, pack and a piped child as under qemu-riscv64",
  { timeout: 300_000 },
  async (t) => {
    if (noQemu) return t.skip(noQemu);
    const root = await userland();
    if (typeof root !== "string") return t.skip(root.skip);
    const script = readFileSync(join(programsDir, "probe.pl"));
    const q = run("env", ["-i", "qemu-riscv64", "-L", root, join(root, "usr/bin/perl"), "-"], script, 120_000);
    const r = texec(["--clear-env", "--root", root, "/usr/bin/perl", "-"], script, 120_000);
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    compare(r.stdout, q.stdout, /^from child|^exit/);
    assert.match(r.stdout, /^sum 10036$/m);
    assert.match(r.stdout, /^from child N\nexit 0\n$/m);
  },
);
