// Differential lockstep mode: runs the same program on two harts, one with the binary translator
// attached and one interpreting, in chunks of `chunk` instructions, and stops at the first chunk after
// which their architectural state differs (pc, x and f registers, fcsr, privilege, instret, and the
// RAM bytes when `compareRam` is set). For debugging the translator and as a CI check on real code
// (`typevisor run-elf --lockstep`, test/dbt/lockstepWorkload.test.ts).
import { ExitReason, type Hart } from "../riscv/Hart.js";

/** What the host says after a chunk: go on, stop (no divergence), or a difference it saw itself. */
export type ChunkVerdict = "continue" | "stop" | { divergence: string };

export interface LockstepOptions {
  /** Instructions per step of the comparison (default 1000). Smaller finds divergences closer. */
  chunk?: number;
  /** Limit on the steps handed to run() (default 10 million; a step is an instruction or a trap entry). */
  maxInsns?: number;
  /** Also compare guest RAM after each chunk (slow on large RAM). */
  compareRam?: boolean;
  /**
   * Called after every chunk on which the harts agree, whatever the exit reason, before onExit: the
   * place for host devices that poll guest memory (HTIF tohost), so both machines see them at the
   * same instruction. A divergence it returns (e.g. different console output) ends the run.
   */
  onChunk?: (reason: ExitReason, dbt: Hart, interp: Hart) => ChunkVerdict;
  /**
   * Called when both harts leave run() for the same non-budget reason (e.g. an ecall handed to the
   * host); return false to stop. The default stops.
   */
  onExit?: (reason: ExitReason, dbt: Hart, interp: Hart) => boolean;
}

export interface LockstepResult {
  /** undefined when the harts agreed to the end. */
  divergence: string | undefined;
  /** Instructions the interpreting hart retired in agreement (exact, not rounded to chunks). */
  insns: number;
  reason: ExitReason;
}

// ExitReason is a const enum (no reverse mapping): its names, for the reports.
const REASONS = ["budget", "trap", "wfi", "halt"];

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** The first RAM byte at which the two harts' memories differ, described; undefined if equal. */
export function compareRam(a: Hart, b: Hart): string | undefined {
  const ra = a.memory.bytes,
    rb = b.memory.bytes;
  if (ra.length !== rb.length) return `RAM sizes differ: dbt ${ra.length} interp ${rb.length} bytes`;
  if (Buffer.compare(ra, rb) === 0) return undefined;
  // Compare 4 KiB pages with memcmp first: a byte loop over 64 MiB in JS would take a second.
  let p = 0;
  while (p < ra.length && Buffer.compare(ra.subarray(p, p + 4096), rb.subarray(p, p + 4096)) === 0) p += 4096;
  let i = p;
  while (ra[i] === rb[i]) i++;
  return `RAM differs first at ${hex(a.memory.base + i)}: dbt ${hex(ra[i]!)} interp ${hex(rb[i]!)}`;
}

/** Describes how two harts' states differ, or returns undefined if they agree. */
export function compareHarts(a: Hart, b: Hart, withRam: boolean): string | undefined {
  const diffs: string[] = [];
  if (a.getPc() !== b.getPc()) diffs.push(`pc dbt ${hex(a.getPc())} interp ${hex(b.getPc())}`);
  for (let i = 1; i < 32; i++) {
    if (a.getX(i) !== b.getX(i)) diffs.push(`x${i} dbt ${hex(a.getX(i))} interp ${hex(b.getX(i))}`);
  }
  for (let i = 0; i < 32; i++) {
    if (a.getF(i) !== b.getF(i)) diffs.push(`f${i} dbt ${hex(a.getF(i))} interp ${hex(b.getF(i))}`);
  }
  if (a.fflags !== b.fflags || a.frm !== b.frm) diffs.push(`fcsr dbt ${a.frm}/${a.fflags} interp ${b.frm}/${b.fflags}`);
  if (a.priv !== b.priv) diffs.push(`priv dbt ${a.priv} interp ${b.priv}`);
  if (a.instret !== b.instret) diffs.push(`instret dbt ${a.instret} interp ${b.instret}`);
  if (withRam) {
    const d = compareRam(a, b);
    if (d !== undefined) diffs.push(d);
  }
  return diffs.length > 0 ? diffs.join("; ") : undefined;
}

/**
 * Runs `dbt` (a hart with a translator attached) and `interp` (an identical hart without) in lockstep.
 * Both must start from the same state.
 */
export function lockstep(dbt: Hart, interp: Hart, opts: LockstepOptions = {}): LockstepResult {
  if (!dbt.engineAttached) throw new Error("lockstep: the first hart has no translator attached (attachDbt)");
  if (interp.engineAttached) throw new Error("lockstep: the second hart must interpret (no translator)");
  const chunk = opts.chunk ?? 1000;
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new RangeError(`lockstep: chunk ${chunk} must be a positive integer number of instructions`);
  const max = opts.maxInsns ?? 10_000_000;
  const withRam = opts.compareRam ?? false;
  const start = interp.instret;
  let steps = 0;
  for (;;) {
    const insns = interp.instret - start;
    if (steps >= max) return { divergence: undefined, insns, reason: ExitReason.Budget };
    const n = Math.min(chunk, max - steps);
    const ra = dbt.run(n);
    const rb = interp.run(n);
    // A budget exit used all n steps; an early exit used at least the instructions it retired (and
    // one, so a wfi or host-exit loop that retires nothing still reaches the limit).
    steps += ra === ExitReason.Budget ? n : Math.max(1, interp.instret - start - insns);
    const where = `in instructions ${insns}..${interp.instret - start} (interp pc ${hex(interp.getPc())}, instret ${interp.instret})`;
    const d = compareHarts(dbt, interp, withRam);
    if (ra !== rb || d !== undefined) {
      // The first RAM byte that differs belongs in every report (a wrong store often shows there
      // first), even when RAM is not compared after each chunk.
      const ram = withRam ? undefined : compareRam(dbt, interp);
      const state = [d, ram].filter((x) => x !== undefined).join("; ");
      const head = ra !== rb ? `exit reasons differ ${where}: dbt ${REASONS[ra]} interp ${REASONS[rb]}` : where;
      return { divergence: state ? `${head}: ${state}` : head, insns, reason: ra };
    }
    const verdict = opts.onChunk ? opts.onChunk(ra, dbt, interp) : "continue";
    if (typeof verdict === "object")
      return { divergence: `${where}: ${verdict.divergence}`, insns: interp.instret - start, reason: ra };
    if (verdict === "stop") return { divergence: undefined, insns: interp.instret - start, reason: ra };
    if (ra !== ExitReason.Budget) {
      const go = opts.onExit ? opts.onExit(ra, dbt, interp) : false;
      if (!go) return { divergence: undefined, insns: interp.instret - start, reason: ra };
    }
  }
}
