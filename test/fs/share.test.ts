// Host folders over virtio-9p: the 9P2000.L server driven message by message (confinement: "..",
// symlinks, "/" in names, read-only), and a Debian guest reading and writing a share through
// Linux's v9fs, unable to leave it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { P9Server } from "../../src/devices/fs/P9Server.js";
import { debianImage } from "../vmm/bootHelper.js";

const ENOENT = 2;
const ENOTDIR = 20;
const EINVAL = 22;
const EROFS = 30;
const ELOOP = 40;

/** Builds a T-message: size[4] type[1] tag[2] then the fields (numbers as u32 unless [n, width]). */
function msg(type: number, ...fields: (number | string | [number | bigint, 1 | 2 | 4 | 8] | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (typeof f === "string") {
      const s = Buffer.from(f);
      const b = Buffer.alloc(2);
      b.writeUInt16LE(s.length);
      parts.push(b, s);
    } else if (Buffer.isBuffer(f)) parts.push(f);
    else {
      const [v, w] = typeof f === "number" ? [f, 4 as const] : f;
      const b = Buffer.alloc(w);
      if (w === 1) b.writeUInt8(Number(v));
      else if (w === 2) b.writeUInt16LE(Number(v));
      else if (w === 4) b.writeUInt32LE(Number(v));
      else b.writeBigUInt64LE(BigInt(v));
      parts.push(b);
    }
  }
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(7);
  h.writeUInt32LE(7 + body.length);
  h.writeUInt8(type, 4);
  h.writeUInt16LE(1, 5);
  return Buffer.concat([h, body]);
}

function call(s: P9Server, m: Buffer): { type: number; body: Buffer; errno?: number } {
  const r = s.handle(m);
  const type = r.readUInt8(4);
  const body = r.subarray(7);
  return type === 7 ? { type, body, errno: body.readUInt32LE(0) } : { type, body };
}

const walk = (s: P9Server, fid: number, newfid: number, ...names: string[]) => call(s, msg(110, fid, newfid, [names.length, 2], ...names));

function setup(readOnly = false) {
  const dir = mkdtempSync(join(tmpdir(), "tv-9p-"));
  const share = join(dir, "share");
  mkdirSync(join(share, "sub"), { recursive: true });
  writeFileSync(join(share, "hello.txt"), "hello");
  writeFileSync(join(dir, "secret"), "outside");
  symlinkSync(dir, join(share, "out")); // a host symlink leading out of the share
  const s = new P9Server(share, { readOnly });
  assert.equal(call(s, msg(100, 65536, "9P2000.L")).type, 101);
  assert.equal(call(s, msg(104, 0, 0xffffffff, "root", "", 0)).type, 105);
  return { dir, share, s };
}

test("9p: walk, open, read and write inside the share; readdir lists it", () => {
  const { dir, share, s } = setup();
  try {
    assert.equal(walk(s, 0, 1, "hello.txt").type, 111);
    assert.equal(call(s, msg(12, 1, 2)).type, 13); // Tlopen O_RDWR
    const r = call(s, msg(116, 1, [0n, 8], 100));
    assert.equal(r.body.subarray(4, 4 + r.body.readUInt32LE(0)).toString(), "hello");
    assert.equal(call(s, msg(118, 1, [5n, 8], 3, Buffer.from("!!!"))).type, 119);
    assert.equal(readFileSync(join(share, "hello.txt"), "utf8"), "hello!!!");
    assert.equal(walk(s, 0, 3).type, 111); // clone the root
    assert.equal(call(s, msg(12, 3, 0)).type, 13);
    const d = call(s, msg(40, 3, [0n, 8], 8192));
    const names = d.body.toString("latin1");
    for (const n of ["hello.txt", "sub", "out"]) assert.ok(names.includes(n), n);
    assert.equal(call(s, msg(14, 3, "x", 0, 0o644, 0)).errno, 9, "lcreate on an open fid is refused (EBADF)");
    assert.equal(walk(s, 0, 4, "sub").type, 111);
    assert.equal(call(s, msg(14, 4, "new.txt", 0o1 | 0o100, 0o644, 0)).type, 15);
    assert.ok(existsSync(join(share, "sub", "new.txt")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("9p: the share's root is the top: '..', symlinks and '/' in names never leave it", () => {
  const { dir, s } = setup();
  try {
    // ".." of the root is the root: walking on finds the share's own files, never the parent's.
    assert.equal(walk(s, 0, 1, "..", "..", "hello.txt").type, 111);
    const partial = walk(s, 0, 3, "..", "secret");
    assert.equal(partial.type, 111);
    assert.equal(partial.body.readUInt16LE(0), 1, "the walk stops after '..' (= the root): the parent's file is not reachable");
    assert.equal(call(s, msg(24, 3, [0x7ffn, 8])).errno, 9, "a partial walk creates no fid (EBADF)");
    // A symlink is never followed on the host: walking through it is ENOTDIR, opening it ELOOP.
    assert.equal(walk(s, 0, 4, "out", "secret").body.readUInt16LE(0), 1, "the walk stops at the link");
    assert.equal(walk(s, 0, 5, "out").type, 111);
    assert.equal(walk(s, 5, 8, "secret").errno, ENOTDIR);
    assert.equal(call(s, msg(12, 5, 0)).errno, ELOOP);
    const link = call(s, msg(22, 5));
    assert.equal(link.body.subarray(2).toString(), dir, "readlink gives the target as text for the guest to resolve in its own namespace");
    // Names are single components.
    assert.equal(walk(s, 0, 6, "../secret").errno, EINVAL);
    assert.equal(call(s, msg(72, 0, "a/b", 0o755, 0)).errno, EINVAL);
    assert.equal(walk(s, 0, 7, "missing").errno, ENOENT);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("9p: a read-only share refuses every change with EROFS", () => {
  const { dir, share, s } = setup(true);
  try {
    assert.equal(walk(s, 0, 1, "hello.txt").type, 111);
    assert.equal(call(s, msg(12, 1, 2)).errno, EROFS);
    assert.equal(call(s, msg(12, 1, 0)).type, 13, "reading is fine");
    assert.equal(call(s, msg(72, 0, "d", 0o755, 0)).errno, EROFS);
    assert.equal(call(s, msg(76, 0, "hello.txt", 0)).errno, EROFS);
    assert.equal(readFileSync(join(share, "hello.txt"), "utf8"), "hello");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--share: a Debian guest reads and writes a host folder on /mnt/TAG and cannot leave it", { timeout: 600_000 }, async (t) => {
  const img = await debianImage();
  if (typeof img === "string") return t.skip(img);
  const { dir, share } = setup();
  try {
    const cmd = [
      "cat /mnt/hs/hello.txt; echo",
      "echo from-guest > /mnt/hs/sub/g.txt",
      "ls /mnt/hs/out/ | grep -c secret",
      "cat /mnt/hs/../hs/../secret 2>&1 | head -1",
      "echo ESCAPE-CHECKED",
    ].join("; ");
    const child = spawn(process.execPath, ["bin/typevisor.js", "run", "--kernel", img.kernel, "--initrd", img.initrd, "--memory", "192M",
      "--share", `${share}:hs`, "--append", `console=ttyS0 quiet tv.cmd="${cmd}"`], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("latin1").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("latin1").on("data", (d: string) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 540_000);
    const status = await new Promise<number | null>((r) => child.on("close", r));
    clearTimeout(timer);
    assert.equal(status, 0, out.slice(-3000));
    assert.match(out, /typevisor-init: host folder hs mounted on \/mnt\/hs/, out.slice(-3000));
    assert.match(out, /^hello\r?$/m);
    assert.equal(readFileSync(join(share, "sub", "g.txt"), "utf8"), "from-guest\n");
    // The host symlink "out" points at the share's parent on the host, but the guest resolves it in
    // its own namespace: no "secret" there. ".." of the mount point is the guest's /mnt.
    assert.match(out, /^0\r?$/m, out.slice(-3000));
    assert.doesNotMatch(out, /outside/, "the file outside the share was never read");
    assert.match(out, /ESCAPE-CHECKED/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
