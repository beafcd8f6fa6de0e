// What the snapshot tests of `typevisor run` share: running it until the guest printed enough, and
// a seeded PRNG for the stop points.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** A small deterministic PRNG (mulberry32): the stop points vary between runs of a seed, not between CI runs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `typevisor run ARGS` and sends it SIGTERM once `enough(stdout)` holds; resolves with its
 * stdout, stderr and exit code (rejects after 60 s).
 */
export function runUntil(
  args: string[],
  enough: (out: string) => boolean,
): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["bin/typevisor.js", "run", ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let sent = false;
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`typevisor run ${args.join(" ")} did not finish: ${out.slice(-200)} ${err}`));
    }, 60_000);
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString("latin1");
      if (!sent && enough(out)) {
        sent = true;
        p.kill("SIGTERM");
      }
    });
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ out, err, code });
    });
  });
}

/**
 * Boots with `boot` (machine flags) and `--snapshot-on-exit`, stops it when `enough(round)` holds,
 * restores the snapshot with `--snapshot-on-exit` again and `flags(round)` added, `rounds` times in
 * all (each run must write its snapshot). Returns the output of every run in order, and the last
 * snapshot.
 */
export async function snapshotChain(
  dir: string,
  boot: string[],
  rounds: number,
  flags: (round: number) => string[],
  enough: (round: number) => (out: string) => boolean,
): Promise<{ all: string; snap: string }> {
  let all = "";
  let snap = "";
  for (let r = 0; r < rounds; r++) {
    const next = `${dir}/s${r}.snap`;
    const args = [...(r === 0 ? boot : ["--restore", snap]), "--snapshot-on-exit", next, ...flags(r)];
    const res = await runUntil(args, enough(r));
    assert.match(res.err, /snapshot written to/, `round ${r}: ${res.err}`);
    assert.ok(existsSync(next));
    all += res.out;
    snap = next;
  }
  return { all, snap };
}

/**
 * The two-hart guest of test/control/smp.c: hart `tag`'s counts ("A<n>" or "B<n>" lines) in the
 * whole lines of `text` (its last line may still be being printed).
 */
export function smpCounts(text: string, tag: "A" | "B"): number[] {
  const whole = text.slice(0, text.lastIndexOf("\n") + 1);
  return [...whole.matchAll(new RegExp(`^${tag}(\\d+)$`, "gm"))].map((m) => Number(m[1]));
}

/** Each hart's count in `text` (smp.c's output) goes up by one from 1, and every line is whole. */
export function assertSmpContinuous(text: string, what: string): void {
  for (const t of ["A", "B"] as const) {
    smpCounts(text, t).forEach((n, i) =>
      assert.equal(n, i + 1, `${what}: hart ${t} printed ${n} as its count ${i + 1}: gap or repeat`),
    );
  }
  // A restore neither drops nor repeats a character of the UART output.
  for (const l of text.split("\n").slice(0, -1)) assert.match(l, /^[AB]\d+$/, `${what}: line '${l}' cut`);
}
