// Debian's own riscv64 programs under `typevisor exec`: busybox-static (trixie, 1.37) compared with
// the amd64 build of the same busybox version running natively, GNU hello and bash (dynamically
// linked, with their libraries from the same suite) under --root, and --root escape attempts.
// Packages come from a private apt root (test/abi/DebianPackages.ts); without network the tests skip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { debianRoot } from "./DebianPackages.js";
import { run, scratch, texec } from "./helpers.js";

const rv = await debianRoot("riscv64", ["busybox-static"]);
const x86 = process.arch === "x64" ? await debianRoot("amd64", ["busybox-static"]) : { skip: "the host is not amd64" };
const dyn = await debianRoot("riscv64", ["hello", "libc6", "bash", "libtinfo6"]);

/** Deterministic test data: text lines (for sort/awk/sed) and a binary-ish blob. */
function makeData(dir: string): void {
  let x = 12345;
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    x = (x * 16807) % 2147483647;
    lines.push(`${["alpha", "beta", "gamma", "delta", "epsilon"][x % 5]} ${x % 1000} line${i}`);
  }
  writeFileSync(join(dir, "text"), lines.join("\n") + "\n");
  const blob = Buffer.alloc(300_000);
  for (let i = 0; i < blob.length; i++) {
    x = (x * 16807) % 2147483647;
    blob[i] = i % 7 === 0 ? x & 255 : 97 + (x % 4);
  }
  writeFileSync(join(dir, "blob"), blob);
  mkdirSync(join(dir, "tree/a/b"), { recursive: true });
  writeFileSync(join(dir, "tree/a/one.txt"), "1\n");
  writeFileSync(join(dir, "tree/a/b/two.txt"), "22\n");
  writeFileSync(join(dir, "tree/three.dat"), "333\n");
}

const SCRIPT = [
  "sha256sum text blob",
  "sha512sum blob",
  "gzip -c blob > blob.gz && gzip -dc blob.gz | cmp - blob && echo roundtrip-ok && wc -c < blob.gz",
  "sort -k2,2n -k1,1 text | head -5",
  "sort text | uniq -c | sort -rn | head -3",
  "awk '{ n[$1]++; s[$1] += $2 } END { for (k in n) printf \"%s %d %.3f\\n\", k, n[k], s[k] / n[k] }' text | sort",
  "sed -n 's/^\\(gamma\\) \\([0-9]*\\) line1\\([0-9]\\)$/\\2-\\1-\\3/p' text | head -4",
  "find tree -type f | sort; find tree -name '*.txt' -exec cat {} \\;",
  "for i in 1 2 3 4 5; do echo $i; done | tr '\\n' ' ' | rev; echo",
  "(sleep 0.1; echo background) & echo foreground; wait $!; echo waited=$?",
  "sh -c 'exit 7'; echo status=$?",
  "x=$(cat text | grep -c beta); echo betas=$x",
  "yes hello | head -3",
].join("\n");

test(
  "Debian's riscv64 busybox gives the same results as its amd64 build (applets, pipelines, fork/wait)",
  { timeout: 600_000 },
  (t) => {
    if (typeof rv !== "string") return t.skip(rv.skip);
    if (typeof x86 !== "string") return t.skip(x86.skip);
    const a = scratch("bb-native");
    const b = scratch("bb-exec");
    makeData(a);
    makeData(b);
    const native = run(join(x86, "bin/busybox"), ["sh", "-c", SCRIPT], "", 120_000, a);
    assert.equal(native.status, 0, native.stderr);
    const r = spawnIn(b, [join(rv, "bin/busybox"), "sh", "-c", SCRIPT]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, native.stdout);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /roundtrip-ok/);
    assert.match(r.stdout, /waited=0/);
    assert.equal(
      readFileSync(join(b, "blob.gz")).equals(readFileSync(join(a, "blob.gz"))),
      true,
      "identical gzip output",
    );
  },
);

/** typevisor exec with its working directory set (without --root the guest starts in the host cwd). */
function spawnIn(cwd: string, args: string[]) {
  return run(process.execPath, [join(new URL(".", import.meta.url).pathname, "runExec.js"), ...args], "", 300_000, cwd);
}

test("--root cannot be escaped by absolute or relative symlinks, '..' or writes through links", (t) => {
  if (typeof rv !== "string") return t.skip(rv.skip);
  const root = scratch("jail");
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "etc"), { recursive: true });
  copyFileSync(join(rv, "bin/busybox"), join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  writeFileSync(join(root, "etc/hostname"), "inside-the-root\n");
  const outside = scratch("outside");
  writeFileSync(join(outside, "secret"), "host secret\n");
  symlinkSync("/etc/hostname", join(root, "abs"));
  symlinkSync("../../../../../../../../etc/hostname", join(root, "rel"));
  symlinkSync(join(outside, "secret"), join(root, "to-host-secret"));
  const script = [
    "cat /abs /rel",
    "cat /../../../../etc/hostname",
    "cd /; cd ..; cd ..; pwd; ls",
    `cat ${outside}/secret 2>&1 || echo no-host-path`,
    "cat /to-host-secret 2>&1 || echo link-stays-inside",
    "echo overwritten > /to-host-secret; echo wrote=$?",
    "ln -s /../../ /up; ls /up/ | head -3",
  ].join("\n");
  const r = texec(["--root", root, "/bin/busybox", "sh", "-c", script]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.split("\n");
  assert.deepEqual(out.slice(0, 4), ["inside-the-root", "inside-the-root", "inside-the-root", "/"]);
  assert.match(r.stdout, /no-host-path/);
  assert.match(r.stdout, /link-stays-inside/);
  // The link's target is looked up inside the root, where its directory does not exist: ENOENT.
  assert.match(r.stdout, /wrote=[1-9]/);
  assert.equal(readFileSync(join(outside, "secret"), "utf8"), "host secret\n", "the host file is untouched");
});

test("issue 12's --root escapes (a missing directory, then '..', then a link out) fail with ENOENT, as under chroot", (t) => {
  if (typeof rv !== "string") return t.skip(rv.skip);
  if (typeof x86 !== "string") return t.skip(x86.skip);
  if (process.getuid?.() !== 0) return t.skip("chroot(8), the oracle, needs root");
  // Applets by their full name: amd64 busybox under chroot has no /proc/self/exe to re-execute.
  const script = [
    "exec 2>&1",
    "/bin/busybox cat /x/../l/secret; echo cat=$?",
    "echo p > /x/../l/pwned; echo redirect=$?",
    "/bin/busybox mv /inside /x/../l/; echo mv=$?",
    "/bin/busybox ln -s /etc /x/../l/sym; echo ln=$?",
    "/x/../l/hostprog; echo exec=$?",
    "/bin/busybox ls /x/../l; echo ls=$?",
    "cd /x/../l; echo cd=$?",
  ].join("\n");
  const outputs: string[] = [];
  for (const [name, bb] of [
    ["tv", rv],
    ["chroot", x86],
  ] as const) {
    const root = scratch(`issue12-${name}-root`);
    const outside = scratch(`issue12-${name}-outside`);
    mkdirSync(join(root, "bin"));
    copyFileSync(join(bb, "bin/busybox"), join(root, "bin/busybox"));
    chmodSync(join(root, "bin/busybox"), 0o755);
    writeFileSync(join(root, "inside"), "in\n");
    symlinkSync(outside, join(root, "l"));
    writeFileSync(join(outside, "secret"), "host secret\n");
    writeFileSync(join(outside, "hostprog"), "#!/bin/busybox sh\necho ESCAPED\n", { mode: 0o755 });
    const args = ["/bin/busybox", "sh", "-c", script];
    const r = name === "tv" ? texec(["--root", root, ...args]) : run("chroot", [root, ...args]);
    assert.equal(r.status, 0, r.stderr);
    outputs.push(r.stdout);
    assert.deepEqual(readdirSync(outside).sort(), ["hostprog", "secret"], `${name}: nothing was created outside`);
    assert.equal(readFileSync(join(outside, "secret"), "utf8"), "host secret\n");
  }
  assert.equal(outputs[0], outputs[1]);
  assert.match(outputs[0]!, /cat=1/);
  assert.doesNotMatch(outputs[0]!, /ESCAPED|host secret/);
});

test("GNU hello and bash from Debian riscv64 run dynamically linked under --root", (t) => {
  if (typeof dyn !== "string") return t.skip(dyn.skip);
  const h = texec(["--root", dyn, "/usr/bin/hello"]);
  assert.equal(h.stdout, "Hello, world!\n", h.stderr);
  assert.equal(h.status, 0, h.stderr);
  const b = texec([
    "--root",
    dyn,
    "/bin/bash",
    "-c",
    "echo $((6*7)); declare -A m=([k]=v); echo ${m[k]}; f() { return 3; }; f; echo $?; echo ${BASH_VERSINFO[0]}; exit 5",
  ]);
  assert.equal(b.stdout, "42\nv\n3\n5\n");
  assert.equal(b.stderr, "");
  assert.equal(b.status, 5);
});

test("under --root the guest gets its own /proc/uptime, meminfo, cpuinfo and self/maps", (t) => {
  if (typeof rv !== "string") return t.skip(rv.skip);
  const r = texec([
    "--root",
    rv,
    "/bin/busybox",
    "sh",
    "-c",
    "read u _ < /proc/uptime; echo up=$u; grep -c MemTotal /proc/meminfo; grep mmu /proc/cpuinfo; grep -c '\\[stack\\]' /proc/self/maps; cat /proc/nope 2>/dev/null || echo nope-missing",
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^up=\d+\.\d\d\n1\nmmu\t\t: sv39\n[1-9]\nnope-missing\n$/);
});
