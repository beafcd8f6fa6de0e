// Translating and compiling units off the vCPU's thread (docs/DBT.md "Session 5: boot" and
// "Session 7: translation off the vCPU").
//
// Guest RAM is a shared WebAssembly.Memory, so another thread can read a page as well as the vCPU's:
// the dispatcher sends only the page's host offset and its entry offsets; the compiler elsewhere
// copies the page, translates it (UnitTranslator.ts, the same code as the synchronous path),
// validates and compiles the module, and hands back the module with the copy it translated (the
// snapshot for the self-modifying-code checks) and the block map. V8 shares the compiled code between
// the threads. Until the unit arrives the page keeps running as before (interpreted, or its previous
// translation). The entry points choose it (src/dbt/CompileWorker.ts under Node); without one, units
// are translated and compiled synchronously where they are needed.
import type { TranslatorConfig, UnitCode } from "./UnitTranslator.js";

/** A unit translated and compiled elsewhere. */
export interface CompiledUnit extends Omit<UnitCode, "bytes"> {
  module: WebAssembly.Module;
  /** Size of the module's bytes, and the milliseconds translating and compiling it took there. */
  wasmBytes: number;
  ms: number;
}

/** A translator and compiler of units running elsewhere. */
export interface UnitCompiler {
  /**
   * Makes a translator over `memory` (shared: the compiler reads the pages from it) with `config`
   * known to the compiler; returns its handle for translate(). The same memory and config give the
   * same handle (a rebooted hart's translator reuses it).
   */
  addTranslator(memory: WebAssembly.Memory, config: TranslatorConfig): number;
  /**
   * Queues the translation of the page at host offset `host` from the entry offsets `entries`, and
   * the compile of its module. `done` is called from a later drain() on this thread, with undefined
   * when nothing at the entries could be translated. The caller must have made the page a code page
   * (so stores to it are reported) before calling: the page is read after this call returns.
   */
  translate(translator: number, host: number, entries: number[], done: (unit: CompiledUnit | undefined) => void): void;
  /**
   * Queues the compile of a unit translated on this thread (DbtOptions.translateFirstHere): `done`
   * is called from a later drain() with the module.
   */
  compile(bytes: Uint8Array, memoryPages: number, shared: boolean, done: (module: WebAssembly.Module) => void): void;
  /**
   * Optional: compiles function "f" of `module` (one this compiler delivered) with the optimizing
   * compiler, in place (src/dbt/TierUp.ts), off this thread: every instance of the module runs the
   * new code once it is done. `done` is called from a later drain() with the compile's milliseconds
   * on the compiler's thread, or -1 if it could not tier up.
   */
  tierUp?(module: WebAssembly.Module, memoryPages: number, shared: boolean, done: (ms: number) => void): void;
  /** Whether units are waiting for drain() (a read of shared memory: cheap enough per dispatch). */
  ready(): boolean;
  /** Calls `done` of every unit finished so far; throws if one failed. */
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
