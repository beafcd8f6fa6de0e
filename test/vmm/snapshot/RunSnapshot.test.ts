// `typevisor run --snapshot-on-exit` / `run --restore`: a bare-metal guest counting and writing a
// numbered record per count to its virtio-blk disk (test/control/disk.c prints "W<n>" once write n
// has completed) is stopped at random points, snapshotted, restored, stopped again... The printed
// sequence over all runs must be 1, 2, 3, ... with no gap and no repeat, and the disk must hold the
// last 63 completed records: a write in flight at the snapshot is neither lost nor done twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCGuest, hasCrossGcc } from "../../control/guest.js";
import { prng, runUntil as runGuest, snapshotChain } from "./runGuest.js";

const NSECT = 64;

/** Runs `typevisor run ARGS` until `stopAfter` "W" lines appeared, then SIGTERM. */
function runUntil(args: string[], stopAfter: number): ReturnType<typeof runGuest> {
  return runGuest(args, (out) => (out.match(/W\d+\n/g)?.length ?? 0) >= stopAfter);
}

test(
  "run --snapshot-on-exit / --restore continue a counting, disk-writing guest exactly",
  { skip: !hasCrossGcc && "riscv64-linux-gnu-gcc is not installed" },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "tv-snap-run-"));
    try {
      const guest = join(dir, "guest.bin");
      copyFileSync(buildCGuest("disk.c"), guest);
      const disk = join(dir, "disk.img");
      writeFileSync(disk, new Uint8Array(NSECT * 512));
      const rnd = prng(Number(process.env["TV_SNAPSHOT_SEED"] ?? 18));
      // Alternate engines on restore: the state is the architectural one, not the translator's.
      // Restores are lazy (pages read on first touch) except round 1's; the last restore, from
      // a deflated snapshot, is eager too.
      const roundFlags = [[], ["--restore-eager"], ["--engine", "interp"], ["--snapshot-compress"]];
      const chain = await snapshotChain(
        dir,
        ["--kernel", guest, "--disk", disk, "--memory", "32M"],
        4,
        (r) => roundFlags[r]!,
        () => {
          const n = 10 + Math.floor(rnd() * 60);
          return (out) => (out.match(/W\d+\n/g)?.length ?? 0) >= n;
        },
      );
      let all = chain.all;
      const snap = chain.snap;
      // The last snapshot (compressed) restores too; this run ends the sequence.
      const last = await runUntil(["--restore", snap], 30);
      all += last.out;
      const seq = [...all.matchAll(/W(\d+)\n/g)].map((m) => Number(m[1]));
      assert.ok(seq.length > 60, `only ${seq.length} records`);
      seq.forEach((n, i) => assert.equal(n, i + 1, `record ${i + 1} printed as W${n}: gap or repeat at a restore`));
      // Each sector holds its latest record (the one after the last printed may have completed too,
      // overwriting the oldest slot, so that slot is not checked).
      const img = readFileSync(disk);
      const top = seq[seq.length - 1]!;
      for (let n = Math.max(1, top - (NSECT - 2)); n <= top; n++) {
        const s = img.subarray((n % NSECT) * 512, (n % NSECT) * 512 + 512);
        assert.equal(s.toString("latin1", 0, 4), "TVDK", `sector ${n % NSECT} has no record`);
        assert.equal(
          Number(s.readBigUInt64LE(4)),
          n,
          `sector ${n % NSECT} holds record ${s.readBigUInt64LE(4)}, not ${n}`,
        );
        for (let i = 12; i < 512; i++) assert.equal(s[i], (n * 31 + i) & 0xff, `record ${n} byte ${i}`);
      }
      // A kernel that changed since the snapshot is refused, naming the file.
      writeFileSync(guest, Buffer.concat([readFileSync(guest), Buffer.from([0])]));
      const changed = await runUntil(["--restore", snap], 1);
      assert.equal(changed.code, 2);
      assert.match(changed.err, /changed since snapshot/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("run --restore refuses a file that is not a snapshot, a future format and machine flags", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-snap-bad-"));
  try {
    const { spawnSync } = await import("node:child_process");
    const run = (...a: string[]) =>
      spawnSync(process.execPath, ["bin/typevisor.js", "run", ...a], { encoding: "utf8", timeout: 30_000 });
    const junk = join(dir, "junk");
    writeFileSync(junk, "hello");
    let r = run("--restore", junk);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not a Typevisor snapshot/);
    const future = join(dir, "future.snap");
    const h = Buffer.alloc(16);
    h.write("TYPVSNAP", 0, "latin1");
    h.writeUInt32LE(99, 8);
    writeFileSync(future, h);
    r = run("--restore", future);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /format version 99.*reads version 1/);
    r = run("--restore", join(dir, "missing.snap"));
    assert.match(r.stderr, /does not exist/);
    r = run("--restore", future, "--memory", "64M");
    assert.match(r.stderr, /--memory cannot be combined with --restore/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
