// The optimizing tier for translated units that stay hot (docs/DBT.md "Session 5: code").
//
// VMs run V8's Liftoff only (src/dbt/WasmTiering.ts): TurboFan tier-up of every function V8 finds
// hot doubled the CPU time of a Linux boot, whose page-sized units run a few million instructions
// each. The dispatcher instead picks the units that have executed many instructions
// (DbtOptions.hotTier) and compiles them once more with this compiler: TurboFan, eagerly, on the
// vCPU thread. Choosing V8's compiler for one module means switching process-wide V8 flags around
// its compile, which only an entry point may do; so an entry point registers the compiler here
// (WasmTiering.setWasmTiering), and the library only asks whether one is registered.

/** Compiles wasm bytes into a module with the optimizing compiler. */
export type OptimizingCompiler = (bytes: Uint8Array) => WebAssembly.Module;

let compiler: OptimizingCompiler | undefined;

/** Registers (or, with undefined, removes) this process's optimizing compiler: entry points only. */
export function setOptimizingCompiler(c: OptimizingCompiler | undefined): void {
  compiler = c;
}

/** The registered optimizing compiler, if any. */
export function optimizingCompiler(): OptimizingCompiler | undefined {
  return compiler;
}
