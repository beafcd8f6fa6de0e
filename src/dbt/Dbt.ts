// The dynamic binary translator's dispatcher: runs a Hart's hot guest code as WebAssembly generated
// at run time (PageTranslator + WasmModuleBuilder) and everything else in the hart's interpreter.
// Design and measurements: docs/DBT.md.
//
// Attach with `attachDbt(hart)`; from then on hart.run(n) (used unchanged by the VMM, the ABI layer
// and run-elf) goes through Dbt.run(n). The hart must have been built on a GuestMemory with
// engineBytes >= DBT_ENGINE_BYTES (the translator keeps the register file and its TLB mirrors there).
//
// Correctness rules (what keeps it the interpreter's semantics):
// - Code is cached per PHYSICAL page (host offset), looked up through the hart's own fetch
//   translation cache, so satp/privilege changes, sfence.vma and fetch faults are the interpreter's.
// - Translated loads/stores look up a mirror of the hart's load/store fast caches (RAM pages only,
//   valid for the current privilege/satp/mstatus); the mirror is dropped whenever the hart flushes
//   its caches (tlbEpoch). A miss leaves translated code and the interpreter executes the access,
//   which walks, faults precisely or goes to MMIO; the entry it fills is then copied into the mirror.
// - Self-modifying code: a page with translated code is never put in the store mirror, so translated
//   stores to it always go through the interpreter; translated pages keep a snapshot of their bytes
//   and are compared with RAM before being entered again after anything else (the interpreter, the
//   host, devices) may have written memory. A changed page is dropped and retranslated.
// - Interrupts and the timer: every SLICE translated instructions one instruction goes through
//   hart.run(1), which updates the timer and takes pending interrupts.
// - Privileged/sensitive instructions (CSR*, ecall, ebreak, xRET, wfi, sfence.vma, fence.i) and
//   LR/SC/AMOs and F/D are executed by the interpreter (trap-and-emulate): `stats.interpExits`.
import { ExitReason, type Hart } from "../riscv/Hart.js";
import type { HartEngine, HartEngineView } from "../riscv/HartEngine.js";
import { CodeWriter, Op, ValType, WasmModuleBuilder } from "./WasmModuleBuilder.js";
import { ExitKind, StepFlags } from "./PageTranslator.js";
import { UnitTranslator, type TranslatorConfig, type UnitCode } from "./UnitTranslator.js";
import { currentUnitCompiler, type CompiledUnit, type UnitCompiler } from "./UnitCompiler.js";
import { registeredTierUp, type TierUp } from "./TierUp.js";
import {
  DBT_ENGINE_BYTES,
  ENG_LOOKUPS,
  ENG_WAY1_HITS,
  ENG_FPOK,
  ENG_ADDR,
  ENG_BUDGET,
  ENG_PC,
  ENG_REGS,
  ENG_TLB_LOAD,
  ENG_TLB_STORE,
  ENG_VPAGE,
  TLB_EMPTY,
  TLB_ENTRIES,
  TLB_ENTRY_BYTES,
  MIRROR_ENTRIES,
  MIRROR_WAYS,
  TLB_SET_BYTES,
  mirrorIndex,
  ENG_GEN,
  ENG_VERIFIED,
  VERIFIED_SLOTS,
  ENG_JC,
  JC_ENTRIES,
  ENG_CALLS,
  ENG_FFLAGS,
  FPOK_FP,
  FPOK_RNE,
  ENG_UNIT_INSNS,
  ENG_UNIT_SLOT,
  UNIT_SLOTS,
} from "./EngineArea.js";

export interface DbtOptions {
  /**
   * Dispatches into a page before it is translated (default 512, i.e. up to ~32 k interpreted
   * instructions: compiling a page costs ~0.7 ms, about what the interpreter spends on 50 k
   * instructions). Measured (docs/DBT.md, session 3): a Linux boot translates 1,500 pages instead of
   * 4,700 (40 MB of wasm instead of 120) and takes ~25% less CPU than with 32; the in-guest
   * workload's CPU time is unchanged.
   */
  hotThreshold?: number;
  /**
   * Dispatches into a translated page at offsets that are not block starts before it is translated
   * again with them (default: hotThreshold). Docs/DBT.md "Session 7: translation off the vCPU".
   */
  retranslateThreshold?: number;
  /**
   * With a compiler elsewhere (`compiler`): a page's first translation is made on this thread and
   * only compiled there, so the page waits for a compile only; retranslations (the older translation
   * runs meanwhile) are made there (default false: all there). Docs/DBT.md "Session 7: translation
   * off the vCPU".
   */
  translateFirstHere?: boolean;
  /**
   * Translated instructions between two interrupt/timer checks (default 16384: ~10-20 us of guest
   * time; 4096 until session 6 made 1.9 M of a sha256sum's 11 M dispatcher entries).
   */
  slice?: number;
  /** Guest registers in wasm locals across a whole unit instead of the engine area (PageTranslatorOptions). */
  regsInLocals?: boolean;
  /** Major opcodes (or 0x1000 + opcode * 8 + funct3) left to the interpreter, for bisecting a translator bug. */
  disabledOpcodes?: ReadonlySet<number>;
  /**
   * Count TLB-mirror lookups in translated code (DbtStats.mirrorLookups, for the hit rate in
   * `--stats`): a counter update per load/store, so slightly slower code (default false).
   */
  countMirror?: boolean;
  /**
   * TLB-mirror ways used: 1 (default: the direct-mapped lookup of sessions 4-6; way 1 stays empty),
   * or 2: no conflict misses, but ~22 bytes more wasm per load/store, and the in-guest workload
   * took ~10% more vCPU CPU in A/B runs (docs/DBT.md "Session 7: mirror").
   */
  mirrorWays?: 1 | 2;
  /** Other harts run concurrently on other threads (vCPU threads): atomic AMOs and FENCE (PageTranslatorOptions). */
  atomics?: boolean;
  /**
   * Every write to guest RAM on this thread by anything but the harts' stores (devices, loaders,
   * restore) goes through GuestMemory's marking writers, and no other thread writes RAM (the
   * single-thread machine of VirtBoard). The translator then learns of writes to its code pages
   * from GuestMemory.watchCodeWrites and does not compare its pages with their snapshots again at
   * every run() (212 k comparisons of 4 KiB, ~4% of a Linux boot's vCPU profile, docs/DBT.md
   * "Session 7: lead"). Ignored with atomics. Default false: `exec` writes RAM directly.
   */
  hostWritesReported?: boolean;
  /**
   * Where translated units are compiled (UnitCompiler.ts; default: the compiler useUnitCompiler set
   * on this thread, else synchronously).
   */
  compiler?: UnitCompiler;
  /**
   * Instructions a unit executes before its function is compiled again by TurboFan, in place, with
   * the tier-up function an entry point registered (TierUp.ts; 0: never): on the compile worker when
   * the unit compiler has one (UnitCompiler.tierUp), else on this thread. Default HOT_TIER
   * (docs/DBT.md "Session 7: tier-up").
   */
  hotTier?: number;
  /**
   * Units chain into the next unit themselves, with a wasm tail call (PageTranslatorOptions.chain),
   * instead of returning to the trampoline at every Jump exit, where the engine has wasm tail calls
   * (tailCallsSupported()). Default false: no CPU gain measured on the in-guest workload (docs/DBT.md
   * "Session 7: chaining").
   */
  tailCalls?: boolean;
}

let tailCalls: boolean | undefined;
/**
 * Whether this engine validates `return_call_indirect` (WebAssembly tail calls: V8 11.2+ / Node 20,
 * Firefox 121+; not every browser the page may run in).
 */
export function tailCallsSupported(): boolean {
  if (tailCalls === undefined) {
    // (module (table 1 funcref) (type (func)) (func (type 0) i32.const 0 return_call_indirect (type 0)))
    const probe = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x04,
      0x04, 0x01, 0x70, 0x00, 0x01, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x41, 0x00, 0x13, 0x00, 0x00, 0x0b,
    ]);
    tailCalls = WebAssembly.validate(probe);
  }
  return tailCalls;
}

/** The bit of virtual page (hi:lo) in Dbt's set of pages with jump-cache entries (any bits of the pc in the page ignored). */
function jcPageBit(lo: number, hi: number): number {
  const v = (lo >>> 12) ^ (hi << 4) ^ (hi >>> 6);
  return (v ^ (v >>> 10)) & 1023;
}

/**
 * Default DbtOptions.hotTier when the tier-up runs on this thread (vCPU threads, run-elf,
 * TYPEVISOR_DBT_COMPILE=sync): above the instructions most units of a Linux boot execute (a
 * TurboFan compile of a page's function takes 50-250 ms of the vCPU's thread: at 20 M a boot spent
 * 1.6-1.8 s on 18-19 of them), far below those of the in-guest workload's hot loops (billions).
 */
export const HOT_TIER = 500_000_000;
/**
 * Default DbtOptions.hotTier when the unit compiler tiers up on its own thread (UnitCompiler.tierUp):
 * the compile costs the vCPU's thread nothing (docs/DBT.md "Session 7: tier-up").
 */
export const HOT_TIER_OFF_THREAD = 20_000_000;

export interface DbtStats {
  /** Pages translated (each is one wasm function) and the basic blocks in them. */
  pagesTranslated: number;
  blocksTranslated: number;
  insnsTranslated: number;
  modules: number;
  wasmBytes: number;
  compileMs: number;
  /** Entries into translated code from the dispatcher. */
  cacheHits: number;
  /** Unit calls: the dispatcher's entries plus the trampoline's chained calls (jump cache hits). */
  unitCalls: number;
  /** Translated pages dropped because their bytes changed. */
  invalidations: number;
  /** Comparisons of a translated page with its snapshot before an entry (after anything else may have written memory). */
  verifications: number;
  /** Instructions executed as WebAssembly. */
  translatedInsns: number;
  /** Instructions (or interrupt entries) executed by the interpreter. */
  interpInsns: number;
  /** Exits from translated code to the interpreter for one instruction (trap-and-emulate, TLB misses). */
  interpExits: number;
  tlbMirrorFlushes: number;
  /** Loads/stores that looked up the TLB mirror in translated code (counted only with DbtOptions.countMirror). */
  mirrorLookups: number;
  /**
   * Of mirrorLookups, those that found their page in way 1 (DbtOptions.countMirror): the misses a
   * direct-mapped mirror would have had (docs/DBT.md "Session 7: mirror").
   */
  mirrorWay1Hits: number;
  /** Fills that pushed a page out of its TLB-mirror set (both ways in use). */
  mirrorReplacements: number;
  /** Exits of translated code to the interpreter by cause (ExitCause). */
  exitCauses: number[];
  /** Guest pages the dispatcher looked up (each gets a PageUnit), and how many of them were ever translated. */
  pagesSeen: number;
  pagesEverTranslated: number;
  /** Instructions executed by the interpreter from inside translated code (the step import). */
  stepped: number;
  /** CSR accesses the step import did itself (csrStep), and SUM/MXR mirror switches it made without leaving. */
  csrFast: number;
  csrSumSwitches: number;
  /** LR/SC the step import did itself (Hart.lrscInstruction). */
  lrscFast: number;
  /** Single pages dropped from the TLB mirrors (address-specific SFENCE.VMA). */
  tlbPageEvictions: number;
  /** TLB-mirror switches between U and S entries instead of flushes (syncMirror). */
  tlbMirrorSwitches: number;
  /**
   * TLB-mirror misses whose page the mirror held already: accesses its check cannot serve
   * (misaligned ones, which the interpreter splits), not entries lost (docs/DBT.md "Session 6: TLB mirror").
   */
  mirrorRefills: number;
  /**
   * Units whose function TurboFan compiled in place (DbtOptions.hotTier), how many of them on the
   * unit compiler's thread, and the milliseconds it took on this (the vCPU's) thread and on the
   * compiler's; tier-ups that failed; translations of a page whose previous translation was tiered up.
   */
  tieredUp: number;
  tieredUpOffThread: number;
  tierUpMs: number;
  tierUpOffThreadMs: number;
  /** Milliseconds the compiler elsewhere spent translating and compiling units (UnitCompiler). */
  workerMs: number;
  tierUpFailures: number;
  retranslatedTiered: number;
  /** Instructions executed by units while they ran TurboFan code (counted at each collection). */
  tieredInsns: number;
  /** Units dropped because they left wasm too often to pay off. */
  unprofitable: number;
  /** Translations compiled on another thread (UnitCompiler), and those dropped before they were installed. */
  compilesOffThread: number;
  compilesDiscarded: number;
  /** interpExits by the major opcode of the instruction (loads/stores: TLB-mirror misses, MMIO). */
  exitsByOpcode: number[];
  /** interpInsns by why the interpreter ran them (InterpReason). */
  interpByReason: number[];
}

/** Why instructions ran in the interpreter (DbtStats.interpByReason). */
const enum InterpReason {
  /** The timer/interrupt check, or the last few instructions of a caller's budget. */
  Check,
  Tail,
  /** The pc's page is not in the hart's fetch cache yet (the interpreter fetches and fills it). */
  NoFetch,
  /** The page is not translated yet (fewer than hotThreshold dispatches). */
  Cold,
  /** The entry offset is not a block of the page's translation (retranslated after 4 such misses). */
  NotBlock,
  /** The page was dropped as unprofitable, or has nothing translatable. */
  Dropped,
  /** One instruction after an exit of translated code (trap-and-emulate, TLB-mirror miss). */
  Exit,
  /** The page's first translation is being compiled elsewhere (UnitCompiler). */
  Compiling,
}
const INTERP_REASONS = [
  "interrupt check",
  "budget tail",
  "page not in fetch cache",
  "cold page",
  "entry not a block",
  "page dropped/untranslatable",
  "exit (one instruction)",
  "translation compiling on the worker",
];

/** Why translated code left for the interpreter or the VMM (DbtStats.exitCauses). */
const enum ExitCause {
  /** A load/store whose page was not in the TLB mirror; the interpreter's access refilled it. */
  TlbMiss,
  /** A load/store the mirror cannot serve: MMIO, misaligned, or a store to a page holding code. */
  Mmio,
  /** A load/store that faulted (page fault, access fault): the guest's trap handler runs next. */
  Fault,
  /** An instruction the translator does not emit, executed by the interpreter (CSR, xRET, ecall, wfi, LR/SC, one across a page end...). */
  Emulated,
  /** An interrupt check (every `slice` instructions, and after SYSTEM instructions) found one pending. */
  Interrupt,
  /** The interpreted instruction ended the run for the VMM (SBI call, wfi, poweroff...). */
  Vmm,
}
const EXIT_CAUSES = [
  "TLB-mirror miss",
  "MMIO/misaligned/code-page store",
  "load/store fault",
  "trap-and-emulate (CSR, xRET, ecall, wfi, LR/SC...)",
  "timer/interrupt pending",
  "ending the run for the VMM (SBI, wfi, poweroff)",
];
/**
 * ENG_ADDR when the last exit was not a TLB-mirror miss: a non-canonical address (Sv39/48/57) and,
 * without translation, no RAM address, so no fast-cache entry has its page.
 */
const NO_MISS_LO = 0xfffff000 | 0,
  NO_MISS_HI = 0x7fffffff;
/** The load and the store TLB mirror (engine-area offsets). */
const MIRRORS = [ENG_TLB_LOAD, ENG_TLB_STORE] as const;
/** Major opcodes of the instructions translated code reaches memory with (loads, stores, FP loads/stores, AMOs). */
const MEMORY_OPS = new Set([0x03, 0x23, 0x07, 0x27, 0x2f]);

const OPCODE_NAMES: Record<number, string> = {
  0x03: "load (TLB miss/MMIO)",
  0x23: "store (TLB miss/MMIO/code page)",
  0x2f: "AMO/LR/SC",
  0x73: "SYSTEM (CSR, xRET, ecall, wfi, sfence)",
  0x07: "FP load",
  0x27: "FP store",
  0x53: "FP op",
  0x43: "FMADD",
  0x47: "FMSUB",
  0x4b: "FNMSUB",
  0x4f: "FNMADD",
  0x0f: "FENCE.I",
  0x33: "OP (MULH, Zb*)",
  0x3b: "OP-32 (Zb*)",
  0x13: "OP-IMM (Zb*)",
  0x1b: "OP-IMM-32 (Zb*)",
  0x67: "JALR",
  0x63: "BRANCH",
};

type UnitFn = (block: number, budget: number) => number;
/** The trampoline: call_indirect into the unit in table slot `slot` (see makeTrampoline). */
type EnterFn = (slot: number, block: number, budget: number) => number;

/**
 * Calls from JS into many different wasm functions at one call site go through V8's generic (slow)
 * JS-to-wasm wrapper; calling one exported trampoline that does a call_indirect through a table
 * keeps the JS call site monomorphic (measured: the generic wrapper was the top profile entry).
 */
function makeTrampoline(
  table: WebAssembly.Table,
  memory: WebAssembly.Memory,
  E: number,
  tierUp: TierUp | undefined,
  tailCalls: boolean,
  chainOut: { fn?: EnterFn },
): EnterFn {
  const b = new WasmModuleBuilder();
  b.importTable("e", "t", 1);
  const pages = memory.buffer.byteLength / 65536;
  b.importMemory("e", "m", pages, pages, memory.buffer instanceof SharedArrayBuffer);
  const sig = b.type([ValType.I32, ValType.I32], [ValType.I32]);
  const c = new CodeWriter();
  // params 0 slot, 1 block, 2 budget; locals 3 kind, 4 pc, 5 entry.
  // Chaining: after a Jump exit with budget left, look the new pc up in the jump cache (filled by the
  // dispatcher, valid for the current generation) and call that unit directly.
  c.loop();
  c.i32Const(0)
    .i32Const(0)
    .mem(Op.I32Load, 2, E + ENG_CALLS)
    .i32Const(1)
    .op(Op.I32Add)
    .mem(Op.I32Store, 2, E + ENG_CALLS);
  if (tailCalls)
    c.i32Const(0)
      .localGet(0)
      .mem(Op.I32Store, 2, E + ENG_UNIT_SLOT);
  c.localGet(1).localGet(2).localGet(0).byte(Op.CallIndirect).u32(sig).byte(0x00).localSet(3);
  // The unit's instructions: ENG_UNIT_INSNS[slot] += budget given - budget left (the optimizing
  // tier's hotness, per unit even when chained; docs/DBT.md "Session 7: tier-up"). A unit that
  // tail-called the next one moved the budget it passed on to that unit's counter and made it the
  // running one (ENG_UNIT_SLOT, PageTranslator.chainExit), so the budget left is the last unit's.
  c.localGet(0)
    .i32Const(UNIT_SLOTS - 1)
    .op(Op.I32And)
    .i32Const(2)
    .op(Op.I32Shl)
    .localTee(5);
  c.localGet(5)
    .mem(Op.I32Load, 2, E + ENG_UNIT_INSNS)
    .localGet(2)
    .op(Op.I32Add);
  if (tailCalls) {
    c.mem(Op.I32Store, 2, E + ENG_UNIT_INSNS);
    c.i32Const(0)
      .mem(Op.I32Load, 2, E + ENG_UNIT_SLOT)
      .i32Const(UNIT_SLOTS - 1)
      .op(Op.I32And)
      .i32Const(2)
      .op(Op.I32Shl)
      .localTee(5);
    c.localGet(5).mem(Op.I32Load, 2, E + ENG_UNIT_INSNS);
  }
  c.i32Const(0)
    .mem(Op.I32Load, 2, E + ENG_BUDGET)
    .localTee(2)
    .op(Op.I32Sub)
    .mem(Op.I32Store, 2, E + ENG_UNIT_INSNS);
  c.localGet(3).op(Op.If).byte(0x40).localGet(3).op(Op.Return).end(); // kind != Jump
  c.localGet(2).i32Const(0).op(Op.I32LeS);
  c.op(Op.If).byte(0x40).localGet(3).op(Op.Return).end();
  c.i32Const(0)
    .mem(Op.I64Load, 3, E + ENG_PC)
    .localTee(4);
  c.op(Op.I32WrapI64)
    .i32Const(1)
    .op(Op.I32ShrU)
    .i32Const(JC_ENTRIES - 1)
    .op(Op.I32And)
    .i32Const(4)
    .op(Op.I32Shl)
    .localTee(5);
  c.mem(Op.I64Load, 3, E + ENG_JC)
    .localGet(4)
    .op(Op.I64Ne);
  c.localGet(5)
    .mem(Op.I32Load, 2, E + ENG_JC + 12)
    .i32Const(0)
    .mem(Op.I32Load, 2, E + ENG_GEN)
    .op(Op.I32Ne)
    .op(Op.I32Or);
  c.op(Op.If).byte(0x40).localGet(3).op(Op.Return).end();
  c.localGet(5)
    .mem(Op.I32Load, 2, E + ENG_JC + 8)
    .localTee(0)
    .i32Const(16)
    .op(Op.I32ShrU)
    .localSet(1);
  c.localGet(0).i32Const(0xffff).op(Op.I32And).localTee(0);
  // Only into a unit compared with its snapshot in this generation (ENG_VERIFIED); else the
  // dispatcher compares it first.
  c.mem(Op.I32Load8U, 0, E + ENG_VERIFIED).op(Op.I32Eqz);
  c.op(Op.If).byte(0x40).localGet(3).op(Op.Return).end();
  c.i32Const(0)
    .localGet(4)
    .i64Const(-4096, -1)
    .op(Op.I64And)
    .mem(Op.I64Store, 3, E + ENG_VPAGE);
  c.br(0).end();
  c.op(Op.Unreachable);
  b.addFunction(
    [ValType.I32, ValType.I32, ValType.I32],
    [ValType.I32],
    [ValType.I32, ValType.I64, ValType.I32],
    c,
    "enter",
  );
  // The units' tail call into the next unit (PageTranslator.chainExit): an import of this module's
  // function, so that only this instance imports the table (V8 keeps every importing instance alive).
  const ch = new CodeWriter();
  ch.localGet(0).localGet(1).localGet(2).byte(Op.ReturnCallIndirect).u32(sig).byte(0x00);
  b.addFunction([ValType.I32, ValType.I32, ValType.I32], [ValType.I32], [], ch, "chain");
  const inst = new WebAssembly.Instance(new WebAssembly.Module(b.build()), { e: { t: table, m: memory } });
  const enter = inst.exports["enter"] as EnterFn;
  chainOut.fn = inst.exports["chain"] as EnterFn;
  // Every unit call goes through it (~540 M times in the in-guest workload): TurboFan code at once
  // when an entry point registered the tier-up (it is small: ~1 ms).
  tierUp?.(enter);
  return enter;
}

class PageUnit {
  fn: UnitFn | undefined = undefined;
  /** Slot of fn in the function table (-1: none). */
  slot = -1;
  blockAt: Int16Array | undefined = undefined;
  /** Instructions inside the translated blocks, by page offset / 2 (TranslatedPage.covered). */
  covered: Uint8Array | undefined = undefined;
  /** Page bytes the translation was made from. */
  snapshot: Int32Array | undefined = undefined;
  verifiedGen = 0;
  /** A translation compiling elsewhere (UnitCompiler); the page runs as before until it is installed. */
  pending: PendingUnit | undefined = undefined;
  /** The page is in the code registry (a translation is installed or compiling). */
  registered = false;
  dispatches = 0;
  /** Entry offsets seen (for block discovery); misses since the last translation. */
  readonly entries = new Set<number>();
  misses = 0;
  /** Entries into the unit and instructions they executed, since the last payoff check. */
  calls = 0;
  executed = 0;
  interpExits = 0;
  /** Instructions executed in this unit's translations since the page was first seen (for hotPages). */
  totalExecuted = 0;
  everTranslated = false;
  /** The installed translation's module (for a tier-up on the unit compiler's thread). */
  module: WebAssembly.Module | undefined = undefined;
  /** Instructions the installed translation executed (ENG_UNIT_INSNS), for DbtOptions.hotTier. */
  tierExecuted = 0;
  /** Where the installed translation is in the optimizing tier. */
  tier = Tier.Liftoff;
}

/** PageUnit.tier. */
const enum Tier {
  Liftoff,
  /** Compiling with TurboFan on the unit compiler's thread. */
  Requested,
  TurboFan,
  /** The tier-up failed: Liftoff code for good. */
  Failed,
}

/** Entries between two checks of whether a unit pays for its entry/exit cost. */
const PAYOFF_WINDOW = 512;
/** Below this many instructions per entry, a page runs in the interpreter instead (see docs/DBT.md). */
const PAYOFF_MIN = 12;
/** Dispatches a page that did not pay off waits before it is tried again. */
const PAYOFF_BACKOFF = 200_000;

/** mstatus.FS (Privileged ISA 3.1.6.6); Dirty = both bits. */
const MS_FS = 3 << 13;
/** mstatus.SIE (Privileged ISA 3.1.6.1). */
const MS_SIE = 1 << 1;
/** mstatus.SUM (Privileged ISA 3.1.6.3). */
const MS_SUM = 1 << 18;

/** Instructions after which an interrupt may have become enabled (CSR writes, xRET, wfi: SYSTEM). */
const SYSTEM_OP = 0x73;

/**
 * The translated pages of one GuestMemory, shared by the translators of all its harts: a store by
 * any hart's interpreter to a page that some hart translated reaches onCodeWrite (through the harts'
 * codePages/onCodeWrite hooks) and drops that page's translations in every translator.
 */
class CodeRegistry {
  /** Per host page: how many translators hold a translation of it. */
  readonly pages: Uint8Array;
  readonly dbts: Dbt[] = [];
  constructor(pagesInRam: number) {
    this.pages = new Uint8Array(pagesInRam);
  }
  readonly onCodeWrite = (hostPage: number): void => {
    for (const d of this.dbts) d.dropCodePage(hostPage);
  };
  /** A translator made hostPage a code page: no hart may keep it in its store fast cache. */
  added(hostPage: number): void {
    if (this.pages[hostPage >>> 12]!++ === 0)
      for (const d of this.dbts) {
        d.hart.evictStorePage(hostPage);
        d.evictStoreMirror(hostPage);
      }
  }
  removed(hostPage: number): void {
    if (this.pages[hostPage >>> 12]! > 0) this.pages[hostPage >>> 12]!--;
  }
}
const registries = new WeakMap<object, CodeRegistry>();

/** Statistics with every count zero. */
export function emptyDbtStats(): DbtStats {
  return {
    pagesTranslated: 0,
    blocksTranslated: 0,
    insnsTranslated: 0,
    modules: 0,
    wasmBytes: 0,
    compileMs: 0,
    cacheHits: 0,
    unitCalls: 0,
    invalidations: 0,
    verifications: 0,
    translatedInsns: 0,
    interpInsns: 0,
    interpExits: 0,
    tlbMirrorFlushes: 0,
    tlbPageEvictions: 0,
    tlbMirrorSwitches: 0,
    mirrorRefills: 0,
    mirrorLookups: 0,
    mirrorWay1Hits: 0,
    mirrorReplacements: 0,
    pagesSeen: 0,
    pagesEverTranslated: 0,
    exitCauses: new Array<number>(EXIT_CAUSES.length).fill(0),
    stepped: 0,
    csrFast: 0,
    csrSumSwitches: 0,
    lrscFast: 0,
    unprofitable: 0,
    compilesOffThread: 0,
    compilesDiscarded: 0,
    tieredUp: 0,
    tieredUpOffThread: 0,
    tierUpMs: 0,
    tierUpOffThreadMs: 0,
    workerMs: 0,
    tierUpFailures: 0,
    retranslatedTiered: 0,
    tieredInsns: 0,
    exitsByOpcode: new Array<number>(128).fill(0),
    interpByReason: new Array<number>(INTERP_REASONS.length).fill(0),
  };
}

/** dst += src, field by field (to sum the translators of several harts or boots). */
export function addDbtStats(dst: DbtStats, src: DbtStats): void {
  for (const k of Object.keys(src) as (keyof DbtStats)[]) {
    const v = src[k];
    if (typeof v === "number") (dst[k] as number) += v;
    else
      v.forEach((n, i) => {
        (dst[k] as number[])[i]! += n;
      });
  }
}

/** Whether the 4 KiB page at word `word` of RAM differs from its snapshot (1024 words). */
function pageChanged(snapshot: Int32Array, ram32: Int32Array, word: number): boolean {
  for (let i = 0; i < 1024; i++) if (snapshot[i] !== ram32[word + i]) return true;
  return false;
}

export class Dbt implements HartEngine {
  busy = false;
  readonly stats: DbtStats = emptyDbtStats();
  /** The hart's fast caches (read-only), from attachEngine. */
  private readonly h: HartEngineView;
  private readonly fastSize: number;
  private readonly eng32: Int32Array;
  private readonly eng8: Uint8Array;
  /** Offset of the ENG_VERIFIED bytes in eng8. */
  private readonly verified: number;
  private readonly e32: number; // engine offset / 4
  private readonly ram16: Uint16Array;
  private readonly ram8: Uint8Array;
  /** RAM as words, for comparing a page with its snapshot. */
  private readonly ram32: Int32Array;
  private readonly units: (PageUnit | undefined)[];
  private readonly registry: CodeRegistry;
  private readonly translator: UnitTranslator;
  /** The compiler's handle of this translator's configuration (UnitCompiler.addTranslator). */
  private readonly compilerTranslator: number = -1;
  private readonly hot: number;
  private readonly rehot: number;
  private readonly firstHere: boolean;
  private readonly slice: number;
  private readonly hotTier: number;
  /** The tier-up function registered on this thread when the translator was made (TierUp.ts). */
  private readonly tierUpFn: TierUp | undefined;
  /** The unit in each function-table slot (for ENG_UNIT_INSNS). */
  private readonly slotUnits: (PageUnit | undefined)[] = [];
  /** Translated instructions since the dispatcher last collected ENG_UNIT_INSNS, and between two collections. */
  private sinceCollect = 0;
  private readonly collectEvery: number;
  private epoch = -1;
  /** Bumped whenever memory may have been written by something other than translated code. */
  private gen = 1;
  /** Generation of the jump cache (ENG_GEN): bumped with gen, and on every TLB-mirror flush. */
  private jcGen = 1;
  private readonly table = new WebAssembly.Table({ element: "anyfunc", initial: 256 });
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private readonly enter: EnterFn;
  /** The trampoline module's `chain` export, which units tail-call (DbtOptions.tailCalls). */
  private readonly chain: { fn?: EnterFn } = {};
  /** Other harts run on other threads (DbtOptions.atomics). */
  private readonly atomics: boolean;
  private readonly compiler: UnitCompiler | undefined;
  constructor(
    readonly hart: Hart,
    opts: DbtOptions = {},
  ) {
    const mem = hart.memory;
    if (mem.base % 4096 !== 0) throw new Error("the binary translator needs a page-aligned RAM base");
    // Each translating hart has its own DBT_ENGINE_BYTES slot of the engine area (registers, TLB
    // mirrors, jump cache), indexed by its hart id (a hart re-created on reboot reuses its slot).
    const slotIndex = hart.hartId;
    if (mem.engineBytes < (slotIndex + 1) * DBT_ENGINE_BYTES) {
      throw new Error(
        `the binary translator needs ${DBT_ENGINE_BYTES} bytes of engine area per hart; this GuestMemory has ${mem.engineBytes}, too few for hart ${slotIndex} (create it with engineBytes: engineBytes("dbt", harts) from src/dbt/Engine.ts)`,
      );
    }
    const E = mem.engineOffset + slotIndex * DBT_ENGINE_BYTES;
    const buf = mem.buffer;
    // The hart's register file moves into this slot: translated code and the interpreter share it.
    hart.relocateState(buf, E + ENG_REGS);
    this.eng32 = new Int32Array(buf, 0, (E + DBT_ENGINE_BYTES) >>> 2);
    this.eng8 = new Uint8Array(buf, 0, E + DBT_ENGINE_BYTES);
    this.verified = E + ENG_VERIFIED;
    this.e32 = E >>> 2;
    this.ram16 = new Uint16Array(buf, 0, mem.size >>> 1);
    this.ram8 = new Uint8Array(buf, 0, mem.size);
    this.ram32 = new Int32Array(buf, 0, mem.size >>> 2);
    this.units = new Array<PageUnit | undefined>(mem.size >>> 12);
    let reg = registries.get(mem);
    if (reg === undefined) {
      reg = new CodeRegistry(mem.size >>> 12);
      registries.set(mem, reg);
    }
    this.registry = reg;
    // A re-created hart (reboot) replaces its predecessor with the same id.
    const prev = reg.dbts.findIndex((d) => d.hart.hartId === hart.hartId);
    if (prev >= 0) {
      reg.dbts[prev]!.flushAll();
      reg.dbts.splice(prev, 1);
    }
    reg.dbts.push(this);
    this.codePages = reg.pages;
    this.h = hart.attachEngine(this);
    this.fastSize = this.h.fastSize;
    if (this.fastSize !== TLB_ENTRIES)
      throw new Error(`hart fast cache has ${this.fastSize} entries, the translator expects ${TLB_ENTRIES}`);
    const config: TranslatorConfig = {
      engineOffset: E,
      memoryPages: mem.wasmMemory.buffer.byteLength / 65536,
      shared: buf instanceof SharedArrayBuffer,
      regsInLocals: opts.regsInLocals ?? false,
      disabledOpcodes: [...(opts.disabledOpcodes ?? [])],
      atomics: opts.atomics ?? false,
      countMirror: opts.countMirror ?? false,
      mirrorWays: opts.mirrorWays ?? 1,
      tailCalls: (opts.tailCalls ?? false) && tailCallsSupported(),
    };
    this.ways = opts.mirrorWays ?? 1;
    this.translator = new UnitTranslator(buf, config);
    this.tierUpFn = registeredTierUp();
    this.enter = makeTrampoline(this.table, mem.wasmMemory, E, this.tierUpFn, config.tailCalls === true, this.chain);
    this.hot = opts.hotThreshold ?? 512;
    this.rehot = opts.retranslateThreshold ?? this.hot;
    this.firstHere = opts.translateFirstHere ?? false;
    this.atomics = opts.atomics ?? false;
    this.writesReported = (opts.hostWritesReported ?? false) && !this.atomics;
    if (this.writesReported) mem.watchCodeWrites(reg.pages, reg.onCodeWrite);
    // A compiler elsewhere reads the pages from the guest memory itself: shared memory only (run-elf's
    // is not; it translates synchronously).
    const compiler = opts.compiler ?? currentUnitCompiler();
    this.compiler = config.shared ? compiler : undefined;
    if (this.compiler !== undefined) this.compilerTranslator = this.compiler.addTranslator(mem.wasmMemory, config);
    this.hotTier = opts.hotTier ?? (this.compiler?.tierUp !== undefined ? HOT_TIER_OFF_THREAD : HOT_TIER);
    this.collectEvery = this.hotTier > 0 ? Math.min(COLLECT_EVERY, Math.max(this.hotTier >>> 2, 1024)) : COLLECT_EVERY;
    this.slice = opts.slice ?? 16384;
    this.eng32[this.e32 + (ENG_ADDR >>> 2)] = NO_MISS_LO;
    this.eng32[this.e32 + (ENG_ADDR >>> 2) + 1] = NO_MISS_HI;
    // A translator made for a rebooted hart (VirtBoard re-creates its harts) inherits its
    // predecessor's engine area: jump-cache entries tagged with generations this translator reaches
    // again (jcGen restarts at 1), which would chain into whatever unit now holds their table slot,
    // and its verified bytes and unit counters (flushMirror below empties every mirror entry: the
    // first flush does). Only the registers below ENG_VERIFIED stay.
    this.eng8.fill(0, this.e32 * 4 + ENG_VERIFIED, this.e32 * 4 + DBT_ENGINE_BYTES); // JC tag 0 never matches
    this.flushMirror();
  }

  /** Drops every translation (e.g. after the host rewrote guest code wholesale). */
  flushAll(): void {
    for (let p = 0; p < this.units.length; p++) {
      const u = this.units[p];
      if (u !== undefined) this.drop(u, p << 12);
    }
    this.units.fill(undefined);
    this.flushMirror();
  }

  /** The n pages whose translations executed the most instructions: [host page offset, instructions]. */
  hotPages(n: number): [number, number][] {
    this.collectUnitInsns();
    const all: [number, number][] = [];
    this.units.forEach((u, p) => {
      if (u !== undefined && u.totalExecuted > 0) all.push([p << 12, u.totalExecuted]);
    });
    return all.sort((a, b) => b[1] - a[1]).slice(0, n);
  }

  /**
   * Drops store-mirror entries for a host page that became a code page: those on the filled list
   * (every entry in use is on it), or all when the list overflowed (a boot makes ~4500 code pages;
   * a scan of all 2 ways x 8192 sets of the store mirror for each costs more than the list's few dozen).
   */
  evictStoreMirror(hostPage: number): void {
    const e = this.eng32,
      storeW = this.e32 + (ENG_TLB_STORE >>> 2);
    if (this.filledCount > this.filled.length) {
      for (
        let w = storeW, end = storeW + ((MIRROR_ENTRIES * TLB_ENTRY_BYTES) >>> 2);
        w < end;
        w += TLB_ENTRY_BYTES >>> 2
      )
        if (e[w] !== TLB_EMPTY && e[w + 3] === hostPage) e[w] = TLB_EMPTY;
    } else
      for (let i = 0; i < this.filledCount; i++) {
        const w = this.filled[i]!;
        if (w >= storeW && e[w] !== TLB_EMPTY && e[w + 3] === hostPage) e[w] = TLB_EMPTY;
      }
    this.evictSaved(0, 0, hostPage);
  }

  /** HartEngine: per host page, how many translators hold a translation of it (shared by all harts' translators). */
  readonly codePages: Uint8Array;

  /** HartEngine: this hart's interpreter wrote to a code page: every translator of the memory drops it. */
  codeWritten(hostPage: number): void {
    this.registry.onCodeWrite(hostPage);
  }

  /** HartEngine: the hart evicted one virtual page from its fast caches (address-specific SFENCE.VMA). */
  fastPageEvicted(lo: number, hi: number): void {
    const set = mirrorIndex(lo, hi) * TLB_SET_BYTES,
      page = lo & ~0xfff,
      e = this.eng32;
    for (const tlb of MIRRORS)
      for (let way = 0; way < MIRROR_WAYS; way++) {
        const w = this.e32 + ((tlb + set + way * TLB_ENTRY_BYTES) >>> 2);
        if (e[w] === page && e[w + 1] === hi) e[w] = TLB_EMPTY;
      }
    this.evictSaved(page, hi, -1);
    this.evictJumpPage(page, hi);
    this.stats.tlbPageEvictions++;
  }

  /** The interpreter (of any hart) wrote to host page `hostPage`, which holds translated code somewhere. */
  dropCodePage(hostPage: number): void {
    const u = this.units[hostPage >>> 12];
    if (u !== undefined && (u.fn !== undefined || u.pending !== undefined)) this.invalidate(u, hostPage);
  }

  /** Starts a new code-cache generation: translated pages must be re-verified, jump-cache entries die. */
  private newGen(): void {
    this.gen++;
    this.newJumpGen();
  }

  /**
   * Empties the jump cache (its entries map virtual pcs to units: a TLB flush or a dropped unit ends
   * them) without making translated pages re-verify their bytes, which only a possible memory write
   * by something other than translated code requires (newGen). A Linux boot flushes the TLB ~125 k
   * times, mostly by sfence.vma; re-verifying every page entered after each flush cost a memcmp per
   * page.
   */
  private newJumpGen(): void {
    this.jcGen++;
    this.setJumpTag();
    this.jcPages.fill(0);
  }

  /**
   * The virtual pages with jump-cache entries made since the last newJumpGen, as a 1024-bit hashed
   * set (jcPageBit): an address-specific SFENCE.VMA (113 k per Linux boot, nearly all for data
   * pages) scans the cache for its page only when the page may have entries. The unconditional scan
   * of 4096 entries was 4% of a boot's vCPU profile (docs/DBT.md "Session 7: lead").
   */
  private readonly jcPages = new Int32Array(32);

  /**
   * ENG_GEN, the tag of the jump-cache entries translated code may chain through: the generation
   * and the privilege whose fetch translations the entries were made under (U 0, S 1, else 2; SUM
   * does not change fetches, Privileged ISA 4.3.1). A switch between U and S that keeps the
   * translations (syncMirror) only changes the privilege: U-mode cannot reach S-mode code through
   * the cache, and each mode's entries are valid again when it comes back (~80 k switches per
   * sha256sum of the in-guest workload each emptied the cache: 4.9 M extra dispatcher entries).
   */
  private setJumpTag(): void {
    const p = this.hart.priv;
    this.jcTag = (this.jcGen << 2) | (p === 0 ? 0 : p === 1 ? 1 : 2);
    this.eng32[this.e32 + (ENG_GEN >>> 2)] = this.jcTag;
  }
  /** Sets a unit slot's ENG_VERIFIED byte (slots past VERIFIED_SLOTS have none: never chained into). */
  private setVerified(slot: number, verified: boolean): void {
    if (slot < VERIFIED_SLOTS) this.eng8[this.verified + slot] = verified ? 1 : 0;
  }

  private jcTag = 0;
  /** DbtOptions.hostWritesReported, and not atomics: GuestMemory reports writes to code pages. */
  private readonly writesReported: boolean;

  /**
   * Kills the jump-cache entries into virtual page (hi:page) (an address-specific SFENCE.VMA; the
   * other pages' fetch translations stand). Tag 0 never matches ENG_GEN.
   */
  private evictJumpPage(page: number, hi: number): void {
    const b = jcPageBit(page, hi);
    if ((this.jcPages[b >>> 5]! & (1 << (b & 31))) === 0) return;
    const e = this.eng32;
    for (let w = this.e32 + (ENG_JC >>> 2), end = w + 4 * JC_ENTRIES; w < end; w += 4)
      if ((e[w]! & ~0xfff) === page && e[w + 1] === hi) e[w + 3] = 0;
  }

  private flushMirror(): void {
    this.newJumpGen(); // the jump cache maps virtual pcs
    const e = this.eng32;
    // Only the entries filled since the last flush (a Linux boot flushes ~16 k times; the mirrors
    // have 2 x MIRROR_ENTRIES entries and most flushes find a few dozen filled).
    const n = this.filledCount;
    if (n > this.filled.length) {
      for (let i = 0; i < 2 * MIRROR_ENTRIES; i++)
        e[this.e32 + ((ENG_TLB_LOAD + i * TLB_ENTRY_BYTES) >>> 2)] = TLB_EMPTY;
    } else for (let i = 0; i < n; i++) e[this.filled[i]!] = TLB_EMPTY;
    this.filledCount = 0;
    this.epoch = this.h.tlbEpoch;
    this.fullEpoch = this.h.tlbFullEpoch;
    this.mirrorPriv = this.mirrorKey();
    this.savedCount.fill(0);
    this.stats.tlbMirrorFlushes++;
  }

  /** Translation-regime epoch (HartEngineView.tlbFullEpoch) and mirrorKey the mirrors hold entries of. */
  private fullEpoch = -1;
  private mirrorPriv = -1;
  /**
   * The mirror entries of the keys (mirrorKey) not running now: per entry its engine-area word, then
   * its four words (tag lo, tag hi, addend, host page).
   */
  private readonly saved = [new Int32Array(5 * 512), new Int32Array(5 * 512), new Int32Array(5 * 512)];
  private readonly savedCount = [0, 0, 0];

  /** Which translations the hart's fast caches hold now: U 0, S 1, S with mstatus.SUM 2; M and others 3. */
  private mirrorKey(): number {
    const p = this.hart.priv;
    return p === 0 ? 0 : p === 1 ? ((this.h.mstatus & MS_SUM) !== 0 ? 2 : 1) : 3;
  }

  /**
   * The hart flushed its fast caches: a switch between U and S (trap entry, SRET: ~26 k per Linux
   * boot) keeps every translation valid, so the mirror entries of the privilege left are put aside
   * and those of the privilege entered are put back (a few dozen of each); anything else empties
   * the mirrors. The jump cache is emptied, or for a switch tagged with the privilege entered (setJumpTag).
   */
  private syncMirror(): void {
    const h = this.h,
      p = this.mirrorKey();
    if (h.tlbFullEpoch !== this.fullEpoch || this.filledCount > this.filled.length || p > 2 || this.mirrorPriv > 2) {
      this.flushMirror();
      return;
    }
    this.setJumpTag();
    this.epoch = h.tlbEpoch;
    this.stats.tlbMirrorSwitches++;
    if (p === this.mirrorPriv) return; // left and came back: the entries are this privilege's
    const e = this.eng32,
      filled = this.filled;
    const out = this.saved[this.mirrorPriv]!;
    let k = 0;
    for (let i = 0; i < this.filledCount; i++) {
      const w = filled[i]!;
      if (e[w] === TLB_EMPTY) continue;
      out[5 * k] = w;
      out[5 * k + 1] = e[w]!;
      out[5 * k + 2] = e[w + 1]!;
      out[5 * k + 3] = e[w + 2]!;
      out[5 * k + 4] = e[w + 3]!;
      e[w] = TLB_EMPTY;
      k++;
    }
    this.savedCount[this.mirrorPriv] = k;
    const back = this.saved[p]!;
    const m = this.savedCount[p]!;
    let n = 0;
    for (let i = 0; i < m; i++) {
      if (back[5 * i + 1] === TLB_EMPTY) continue; // evicted meanwhile
      const w = back[5 * i]!;
      e[w] = back[5 * i + 1]!;
      e[w + 1] = back[5 * i + 2]!;
      e[w + 2] = back[5 * i + 3]!;
      e[w + 3] = back[5 * i + 4]!;
      filled[n++] = w;
    }
    this.filledCount = n;
    this.mirrorPriv = p;
  }

  /** Drops put-aside mirror entries (syncMirror) matching a virtual page, or a host page in the store mirror. */
  private evictSaved(lo: number, hi: number, storeHostPage: number): void {
    const storeW = this.e32 + (ENG_TLB_STORE >>> 2);
    for (let s = 0; s < 3; s++) {
      const sv = this.saved[s]!;
      for (let i = 0; i < this.savedCount[s]!; i++) {
        const j = 5 * i;
        if (storeHostPage >= 0 ? sv[j]! >= storeW && sv[j + 4] === storeHostPage : sv[j + 1] === lo && sv[j + 2] === hi)
          sv[j + 1] = TLB_EMPTY;
      }
    }
  }

  /** Engine-area words of the mirror entries filled since the last flush (filledCount > length: too many to list). */
  private readonly filled = new Int32Array(512);
  private filledCount = 1 << 30; // the first flush empties every entry

  /** TLB-mirror ways in use (DbtOptions.mirrorWays). */
  private readonly ways: number;
  /**
   * Copies the hart's fast-cache entries for the page of virtual (hi:lo) into the mirrors; returns how
   * many. A page new to its set goes into way 0 (which translated code compares first) when that is
   * empty, else into way 1, replacing the page there: the page in way 0 keeps the fast way. (Moving
   * it to way 1 for every new page, FIFO, left hot pages in the slow way after a single fill of a
   * passing page: 85 M way-1 lookups in one workload run, docs/DBT.md "Session 7: mirror".)
   */
  private fillMirror(lo: number, hi: number): number {
    let n = 0,
      fresh = 0;
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    const set = mirrorIndex(lo, hi) * TLB_SET_BYTES;
    const tagLo = this.h.fastTagLo,
      tagHi = this.h.fastTagHi,
      fb = this.h.fastBase,
      e = this.eng32;
    const page = lo & ~0xfff;
    for (let kind = 1; kind <= 2; kind++) {
      const i = kind * this.fastSize + idx;
      if (tagLo[i] !== page || tagHi[i] !== hi) continue;
      const host = fb[i]!;
      if (kind === 2 && this.registry.pages[host >>> 12] !== 0) continue; // stores to code pages take the slow path
      const w0 = this.e32 + (((kind === 1 ? ENG_TLB_LOAD : ENG_TLB_STORE) + set) >>> 2),
        w1 = w0 + (TLB_ENTRY_BYTES >>> 2);
      let w = w0;
      if (e[w1] === page && e[w1 + 1] === hi) w = w1;
      else if (e[w0] !== page || e[w0 + 1] !== hi) {
        fresh++;
        if (e[w0] !== TLB_EMPTY && this.ways > 1) {
          w = w1;
          if (e[w1] !== TLB_EMPTY) this.stats.mirrorReplacements++;
        }
        this.listFilled(w);
      }
      // addend: host offset = low 32 bits of the virtual address + addend (mod 2^32), one add in wasm
      e[w] = page;
      e[w + 1] = hi;
      e[w + 2] = (host - page) | 0;
      e[w + 3] = host;
      n++;
    }
    if (n > 0 && fresh === 0) this.stats.mirrorRefills++;
    return n;
  }

  /**
   * Puts entry word `w` on the filled list when it is about to go from empty to in use. Every entry
   * in use is on the list already (a fill or a put-back listed it), so only an empty one is listed:
   * a replaced entry (two pages of one index taking turns) listed again made the list overflow, and
   * the next U/S switch flush everything (3x the flushes in a slow run).
   */
  private listFilled(w: number): void {
    if (this.eng32[w] !== TLB_EMPTY) return;
    if (this.filledCount < this.filled.length) this.filled[this.filledCount] = w;
    this.filledCount++;
  }

  /** The budget the dispatcher gave the unit it entered, and the hart's instret then (for step). */
  private give = 0;
  private baseInstret = 0;
  /** What the last step that ended a unit left: instructions it retired (0 or 1), run()'s reason. */
  private stepRetired = 0;
  private stepReason = ExitReason.Budget;
  /** The unit's budget before the instruction step executed. */
  private stepBudget = 0;

  /**
   * The units' `step` import (docs/DBT.md "Stepping inside a unit"): executes the instruction at
   * page offset offFlags & 0xfff of the unit's virtual page (ENG_VPAGE) in the interpreter from
   * inside translated code, which has written every register it changed back to the engine area;
   * offFlags >>> 12 holds StepFlags. `budgetNow` is the unit's budget left before this instruction,
   * so instret (CSR reads) is exact while it runs. Returns 1 when the unit may continue with the next
   * instruction: it retired normally, the pc is the next instruction's, the fetch translation of the
   * page and the TLB mirrors are still valid, no translated code was dropped and no interrupt became
   * takeable. Else 0: the unit leaves with ExitKind.Stepped and the dispatcher takes over.
   */
  private readonly step = (budgetNow: number, offFlags: number, insn: number): number => {
    const flags = offFlags >>> 12;
    if ((flags & StepFlags.Csr) !== 0) {
      const r = this.csrStep(budgetNow, offFlags, insn);
      if (r >= 0) return r;
    } else if ((flags & StepFlags.LrSc) !== 0 && this.hart.lrscInstruction(insn)) {
      this.stats.lrscFast++; // done as the interpreter does it, and nothing the unit depends on changed
      return 1;
    }
    const hart = this.hart;
    const eng32 = this.eng32,
      e32 = this.e32;
    // pc = the unit's virtual page (ENG_VPAGE, set at every entry) + the offset
    const pcLo = eng32[e32 + (ENG_VPAGE >>> 2)]! + (offFlags & 0xfff),
      pcHi = eng32[e32 + (ENG_VPAGE >>> 2) + 1]!;
    this.stepBudget = budgetNow;
    hart.pcLo = pcLo;
    hart.pcHi = pcHi;
    const ff = eng32[e32 + (ENG_FFLAGS >>> 2)]!;
    if (ff !== 0) {
      hart.fflags |= ff; // flags raised by translated FP arithmetic so far: a CSR read may want them
      eng32[e32 + (ENG_FFLAGS >>> 2)] = 0;
    }
    const before = this.baseInstret + (this.give - budgetNow);
    hart.instret = before;
    const gen = this.gen;
    this.stats.exitsByOpcode[insn & 0x7f]!++;
    this.stats.stepped++;
    this.stats.translatedInsns--; // counted as interpreted here, and in the unit's `done` by the dispatcher
    const r = this.interp(1, InterpReason.Exit);
    const retired = hart.instret - before;
    hart.instret = this.baseInstret;
    eng32[e32 + (ENG_FPOK >>> 2)] = this.fpOk();
    const fi = (pcLo >>> 12) & (TLB_ENTRIES - 1);
    const h = this.h;
    if (
      r !== ExitReason.Budget ||
      retired !== 1 ||
      hart.pcHi !== pcHi ||
      hart.pcLo !== ((pcLo + ((flags & StepFlags.Long) !== 0 ? 4 : 2)) | 0) ||
      h.fastTagLo[fi] !== (pcLo & ~0xfff) ||
      h.fastTagHi[fi] !== pcHi ||
      h.tlbEpoch !== this.epoch ||
      this.gen !== gen ||
      ((flags & StepFlags.System) !== 0 && hart.interruptPending())
    ) {
      this.stepRetired = retired;
      this.stepReason = r;
      return 0;
    }
    return 1;
  };

  /**
   * step's fast path for a Zicsr access to one of the translator's FAST_CSRS (docs/DBT.md "Session 7:
   * exits"): the hart's own CSR access (Hart.csrInstruction: permissions, WARL masks, sstatus's SD
   * and UXL) with no interpreter run. Returns 1 when the unit may go on, 0 when it must leave after
   * the instruction (an interrupt became takeable, or a changed mirror key could not be switched in
   * place), -1 when the interpreter must step it (V = 1, or it raises an exception).
   */
  private csrStep(budgetNow: number, offFlags: number, insn: number): number {
    const hart = this.hart;
    const before = hart.instret;
    const msOld = hart.mstatus; // V = 0 here (csrInstruction declines V = 1): the view's FS rule does not apply
    hart.instret = this.baseInstret + (this.give - budgetNow); // exact for a timer counting instructions
    const ok = hart.csrInstruction(insn);
    hart.instret = before;
    if (!ok) return -1;
    this.stats.csrFast++;
    const n = insn >>> 20;
    // Only sstatus and sie writes change more than the CSR itself (a read, or sscratch, sepc, ...:
    // nothing else to do). An interrupt can become takeable only by a write to sie or one that sets
    // sstatus.SIE (clearing it, or a SUM toggle, enables nothing), as the interpreter sees it.
    if ((n !== 0x100 && n !== 0x104) || (((insn >>> 12) & 3) !== 1 && ((insn >>> 15) & 31) === 0)) return 1;
    const eng32 = this.eng32,
      e32 = this.e32;
    const ms = hart.mstatus;
    if (((ms ^ msOld) & MS_FS) !== 0) eng32[e32 + (ENG_FPOK >>> 2)] = this.fpOk(); // sstatus.FS is writable
    const check = n === 0x104 || (~msOld & ms & MS_SIE) !== 0;
    const pcLo = eng32[e32 + (ENG_VPAGE >>> 2)]! + (offFlags & 0xfff),
      pcHi = eng32[e32 + (ENG_VPAGE >>> 2) + 1]!;
    let go = true;
    if (this.h.tlbEpoch !== this.epoch) {
      // SUM (or MXR) changed which translations the hart's caches hold: switch the mirrors' key here
      // (syncMirror) and refill the fetch cache's entry of this page, as the dispatcher would.
      const gen = this.gen;
      this.syncMirror();
      hart.pcLo = pcLo;
      hart.pcHi = pcHi;
      const fi = (pcLo >>> 12) & (TLB_ENTRIES - 1);
      const h = this.h;
      if (h.fastTagLo[fi] !== (pcLo & ~0xfff) || h.fastTagHi[fi] !== pcHi) h.probeFetch();
      go = this.gen === gen && h.fastTagLo[fi] === (pcLo & ~0xfff) && h.fastTagHi[fi] === pcHi;
      if (go) this.stats.csrSumSwitches++;
    }
    // A write may have enabled a pending interrupt: it is taken right after the instruction.
    if (go && !(check && hart.interruptPending())) return 1;
    const nLo = (pcLo + 4) | 0;
    hart.pcLo = nLo;
    hart.pcHi = nLo === 0 ? (pcHi + 1) | 0 : pcHi;
    this.stepBudget = budgetNow;
    this.stepRetired = 1;
    this.stepReason = ExitReason.Budget;
    return 0;
  }

  /** ENG_FPOK: FS Dirty, and a valid dynamic rounding mode (else FP instructions with rm = DYN are illegal). */
  private fpOk(): number {
    const frm = this.hart.frm;
    return (this.h.mstatus & MS_FS) === MS_FS && frm <= 4 ? FPOK_FP | (frm === 0 ? FPOK_RNE : 0) : 0;
  }

  /** Runs the interpreter for n steps with the registers in the hart. */
  private interp(n: number, why: InterpReason): ExitReason {
    this.busy = true;
    let r: ExitReason;
    try {
      r = this.hart.run(n);
    } finally {
      this.busy = false;
    }
    this.stats.interpInsns += n;
    this.stats.interpByReason[why]! += n;
    return r;
  }

  run(budget: number): ExitReason {
    const hart = this.hart;
    const st = this.stats;
    const tagLo = this.h.fastTagLo,
      tagHi = this.h.fastTagHi,
      fb = this.h.fastBase;
    const eng32 = this.eng32,
      e32 = this.e32;
    // The host or devices may have written memory since the last run (unless GuestMemory reports
    // such writes to code pages: hostWritesReported): translated pages are compared
    // with their snapshots again before they run, and the trampoline chains only into those that
    // were (ENG_VERIFIED). The jump cache stays: emptying it at every run() (35 k times for a
    // sha256sum in the guest) cost ~3.6 M extra dispatcher entries.
    if (!this.writesReported) {
      this.gen++;
      this.eng8.fill(0, this.verified, this.verified + Math.min(this.nextSlot, VERIFIED_SLOTS));
    }
    let remaining = budget;
    // Start with an interrupt check, as the interpreter's run() does: an interrupt pending on entry is
    // taken before any instruction.
    let sinceCheck = this.slice;
    const compiler = this.compiler;
    while (remaining > 0) {
      if (compiler !== undefined && compiler.ready()) compiler.drain();
      if (this.h.tlbEpoch !== this.epoch) this.syncMirror();
      if (sinceCheck >= this.slice || remaining < 16) {
        // Timer update and interrupt check; a pending interrupt is taken by hart.run, which takes
        // pending interrupts before stepping.
        sinceCheck = 0;
        if (remaining < 16 || hart.interruptPending()) {
          if (remaining >= 16) st.exitCauses[ExitCause.Interrupt]!++;
          const n = remaining < 16 ? remaining : 1;
          const r = this.interp(n, remaining < 16 ? InterpReason.Tail : InterpReason.Check);
          remaining -= n;
          if (r !== ExitReason.Budget) return r;
          continue;
        }
      }
      const pcLo = hart.pcLo,
        pcHi = hart.pcHi;
      const fi = (pcLo >>> 12) & (TLB_ENTRIES - 1);
      let unit: PageUnit | undefined;
      let host = -1;
      // A page missing from the fetch cache (every TLB flush empties it: ~125 k times per Linux boot)
      // is looked up without executing: a 64-instruction interpreter burst to fill it interpreted
      // 112 M instructions of the in-guest workload.
      if (
        (tagLo[fi] === (pcLo & ~0xfff) && tagHi[fi] === pcHi) ||
        (this.h.probeFetch() >= 0 && tagLo[fi] === (pcLo & ~0xfff) && tagHi[fi] === pcHi)
      ) {
        host = fb[fi]!;
        unit = this.units[host >>> 12];
        if (unit === undefined) {
          unit = new PageUnit();
          this.units[host >>> 12] = unit;
          st.pagesSeen++;
        }
      }
      const off = pcLo & 0xfff;
      let block = -1;
      let burst = 64;
      if (unit !== undefined) {
        if (unit.fn !== undefined && unit.verifiedGen !== this.gen) {
          st.verifications++;
          if (pageChanged(unit.snapshot!, this.ram32, host >>> 2)) this.invalidate(unit, host);
          else {
            unit.verifiedGen = this.gen;
            this.setVerified(unit.slot, true);
          }
        }
        if (unit.fn !== undefined) block = unit.blockAt![off >>> 1]!;
        if (block < 0) {
          unit.entries.add(off);
          // A re-entry in the middle of a translated block (after a TLB-mirror miss, a trap return, a
          // stepped instruction that left the unit) runs the interpreter to the block's end only.
          if (unit.fn !== undefined && unit.covered![off >>> 1] === 1)
            burst = this.toBlockEnd(host, off, unit.blockAt!);
          if (
            ++unit.dispatches >= (unit.fn === undefined ? this.hot : this.rehot) &&
            unit.pending === undefined &&
            (unit.fn === undefined || ++unit.misses >= 4)
          ) {
            this.translate(unit, host);
            burst = 64;
            if (unit.fn !== undefined) block = unit.blockAt![off >>> 1]!;
          }
        }
      }
      if (block < 0) {
        // Cold code, or a page not in the hart's fetch cache (after every TLB flush): a short
        // interpreter burst. (A burst of 1 for the latter interpreted 28 M fewer instructions of a
        // boot but made 8% more pages hot enough to translate: no gain measured.) A re-entry in the
        // middle of a translated block runs only to the block's end (toBlockEnd).
        const n = remaining < burst ? remaining : burst;
        const r = this.interp(
          n,
          unit === undefined
            ? InterpReason.NoFetch
            : unit.dispatches < 0
              ? InterpReason.Dropped
              : unit.pending !== undefined && unit.fn === undefined
                ? InterpReason.Compiling
                : unit.fn === undefined
                  ? InterpReason.Cold
                  : InterpReason.NotBlock,
        );
        remaining -= n;
        sinceCheck += n;
        if (r !== ExitReason.Budget) return r;
        continue;
      }
      // Enter translated code, and remember the entry for chaining from other units.
      const jw = e32 + ((ENG_JC + ((pcLo >>> 1) & (JC_ENTRIES - 1)) * 16) >>> 2);
      eng32[jw] = pcLo;
      eng32[jw + 1] = pcHi;
      eng32[jw + 2] = unit!.slot | (block << 16);
      eng32[jw + 3] = unit!.slot < VERIFIED_SLOTS ? this.jcTag : 0; // beyond ENG_VERIFIED: never chained into
      const pb = jcPageBit(pcLo, pcHi);
      this.jcPages[pb >>> 5] = this.jcPages[pb >>> 5]! | (1 << (pb & 31));
      eng32[e32 + (ENG_FPOK >>> 2)] = this.fpOk();
      eng32[e32 + (ENG_VPAGE >>> 2)] = pcLo & ~0xfff;
      eng32[e32 + (ENG_VPAGE >>> 2) + 1] = pcHi;
      // The pc a unit reports when it returns at once for want of budget (PageTranslator).
      eng32[e32 + (ENG_PC >>> 2)] = pcLo;
      eng32[e32 + (ENG_PC >>> 2) + 1] = pcHi;
      const give = remaining < this.slice - sinceCheck ? remaining : this.slice - sinceCheck;
      st.cacheHits++;
      const u = unit!;
      this.give = give;
      this.baseInstret = hart.instret;
      const kind = this.enter(u.slot, block, give);
      st.unitCalls += eng32[e32 + (ENG_CALLS >>> 2)]!;
      st.mirrorLookups += eng32[e32 + (ENG_LOOKUPS >>> 2)]!;
      eng32[e32 + (ENG_LOOKUPS >>> 2)] = 0;
      st.mirrorWay1Hits += eng32[e32 + (ENG_WAY1_HITS >>> 2)]!;
      eng32[e32 + (ENG_WAY1_HITS >>> 2)] = 0;
      const ff = eng32[e32 + (ENG_FFLAGS >>> 2)]!;
      if (ff !== 0) {
        hart.fflags |= ff;
        eng32[e32 + (ENG_FFLAGS >>> 2)] = 0;
      } // flags raised by translated FP arithmetic
      eng32[e32 + (ENG_CALLS >>> 2)] = 0;
      // A Stepped exit leaves with the budget before the stepped instruction; it counts as executed.
      const left = kind === ExitKind.Stepped ? this.stepBudget - 1 : eng32[e32 + (ENG_BUDGET >>> 2)]!;
      const done = give - left;
      if (kind === ExitKind.Stepped) {
        // The interpreter executed (or trapped at) the last instruction inside the unit: the hart's
        // pc is current, and that instruction, counted as executed in the budget, retired stepRetired.
        hart.instret += done - 1 + this.stepRetired;
      } else {
        hart.pcLo = eng32[e32 + (ENG_PC >>> 2)]!;
        hart.pcHi = eng32[e32 + (ENG_PC >>> 2) + 1]!;
        hart.instret += done;
      }
      st.translatedInsns += done;
      remaining -= done;
      sinceCheck += done;
      u.executed += done;
      // Hotness per unit, chained calls included (ENG_UNIT_INSNS), collected every few million
      // instructions: each unit's count, not its caller's, decides its tier-up.
      if ((this.sinceCollect += done) >= this.collectEvery) this.collectUnitInsns();
      if (++u.calls >= PAYOFF_WINDOW) {
        // Code that keeps leaving wasm after a few instructions (F/D, AMOs, CSRs in a loop) is faster
        // in the interpreter than with an exit per few instructions: drop the unit for a while.
        if (u.interpExits * 2 > u.calls && u.executed < PAYOFF_MIN * u.calls) {
          this.drop(u, host);
          u.dispatches = -PAYOFF_BACKOFF;
          st.unprofitable++;
        }
        u.calls = 0;
        u.executed = 0;
        u.interpExits = 0;
      }
      if (kind === ExitKind.Stepped) {
        st.interpExits++;
        u.interpExits++;
        if (this.h.tlbEpoch !== this.epoch) this.syncMirror();
        sinceCheck = this.slice; // it may have enabled an interrupt (or have been one): check now
        if (this.stepReason !== ExitReason.Budget) {
          st.exitCauses[ExitCause.Vmm]!++;
          return this.stepReason;
        }
      } else if (kind === ExitKind.Interp) {
        st.interpExits++;
        u.interpExits++;
        // A CSR write, xRET or wfi may enable a pending interrupt: check right after it, as the
        // interpreter does after such instructions. (Stores to code pages need nothing here: the
        // interpreter reports them through onCodeWrite.)
        const op = this.opcodeAt(hart.pcLo, hart.pcHi);
        st.exitsByOpcode[op & 0x7f]!++;
        const system = op === SYSTEM_OP || op < 0;
        const i0 = hart.instret;
        const r = this.interp(1, InterpReason.Exit);
        // FENCE.I with other harts on other threads: their stores to code pages are not reported
        // here (each thread has its own code registry), so re-verify pages before running them.
        if (op === 0x0f && this.atomics) this.newGen();
        remaining -= 1;
        sinceCheck += 1;
        if (system) sinceCheck = this.slice;
        let filled = 0;
        const aw = e32 + (ENG_ADDR >>> 2);
        // Only the miss exit writes ENG_ADDR; other exits of memory instructions (LR/SC, a load across
        // a page end) refilled the page of the last miss before, counted as a miss.
        const missed = eng32[aw] !== NO_MISS_LO || eng32[aw + 1] !== NO_MISS_HI;
        if (this.h.tlbEpoch !== this.epoch) this.syncMirror();
        else if (missed) filled = this.fillMirror(eng32[aw]!, eng32[aw + 1]!);
        eng32[aw] = NO_MISS_LO;
        eng32[aw + 1] = NO_MISS_HI;
        st.exitCauses[
          !MEMORY_OPS.has(op)
            ? ExitCause.Emulated
            : hart.instret === i0
              ? ExitCause.Fault
              : !missed
                ? ExitCause.Emulated
                : filled > 0
                  ? ExitCause.TlbMiss
                  : ExitCause.Mmio
        ]!++;
        if (r !== ExitReason.Budget) {
          st.exitCauses[ExitCause.Vmm]!++;
          return r;
        }
      } else if (kind === ExitKind.Budget && give === remaining) {
        // The caller's budget is nearly used up and smaller than the longest forward path of the
        // unit at pc (which therefore declines to run, see PageTranslator): the interpreter, which
        // stops exactly, executes the rest, at most a burst at a time (this also guarantees progress).
        const n = remaining < 64 ? remaining : 64;
        const r = this.interp(n, InterpReason.Tail);
        remaining -= n;
        sinceCheck += n;
        if (r !== ExitReason.Budget) return r;
      } else if (kind === ExitKind.Budget) {
        // The interrupt-check slice ran out: check now, and start a full slice.
        sinceCheck = this.slice;
      }
    }
    return ExitReason.Budget;
  }

  /**
   * Instructions from page offset `off` (inside a translated block, not at its start) up to and
   * including the block's control transfer, or to the next block start: after them the pc is at a
   * block start or outside the page (in-page branch and jump targets are block starts). At most 64.
   */
  private toBlockEnd(host: number, off: number, blockAt: Int16Array): number {
    const ram16 = this.ram16,
      ctab = this.h.ctab;
    let n = 0;
    while (off < 4096 && n < 64) {
      const h = ram16[(host + off) >>> 1]!;
      const op = ((h & 3) === 3 ? h : ctab[h]!) & 0x7f;
      n++;
      if (op === 0x63 || op === 0x6f || op === 0x67) break; // BRANCH, JAL, JALR
      off += (h & 3) === 3 ? 4 : 2;
      if (blockAt[off >>> 1]! >= 0) break;
    }
    return n;
  }

  /** Major opcode of the (expanded) instruction at pc, or -1 if its page is not in the fetch cache. */
  private opcodeAt(pcLo: number, pcHi: number): number {
    const fi = (pcLo >>> 12) & (TLB_ENTRIES - 1);
    const tagLo = this.h.fastTagLo,
      tagHi = this.h.fastTagHi;
    if (tagLo[fi] !== (pcLo & ~0xfff) || tagHi[fi] !== pcHi) return -1;
    const off = this.h.fastBase[fi]! + (pcLo & 0xfff);
    const h = this.ram16[off >>> 1]!;
    const insn = (h & 3) === 3 ? h : this.h.ctab[h]!;
    return insn & 0x7f;
  }

  private invalidate(unit: PageUnit, host: number): void {
    this.drop(unit, host);
    unit.totalExecuted = 0;
    this.stats.invalidations++;
  }

  private drop(unit: PageUnit, host: number): void {
    if (unit.registered) this.registry.removed(host);
    unit.registered = false;
    if (unit.pending !== undefined) {
      unit.pending.cancelled = true; // its module is thrown away when it arrives
      unit.pending = undefined;
      this.stats.compilesDiscarded++;
    }
    this.newGen();
    unit.calls = 0;
    unit.executed = 0;
    unit.interpExits = 0;
    unit.fn = undefined;
    unit.module = undefined;
    if (unit.slot >= 0) {
      this.freeSlot(unit.slot);
      unit.slot = -1;
    }
    unit.blockAt = undefined;
    unit.covered = undefined;
    unit.snapshot = undefined;
    unit.dispatches = 0;
    unit.misses = 0;
  }

  /** Empties a function-table slot, crediting its unit with the instructions counted there. */
  private freeSlot(slot: number): void {
    this.collectSlot(slot, false); // its translation is going: no tier-up for it
    this.slotUnits[slot] = undefined;
    this.table.set(slot, null);
    this.setVerified(slot, false);
    this.freeSlots.push(slot);
  }

  /** Adds one slot's ENG_UNIT_INSNS count to its unit, and tiers the unit up when it is hot (and `tierUp`). */
  private collectSlot(slot: number, tierUp = true): void {
    const w = this.e32 + ((ENG_UNIT_INSNS >>> 2) + (slot & (UNIT_SLOTS - 1)));
    const n = this.eng32[w]!;
    if (n === 0) return;
    this.eng32[w] = 0;
    const u = this.slotUnits[slot];
    if (u === undefined) return;
    u.totalExecuted += n;
    u.tierExecuted += n;
    if (u.tier === Tier.TurboFan) this.stats.tieredInsns += n;
    if (tierUp && u.tierExecuted >= this.hotTier && this.hotTier > 0 && u.tier === Tier.Liftoff) this.tierUp(u);
  }

  /**
   * Collects the per-slot instruction counts (ENG_UNIT_INSNS) into the units. Slots beyond
   * UNIT_SLOTS share counters with lower ones (a boot uses ~1,100 slots): their counts go to the
   * lower slot's unit.
   */
  private collectUnitInsns(): void {
    this.sinceCollect = 0;
    const n = Math.min(this.nextSlot, UNIT_SLOTS);
    for (let s = 0; s < n; s++) this.collectSlot(s);
  }

  /**
   * The optimizing tier (docs/DBT.md "Session 7: tier-up"): TurboFan compiles the unit's installed
   * function in place, on the unit compiler's thread when it has one (its module is shared with this
   * thread, whose instance runs the new code from its next call), else here.
   */
  private tierUp(u: PageUnit): void {
    const tierUp = this.tierUpFn;
    if (tierUp === undefined || u.fn === undefined || u.module === undefined) return;
    const st = this.stats;
    const compiler = this.compiler;
    if (compiler?.tierUp !== undefined) {
      u.tier = Tier.Requested;
      const fn = u.fn;
      const mem = this.hart.memory;
      const pages = mem.wasmMemory.buffer.byteLength / 65536;
      compiler.tierUp(u.module, pages, mem.buffer instanceof SharedArrayBuffer, (ms) => {
        const current = u.fn === fn; // else retranslated meanwhile: the new translation starts in Liftoff
        if (ms < 0) {
          st.tierUpFailures++;
          if (current) u.tier = Tier.Failed;
          return;
        }
        st.tieredUp++;
        st.tieredUpOffThread++;
        st.tierUpOffThreadMs += ms;
        if (current) u.tier = Tier.TurboFan;
      });
      return;
    }
    const t0 = performance.now();
    try {
      tierUp(u.fn);
      u.tier = Tier.TurboFan;
      st.tieredUp++;
    } catch {
      u.tier = Tier.Failed; // Liftoff's code stays
      st.tierUpFailures++;
    }
    st.tierUpMs += performance.now() - t0;
  }

  private translate(unit: PageUnit, host: number): void {
    const t0 = performance.now();
    const compiler = this.compiler;
    // The next retranslation waits for another hotThreshold dispatches that miss the blocks.
    unit.misses = 0;
    unit.dispatches = 0;
    // Every hart's store fast cache and every translator's store mirror drop the page, so stores to
    // it reach the interpreter's slow path (and onCodeWrite, which drops the translation, or cancels
    // it while it is made elsewhere). Before the page is read: here, or by the compiler after this.
    const register = (): void => {
      if (!unit.registered) this.registry.added(host);
      unit.registered = true;
    };
    const job: PendingUnit = { unit, host, gen: this.gen, cancelled: false };
    if (compiler !== undefined) {
      // Elsewhere: the old translation runs until the new one is installed; a write to the page
      // meanwhile cancels the job (dropCodePage), and the snapshot that comes back is what the
      // compiler read, so a later write (by the host, another hart) is found by the comparison
      // before the unit's first entry in a later generation.
      register();
      if (this.firstHere && unit.fn === undefined) {
        const code = this.translator.translate(host, unit.entries);
        if (code === undefined) {
          unit.dispatches = -1_000_000; // nothing translatable: stay interpreted
          this.registry.removed(host);
          unit.registered = false;
          return;
        }
        this.counted(unit, code, code.bytes.length);
        unit.pending = job;
        this.stats.compilesOffThread++;
        const { memoryPages, shared } = this.translator.config;
        compiler.compile(code.bytes, memoryPages, shared, (m) => this.install(job, code, m));
        this.stats.compileMs += performance.now() - t0;
        return;
      }
      unit.pending = job;
      this.stats.compilesOffThread++;
      compiler.translate(this.compilerTranslator, host, [...unit.entries], (u) => this.arrived(job, u));
      this.stats.compileMs += performance.now() - t0;
      return;
    }
    // Synchronously, a retranslation replaces the translation at once (drop frees its table slot
    // and kills jump-cache entries to it).
    if (unit.fn !== undefined) this.drop(unit, host);
    const code = this.translator.translate(host, unit.entries);
    if (code === undefined) {
      unit.dispatches = -1_000_000; // nothing translatable: stay interpreted
      return;
    }
    register();
    this.counted(unit, code, code.bytes.length);
    this.install(job, code, new WebAssembly.Module(code.bytes));
    this.stats.compileMs += performance.now() - t0;
  }

  /** Statistics of a translation made. */
  private counted(unit: PageUnit, code: Omit<UnitCode, "bytes">, wasmBytes: number): void {
    const st = this.stats;
    st.pagesTranslated++;
    if (!unit.everTranslated) {
      unit.everTranslated = true;
      st.pagesEverTranslated++;
    }
    st.blocksTranslated += code.blocks;
    st.insnsTranslated += code.insns;
    st.modules++;
    st.wasmBytes += wasmBytes;
  }

  /** A unit made by the compiler elsewhere arrived (drain, on this thread). */
  private arrived(job: PendingUnit, u: CompiledUnit | undefined): void {
    const unit = job.unit;
    if (u !== undefined) {
      this.counted(unit, u, u.wasmBytes);
      this.stats.workerMs += u.ms;
    }
    if (job.cancelled) return;
    if (u !== undefined) {
      const t0 = performance.now();
      this.install(job, u, u.module);
      this.stats.compileMs += performance.now() - t0;
      return;
    }
    // Nothing translatable at the entries: the page stays as it was (interpreted, or its older translation).
    unit.pending = undefined;
    if (unit.fn === undefined) {
      unit.dispatches = -1_000_000;
      this.registry.removed(job.host);
      unit.registered = false;
    }
  }

  /** Makes a translation the unit's code (unless the unit was dropped meanwhile). */
  private install(job: PendingUnit, code: Omit<UnitCode, "bytes">, module: WebAssembly.Module): void {
    if (job.cancelled) return;
    const unit = job.unit;
    unit.pending = undefined;
    const inst = new WebAssembly.Instance(module, {
      e: { m: this.hart.memory.wasmMemory, s: this.step, c: this.chain.fn! },
    });
    if (unit.slot >= 0) {
      // The previous translation of the page: its block numbers die with the jump cache's entries.
      this.freeSlot(unit.slot);
      this.newJumpGen();
    }
    unit.fn = inst.exports["f"] as UnitFn;
    unit.module = module;
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.nextSlot++;
      if (slot >= this.table.length) this.table.grow(this.table.length);
    }
    this.table.set(slot, unit.fn);
    unit.slot = slot;
    this.slotUnits[slot] = unit;
    // A retranslation (new entries found) starts in Liftoff and earns its tier-up again: tiering it
    // up at once gave 1.4 G instead of 1.2 G of a boot's 2.1 G instructions in TurboFan code, for
    // ~30 TurboFan compiles instead of ~19 and +10 MiB of peak RSS (docs/DBT.md "Session 7: tier-up").
    if (unit.tier === Tier.TurboFan || unit.tier === Tier.Requested) this.stats.retranslatedTiered++;
    unit.tier = Tier.Liftoff;
    unit.tierExecuted = 0;
    unit.blockAt = code.blockAt;
    unit.covered = code.covered;
    // The bytes the code was made from: if anything else may have written memory since the job
    // started (a new generation), the page is compared with them before its first entry.
    unit.snapshot = code.snapshot;
    unit.verifiedGen = job.gen;
    this.setVerified(slot, job.gen === this.gen);
  }
}

/**
 * Translated instructions between two collections of the per-slot counts (ENG_UNIT_INSNS), at most:
 * far below 2^31 (the counters are i32); ~500 collections per Linux boot, each a pass over the slots
 * in use (~1,100). A quarter of hotTier when that is smaller.
 */
const COLLECT_EVERY = 1 << 22;

/** A translation being made (elsewhere: UnitCompiler) or installed. */
interface PendingUnit {
  readonly unit: PageUnit;
  /** Host offset of the page. */
  readonly host: number;
  /** Dbt.gen when the job started (before the page was read). */
  readonly gen: number;
  cancelled: boolean;
}

/** Attaches a translator to the hart: hart.run() then executes hot code as WebAssembly. */
export function attachDbt(hart: Hart, opts?: DbtOptions): Dbt {
  return new Dbt(hart, opts);
}

/** Formats the translator's statistics for `--stats`. */
export function formatDbtStats(s: DbtStats): string {
  const total = s.translatedInsns + s.interpInsns;
  const pct = total > 0 ? ((100 * s.translatedInsns) / total).toFixed(1) : "0";
  return [
    `dbt: pages translated ${s.pagesTranslated} (${s.blocksTranslated} blocks, ${s.insnsTranslated} insns), modules ${s.modules}, wasm bytes ${s.wasmBytes}, compile ${s.compileMs.toFixed(1)} ms`,
    `dbt: entries from the dispatcher ${s.cacheHits}, unit calls ${s.unitCalls} (${s.unitCalls - s.cacheHits} chained through the jump cache), invalidations ${s.invalidations} (pages compared with their snapshots ${s.verifications}), TLB-mirror flushes ${s.tlbMirrorFlushes} (U/S switches ${s.tlbMirrorSwitches}, single pages ${s.tlbPageEvictions}), misses whose page the mirror held ${s.mirrorRefills}, dropped as unprofitable ${s.unprofitable}`,
    `dbt: units by tier: pages only interpreted ${s.pagesSeen - s.pagesEverTranslated}, pages translated (one wasm unit each, Liftoff) ${s.pagesEverTranslated} (${s.pagesTranslated} translations, ${s.compilesOffThread} of them compiled on the worker thread, ${s.compilesDiscarded} dropped while compiling); translation time ${s.compileMs.toFixed(1)} ms on the vCPU's thread, ${s.workerMs.toFixed(1)} ms on the worker; units tiered up to TurboFan ${s.tieredUp} (${s.tieredUpOffThread} on the worker thread, ${s.tierUpOffThreadMs.toFixed(1)} ms there; ${s.tieredUp - s.tieredUpOffThread} on the vCPU's thread, ${s.tierUpMs.toFixed(1)} ms; ${s.tierUpFailures} failed; ${s.retranslatedTiered} translations of tiered pages; ${s.tieredInsns} instructions run as TurboFan code)`,
    `dbt: instructions translated ${s.translatedInsns} (${pct}%), interpreted ${s.interpInsns} (${s.stepped} of them stepped inside units), exits to the interpreter ${s.interpExits}; CSR accesses done inside units without the interpreter ${s.csrFast} (${s.csrSumSwitches} SUM/MXR switches), LR/SC ${s.lrscFast}`,
    `dbt: exits by cause: ${s.exitCauses.map((n, i) => `${EXIT_CAUSES[i]} ${n}`).join(", ")}`,
    ...(s.mirrorLookups > 0
      ? [
          `dbt: TLB-mirror lookups ${s.mirrorLookups}, hit rate ${(100 * (1 - (s.exitCauses[ExitCause.TlbMiss]! + s.exitCauses[ExitCause.Mmio]! + s.exitCauses[ExitCause.Fault]!) / s.mirrorLookups)).toFixed(3)}%, found in way 1 ${s.mirrorWay1Hits}, pages pushed out of a full set ${s.mirrorReplacements}`,
        ]
      : []),
    `dbt: interpreted by reason: ${s.interpByReason
      .map((n, i) => [i, n] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([i, n]) => `${INTERP_REASONS[i]} ${n}`)
      .join(", ")}`,
    ...(s.interpExits > 0
      ? [
          `dbt: exits to the interpreter and steps inside units by instruction: ${s.exitsByOpcode
            .map((n, op) => [op, n] as const)
            .filter(([, n]) => n > 0)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([op, n]) => `${OPCODE_NAMES[op] ?? `opcode 0x${op.toString(16)}`} ${n}`)
            .join(", ")}`,
        ]
      : []),
  ].join("\n");
}

export { DBT_ENGINE_BYTES };
