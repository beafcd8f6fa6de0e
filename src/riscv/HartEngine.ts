// The contract between the hart's interpreter and a CPU engine that runs some of the guest's code
// another way (the binary translator, src/dbt). The hart owns the architectural state and executes
// every instruction the engine does not; the engine attaches with `hart.attachEngine(engine)` and
// gets back a read-only view of the hart's fast translation caches, which it mirrors for the code
// it generates (docs/DBT.md "Hook in the hart").
//
// What each side may do:
// - The hart hands every run(budget) to the engine while the engine is not busy; the engine calls
//   hart.run(n) (setting busy) for the instructions it leaves to the interpreter.
// - The engine reads the fast caches and tlbEpoch (bumped whenever the hart flushes the caches:
//   trap entry, xRET, satp/mstatus writes, sfence.vma, flushTlb) and writes nothing of the hart's
//   but pc, instret and the register file (which relocateState may move into memory it shares
//   with generated code).
// - Self-modifying code: the engine names the host pages holding its translations in codePages;
//   the hart then keeps them out of its store fast cache, and after any interpreter store to such a
//   page calls engine.codeWritten(page offset).
import type { ExitReason } from "./Hart.js";

/** A read-only int32 array (the hart's caches as the engine sees them). */
export interface ReadonlyInt32Array {
  readonly [index: number]: number;
  readonly length: number;
}

/** What an engine gives the hart. */
export interface HartEngine {
  /** True while the engine itself is calling hart.run() for interpreted instructions. */
  readonly busy: boolean;
  /** Runs up to `budget` instructions (exactly as the interpreter's run() would). */
  run(budget: number): ExitReason;
  /** Per host page (offset >>> 12): non-zero if some engine holds a translation of the page. */
  readonly codePages: Uint8Array;
  /** The interpreter wrote to host page `hostPage` (a page offset), which is marked in codePages. */
  codeWritten(hostPage: number): void;
  /** The hart dropped its fast-cache entries of virtual page (hi:lo) only (address-specific SFENCE.VMA). */
  fastPageEvicted(lo: number, hi: number): void;
}

/** What the hart gives an attached engine: its fast translation caches, read-only. */
export interface HartEngineView {
  /** Entries per cache kind; kind k (0 fetch, 1 load, 2 store) of virtual page v is at k * fastSize + ((v >>> 12) & (fastSize - 1)). */
  readonly fastSize: number;
  /** Low and high word of the cached virtual page (page aligned; 1 = empty). */
  readonly fastTagLo: ReadonlyInt32Array;
  readonly fastTagHi: ReadonlyInt32Array;
  /** Host offset of the cached RAM page. */
  readonly fastBase: ReadonlyInt32Array;
  /** The compressed-instruction expansion table (0 = illegal). */
  readonly ctab: ReadonlyInt32Array;
  /** Incremented whenever the fast caches are flushed. */
  readonly tlbEpoch: number;
  /**
   * Incremented by the flushes that may invalidate translations (everything but a switch between
   * U and S): while it stays, an engine may keep per-privilege copies of the caches' entries.
   */
  readonly tlbFullEpoch: number;
  /** mstatus, low word. */
  readonly mstatus: number;
  /**
   * Fills the fetch cache for the page of pc (after a flush emptied it) without executing or raising
   * anything; returns the page's host offset, or -1 when a fetch there would fault.
   */
  probeFetch(): number;
}
