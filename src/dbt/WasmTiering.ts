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
import { setTierUp, type TierUp } from "./TierUp.js";

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
    // Units the dispatcher finds hot (DbtOptions.hotTier) are compiled again by TurboFan, one
    // function at a time, in place (src/dbt/TierUp.ts); without the intrinsic they stay Liftoff code.
    setTierUp(wasmTierUpIntrinsic());
    return;
  }
  setTierUp(undefined); // V8 tiers up by itself
  setFlagsFromString("--no-liftoff-only");
  setFlagsFromString(`--wasm-tiering-budget=${t.tieringBudget ?? 20_000_000}`);
}

/** A module exporting "f" = (i32) -> i32 adding 1: what the probe compiles. */
const PROBE = new Uint8Array([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 6, 1, 0x60, 1, 0x7f, 1, 0x7f, 3, 2, 1, 0, 7, 5, 1, 1, 0x66, 0, 0, 10, 9, 1, 7, 0,
  0x20, 0, 0x41, 1, 0x6a, 0x0b,
]);

/**
 * V8's %WasmTierUpFunction intrinsic (a test intrinsic of V8, in Node 20 and 22): compiles one
 * exported wasm function with TurboFan now, on the calling thread, even under --liftoff-only, and
 * V8 installs the code in the function's module, which every instance on every thread shares
 * (docs/DBT.md "Session 7: tier-up"). Calling an intrinsic needs --allow-natives-syntax, a
 * process-wide flag: entry points (and the compile worker's thread, for its own caller) only.
 * Probed on a small module: undefined where this V8 lacks the intrinsic or it does not produce
 * TurboFan code (the dispatcher then keeps Liftoff code).
 */
export function wasmTierUpIntrinsic(): TierUp | undefined {
  try {
    setFlagsFromString("--allow-natives-syntax");
    // A function body is the only way to reach an intrinsic (it is syntax, not a global).
    const tierUp = new Function("f", "%WasmTierUpFunction(f)") as TierUp;
    const f = new WebAssembly.Instance(new WebAssembly.Module(PROBE)).exports["f"] as (x: number) => number;
    f(1);
    tierUp(f);
    if (f(41) !== 42 || isTurboFan(f) === false) return undefined;
    return tierUp;
  } catch {
    return undefined; // SyntaxError: no such intrinsic (or another arity); TypeError: not a wasm function
  }
}

/**
 * Whether an exported wasm function runs TurboFan code now (V8's %IsTurboFanFunction), for tests and
 * the probe; undefined where V8 cannot tell.
 */
export function isTurboFan(fn: unknown): boolean | undefined {
  try {
    setFlagsFromString("--allow-natives-syntax");
    return (new Function("f", "return %IsTurboFanFunction(f)") as (f: unknown) => boolean)(fn);
  } catch {
    return undefined;
  }
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
