// The compile worker's thread (src/dbt/CompileWorker.ts): translates each page from the shared guest
// RAM (UnitTranslator), validates and compiles its module, then posts the unit back. V8 compiles a
// function at its first call (lazy compilation), so the worker instantiates the module over a
// stand-in memory of the same size and calls the unit with a zero budget: a unit returns at once when
// its budget is below its longest path (PageTranslator's entry check), having stored only the budget,
// in the stand-in memory (the real one is the vCPU's, whose engine area it must not touch). The
// compiled code travels with the module.
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { WorkerJob, WorkerReply } from "./CompileWorker.js";
import { UnitTranslator } from "./UnitTranslator.js";
import { wasmTierUpIntrinsic } from "./WasmTiering.js";
import type { TierUp } from "./TierUp.js";

const { port, posted } = workerData as { port: MessagePort; posted: Int32Array };
if (parentPort === null) throw new Error("CompileWorkerThread runs as a worker thread only");

/** Stand-in memories by size and sharedness (the unit's memory import must match both). */
const memories = new Map<string, WebAssembly.Memory>();
const noStep = (): number => 0;
/** Stand-in for the trampoline's `chain` function units tail-call (DbtOptions.tailCalls): never called here. */
const noChain = (): number => 0;
const translators = new Map<number, UnitTranslator>();

// This thread allocates almost nothing of its own, so its heap would not be collected for thousands
// of jobs, and the module objects it made keep every unit's wire bytes and code alive (V8 frees a
// module's code when no thread holds it), long after the vCPU's thread dropped a retranslated page's
// old code. A full collection every GC_EVERY jobs: peak RSS of a 512 MiB boot 322-325 -> 304 MiB
// (every 8 jobs: 303-307 MiB for 0.3 s more of this thread's CPU), docs/DBT.md "Session 5: boot".
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const GC_EVERY = 32;
let jobs = 0;
/** This thread's caller of V8's tier-up intrinsic, made at the first tier-up job (null: none). */
let tierUp: TierUp | null | undefined;

/** A stand-in memory of the unit's size and sharedness (its memory import must match both). */
function standIn(memoryPages: number, shared: boolean): WebAssembly.Memory {
  const key = `${memoryPages}/${shared}`;
  let memory = memories.get(key);
  if (memory === undefined) {
    memory = new WebAssembly.Memory({ initial: memoryPages, maximum: memoryPages, shared });
    memories.set(key, memory);
  }
  return memory;
}

type UnitFn = (block: number, budget: number) => number;

/**
 * A hot unit (docs/DBT.md "Session 7: tier-up"): TurboFan compiles its function here, into the
 * module the vCPU's thread shares, whose instance there runs the new code from its next call.
 */
function tierUpJob(job: Extract<WorkerJob, { kind: "tierUp" }>): WorkerReply {
  const unit = new WebAssembly.Instance(job.module, {
    e: { m: standIn(job.memoryPages, job.shared), s: noStep, c: noChain },
  }).exports["f"] as UnitFn;
  const t0 = performance.now();
  if (tierUp === undefined) tierUp = wasmTierUpIntrinsic() ?? null;
  if (tierUp === null) throw new Error("V8's tier-up intrinsic is not available on this thread");
  tierUp(unit);
  return { id: job.id, tierUpMs: performance.now() - t0 };
}

/** Validates and compiles a unit's module (lazy compilation: at the first call, here with a zero budget). */
function compile(bytes: Uint8Array, memoryPages: number, shared: boolean): WebAssembly.Module {
  const module = new WebAssembly.Module(bytes);
  const memory = standIn(memoryPages, shared);
  const unit = new WebAssembly.Instance(module, { e: { m: memory, s: noStep, c: noChain } }).exports["f"] as UnitFn;
  unit(0, 0);
  return module;
}

function translate(job: Extract<WorkerJob, { kind: "translate" }>): WorkerReply {
  const t0 = performance.now();
  const ut = translators.get(job.translator);
  if (ut === undefined) throw new Error(`no translator ${job.translator}`);
  const code = ut.translate(job.host, job.entries);
  if (code === undefined) return { id: job.id };
  const module = compile(code.bytes, ut.config.memoryPages, ut.config.shared);
  const { bytes, ...rest } = code;
  return { id: job.id, unit: { ...rest, module, wasmBytes: bytes.length, ms: performance.now() - t0 } };
}

/**
 * Tier-up jobs wait until the translations posted so far are done (setImmediate runs after the
 * event loop delivered the pending messages): a translation lets a page stop running interpreted,
 * a tier-up only speeds up code already in wasm, and one TurboFan compile of a page's function
 * takes 50-250 ms (docs/DBT.md "Session 7: tier-up").
 */
const tierUps: Extract<WorkerJob, { kind: "tierUp" }>[] = [];
let tierUpScheduled = false;
function nextTierUp(): void {
  tierUpScheduled = false;
  const job = tierUps.shift();
  if (job !== undefined) run(job);
  if (tierUps.length > 0) {
    tierUpScheduled = true;
    setImmediate(nextTierUp);
  }
}

port.on("message", (job: WorkerJob) => {
  if (job.kind === "translator") translators.set(job.translator, new UnitTranslator(job.memory.buffer, job.config));
  else if (job.kind !== "tierUp") run(job);
  else {
    tierUps.push(job);
    if (!tierUpScheduled) {
      tierUpScheduled = true;
      setImmediate(nextTierUp);
    }
  }
});

function run(job: Exclude<WorkerJob, { kind: "translator" }>): void {
  let reply: WorkerReply;
  try {
    reply =
      job.kind === "tierUp"
        ? tierUpJob(job)
        : job.kind === "compile"
          ? { id: job.id, module: compile(job.bytes, job.memoryPages, job.shared) }
          : translate(job);
  } catch (e) {
    reply = { id: job.id, error: (e as Error).message, ...(job.kind === "tierUp" ? { tierUpMs: -1 } : {}) };
  }
  port.postMessage(reply);
  Atomics.add(posted, 0, 1);
  if (++jobs % GC_EVERY === 0) gc();
}
