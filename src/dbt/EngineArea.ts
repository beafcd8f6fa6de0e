// Layout of the translator's state inside GuestMemory's engine area (the bytes after guest RAM in
// the same WebAssembly.Memory), so translated code reaches it with plain loads and stores.
// All offsets are relative to memory.engineOffset.

/**
 * The hart's own register state lives here (Hart.relocateState): x0..x31 as little-endian int64,
 * then f0..f31 (the layout of Hart.state), so translated code and the interpreter share one copy.
 */
export const ENG_REGS = 0;
export const ENG_FREGS = 256;
/** Virtual pc where translated code stopped (i64). */
export const ENG_PC = 512;
/** Virtual address of the page the called unit was entered at (i64, written by the dispatcher). */
export const ENG_VPAGE = 520;
/** Virtual address of the load/store that missed the TLB mirror (i64). */
export const ENG_ADDR = 528;
/** Instruction budget left when translated code returned (i32). */
export const ENG_BUDGET = 536;

/** Current code-cache generation (i32): jump-cache entries of older generations are stale. */
export const ENG_GEN = 540;
/**
 * 1 when mstatus.FS is Dirty and frm holds a valid rounding mode, so translated FP instructions may
 * run (they would otherwise trap when FS is Off or rm = DYN with an invalid frm, or have to set FS
 * to Dirty: Privileged ISA 3.1.6.6, Unprivileged 11.2); written by the dispatcher before every entry
 * (FS and frm only change in the interpreter).
 */
export const ENG_FPOK = 544;
/** ENG_FPOK bits: FP instructions may run; the dynamic rounding mode (frm) is round-to-nearest-even. */
export const FPOK_FP = 1,
  FPOK_RNE = 2;
/**
 * Exception flags raised by translated code (i32, fflags bits: NX = 1), merged into the hart's
 * fflags by the dispatcher whenever translated code returns.
 */
export const ENG_FFLAGS = 552;

/** TLB-mirror lookups by translated code (i32, wrapping; with DbtOptions.countMirror; read and cleared by the dispatcher). */
export const ENG_LOOKUPS = 556;
/**
 * TLB-mirror lookups that found their page in way 1 (i32, wrapping; with DbtOptions.countMirror,
 * counted on the out-of-line path only; read and cleared by the dispatcher): the misses a
 * direct-mapped mirror would have had.
 */
export const ENG_WAY1_HITS = 560;

/**
 * Function-table slot of the unit running now (i32): set by the trampoline before each call and by
 * a unit's tail call into the next (docs/DBT.md "Session 7: chaining"), so that each unit of a chain
 * is credited its own instructions in ENG_UNIT_INSNS.
 */
export const ENG_UNIT_SLOT = 564;

/** Calls of units by the trampoline (i32, wrapping; read and cleared by the dispatcher for --stats). */
export const ENG_CALLS = 548;

/**
 * One byte per function-table slot (the first VERIFIED_SLOTS): 1 while the unit in that slot has
 * been compared with its snapshot in the current code-cache generation, so the trampoline may chain
 * into it; a new run() starts a generation and clears them, without emptying the jump cache.
 */
export const ENG_VERIFIED = 1024;
export const VERIFIED_SLOTS = 15360;

/** Entries of the hart's fast translation caches (HartEngineView.fastSize), indexed by virtual page. */
export const TLB_ENTRIES = 256;
/**
 * Sets per TLB mirror (each of MIRROR_WAYS entries), filled from the hart's fast caches (the entry
 * a miss fills is copied over, at set mirrorIndex(vpage)). With 256 entries, as the fast caches
 * have, a Linux boot missed 0.7 M times on conflicts alone (two pages with the same index), each an
 * exit to the interpreter (docs/DBT.md "Session 4"). With 2048, cpu-workload.sh in a guest missed
 * 1.0-1.25 M times; 8192 (32 MiB of address space) cut that to 0.6-0.9 M and the workload's time by
 * ~10%; flushes clear only filled entries, so boots cost the same. The ~15 M misses of some runs
 * were accesses the translated check could not serve, not lost entries (docs/DBT.md "Session 6:
 * TLB mirror").
 */
export const MIRROR_SETS = 8192;
/**
 * Entries per set. Direct-mapped (one way), two hot pages of one process at one index, which the
 * random placement of stacks and mmaps produced in about one workload run of four, took turns in
 * the entry: 1-4 M exits (docs/DBT.md "Session 7: mirror"). With DbtOptions.mirrorWays 2 translated
 * code compares way 0 and branches out of line to compare way 1 only when way 0 misses; by default
 * (mirrorWays 1) way 1 stays empty and the lookup is the direct-mapped one.
 */
export const MIRROR_WAYS = 2;
/**
 * A virtual page's TLB-mirror set: address bits 12..24 XOR bits 32..44 XOR bits 45..57 (as
 * translated code computes it: (a ^ (a >>> 20) ^ (a >>> 33)) >>> 12). With bits 12..24 alone, the
 * kernel's regions (vmalloc, direct map, kernel image), which start at multiples of 2^32 or more,
 * had their pages at one offset, and the image's pages and their direct-map aliases, at one index:
 * in some boots two hot kernel pages took turns in one entry, 23 M misses in one workload run
 * (docs/DBT.md "Session 6: TLB mirror"). User addresses below 4 GiB keep bits 12..24.
 */
export function mirrorIndex(lo: number, hi: number): number {
  return ((lo >>> 12) ^ hi ^ (hi >>> 13)) & (MIRROR_SETS - 1);
}
/**
 * Bytes per TLB mirror entry: i64 tag (virtual page, or TLB_EMPTY), i32 addend (host page offset minus
 * the low 32 bits of the virtual page: host = (u32)vaddr + addend), i32 host page offset (for eviction).
 */
export const TLB_ENTRY_BYTES = 16;
/** Bytes per set: its ways side by side (way 1 at + TLB_ENTRY_BYTES, in the same cache line). */
export const TLB_SET_BYTES = MIRROR_WAYS * TLB_ENTRY_BYTES;
/** Entries per mirror. */
export const MIRROR_ENTRIES = MIRROR_SETS * MIRROR_WAYS;
/**
 * Tag of an empty entry: bit 11 set, which no compared value has (the compare keeps only the page
 * number, and for AMOs the low alignment bits 0..2), so an empty entry never hits.
 */
export const TLB_EMPTY = 0x800;

/**
 * Jump cache: virtual pc -> (table slot, block) of translated code, so the trampoline chains from one
 * unit into the next without returning to JS. Entry (16 bytes): i64 pc (odd = empty), i32 slot |
 * block << 16, i32 generation. Indexed by (pc >>> 1) & (JC_ENTRIES - 1).
 */
export const ENG_JC = 16384;
export const JC_ENTRIES = 4096;

/** Load-translation mirror, then store-translation mirror. */
export const ENG_TLB_LOAD = ENG_JC + JC_ENTRIES * 16;
export const ENG_TLB_STORE = ENG_TLB_LOAD + MIRROR_SETS * TLB_SET_BYTES;

/**
 * Instructions executed per function-table slot (i32 each, UNIT_SLOTS of them, a slot's counter at
 * (slot & (UNIT_SLOTS - 1))): the trampoline adds each unit call's budget used, the dispatcher
 * collects them into its units (hotness for the optimizing tier, docs/DBT.md "Session 7: tier-up").
 */
export const ENG_UNIT_INSNS = ENG_TLB_STORE + MIRROR_SETS * TLB_SET_BYTES;
export const UNIT_SLOTS = 16384;

/** Engine-area bytes the translator needs (pass as GuestMemoryOptions.engineBytes). */
export const DBT_ENGINE_BYTES = ENG_UNIT_INSNS + UNIT_SLOTS * 4;
