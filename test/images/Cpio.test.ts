// The newc cpio writer: read back by GNU cpio (the reference reader), field-by-field header checks,
// determinism and input validation. (Booting an archive with the real kernel is in Pull.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CpioError, CpioWriter } from "../../src/images/Cpio.js";

const haveCpio = spawnSync("cpio", ["--version"]).status === 0;

function sample(mtime = 1700000000): Buffer {
  const w = new CpioWriter({ mtime });
  w.directory("bin");
  w.file("bin/busybox", Buffer.from("\x7fELF fake busybox"), 0o755);
  w.symlink("bin/sh", "busybox");
  w.charDevice("dev/console", 5, 1, 0o600);
  w.file("etc/motd", Buffer.from("hello\n")); // parent created implicitly
  w.directory("etc/sub");
  w.file("init", Buffer.from("#!/bin/sh\necho hi\n"), 0o755);
  w.file("empty", new Uint8Array(0));
  return w.finish();
}

interface Header {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  size: number;
  rdevmajor: number;
  rdevminor: number;
  data: Buffer;
}

/** A minimal newc reader, independent of the writer, to check the raw fields. */
function parse(buf: Buffer): Header[] {
  const out: Header[] = [];
  let p = 0;
  for (;;) {
    assert.equal(p % 4, 0, "every header starts on a 4-byte boundary");
    assert.equal(buf.toString("ascii", p, p + 6), "070701");
    const f = (i: number) => parseInt(buf.toString("ascii", p + 6 + i * 8, p + 14 + i * 8), 16);
    const namesize = f(11);
    const size = f(6);
    const name = buf.toString("utf8", p + 110, p + 110 + namesize - 1);
    assert.equal(buf[p + 110 + namesize - 1], 0, "name is NUL-terminated");
    const dataStart = (p + 110 + namesize + 3) & ~3;
    const h: Header = {
      name,
      ino: f(0),
      mode: f(1),
      uid: f(2),
      gid: f(3),
      nlink: f(4),
      mtime: f(5),
      size,
      rdevmajor: f(9),
      rdevminor: f(10),
      data: buf.subarray(dataStart, dataStart + size),
    };
    out.push(h);
    p = (dataStart + size + 3) & ~3;
    if (name === "TRAILER!!!") break;
  }
  assert.equal(p, buf.length, "nothing follows the trailer");
  return out;
}

test("cpio -t lists every entry in order, parents before children", (t) => {
  if (!haveCpio) return t.skip("GNU cpio is not installed (apt-get install cpio)");
  const r = spawnSync("cpio", ["-t", "--quiet"], { input: sample(), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), [
    "bin",
    "bin/busybox",
    "bin/sh",
    "dev",
    "dev/console",
    "etc",
    "etc/motd",
    "etc/sub",
    "init",
    "empty",
  ]);
});

test("cpio -tv shows modes, root ownership, link targets, device numbers and mtime", (t) => {
  if (!haveCpio) return t.skip("GNU cpio is not installed (apt-get install cpio)");
  const r = spawnSync("cpio", ["-tv", "--quiet", "--numeric-uid-gid"], {
    input: sample(),
    encoding: "utf8",
    env: { ...process.env, TZ: "UTC", LC_ALL: "C" },
  });
  assert.equal(r.status, 0, r.stderr);
  const line = (name: string) =>
    r.stdout.split("\n").find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `)) ?? "";
  assert.match(line("bin/busybox"), /^-rwxr-xr-x\s+1 0\s+0\s+17 Nov 14\s+2023 bin\/busybox$/);
  assert.match(line("bin/sh"), /^lrwxrwxrwx .* bin\/sh -> busybox$/);
  assert.match(line("dev/console"), /^crw------- .*5,\s+1 .*dev\/console$/);
  assert.match(line("etc"), /^drwxr-xr-x\s+3 /); // 2 + one subdirectory
});

test("cpio -i extracts byte-identical files and working symlinks", (t) => {
  if (!haveCpio) return t.skip("GNU cpio is not installed (apt-get install cpio)");
  const dir = mkdtempSync(join(tmpdir(), "tv-cpio-"));
  try {
    const w = new CpioWriter();
    const big = Buffer.alloc(70001);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    w.file("a/b/c/big.bin", big, 0o640);
    w.file("a/odd", Buffer.from("x"));
    w.symlink("a/link", "b/c/big.bin");
    const r = spawnSync("cpio", ["-i", "-d", "--quiet", "--no-absolute-filenames"], { input: w.finish(), cwd: dir });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.deepEqual(readFileSync(join(dir, "a/b/c/big.bin")), big);
    assert.equal(readFileSync(join(dir, "a/odd"), "utf8"), "x");
    assert.equal(readlinkSync(join(dir, "a/link")), "b/c/big.bin");
    assert.deepEqual(readFileSync(join(dir, "a/link")), big);
    assert.equal(statSync(join(dir, "a/b/c/big.bin")).mode & 0o777, 0o640);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("newc headers carry the right inode, mode, uid/gid, nlink, mtime, size and rdev, then TRAILER!!!", () => {
  const h = parse(sample(1234567));
  const by = new Map(h.map((e) => [e.name, e]));
  assert.deepEqual(
    h.map((e) => e.ino).slice(0, -1),
    h.slice(0, -1).map((_, i) => i + 1),
    "inodes are unique and sequential",
  );
  assert.equal(by.get("bin/busybox")!.mode, 0o100755);
  assert.equal(by.get("bin/sh")!.mode, 0o120777);
  assert.equal(by.get("bin/sh")!.data.toString(), "busybox");
  assert.equal(by.get("bin")!.mode, 0o040755);
  assert.equal(by.get("bin")!.nlink, 2);
  assert.equal(by.get("etc")!.nlink, 3);
  assert.equal(by.get("init")!.nlink, 1);
  assert.equal(by.get("dev/console")!.mode, 0o020600);
  assert.equal(by.get("dev/console")!.rdevmajor, 5);
  assert.equal(by.get("dev/console")!.rdevminor, 1);
  assert.equal(by.get("etc/motd")!.data.toString(), "hello\n");
  for (const e of h.slice(0, -1)) {
    assert.equal(e.uid, 0);
    assert.equal(e.gid, 0);
    assert.equal(e.mtime, 1234567);
  }
  const trailer = h[h.length - 1]!;
  assert.equal(trailer.name, "TRAILER!!!");
  assert.equal(trailer.size, 0);
});

test("the same inputs give byte-identical archives", () => {
  assert.deepEqual(sample(), sample());
  assert.notDeepEqual(sample(1), sample(2));
});

test("bad entries are refused with a clear error", () => {
  const w = new CpioWriter();
  w.file("a", Buffer.from("1"));
  assert.throws(() => w.file("a", Buffer.from("2")), CpioError);
  assert.throws(() => w.file("../etc/passwd", Buffer.from("")), /contains '\.\.'/);
  assert.throws(() => w.file("a/b", Buffer.from("")), /not a directory/);
  assert.throws(() => w.symlink("l", ""), /empty target/);
  assert.throws(() => new CpioWriter({ mtime: -1 }), CpioError);
});
