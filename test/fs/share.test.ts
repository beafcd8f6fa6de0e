// Host folders over virtio-9p: the 9P2000.L server driven message by message (confinement: "..",
// symlinks, "/" in names, read-only), and a Debian guest reading and writing a share through
// Linux's v9fs, unable to leave it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { spawnSync } from "node:child_process";
import {
  lstatSync,
  renameSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { P9Server } from "../../src/devices/fs/P9Server.js";
import { GuestFs } from "../../src/abi/GuestFs.js";
import { msg } from "./p9Message.js";
import fc from "fast-check";
import { debianImage } from "../vmm/bootHelper.js";

const ENOENT = 2;
const ENOTDIR = 20;
const EINVAL = 22;
const EROFS = 30;
const ELOOP = 40;
const EBADF = 9;
const ENXIO = 6;
const ENFILE = 23;
const AT_REMOVEDIR = 0x200;

function call(s: P9Server, m: Buffer): { type: number; body: Buffer; errno?: number } {
  const r = s.handle(m);
  const type = r.readUInt8(4);
  const body = r.subarray(7);
  return type === 7 ? { type, body, errno: body.readUInt32LE(0) } : { type, body };
}

const walk = (s: P9Server, fid: number, newfid: number, ...names: string[]) =>
  call(s, msg(110, fid, newfid, [names.length, 2], ...names));

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
    // Rreaddir: count[4] then qid[13] offset[8] type[1] name[s] per entry.
    const types = new Map<string, number>();
    let lastOffset = 0n;
    for (let o = 4; o < 4 + d.body.readUInt32LE(0);) {
      const len = d.body.readUInt16LE(o + 22);
      types.set(d.body.toString("utf8", o + 24, o + 24 + len), d.body.readUInt8(o + 21));
      lastOffset = d.body.readBigUInt64LE(o + 13);
      o += 24 + len;
    }
    assert.deepEqual(
      [...types].sort(),
      [
        [".", 4],
        ["..", 4],
        ["hello.txt", 8],
        ["out", 10],
        ["sub", 4],
      ],
      "names with their d_type (DT_DIR, DT_REG, DT_LNK)",
    );
    assert.equal(
      call(s, msg(40, 3, [lastOffset, 8], 8192)).body.readUInt32LE(0),
      0,
      "nothing after the last entry's offset",
    );
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
    assert.equal(
      partial.body.readUInt16LE(0),
      1,
      "the walk stops after '..' (= the root): the parent's file is not reachable",
    );
    assert.equal(call(s, msg(24, 3, [0x7ffn, 8])).errno, 9, "a partial walk creates no fid (EBADF)");
    // A symlink is never followed on the host: walking through it is ENOTDIR, opening it ELOOP.
    assert.equal(walk(s, 0, 4, "out", "secret").body.readUInt16LE(0), 1, "the walk stops at the link");
    assert.equal(walk(s, 0, 5, "out").type, 111);
    assert.equal(walk(s, 5, 8, "secret").errno, ENOTDIR);
    assert.equal(call(s, msg(12, 5, 0)).errno, ELOOP);
    const link = call(s, msg(22, 5));
    assert.equal(
      link.body.subarray(2).toString(),
      dir,
      "readlink gives the target as text for the guest to resolve in its own namespace",
    );
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
    assert.equal(call(s, msg(14, 0, "n", 0o1 | 0o100, 0o644, 0)).errno, EROFS);
    assert.equal(call(s, msg(16, 0, "l", "x", 0)).errno, EROFS);
    assert.equal(call(s, msg(74, 0, "hello.txt", 0, "y")).errno, EROFS);
    assert.equal(call(s, msg(26, 1, 8, 0, 0, 0, [0n, 8], [0n, 8], [0n, 8], [0n, 8], [0n, 8])).errno, EROFS, "truncate");
    assert.equal(call(s, msg(118, 1, [0n, 8], 1, Buffer.from("x"))).errno, EROFS);
    assert.equal(readFileSync(join(share, "hello.txt"), "utf8"), "hello");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("9p: mkdir, symlink, readlink, getattr, rename and unlink act on the share's own files", () => {
  const { dir, share, s } = setup();
  try {
    assert.equal(call(s, msg(72, 0, "d", 0o755, 0)).type, 73); // Tmkdir
    assert.ok(lstatSync(join(share, "d")).isDirectory());
    assert.equal(call(s, msg(16, 0, "l", "/etc/shadow", 0)).type, 17); // Tsymlink: stored as text
    assert.equal(readlinkSync(join(share, "l")), "/etc/shadow");
    assert.equal(walk(s, 0, 1, "l").type, 111);
    assert.equal(call(s, msg(22, 1)).body.subarray(2).toString(), "/etc/shadow"); // Treadlink
    assert.equal(walk(s, 0, 2, "hello.txt").type, 111);
    const a = call(s, msg(24, 2, [0x7ffn, 8])); // Tgetattr: valid[8] qid[13] mode[4] uid gid nlink[8] rdev[8] size[8]
    assert.equal(a.type, 25);
    assert.equal(a.body.readUInt32LE(21) & 0o170000, 0o100000, "a regular file");
    assert.equal(a.body.readBigUInt64LE(49), 5n, "its size");
    assert.equal(a.body.readUInt32LE(25), process.getuid?.(), "the host's uid, as it is");
    assert.equal(a.body.readUInt32LE(29), process.getgid?.(), "the host's gid");
    assert.equal(call(s, msg(74, 0, "hello.txt", 0, "moved.txt")).type, 75); // Trenameat
    assert.ok(existsSync(join(share, "moved.txt")) && !existsSync(join(share, "hello.txt")));
    assert.equal(call(s, msg(76, 0, "moved.txt", 0)).type, 77); // Tunlinkat
    assert.equal(call(s, msg(76, 0, "d", AT_REMOVEDIR)).type, 77);
    assert.ok(!existsSync(join(share, "moved.txt")) && !existsSync(join(share, "d")));
    // "." and ".." never name an entry to create, rename or remove: the share's own directory stays.
    assert.equal(walk(s, 0, 3, "sub").type, 111);
    assert.equal(call(s, msg(76, 3, "..", AT_REMOVEDIR)).errno, EINVAL);
    assert.equal(call(s, msg(76, 0, "..", AT_REMOVEDIR)).errno, EINVAL);
    assert.equal(call(s, msg(74, 3, "..", 0, "x")).errno, EINVAL);
    assert.equal(call(s, msg(72, 0, ".", 0o755, 0)).errno, EINVAL);
    assert.ok(existsSync(join(share, "sub")) && existsSync(join(dir, "secret")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("9p: a directory swapped for a symlink under an open fid, or a missing component, cannot lead out", () => {
  const { dir, share, s } = setup();
  try {
    assert.equal(walk(s, 0, 1, "sub").type, 111);
    // The guest moves the directory its fid names away and puts an absolute symlink to the host's
    // parent directory in its place: the fid's path is re-resolved inside the share, where the
    // link's target does not exist.
    assert.equal(call(s, msg(74, 0, "sub", 0, "sub2")).type, 75);
    assert.equal(call(s, msg(16, 0, "sub", dir, 0)).type, 17);
    assert.equal(call(s, msg(14, 1, "pwn", 0o1 | 0o100, 0o644, 0)).errno, ENOENT);
    assert.ok(!existsSync(join(dir, "pwn")), "nothing was created outside the share");
    // A relative link climbing out stops at the share's root: "../../../secret" is the share's /secret.
    assert.equal(call(s, msg(16, 0, "up", "../../../secret", 0)).type, 17);
    assert.equal(walk(s, 0, 2, "up").type, 111);
    assert.equal(call(s, msg(12, 2, 0)).errno, ELOOP, "a link is never opened as its target");
    // Missing components: the first one is an error, a later one ends the walk there.
    assert.equal(walk(s, 0, 3, "missing", "..", "..", "secret").errno, ENOENT);
    assert.equal(walk(s, 0, 4, "sub2", "missing", "..").body.readUInt16LE(0), 1);
    assert.equal(call(s, msg(24, 4, [0x7ffn, 8])).errno, EBADF);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("9p: host access never follows a symlink on the way, so one swapped in by another VM sharing the folder is refused", () => {
  const { dir, share, s } = setup();
  try {
    writeFileSync(join(share, "sub", "f"), "inside");
    writeFileSync(join(dir, "f"), "outside");
    assert.equal(walk(s, 0, 1, "sub", "f").type, 111);
    // What a second VM on the same folder can do between this server's check and its open: put a
    // link where a directory was. Even a link that stays inside the share is not followed.
    renameSync(join(share, "sub"), join(share, "sub.old"));
    symlinkSync("sub.old", join(share, "sub"));
    assert.equal(call(s, msg(12, 1, 0)).errno, ENOTDIR);
    assert.equal(call(s, msg(24, 1, [0x7ffn, 8])).errno, ENOTDIR);
    // The primitive itself (GuestFs.beneath): a link to the share's parent on the host is refused,
    // where a plain join of the share and the path would read the file beside the share.
    rmSync(join(share, "sub"));
    symlinkSync(dir, join(share, "sub"));
    const g = new GuestFs(share);
    assert.throws(() => g.beneath("/sub/f", (h) => readFileSync(h, "utf8")), { code: "ENOTDIR" });
    assert.equal(readFileSync(join(share, "sub", "f"), "utf8"), "outside", "(the host itself would follow it)");
    assert.equal(
      g.beneath("/sub.old/f", (h) => readFileSync(h, "utf8")),
      "inside",
    );
    assert.equal(
      g.beneath("/", (h) => lstatSync(h).isDirectory()),
      true,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("9p: bounded: msize is capped, fids are limited, special files are not opened", () => {
  const { dir, share, s } = setup();
  try {
    const v = call(s, msg(100, 1 << 30, "9P2000.L"));
    assert.equal(v.body.readUInt32LE(0), 512 * 1024, "msize capped at 512 KiB");
    assert.equal(call(s, msg(100, 100, "9P2000.L")).errno, EINVAL, "an msize below 4096 is refused");
    assert.equal(call(s, msg(104, 0, 0xffffffff, "root", "", 0)).type, 105);
    let n = 1;
    while (walk(s, 0, n).type === 111) n++;
    assert.equal(n, 4096, "4096 fids, then no more");
    assert.equal(walk(s, 0, n).errno, ENFILE);
    assert.equal(call(s, msg(120, 5)).type, 121, "a clunk frees one");
    assert.equal(walk(s, 0, 5).type, 111);
    // Directory listings held for open fids are bounded all together (here 8 names: one listing of
    // the 5-entry root fits, a second does not until the first is clunked).
    const small = new P9Server(share, { maxListed: 8 });
    small.handle(msg(100, 65536, "9P2000.L"));
    small.handle(msg(104, 0, 0xffffffff, "root", "", 0));
    for (const fid of [1, 2]) assert.equal(walk(small, 0, fid).type, 111);
    assert.equal(call(small, msg(12, 1, 0)).type, 13);
    assert.equal(call(small, msg(12, 2, 0)).errno, ENFILE);
    assert.equal(call(small, msg(120, 1)).type, 121);
    assert.equal(call(small, msg(12, 2, 0)).type, 13);
    if (spawnSync("mkfifo", [join(share, "fifo")]).status === 0) {
      assert.equal(call(s, msg(120, 6)).type, 121);
      assert.equal(walk(s, 0, 6, "fifo").type, 111);
      assert.equal(call(s, msg(12, 6, 0)).errno, ENXIO, "opening a FIFO would block the machine");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("9p: hostile messages (truncated, wrong sizes, unknown types, bad fids, random bytes) get Rlerror, never an exception", () => {
  const { dir, share, s } = setup();
  try {
    assert.equal(call(s, Buffer.from([3, 0, 0, 0, 110, 1, 0])).errno, EINVAL, "size field below the header");
    const w = walk(s, 0, 1, "hello.txt");
    assert.equal(w.type, 111);
    const long = msg(110, 0, 2, [1, 2], "hello.txt");
    long.writeUInt32LE(long.length + 10);
    assert.equal(call(s, long).errno, EINVAL, "size field beyond the buffer");
    assert.equal(call(s, msg(110, 0, 2, [3, 2], "sub")).errno, EINVAL, "fields beyond the message");
    assert.equal(call(s, msg(12, 1, 2)).type, 13);
    assert.equal(call(s, msg(118, 1, [0n, 8], 100, Buffer.from("x"))).errno, EINVAL, "a write's count beyond its data");
    assert.equal(call(s, msg(200, 1)).errno, 95, "unknown type: EOPNOTSUPP");
    assert.equal(call(s, msg(116, 77, [0n, 8], 10)).errno, EBADF);
    assert.equal(call(s, msg(30, 0, 9, "user.x")).errno, 95, "xattrs: EOPNOTSUPP");
    assert.equal(call(s, msg(108, [1, 2])).type, 109, "Tflush");
    // Mutated valid messages and random bytes, fixed seed: every answer is an R-message carrying
    // the request's tag. A read-only server on the same share, so no mutation can chmod or remove
    // the test's own files.
    const ro = new P9Server(share, { readOnly: true });
    ro.handle(msg(100, 65536, "9P2000.L"));
    ro.handle(msg(104, 0, 0xffffffff, "root", "", 0));
    ro.handle(msg(110, 0, 1, [1, 2], "hello.txt"));
    const seeds = [
      msg(110, 0, 3, [1, 2], "sub"),
      msg(12, 1, 0),
      msg(116, 1, [0n, 8], 64),
      msg(40, 0, [0n, 8], 512),
      msg(24, 0, [0x7ffn, 8]),
      msg(72, 0, "z", 0o755, 0),
    ];
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(64), fc.nat(255)), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 64 }),
        (k, edits, tail) => {
          const m = Buffer.concat([seeds[k]!, tail]);
          for (const [at, v] of edits) if (at < m.length && at !== 5 && at !== 6) m[at] = v;
          const r = ro.handle(m);
          assert.ok(r.length >= 7 && r.readUInt32LE(0) === r.length);
          assert.equal(r.readUInt16LE(5), 1);
          assert.ok(r.readUInt8(4) % 2 === 1);
        },
      ),
      { seed: 9, numRuns: 1500 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "--share: a Debian guest reads and writes a host folder on /mnt/TAG and cannot leave it",
  { timeout: 600_000 },
  async (t) => {
    const img = await debianImage();
    if (typeof img === "string") return t.skip(img);
    const { dir, share } = setup();
    // Links the host would follow out of the share, absolute and relative, to the host file beside
    // it: the guest resolves each in its own namespace, where that file does not exist.
    symlinkSync(join(dir, "secret"), join(share, "abs"));
    symlinkSync("../secret", join(share, "rel"));
    try {
      const cmd = [
        "cat /mnt/hs/hello.txt; echo",
        "echo from-guest > /mnt/hs/sub/g.txt",
        "ls /mnt/hs/out/ | grep -c secret",
        "ls -a /mnt/hs | grep -cx -e hello.txt -e sub -e abs -e rel -e '[.][.]'",
        "cat /mnt/hs/../hs/../secret 2>&1 | head -1",
        "cat /mnt/hs/abs /mnt/hs/rel 2>&1 | head -2",
        "echo ESCAPE-CHECKED",
      ].join("; ");
      const child = spawn(
        process.execPath,
        [
          "bin/typevisor.js",
          "run",
          "--kernel",
          img.kernel,
          "--initrd",
          img.initrd,
          "--memory",
          "192M",
          "--share",
          `${share}:hs`,
          "--append",
          `console=ttyS0 quiet tv.cmd="${cmd}"`,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
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
      assert.match(out, /^5\r?$/m, "the share's listing (Treaddir) has its entries");
      assert.doesNotMatch(out, /outside/, "the file outside the share was never read");
      assert.match(out, /ESCAPE-CHECKED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
