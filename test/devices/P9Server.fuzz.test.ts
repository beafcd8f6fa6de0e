// Property-based fuzzing of the 9P2000.L server behind virtio-9p (src/devices/fs/P9Server.ts), the
// way a hostile guest kernel would talk to it: random sequences of T-messages (attach, walk through
// "..", ".", host symlinks that lead out of the share, names with "/", create, mkdir, symlink, link,
// mknod, rename, renameat, unlinkat, remove, open, read, write, setattr with truncation, readdir,
// readlink, getattr, statfs, clunk) on a small pool of fids, plus raw garbage. Invariants: the
// server never throws, every reply is a well-formed R-message (size field = length, the request's
// tag, type T+1 or Rlerror), and nothing outside the share changes: a sibling directory full of
// targets (reachable through symlinks in the share) keeps its exact tree, contents and modes.
// Also: virtio-9p rate-limits its log lines for malformed requests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { P9Server } from "../../src/devices/fs/P9Server.js";
import { makeGuest, rig, tempDir } from "./helpers.js";
import { Virtio9p } from "../../src/devices/virtio/Virtio9p.js";
import { fuzzParams } from "./fuzzConfig.js";
import { msg as p9msg } from "../fs/p9Message.js";

type Field = number | string | [number | bigint, 1 | 2 | 4 | 8] | Buffer;

/** A T-message with the given tag (the shared builder always uses tag 1). */
function msg(type: number, tag: number, fields: Field[]): Buffer {
  const m = p9msg(type, ...fields);
  m.writeUInt16LE(tag, 5);
  return m;
}

/** Path, kind, mode and content hash of every entry under `dir` (symlinks not followed). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${p} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${p}/ ${st.mode.toString(8)}`);
        walk(p);
      } else
        out.push(
          `${p} ${st.mode.toString(8)} ${st.size} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`,
        );
    }
  };
  walk(dir);
  return out;
}

const fidArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 4096, 1 << 20) },
);
const nameArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom("..", ".", "sub", "f", "out", "abs", "rel", "new", "up", "secret", "outside"),
  },
  { weight: 1, arbitrary: fc.constantFrom("", "a/b", "../outside", "/", "sub/..", "\0", "..\0") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const targetArb = fc.constantFrom("../outside/secret", "/etc/passwd", "..", "sub", "out/secret", "");
const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const smallU64 = fc.oneof(fc.bigInt({ min: 0n, max: 8192n }), u64);
const flagsArb = fc.oneof(fc.constantFrom(0, 1, 2, 0o100 | 2, 0o1000 | 1, 0o2000 | 1, 0o200000, 0o400000), u32);

const tm = (type: number, fields: Field[]): [number, Field[]] => [type, fields];

/** One T-message: [type, fields]. */
const tmsgArb: fc.Arbitrary<[number, Field[]]> = fc.oneof(
  fc
    .tuple(
      fc.constant(100),
      fc.tuple(fc.constantFrom(4096, 8192, 65536, 7, 0, 0xffffffff), fc.constantFrom("9P2000.L", "9P2000", "")),
    )
    .map(([t, [m, v]]) => tm(t, [m, v])),
  fc
    .tuple(fc.constant(104), fc.tuple(fidArb, fc.constantFrom("", "share", "../")))
    .map(([t, [f, a]]) => tm(t, [f, 0xffffffff, "root", a, 0])),
  fc
    .tuple(fc.constant(110), fc.oneof(fc.constant(0), fidArb), fidArb, fc.array(nameArb, { maxLength: 4 }))
    .map(([t, f, n, names]) => tm(t, [f, n, [names.length, 2], ...names])),
  fc.tuple(fc.constant(12), fidArb, flagsArb).map(([t, f, fl]) => tm(t, [f, fl])),
  fc.tuple(fc.constant(14), fidArb, nameArb, flagsArb, u32).map(([t, f, n, fl, m]) => tm(t, [f, n, fl, m & 0o7777, 0])),
  fc.tuple(fc.constant(16), fidArb, nameArb, targetArb).map(([t, f, n, tg]) => tm(t, [f, n, tg, 0])),
  fc.tuple(fc.constant(18), fidArb, nameArb, u32).map(([t, f, n, m]) => tm(t, [f, n, m, 0, 0, 0])),
  fc.tuple(fc.constant(20), fidArb, fidArb, nameArb).map(([t, f, d, n]) => tm(t, [f, d, n])),
  fc.tuple(fc.constant(22), fidArb).map(([t, f]) => tm(t, [f])),
  fc.tuple(fc.constant(24), fidArb).map(([t, f]) => tm(t, [f, [0x3fffn, 8]])),
  fc
    .tuple(fc.constant(26), fidArb, u32, u32, smallU64)
    .map(([t, f, valid, mode, size]) =>
      tm(t, [f, valid & 0x1ff, mode, 0, 0, [size, 8], [0n, 8], [0n, 8], [0n, 8], [0n, 8]]),
    ),
  fc.tuple(fc.constant(40), fidArb, smallU64, fc.nat({ max: 70000 })).map(([t, f, o, c]) => tm(t, [f, [o, 8], c])),
  fc.tuple(fc.constant(70), fidArb, fidArb, nameArb).map(([t, d, f, n]) => tm(t, [d, f, n])),
  fc.tuple(fc.constant(72), fidArb, nameArb, u32).map(([t, f, n, m]) => tm(t, [f, n, m & 0o7777, 0])),
  fc.tuple(fc.constant(74), fidArb, nameArb, fidArb, nameArb).map(([t, a, n, b, m]) => tm(t, [a, n, b, m])),
  fc
    .tuple(fc.constant(76), fidArb, nameArb, fc.constantFrom(0, 0x200, 0xffffffff))
    .map(([t, f, n, fl]) => tm(t, [f, n, fl])),
  fc.tuple(fc.constant(116), fidArb, smallU64, fc.nat({ max: 70000 })).map(([t, f, o, c]) => tm(t, [f, [o, 8], c])),
  fc
    .tuple(fc.constant(118), fidArb, smallU64, fc.uint8Array({ maxLength: 64 }), fc.boolean())
    .map(([t, f, o, d, lie]) => tm(t, [f, [o, 8], lie ? d.length + 1000 : d.length, Buffer.from(d)])),
  fc.tuple(fc.constantFrom(120, 122, 8, 50, 108), fidArb).map(([t, f]) => tm(t, [f, 0])),
  fc.tuple(fc.constant(30), fidArb, fidArb, nameArb).map(([t, f, n, name]) => tm(t, [f, n, name])),
  fc.tuple(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([t, d]) => tm(t, [Buffer.from(d)])),
  fc
    .tuple(fc.constant(110), fc.oneof(fc.constant(0), fidArb), fidArb, fc.array(nameArb, { maxLength: 4 }))
    .map(([t, f, n, names]) => tm(t, [f, n, [names.length, 2], ...names])),
  fc.tuple(fc.constant(12), fidArb, flagsArb).map(([t, f, fl]) => tm(t, [f, fl])),
  fc.tuple(fc.constant(14), fidArb, nameArb, flagsArb, u32).map(([t, f, n, fl, m]) => tm(t, [f, n, fl, m & 0o7777, 0])),
  fc.tuple(fc.constant(116), fidArb, smallU64, fc.nat({ max: 70000 })).map(([t, f, o, c]) => tm(t, [f, [o, 8], c])),
  fc
    .tuple(fc.constant(118), fidArb, smallU64, fc.uint8Array({ maxLength: 64 }), fc.boolean())
    .map(([t, f, o, d, lie]) => tm(t, [f, [o, 8], lie ? d.length + 1000 : d.length, Buffer.from(d)])),
);

test("fuzz: the 9P server answers random hostile message sequences with well-formed replies and never leaves its share", (t) => {
  const dir = tempDir(t);
  let n = 0;
  let replies = 0;
  const ok = new Map<number, number>();
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          tmsgArb,
          fc.nat({ max: 0xffff }),
          fc.nat({ max: 7 }).map((k) => k === 0),
        ),
        { minLength: 1, maxLength: 40, size: "medium" },
      ),
      (seq) => {
        const root = join(dir, `r${n++}`);
        const outside = join(root, "outside");
        const share = join(root, "share");
        mkdirSync(join(outside, "d"), { recursive: true });
        writeFileSync(join(outside, "secret"), "outside");
        mkdirSync(join(share, "sub"), { recursive: true });
        writeFileSync(join(share, "f"), "data");
        symlinkSync(root, join(share, "out")); // host symlinks leading out of the share
        symlinkSync(outside, join(share, "abs"));
        symlinkSync("../outside", join(share, "rel"));
        symlinkSync("../../outside/secret", join(share, "sub", "up"));
        const before = snapshot(outside);
        const s = new P9Server(share);
        // Most sequences start the way Linux does, so the deeper messages have fids to work on.
        s.handle(msg(100, 0xffff, [65536, "9P2000.L"]));
        s.handle(msg(104, 1, [0, 0xffffffff, "root", "", 0]));
        s.handle(msg(110, 1, [0, 1, [1, 2], "f"])); // fid 1: a file opened read-write
        s.handle(msg(12, 1, [1, 2]));
        s.handle(msg(110, 1, [0, 2, [1, 2], "sub"])); // fid 2: an open directory
        s.handle(msg(12, 1, [2, 0o200000]));
        for (const [[type, fields], tag, truncate] of seq) {
          let m = msg(type, tag, fields);
          if (truncate && m.length > 8) m = m.subarray(0, 7 + ((tag % (m.length - 7)) | 0)); // a message cut short
          const r = s.handle(m);
          replies++;
          assert.ok(r.length >= 7, "reply has a header");
          assert.equal(r.readUInt32LE(0), r.length, "size field is the reply's length");
          const rtype = r.readUInt8(4);
          assert.ok(rtype === 7 || rtype === type + 1, `reply type ${rtype} to T${type}`);
          if (rtype !== 7) ok.set(type, (ok.get(type) ?? 0) + 1);
          if (m.length >= 7) assert.equal(r.readUInt16LE(5), tag, "the request's tag");
        }
        assert.deepEqual(snapshot(outside), before, "nothing outside the share changed");
        assert.deepEqual(readdirSync(root).sort(), ["outside", "share"], "nothing created beside the share");
        rmSync(root, { recursive: true, force: true });
      },
    ),
    fuzzParams(150),
  );
  t.diagnostic(`${replies} messages; successful replies by T-type: ${JSON.stringify(Object.fromEntries(ok))}`);
});

test("hostile: malformed virtio-9p requests in a loop get a bounded number of log lines", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, "share"));
  const r = rig(makeGuest(), (m) => new Virtio9p(m, new P9Server(join(dir, "share")), "share"));
  r.drv.init(0n, 1);
  const q = r.drv.queues[0]!;
  const buf = r.drv.alloc.alloc(64);
  for (let i = 0; i < 1000; i++) {
    q.add([{ addr: buf, len: 3 }], [{ addr: buf + 16, len: 16 }]); // shorter than a 9P header
    q.kick();
    await r.drv.waitUsed(q);
  }
  assert.ok(r.logs.length <= 50, `${r.logs.length} log lines`);
  assert.match(r.logs.at(-1)!, /not logged/);
});
