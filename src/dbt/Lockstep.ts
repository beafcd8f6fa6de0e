// Differential lockstep mode: runs the same program on two harts, one with the binary translator
// attached and one interpreting, in chunks of `chunk` instructions, and stops at the first chunk after
// which their architectural state differs (pc, x and f registers, fcsr, privilege, instret, and the
// RAM bytes when `compareRam` is set). For debugging the translator and as a CI check on real code.
import { ExitReason, type Hart } from "../riscv/Hart.js";

export interface LockstepOptions {
  /** Instructions per step of the comparison (default 1000). Smaller finds divergences closer. */
  chunk?: number;
  /** Total instruction limit (default 10 million). */
  maxInsns?: number;
  /** Also compare guest RAM after each chunk (slow on large RAM). */
  compareRam?: boolean;
  /**
   * Called when both harts leave run() for the same non-budget reason (e.g. an ecall handed to the
   * host); return false to stop. The default stops.
   */
  onExit?: (reason: ExitReason, dbt: Hart, interp: Hart) => boolean;
}

export interface LockstepResult {
  /** undefined when the harts agreed to the end. */
  divergence: string | undefined;
  /** Instructions both harts executed in agreement (at chunk granularity). */
  insns: number;
  reason: ExitReason;
}

/** Describes how two harts' states differ, or returns undefined if they agree. */
export function compareHarts(a: Hart, b: Hart, compareRam: boolean): string | undefined {
  const diffs: string[] = [];
  if (a.getPc() !== b.getPc()) diffs.push(`pc dbt 0x${a.getPc().toString(16)} interp 0x${b.getPc().toString(16)}`);
  for (let i = 1; i < 32; i++) {
    if (a.getX(i) !== b.getX(i)) diffs.push(`x${i} dbt 0x${a.getX(i).toString(16)} interp 0x${b.getX(i).toString(16)}`);
  }
  for (let i = 0; i < 32; i++) {
    if (a.getF(i) !== b.getF(i)) diffs.push(`f${i} dbt 0x${a.getF(i).toString(16)} interp 0x${b.getF(i).toString(16)}`);
  }
  if (a.fflags !== b.fflags || a.frm !== b.frm) diffs.push(`fcsr dbt ${a.frm}/${a.fflags} interp ${b.frm}/${b.fflags}`);
  if (a.priv !== b.priv) diffs.push(`priv dbt ${a.priv} interp ${b.priv}`);
  if (a.instret !== b.instret) diffs.push(`instret dbt ${a.instret} interp ${b.instret}`);
  if (compareRam) {
    const ra = a.memory.bytes, rb = b.memory.bytes;
    if (Buffer.compare(ra, rb) !== 0) {
      let i = 0;
      while (i < ra.length && ra[i] === rb[i]) i++;
      diffs.push(`RAM differs first at 0x${(a.memory.base + i).toString(16)}: dbt 0x${ra[i]!.toString(16)} interp 0x${rb[i]!.toString(16)}`);
    }
  }
  return diffs.length > 0 ? diffs.join("; ") : undefined;
}

/**
 * Runs `dbt` (a hart with a translator attached) and `interp` (an identical hart without) in lockstep.
 * Both must start from the same state.
 */
export function lockstep(dbt: Hart, interp: Hart, opts: LockstepOptions = {}): LockstepResult {
  if (dbt.translator === undefined) throw new Error("lockstep: the first hart has no translator attached (attachDbt)");
  if (interp.translator !== undefined) throw new Error("lockstep: the second hart must interpret (no translator)");
  const chunk = opts.chunk ?? 1000;
  const max = opts.maxInsns ?? 10_000_000;
  const compareRam = opts.compareRam ?? false;
  let insns = 0;
  for (;;) {
    if (insns >= max) return { divergence: undefined, insns, reason: ExitReason.Budget };
    const ra = dbt.run(chunk);
    const rb = interp.run(chunk);
    const d = compareHarts(dbt, interp, compareRam);
    if (ra !== rb) {
      return { divergence: `exit reasons differ after ~${insns} instructions: dbt ${ra} interp ${rb}${d ? `; ${d}` : ""}`, insns, reason: ra };
    }
    if (d !== undefined) return { divergence: `after ${insns}..${insns + chunk} instructions: ${d}`, insns, reason: ra };
    insns += chunk;
    if (ra !== ExitReason.Budget) {
      const go = opts.onExit ? opts.onExit(ra, dbt, interp) : false;
      if (!go) return { divergence: undefined, insns, reason: ra };
    }
  }
}
