// `--engine interp|dbt` for the commands that run a hart (run, exec, run-elf): parsing, the memory
// the choice needs, and attaching the translator. The commands call these three functions so the
// flag behaves the same everywhere. The interpreter stays the default until the translator has
// passed every test with it on (docs/DBT.md).
import { writeFileSync } from "node:fs";
import type { Hart } from "../riscv/Hart.js";
import { UsageError } from "../cli/Command.js";
import { attachDbt, formatDbtStats, type Dbt } from "./Dbt.js";
import { DBT_ENGINE_BYTES } from "./EngineArea.js";

export type EngineName = "interp" | "dbt";
export const DEFAULT_ENGINE: EngineName = "dbt";
export const ENGINE_USAGE = "  --engine E      CPU engine: dbt (binary translation to WebAssembly, default) or interp (interpreter)";

/** Parses the --engine value; `cmd` names the command in the error. */
export function parseEngine(cmd: string, value: string | undefined): EngineName {
  if (value === undefined) return DEFAULT_ENGINE;
  if (value === "interp" || value === "dbt") return value;
  throw new UsageError(`${cmd}: --engine '${value}' is not an engine; use --engine interp or --engine dbt`);
}

/**
 * Engine-area bytes to reserve in GuestMemory for this engine and number of harts
 * (GuestMemoryOptions.engineBytes): the translator keeps one slot per hart.
 */
export function engineBytes(engine: EngineName | undefined, harts = 1): number {
  return engine === "dbt" ? DBT_ENGINE_BYTES * harts : 0;
}

/** Attaches the translator when the engine is dbt; returns it (for --stats) or undefined. */
export function useEngine(hart: Hart, engine: EngineName | undefined, opts: { tierUp?: boolean } = {}): Dbt | undefined {
  if (engine !== "dbt") return undefined;
  // TYPEVISOR_DBT_HOT: dispatches into a page before it is translated (a debugging/testing knob).
  const hot = Number(process.env["TYPEVISOR_DBT_HOT"] ?? "");
  const dbt = attachDbt(hart, Number.isInteger(hot) && hot > 0 ? { hotThreshold: hot, ...opts } : { ...opts });
  // TYPEVISOR_DBT_STATS=1: print the translator's statistics on stderr when the process exits (for
  // commands without a --stats flag of their own, e.g. exec).
  if (process.env["TYPEVISOR_DBT_STATS"] === "1") {
    process.on("exit", () => {
      const hot = dbt.hotPages(5).map(([p, n]) => `0x${(p + hart.memory.base).toString(16)} ${n}`).join(", ");
      if (process.env["TYPEVISOR_DBT_DUMP"]) { const [p] = dbt.hotPages(1)[0] ?? [0]; writeFileSync(process.env["TYPEVISOR_DBT_DUMP"], hart.memory.slice(p + hart.memory.base, 4096, false) ?? new Uint8Array(0)); }
      process.stderr.write(formatDbtStats(dbt.stats) + `\ndbt: hottest pages (guest-physical, instructions): ${hot}\n`);
    });
  }
  return dbt;
}

/** The --stats lines of the engine ('' for the interpreter). */
export function engineStats(dbt: Dbt | undefined): string {
  return dbt === undefined ? "" : formatDbtStats(dbt.stats) + "\n";
}
