// V8's tiering of the translated code, a per-process setting: for entry points only (the CLI's
// commands, the daemon's VM process, benchmarks), never called by library code.
//
// V8's dynamic tier-up recompiles hot translated functions with TurboFan on a background thread.
// Measured on an idle 2-core host (docs/DBT.md): it pays for long-running user programs (sha256sum of
// 30 MB under exec: 2.8 s against 4.6 s Liftoff-only; gzip of 32 MB: even) and costs a Linux boot
// dearly (36 s against 23 s: the boot runs 2 million translated instructions a few times each, and
// TurboFan compiles of these large functions fill the second core). So exec turns it on, with the
// tiering budget raised from V8's 1.8 MB so only really hot functions are recompiled, and VMs run
// Liftoff only.
import { setFlagsFromString } from "node:v8";
import { setOptimizingCompiler } from "./OptimizingCompile.js";

export interface WasmTiering {
  /** Let V8 recompile hot wasm with TurboFan (false: Liftoff only). */
  tierUp: boolean;
  /** With tierUp: V8's --wasm-tiering-budget (default 20,000,000). */
  tieringBudget?: number;
}

/** Sets V8's wasm tiering flags for this process (before the first translation is compiled). */
export function setWasmTiering(t: WasmTiering): void {
  // The translator's modules are valid by construction (its tests compile every emitter): validate
  // each function when it is first compiled, not every function of a module in its constructor.
  // Measured on a Linux boot (docs/DBT.md "Session 5: boot"): `new WebAssembly.Module` was 10% of
  // the boot's CPU profile with eager validation.
  setFlagsFromString("--wasm-lazy-validation");
  if (!t.tierUp) {
    setFlagsFromString("--liftoff-only");
    // Units the dispatcher finds hot (DbtOptions.hotTier) are compiled once more by TurboFan: the
    // flags are switched for that one synchronous compile (V8 reads them when a module is compiled).
    setOptimizingCompiler((bytes) => {
      setFlagsFromString("--no-liftoff-only");
      setFlagsFromString("--no-liftoff");
      setFlagsFromString("--no-wasm-lazy-compilation");
      try {
        return new WebAssembly.Module(bytes);
      } finally {
        setFlagsFromString("--wasm-lazy-compilation");
        setFlagsFromString("--liftoff");
        setFlagsFromString("--liftoff-only");
      }
    });
    return;
  }
  setOptimizingCompiler(undefined); // V8 tiers up by itself
  setFlagsFromString("--no-liftoff-only");
  setFlagsFromString(`--wasm-tiering-budget=${t.tieringBudget ?? 20_000_000}`);
}

/**
 * V8 heap settings of a process that runs a VM (`typevisor run`/`start`, the daemon's VM process),
 * set by its entry point. The young generation stays at its initial 1 MiB semi-space instead of
 * growing to 16 MiB (V8 reads --semi-space-growth-factor whenever it would grow the space, unlike
 * --max-semi-space-size, which only counts at process start): a VM allocates little that survives,
 * and the grown space was ~27 MiB of a 512 MiB boot's peak RSS (docs/DBT.md "Session 5: boot").
 */
export function setVmHeapFlags(): void {
  const apply = () => setFlagsFromString("--semi-space-growth-factor=1");
  apply();
  // Creating an isolate (a worker thread's: the compile worker, vCPU threads) sets the process-wide
  // flag back to V8's default (the new space then grew 1 -> 8 MiB semi-spaces during a boot again,
  // ~6 MiB of its peak RSS, docs/DBT.md "Session 6: RSS"): set it again once each worker is up.
  process.on("worker", (w) => w.once("online", apply));
}
