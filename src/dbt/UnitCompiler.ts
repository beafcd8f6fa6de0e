// Compiling translated units off the vCPU's thread (docs/DBT.md "Session 5: boot").
//
// The translator emits a unit's wasm on the vCPU's thread (it reads guest RAM and must snapshot the
// page it translated), but validating and compiling it (V8's lazy Liftoff compile at the first call)
// can run on another thread: a WebAssembly.Module compiled there is posted back and instantiated
// here, sharing its compiled code. Until the module arrives the page keeps running as before
// (interpreted, or its previous translation). The entry points choose it (src/dbt/CompileWorker.ts
// under Node); without one, units are compiled synchronously where they are translated.

/** A compiler of translated units running elsewhere. */
export interface UnitCompiler {
  /**
   * Queues a unit's module for compiling. Its imports: memory "e"."m" of `memoryPages` 64 KiB pages
   * (shared or not), optionally function "e"."s"; it exports "f" (PageTranslator's unit signature).
   * `done` is called from a later drain() on this thread.
   */
  compile(bytes: Uint8Array, memoryPages: number, shared: boolean, done: (module: WebAssembly.Module) => void): void;
  /**
   * Optional: compiles function "f" of `module` (one this compiler delivered) with the optimizing
   * compiler, in place (src/dbt/TierUp.ts), off this thread: every instance of the module runs the
   * new code once it is done. `done` is called from a later drain() with the compile's milliseconds
   * on the compiler's thread, or -1 if it could not tier up.
   */
  tierUp?(module: WebAssembly.Module, memoryPages: number, shared: boolean, done: (ms: number) => void): void;
  /** Whether compiled modules are waiting for drain() (a read of shared memory: cheap enough per dispatch). */
  ready(): boolean;
  /** Calls `done` of every module compiled so far; throws if one failed to compile. */
  drain(): void;
}

let threadCompiler: UnitCompiler | undefined;

/**
 * Entry points: translators created on this thread from now on compile with `c` (undefined:
 * synchronously). Per thread, like V8's flags per process: a vCPU thread has its own.
 */
export function useUnitCompiler(c: UnitCompiler | undefined): void {
  threadCompiler = c;
}

/** The compiler useUnitCompiler set on this thread, if any. */
export function currentUnitCompiler(): UnitCompiler | undefined {
  return threadCompiler;
}
