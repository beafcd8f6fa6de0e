// Snapshots of a machine whose harts run on vCPU threads (`run --cpus 2`): the two-hart guest of
// test/control/smp.c counts on each hart ("A<n>": hart 0, busy, AMOs; "B<n>": hart 1, sleeping in
// wfi until its SBI timer between counts; lines under an LR/SC spinlock). It is stopped at random
// points, snapshotted, restored, stopped again...: over all runs each hart's sequence must be
// 1, 2, 3, ... with no gap and no repeat, and both harts must go on counting after every restore
// (hart 1 only does if its timer came back). One restore runs on the single-thread loop
// (--vcpu-threads off) and the next back on threads: the saved state is the same either way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCGuest, hasCrossGcc } from "../../control/guest.js";
import { assertSmpContinuous, prng, runUntil, smpCounts, snapshotChain } from "./runGuest.js";

test(
  "run --cpus 2 --snapshot-on-exit / --restore continue both harts' counts exactly",
  { skip: !hasCrossGcc && "riscv64-linux-gnu-gcc is not installed" },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "tv-snap-smp-"));
    try {
      const guest = join(dir, "guest.bin");
      copyFileSync(buildCGuest("smp.c"), guest);
      const rnd = prng(Number(process.env["TV_SNAPSHOT_SEED"] ?? 17));
      // Round 1 repeats --cpus as the snapshot's (allowed) and interprets; round 2 restores onto
      // the single-thread loop, round 3 back onto threads.
      const roundFlags = [
        [],
        ["--engine", "interp", "--cpus", "2"],
        ["--vcpu-threads", "off"],
        ["--snapshot-compress"],
      ];
      const chain = await snapshotChain(
        dir,
        ["--kernel", guest, "--memory", "32M", "--cpus", "2"],
        4,
        (r) => roundFlags[r]!,
        () => {
          const a = 5 + Math.floor(rnd() * 40);
          const b = 3 + Math.floor(rnd() * 5);
          return (out) => smpCounts(out, "A").length >= a && smpCounts(out, "B").length >= b;
        },
      );
      let all = chain.all;
      const snap = chain.snap;
      const last = await runUntil(
        ["--restore", snap, "--stats"],
        (out) => smpCounts(out, "A").length >= 10 && smpCounts(out, "B").length >= 3,
      );
      all += last.out;
      // The restore ran on two vCPU threads.
      assert.match(last.err, /vCPU 1: \d+ instructions/);
      // A lazy restore onto the threads: they read the pages they touched from the file (the
      // guest's code, stacks and both 1 MiB regions, whose contents each hart checks).
      const lazy = await runUntil(
        ["--restore", join(dir, "s2.snap"), "--stats"],
        (out) => smpCounts(out, "A").length >= 3 && smpCounts(out, "B").length >= 3,
      );
      assert.match(lazy.err, /RAM pages are loaded on first touch/);
      const paged = Number(/(\d+) RAM pages were loaded on first touch/.exec(lazy.err)?.[1]);
      assert.ok(paged >= 512, `only ${paged} pages loaded on first touch:\n${lazy.err}`);
      assert.doesNotMatch(lazy.out, /^X\d$/m, "a hart found a page of its region wrong");
      for (const tag of ["A", "B"] as const) {
        const n = smpCounts(all, tag).length;
        assert.ok(n >= 15, `hart ${tag}: only ${n} counts`);
      }
      assertSmpContinuous(all, "4 restores");
      // The snapshot keeps its vCPU count: another --cpus is refused, naming both.
      const wrong = spawnSync(process.execPath, ["bin/typevisor.js", "run", "--restore", snap, "--cpus", "1"], {
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(wrong.status, 2);
      assert.match(wrong.stderr, /--cpus 1: snapshot .* machine with 2 vCPU\(s\), and a restore keeps them/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
