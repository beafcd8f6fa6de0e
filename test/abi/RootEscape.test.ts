// Issue 12, item 1: no way out of `exec --root`. A guest program tries every path trick that
// escaped before (a missing component followed by "..", symlinks planted by the guest, its working
// directory or a directory descriptor swapped for a symlink) with every kind of call. The same C
// source, built for the host and run under chroot(8), gives the real kernel's answers: the outputs
// must be identical, and the directory outside the root must be untouched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { compile, compileHost, have, run, scratch, texec } from "./helpers.js";

const isRoot = process.getuid?.() === 0;

/** ROOT with /l -> OUTSIDE, both holding the same files in every run. */
function makeTree(name: string, bin: string): { root: string; outside: string } {
  const root = scratch(name + "-root");
  const outside = scratch(name + "-outside");
  writeFileSync(join(outside, "secret"), "TOP SECRET");
  symlinkSync("somewhere", join(outside, "alink"));
  copyFileSync(bin, join(outside, "hostprog"));
  symlinkSync(outside, join(root, "l"));
  writeFileSync(join(root, "inside"), "in");
  copyFileSync(bin, join(root, "prog"));
  symlinkSync("/x/../l/created", join(root, "dang"));
  const mk = spawnSync("mkfifo", ["-m", "755", join(root, "fifo")]);
  assert.equal(mk.status, 0, "mkfifo");
  return { root, outside };
}

function outsideUntouched(outside: string): void {
  assert.deepEqual(readdirSync(outside).sort(), ["alink", "hostprog", "secret"]);
  assert.equal(readFileSync(join(outside, "secret"), "utf8"), "TOP SECRET");
}

test("exec --root: paths with a missing component and '..', planted symlinks and swapped directories stay inside, as under chroot", (t) => {
  if (!isRoot) return t.skip("chroot(8), the oracle, needs root");
  const rv = compile("rootescape");
  const host = compileHost("rootescape");
  if (!rv || !host || !have("chroot")) return t.skip("needs riscv64-linux-gnu-gcc, gcc with a static libc and chroot");
  const o = makeTree("escape-chroot", host);
  const want = run("chroot", [o.root, "/prog", o.outside]);
  assert.equal(want.status, 0, want.stderr);
  const g = makeTree("escape-tv", rv);
  const got = texec(["--root", g.root, "/prog", g.outside]);
  assert.equal(got.stderr, "");
  assert.equal(got.stdout.replaceAll(g.outside, "OUTSIDE"), want.stdout.replaceAll(o.outside, "OUTSIDE"));
  assert.equal(got.status, 0);
  assert.doesNotMatch(got.stdout, /ESCAPED|TOP SECRET/);
  assert.match(got.stdout, /^open \/x\/\.\.\/l\/secret: ENOENT$/m);
  assert.match(got.stdout, /^child exit 1$/m);
  assert.match(got.stdout, /^execv \/fifo: EACCES$/m);
  outsideUntouched(o.outside);
  outsideUntouched(g.outside);
});
