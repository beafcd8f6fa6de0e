// The CPU engine as the command line sets it up: the --engine flag, the TYPEVISOR_DBT_* debugging
// knobs of the environment (docs/DBT.md "Tests"), V8's wasm tiering for the process, and the
// translator's statistics at exit. The commands call these so the flag and the knobs behave the same
// everywhere; the library (src/dbt) takes all of it as constructor options.
import { writeFileSync } from "node:fs";
import type { Hart } from "../riscv/Hart.js";
import { formatDbtStats, type Dbt, type DbtOptions } from "../dbt/Dbt.js";
import { DEFAULT_ENGINE, isEngineName, type EngineName } from "../dbt/Engine.js";
import { setWasmTiering } from "../dbt/WasmTiering.js";
import { useUnitCompiler } from "../dbt/UnitCompiler.js";
import { CompileWorker } from "../dbt/CompileWorker.js";
import { UsageError } from "./Command.js";
import { gpa } from "../memory/Address.js";

/** Parses the --engine value; `cmd` names the command in the error. */
export function parseEngine(cmd: string, value: string | undefined): EngineName {
  if (value === undefined) return DEFAULT_ENGINE;
  if (isEngineName(value)) return value;
  throw new UsageError(`${cmd}: --engine '${value}' is not an engine; use --engine interp or --engine dbt`);
}

type Env = Readonly<Record<string, string | undefined>>;

function positiveInt(v: string | undefined): number | undefined {
  const n = Number(v ?? "");
  return v !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Translator options from the environment: TYPEVISOR_DBT_HOT=N (dispatches into a page before it is
 * translated), TYPEVISOR_DBT_RETRANSLATE=N (dispatches into a translated page that miss its blocks
 * before it is translated again), TYPEVISOR_DBT_COMPILE=first-here (a page's first translation on
 * the vCPU's thread, compiled on the worker; retranslations on the worker), TYPEVISOR_DBT_REGS=locals|memory (where translated code keeps guest registers),
 * TYPEVISOR_DBT_DISABLE=0x03,0x23,... (major opcodes left to the interpreter, for bisecting),
 * TYPEVISOR_DBT_HOT_TIER=N (instructions a unit runs before its function is tiered up to TurboFan; 0: never),
 * TYPEVISOR_DBT_MIRROR_WAYS=2 (2-way set-associative TLB mirrors: DbtOptions.mirrorWays; 1 the default),
 * TYPEVISOR_DBT_TAILCALL=1 (units tail-call the next unit at a jump out of their page instead of
 * returning to the trampoline: no gain measured, docs/DBT.md "Session 7: chaining").
 */
export function engineOptionsFromEnv(env: Env = process.env): DbtOptions {
  const o: DbtOptions = {};
  const hot = positiveInt(env["TYPEVISOR_DBT_HOT"]);
  if (hot !== undefined) o.hotThreshold = hot;
  const rehot = positiveInt(env["TYPEVISOR_DBT_RETRANSLATE"]);
  if (rehot !== undefined) o.retranslateThreshold = rehot;
  if (env["TYPEVISOR_DBT_COMPILE"] === "first-here") o.translateFirstHere = true;
  if (env["TYPEVISOR_DBT_REGS"] === "locals") o.regsInLocals = true;
  if (env["TYPEVISOR_DBT_TAILCALL"] === "1") o.tailCalls = true;
  const hotTier = env["TYPEVISOR_DBT_HOT_TIER"];
  if (hotTier !== undefined && Number.isInteger(Number(hotTier)) && Number(hotTier) >= 0) o.hotTier = Number(hotTier);
  const dis = (env["TYPEVISOR_DBT_DISABLE"] ?? "")
    .split(",")
    .filter((v) => v !== "")
    .map((v) => Number(v));
  if (dis.length > 0) o.disabledOpcodes = new Set(dis);
  const ways = env["TYPEVISOR_DBT_MIRROR_WAYS"];
  if (ways === "1" || ways === "2") o.mirrorWays = ways === "1" ? 1 : 2;
  return o;
}

/**
 * Sets V8's wasm tiering for this process: `tierUp` is the command's default (exec: true, VMs:
 * false); TYPEVISOR_DBT_TURBOFAN=0|1 overrides it, TYPEVISOR_DBT_TIERING_BUDGET sets the budget.
 */
export function setEngineTiering(tierUp: boolean, env: Env = process.env): void {
  const t = env["TYPEVISOR_DBT_TURBOFAN"];
  setWasmTiering({
    tierUp: t === "1" ? true : t === "0" ? false : tierUp,
    tieringBudget: positiveInt(env["TYPEVISOR_DBT_TIERING_BUDGET"]),
  });
}

/**
 * Translated units of the machines this thread runs are compiled on a worker thread (src/dbt/
 * CompileWorker.ts, docs/DBT.md "Session 5: boot"); TYPEVISOR_DBT_COMPILE=sync compiles them on the
 * vCPU's thread instead.
 */
export function setEngineCompiler(env: Env = process.env): void {
  useUnitCompiler(env["TYPEVISOR_DBT_COMPILE"] === "sync" ? undefined : new CompileWorker());
}

/**
 * TYPEVISOR_DBT_STATS=1: print the translator's statistics on stderr when the process exits (for
 * commands without a --stats flag of their own, e.g. exec); TYPEVISOR_DBT_DUMP=FILE also writes the
 * hottest page's bytes there (for `objdump -b binary -m riscv:rv64 -D`).
 */
export function reportEngineStatsAtExit(hart: Hart, dbt: Dbt | undefined, env: Env = process.env): void {
  if (dbt === undefined || env["TYPEVISOR_DBT_STATS"] !== "1") return;
  const dump = env["TYPEVISOR_DBT_DUMP"];
  process.on("exit", () => {
    const base = hart.memory.base;
    const hot = dbt
      .hotPages(5)
      .map(([p, n]) => `0x${(p + base).toString(16)} ${n}`)
      .join(", ");
    if (dump) {
      const [p] = dbt.hotPages(1)[0] ?? [0];
      writeFileSync(dump, hart.memory.slice(gpa(p + base), 4096, false) ?? new Uint8Array(0));
    }
    process.stderr.write(formatDbtStats(dbt.stats) + `\ndbt: hottest pages (guest-physical, instructions): ${hot}\n`);
  });
}
