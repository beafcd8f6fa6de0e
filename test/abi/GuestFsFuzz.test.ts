// Property-based fuzzing of --root path resolution (issue 12): random trees of directories, files
// and symlinks (absolute, relative, dangling, looping, with trailing slashes), random paths with
// "..", ".", missing components, repeated and trailing slashes, looked up from random working
// directories, with and without following the last link. The oracle is the real kernel: the host's
// static busybox runs `stat` under chroot(8) in the same scratch tree, so every answer (the inode
// reached, or the error) must be the one GuestFs gives. Every host path GuestFs hands out must
// lie inside the root.
//
// CI runs RUNS trees with a fixed seed; a longer run (docs/TESTING.md):
//   GUESTFS_FUZZ_RUNS=2000 GUESTFS_FUZZ_SEED=7 node --test dist/test/abi/GuestFsFuzz.test.js
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { GuestFs } from "../../src/abi/GuestFs.js";
import { errnoName, errnoOf } from "../../src/abi/Errno.js";

const RUNS = Number(process.env["GUESTFS_FUZZ_RUNS"] ?? 25);
const SEED = Number(process.env["GUESTFS_FUZZ_SEED"] ?? 20261204);
const BUSYBOX = "/bin/busybox";

const NAMES = ["a", "b", "c", "d"] as const;
/** Path components: tree names, one that never exists, and the two special ones. */
const COMPONENT = fc.constantFrom("a", "b", "c", "d", "x", ".", "..", "");

interface PathSpec {
  abs: boolean;
  comps: string[];
  trailing: boolean;
}
const pathArb = fc.record({ abs: fc.boolean(), comps: fc.array(COMPONENT, { maxLength: 6 }), trailing: fc.boolean() });

function pathText(p: PathSpec): string {
  let s = (p.abs ? "/" : "") + p.comps.join("/");
  if (p.trailing && s.length > 0 && !s.endsWith("/")) s += "/";
  return s.length === 0 ? "." : s;
}

interface EntrySpec {
  parent: number;
  name: string;
  kind: "dir" | "file" | "link";
  target: PathSpec;
}
const entryArb = fc.record({
  parent: fc.nat(20),
  name: fc.constantFrom(...NAMES),
  kind: fc.constantFrom<EntrySpec["kind"]>("dir", "dir", "file", "link", "link"),
  target: pathArb,
});

interface Query {
  base: number;
  path: PathSpec;
}
const caseArb = fc.record({
  entries: fc.array(entryArb, { minLength: 3, maxLength: 18 }),
  queries: fc.array(fc.record({ base: fc.nat(20), path: pathArb }), { minLength: 12, maxLength: 30 }),
});

/** Builds the tree under root; returns the directories (guest paths, "/" first). */
function build(root: string, entries: EntrySpec[]): string[] {
  const dirs = ["/"];
  for (const e of entries) {
    const parent = dirs[e.parent % dirs.length]!;
    const guest = (parent === "/" ? "" : parent) + "/" + e.name;
    const host = root + guest;
    if (existsSync(host) || lstatSync(host, { throwIfNoEntry: false })) continue;
    if (e.kind === "dir") {
      mkdirSync(host);
      dirs.push(guest);
    } else if (e.kind === "file") writeFileSync(host, "");
    else symlinkSync(pathText(e.target), host);
  }
  return dirs;
}

/** Linux's strerror texts as busybox prints them, back to errno names. */
const MESSAGES: Record<string, string> = {
  "No such file or directory": "ENOENT",
  "Not a directory": "ENOTDIR",
  "Too many levels of symbolic links": "ELOOP",
  "Symbolic link loop": "ELOOP",
  "File name too long": "ENAMETOOLONG",
  "Permission denied": "EACCES",
};

/** The kernel's answers: for each query, [lstat-like, stat-like] as an inode number or errno name. */
function kernelAnswers(root: string, dirs: string[], queries: Query[]): string[] {
  const lines: string[] = [];
  for (const q of queries) {
    const base = dirs[q.base % dirs.length]!;
    const p = pathText(q.path);
    // cd in a subshell per query keeps the bases independent; each stat prints exactly one line.
    lines.push(`(cd '${base}' && /busybox stat -c %i '${p}'; cd '${base}' && /busybox stat -L -c %i '${p}') 2>&1`);
  }
  const r = spawnSync("chroot", [root, "/busybox", "sh"], { input: lines.join("\n") + "\n", encoding: "utf8" });
  if (r.status !== 0 && r.stdout === "") throw new Error(`chroot failed: ${r.stderr}`);
  const out = r.stdout.split("\n").slice(0, -1);
  assert.equal(out.length, queries.length * 2, `one line per stat:\n${r.stdout}`);
  return out.map((l) => {
    if (/^\d+$/.test(l)) return l;
    const m = /: ([^:]+)$/.exec(l);
    const name = m ? MESSAGES[m[1]!] : undefined;
    if (!name) throw new Error(`unexpected busybox output: ${l}`);
    return name;
  });
}

function ours(g: GuestFs, root: string, base: string, path: string, follow: boolean): string {
  try {
    const r = g.resolve(base, path, follow);
    assert.ok(r.host === root || r.host.startsWith(root + "/"), `${r.host} lies inside ${root}`);
    return String(lstatSync(r.host).ino);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return errnoName(errnoOf(e));
  }
}

const noChroot =
  process.getuid?.() !== 0
    ? "chroot(8), the oracle, needs root"
    : !existsSync(BUSYBOX)
      ? `${BUSYBOX} is missing (apt-get install busybox-static)`
      : undefined;

test(`GuestFs resolves random paths in random trees as the kernel does under chroot (${RUNS} trees, seed ${SEED})`, (t) => {
  if (noChroot) return t.skip(noChroot);
  const scratchDir = mkdtempSync(join(tmpdir(), "tv-fsfuzz-"));
  t.after(() => rmSync(scratchDir, { recursive: true, force: true }));
  let n = 0;
  let queries = 0;
  fc.assert(
    fc.property(caseArb, ({ entries, queries: qs }) => {
      const root = realpathSync(mkdtempSync(join(scratchDir, `t${n++}-`)));
      try {
        copyFileSync(BUSYBOX, join(root, "busybox"));
        const dirs = build(root, entries);
        const want = kernelAnswers(root, dirs, qs);
        const g = new GuestFs(root);
        qs.forEach((q, i) => {
          const base = dirs[q.base % dirs.length]!;
          const p = pathText(q.path);
          const got = [ours(g, root, base, p, false), ours(g, root, base, p, true)];
          assert.deepEqual(
            got,
            [want[2 * i], want[2 * i + 1]],
            `path ${JSON.stringify(p)} from ${base} (nofollow, follow)`,
          );
          queries++;
        });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
  t.diagnostic(`${RUNS} trees, ${queries} paths, each resolved with and without following the last link`);
});
