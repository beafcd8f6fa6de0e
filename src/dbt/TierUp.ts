// The optimizing tier for translated units that stay hot (docs/DBT.md "Session 7: tier-up").
//
// VMs run V8's Liftoff only (src/dbt/WasmTiering.ts): V8's own tier-up of every function it finds
// hot doubled the CPU time of a Linux boot, whose page-sized units run a few million instructions
// each. The dispatcher instead picks the units that have executed many instructions
// (DbtOptions.hotTier) and has V8 compile that one function with TurboFan, in place: the unit's
// module keeps its instances, and every instance on every thread (V8 shares a module's code between
// threads) runs the optimized code from its next call. Doing so needs a V8 intrinsic and a
// process-wide flag, which only an entry point may set; so an entry point registers the function
// here (WasmTiering.setWasmTiering), and the library only asks whether one is registered.

/**
 * Compiles one exported WebAssembly function with V8's optimizing compiler, synchronously on the
 * calling thread; every instance of its module then runs the new code. Throws if it cannot.
 */
export type TierUp = (fn: unknown) => void;

let tierUp: TierUp | undefined;

/** Registers (or, with undefined, removes) this thread's tier-up function: entry points only. */
export function setTierUp(t: TierUp | undefined): void {
  tierUp = t;
}

/** The tier-up function an entry point registered on this thread, if any. */
export function registeredTierUp(): TierUp | undefined {
  return tierUp;
}
