// The CPU engine choice (`--engine interp|dbt`) as library code: the names, the engine-area bytes the
// choice needs, attaching the translator and its statistics. Reading flags and the environment,
// setting V8 flags and printing at exit are the entry points' business (src/cli/EngineSetup.ts).
import type { Hart } from "../riscv/Hart.js";
import { attachDbt, formatDbtStats, type Dbt, type DbtOptions } from "./Dbt.js";
import { DBT_ENGINE_BYTES } from "./EngineArea.js";

export type EngineName = "interp" | "dbt";
export const DEFAULT_ENGINE: EngineName = "dbt";
export const ENGINE_USAGE =
  "  --engine E      CPU engine: dbt (binary translation to WebAssembly, default) or interp (interpreter)";

export function isEngineName(value: string): value is EngineName {
  return value === "interp" || value === "dbt";
}

/**
 * Engine-area bytes to reserve in GuestMemory for this engine and number of harts
 * (GuestMemoryOptions.engineBytes): the translator keeps one slot per hart.
 */
export function engineBytes(engine: EngineName | undefined, harts = 1): number {
  return engine === "dbt" ? DBT_ENGINE_BYTES * harts : 0;
}

/** Attaches the translator when the engine is dbt; returns it (for --stats) or undefined. */
export function useEngine(hart: Hart, engine: EngineName | undefined, opts: DbtOptions = {}): Dbt | undefined {
  return engine === "dbt" ? attachDbt(hart, opts) : undefined;
}

/** The --stats lines of the engine ('' for the interpreter). */
export function engineStats(dbt: Dbt | undefined): string {
  return dbt === undefined ? "" : formatDbtStats(dbt.stats) + "\n";
}
