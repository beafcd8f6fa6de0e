// Rounds of dirty-page tracking for live migration's pre-copy (docs/SNAPSHOTS.md "Dirty tracking").
//
// GuestMemory.dirtyLog has a bit per RAM page, set by every write that does not go through a cached
// translation (device DMA, page-table A/D updates, the harts' store slow paths). The harts' store
// fast caches, and the translator's store mirrors copied from them, are the write protection: an
// entry exists only for a page marked when it was filled, so a store through it needs no mark until
// the log is taken. A round therefore (1) takes and clears the log, then (2) drops every store cache,
// and only then (3) reads the pages it took. A write before (2) through an entry filled before (1)
// is in a page (1) took, and (3) reads it after; a write after (2) first fills an entry, which marks
// the page in the new log. Nothing costs per store; each round costs one refill per page written.
import type { GuestMemory } from "../memory/GuestMemory.js";
import type { Hart } from "../riscv/Hart.js";

/**
 * Makes every hart's next store to any page take its store slow path (which marks the page in the
 * dirty log), and resolves once that holds. Harts on this thread do it at once; harts on vCPU
 * threads must do it between two of their runs and acknowledge (the caller awaits that before
 * reading any page).
 */
export type StoreCacheFlush = () => void | Promise<void>;

/** A StoreCacheFlush for harts run on the calling thread (between their runs). */
export function flushHartStoreCaches(harts: readonly Hart[]): StoreCacheFlush {
  return () => {
    // The whole fast cache goes (not only the store entries): flushFast is the hart's one way to
    // tell an attached translator to drop its TLB mirrors (their store part included), and a round
    // is rare enough that refilling the load and fetch entries costs nothing measurable.
    for (const h of harts) h.flushFast();
  };
}

/**
 * Starts a round: copies the dirty log into `into` (GuestMemory.dirtyLog layout) and clears it,
 * then flushes the store caches. Once it resolves, the pages set in `into` may be read: any write
 * to them from then on is marked in the log again.
 */
export async function beginDirtyRound(memory: GuestMemory, flush: StoreCacheFlush, into: Int32Array): Promise<void> {
  memory.takeDirtyLog(into);
  await flush();
}
