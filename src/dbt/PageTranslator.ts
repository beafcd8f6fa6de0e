// Translates the hot code of one 4 KiB guest page into one WebAssembly function.
//
// Translation unit (see docs/DBT.md): all basic blocks that start in one physical page, as one wasm
// function with the guest registers in i64 locals and a br_table dispatch between the blocks inside a
// loop, so loops that stay inside the page close inside wasm (the fastest measured shape in
// ../shared/docs/evidence-js-wasm.md: 0.56-0.73 ns per guest instruction). Control leaves the function
// only when it leaves the page, on an indirect jump (JALR), on an instruction the translator does not
// handle (it is executed by the interpreter: CSR accesses, ecall/ebreak, xRET, wfi, sfence.vma, fence.i,
// LR/SC/AMOs, F/D, the rarer Zb* forms, MULH*), on a TLB-mirror miss (so the interpreter's slow path
// walks the page table, raises the precise fault, or performs the MMIO access), or when the
// instruction budget runs out (so interrupts are taken within a bounded number of instructions).
//
// Every exit writes the registers the function modified back to the engine area, the virtual pc of
// the first instruction NOT executed, and the budget left; the state is then exactly the
// interpreter's state before that instruction (precise exceptions, Privileged ISA 1.6 / 3.1.15).
//
// Because one physical page may be mapped at several virtual addresses, the code never embeds the
// virtual pc: AUIPC, JAL/JALR links and exit pcs are computed from the virtual page address the
// dispatcher stores at ENG_VPAGE on entry.
import { lookupOpcode } from "../riscv/Opcodes.js";
import type { ReadonlyInt32Array } from "../riscv/HartEngine.js";
import { CodeWriter, Op, ValType } from "./WasmModuleBuilder.js";
import { ENG_FFLAGS, ENG_GEN, ENG_JC, ENG_LOOKUPS, ENG_WAY1_HITS, FPOK_RNE, JC_ENTRIES, MIRROR_SETS } from "./EngineArea.js";
import { ENG_CALLS, ENG_UNIT_INSNS, ENG_UNIT_SLOT, ENG_VERIFIED, UNIT_SLOTS } from "./EngineArea.js";
import { ENG_ADDR, ENG_BUDGET, ENG_FPOK, ENG_FREGS, ENG_PC, ENG_REGS, ENG_TLB_LOAD, ENG_TLB_STORE, ENG_VPAGE, TLB_ENTRY_BYTES } from "./EngineArea.js";

/** Exit kinds returned by translated functions. */
export const enum ExitKind {
  /** Control left the unit (other page, indirect jump): look the pc up again. */
  Jump = 0,
  /** The instruction at pc must be executed by the interpreter (unsupported, or TLB-mirror miss). */
  Interp = 1,
  /** The budget ran out before the block at pc. */
  Budget = 2,
  /**
   * An instruction was handed to the interpreter from inside the unit (the `step` import) and
   * control cannot continue in the unit (it trapped, jumped, changed the translation
   * regime, ended the run...): the hart's pc and state are current.
   */
  Stepped = 3,
}

/** Flags of the `step` import's second argument. */
export const enum StepFlags {
  /** A SYSTEM instruction: it may have enabled a pending interrupt, which must be taken right after it. */
  System = 2,
  /** The instruction is 4 bytes long (else 2): where the unit continues. */
  Long = 4,
  /** A Zicsr access to one of FAST_CSRS: step tries the hart's CSR access directly first (Dbt.csrStep). */
  Csr = 8,
  /** LR or SC: step tries the hart's LR/SC directly first (Hart.lrscInstruction). */
  LrSc = 16,
}

/**
 * CSRs whose accesses the `step` import may do without the interpreter (docs/DBT.md "Session 7:
 * exits"): sstatus (Linux's local_irq_save/restore, the uaccess SUM toggles), sie, sscratch, sepc,
 * scause, stval and time. Their writes change no translation other than SUM/MXR's mirror key, which
 * the dispatcher switches in place; satp, counters and the rest go through the interpreter.
 */
const FAST_CSRS: ReadonlySet<number> = new Set([0x100, 0x104, 0x140, 0x141, 0x142, 0x143, 0xc01]);

function stepFlags(insn: number, len: number): number {
  let f = len === 4 ? StepFlags.Long : 0;
  if ((insn & 0x7f) === 0x2f && (insn >>> 28) === 1) f |= StepFlags.LrSc; // funct5 2 (LR) or 3 (SC)
  if ((insn & 0x7f) === 0x73) {
    f |= StepFlags.System;
    const f3 = (insn >>> 12) & 7;
    if (f3 !== 0 && f3 !== 4 && FAST_CSRS.has(insn >>> 20)) f |= StepFlags.Csr;
  }
  return f;
}

const BT_I64 = 0x7e;
const I64_DIV_S = 0x7f, I64_DIV_U = 0x80, I64_REM_S = 0x81, I64_REM_U = 0x82;
const I32_DIV_S = 0x6d, I32_DIV_U = 0x6e, I32_REM_S = 0x6f, I32_REM_U = 0x70;

// Locals: params 0 = block index, 1 = budget; then the scratch every unit needs; every other local
// (the register cache's pool, hoisted TLB checks, the temporaries of rarer instructions) is declared
// only by the units that use it (PageTranslator.local). Liftoff zero-fills a function's locals on
// every call, with `rep stos` from 128 bytes of locals on: ~13.5 ns per call against ~5 below
// (docs/DBT.md "Session 6: code"), so a unit keeps its locals under 128 bytes where it can.
const L_NEXT = 0, L_BUDGET = 1;
const L_VPAGE = 2, L_PC = 3, L_KIND = 4, L_A = 5, L_E = 6;
/** TLB-mirror miss: page offset | budget to refund << 12, for the shared exit stub (tlbCheck). */
const L_X = 7;
/** A register value written through to memory without a cache slot (setReg). */
const L_W = 8;
const FIXED_LOCALS: readonly ValType[] = [ValType.I64, ValType.I64, ValType.I32, ValType.I64, ValType.I32, ValType.I32, ValType.I64];
/** Temporaries of the rarer instructions (MULH, F/D arithmetic), declared on first use (others reuse L_W, L_E). */
const enum Tmp { T2, O, FA, FB, FR, F1, F2, F3, F4 }
const TMP_TYPES: readonly ValType[] = [ValType.I64, ValType.I64, ValType.F64, ValType.F64, ValType.F64, ValType.F64, ValType.F64, ValType.F64, ValType.F64];
/**
 * Register-cache slots (i64) and hoisted-TLB-check groups (two i32 each) are declared while the
 * unit's locals stay below this many bytes (Liftoff's `rep stos` zero fill from 128 on); with the
 * fixed locals (44 bytes) that is 10 of them.
 */
const LOCAL_BYTES = 128;
/** Register-cache slots at most (LOCAL_BYTES with nothing else). */
const POOL_MAX = 16;
/** Hoisted TLB-check groups per block at most. */
const GROUPS = 6;
/** How far ahead (instructions of the block) the register cache looks for a register's next read. */
const LOOKAHEAD = 64;

/**
 * Decoded instruction in the page (compressed ones already expanded), with its class. len 0: not
 * decodable here (exit to the interpreter); len -1: marker for a fall-through into the next block.
 */
interface Insn { off: number; insn: number; len: number; cls: Cls }

export interface PageTranslatorOptions {
  /**
   * Guest registers in wasm locals for the whole function (loaded on entry, written back on exit)
   * instead of the engine area with a per-block cache (default false). Locals are what TurboFan
   * likes; V8's Liftoff spills register-allocated locals at every control-flow merge, which these
   * br_table functions are full of (docs/DBT.md, "Registers in the engine area").
   */
  regsInLocals?: boolean;
  /** Major opcodes (or 0x1000 + opcode * 8 + funct3) to leave to the interpreter (bisecting). */
  disabled?: ReadonlySet<number>;
  /**
   * Other harts run at the same time on other threads over this memory (src/vmm/vcpu): AMOs become
   * wasm atomic read-modify-writes and FENCE an atomic.fence (emitAmoShared).
   */
  atomics?: boolean;
  /**
   * Instructions the translator does not emit (CSR accesses, LR/SC, FENCE.I, the rest of F/D) are
   * executed by the interpreter through the unit's imported `step` function, and the unit continues
   * after them, instead of leaving the unit (default true; not with regsInLocals). See docs/DBT.md
   * "Stepping inside a unit".
   */
  stepInWasm?: boolean;
  /** Count TLB-mirror lookups at ENG_LOOKUPS (for --stats; one counter update per load/store). */
  countMirror?: boolean;
  /** TLB-mirror ways to compare: 1 (default: way 0 only), or 2 (DbtOptions.mirrorWays). */
  mirrorWays?: number;
  /**
   * A unit leaving with a Jump looks the target up in the jump cache itself and tail-calls the next
   * unit (`return_call` of the imported `chain(block, budget, slot)`, function 1 after `step`, or 0
   * without stepping, which `return_call_indirect`s the slot) instead of returning to the
   * trampoline (default false: the engine must have wasm tail calls; see Dbt).
   */
  chain?: boolean;
}


export interface TranslatedPage {
  body: CodeWriter;
  /** block index by page offset / 2, or -1. */
  blockAt: Int16Array;
  /** 1 at page offset / 2 for every instruction inside the translated blocks (the dispatcher's resume decisions). */
  covered: Uint8Array;
  blocks: number;
  insns: number;
  /** The function's locals after its two parameters. */
  locals: ValType[];
}

const enum Cls { Plain, Branch, Jal, Jalr, Unsupported, Step }


/**
 * Whether an instruction the translator does not emit may be stepped by the interpreter inside a
 * unit: all but ECALL, EBREAK, xRET and WFI (SYSTEM with funct3 = 0 other than SFENCE.VMA), which
 * always end up somewhere else or wait.
 */
function steppable(insn: number): boolean {
  return (insn & 0x7f) !== 0x73 || ((insn >>> 12) & 7) !== 0 || insn >>> 25 === 0x09;
}

/**
 * What the translator emits for an (expanded) instruction, from the hart's opcode table
 * (src/riscv/Opcodes.ts: the rows marked translated); `disabled` holds major opcodes (and
 * 0x1000 + opcode * 8 + funct3) left to the interpreter on request, for bisecting a translator bug.
 */
function classify(insn: number, disabled: ReadonlySet<number>): Cls {
  const o = lookupOpcode(insn);
  if (o === undefined || !o.translated) return Cls.Unsupported;
  if (o.rneOnly && ((insn >>> 12) & 7) !== 0 && ((insn >>> 12) & 7) !== 7) return Cls.Unsupported;
  if (disabled.size > 0 && (disabled.has(insn & 0x7f) || disabled.has((insn & 0x7f) * 8 + ((insn >>> 12) & 7) + 0x1000))) return Cls.Unsupported;
  switch (insn & 0x7f) {
    case 0x63: return Cls.Branch;
    case 0x6f: return Cls.Jal;
    case 0x67: return Cls.Jalr;
    default: return Cls.Plain;
  }
}

function branchImm(insn: number): number {
  return ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
}
function jalImm(insn: number): number {
  return ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >>> 20) & 1) << 11) | (((insn >>> 21) & 0x3ff) << 1);
}

/**
 * Reads code from guest RAM. `ram16` is a Uint16Array over the memory buffer (host offset = byte
 * index), `ctab` the hart's compressed-expansion table.
 */
export class PageTranslator {
  private readonly regsInLocals: boolean;
  private readonly disabled: ReadonlySet<number>;
  private readonly step: boolean;

  constructor(private readonly ram16: Uint16Array, private readonly ctab: ReadonlyInt32Array, private readonly engineOffset: number, opts: PageTranslatorOptions = {}) {
    this.regsInLocals = opts.regsInLocals ?? false;
    this.disabled = opts.disabled ?? new Set();
    this.atomics = opts.atomics ?? false;
    this.step = (opts.stepInWasm ?? true) && !this.regsInLocals;
    this.countMirror = opts.countMirror ?? false;
    this.twoWays = (opts.mirrorWays ?? 1) > 1;
    this.chain = opts.chain ?? false;
  }
  private readonly twoWays: boolean;
  private readonly countMirror: boolean;
  private readonly chain: boolean;

  /** Function index of the imported `step(budgetNow, offset | flags << 12, insn) -> continue` (see Dbt), when stepping. */
  static readonly STEP_FN = 0;
  get stepping(): boolean { return this.step; }

  private classify(insn: number): Cls {
    const cls = classify(insn, this.disabled);
    return cls === Cls.Unsupported && this.step && steppable(insn) ? Cls.Step : cls;
  }
  private readonly atomics: boolean;

  /** Decodes the instruction at page offset `off`, or undefined if it cannot be translated in-page. */
  private decode(page: number, off: number): Insn | undefined {
    if (off < 0 || off >= 4096) return undefined;
    const h = this.ram16[(page + off) >>> 1]!;
    if ((h & 3) === 3) {
      if (off === 4094) return undefined; // crosses into the next page: the interpreter fetches it
      const insn = (h | (this.ram16[((page + off) >>> 1) + 1]! << 16)) | 0;
      return { off, insn, len: 4, cls: this.classify(insn) };
    }
    const insn = this.ctab[h]!;
    if (insn === 0) return undefined;
    return { off, insn, len: 2, cls: this.classify(insn) };
  }

  /**
   * Translates the blocks reachable inside the page from `entries` (page offsets). `page` is the host
   * offset of the page. Returns undefined when no instruction at the entries can be translated.
   */
  translate(page: number, entries: Iterable<number>): TranslatedPage | undefined {
    // Phase 1: find block starts (entries, in-page branch and jump targets, fall-throughs of branches).
    const isStart = new Uint8Array(2048);
    const seen = new Uint8Array(2048);
    const work: number[] = [];
    for (const e of entries) if (e >= 0 && e < 4096 && (e & 1) === 0 && !isStart[e >>> 1]) { isStart[e >>> 1] = 1; work.push(e); }
    while (work.length > 0) {
      let off = work.pop()!;
      for (;;) {
        if (seen[off >>> 1]) break;
        seen[off >>> 1] = 1;
        const d = this.decode(page, off);
        if (d === undefined) break;
        const cls = d.cls;
        if (cls === Cls.Unsupported) break;
        if ((cls === Cls.Jalr || cls === Cls.Jal) && ((d.insn >>> 7) & 31) !== 0) {
          // A call: its return address is where control re-enters this page after the callee's ret.
          const r = off + d.len;
          if (r < 4096 && !isStart[r >>> 1]) { isStart[r >>> 1] = 1; work.push(r); }
        }
        if (cls === Cls.Jalr) break;
        if (cls === Cls.Branch || cls === Cls.Jal) {
          const t = off + (cls === Cls.Branch ? branchImm(d.insn) : jalImm(d.insn));
          if (t >= 0 && t < 4096 && !isStart[t >>> 1]) { isStart[t >>> 1] = 1; work.push(t); }
          if (cls === Cls.Jal) break;
          const f = off + d.len;
          if (f < 4096 && !isStart[f >>> 1]) { isStart[f >>> 1] = 1; work.push(f); }
          break;
        }
        off += d.len;
        if (off >= 4096) break;
      }
    }
    const starts: number[] = [];
    const blockAt = new Int16Array(2048).fill(-1);
    for (let i = 0; i < 2048; i++) {
      if (isStart[i]) { blockAt[i] = starts.length; starts.push(i * 2); }
    }
    if (starts.length === 0) return undefined;

    // Phase 2: emit. Structure: block $out { loop $top { block*N { br_table } code0 } ... codeN-1 } }
    // then the common exit sequence.
    const c = new CodeWriter(4096);
    const used = new Uint8Array(32), written = new Uint8Array(32);
    const bodies: Insn[][] = [];
    let insns = 0;
    for (const s of starts) {
      const list: Insn[] = [];
      let off = s;
      for (;;) {
        const d = this.decode(page, off);
        if (d === undefined) { list.push({ off, insn: 0, len: 0, cls: Cls.Unsupported }); break; }
        list.push(d);
        const cls = d.cls;
        if (cls !== Cls.Unsupported && cls !== Cls.Step) markRegs(d.insn, used, written);
        if (cls !== Cls.Plain && cls !== Cls.Step) break;
        off += d.len;
        if (off >= 4096 || isStart[off >>> 1]) { list.push({ off, insn: 0, len: -1, cls: Cls.Unsupported }); break; } // fall through
      }
      bodies.push(list);
    }
    // Budget accounting without a check per block (see docs/DBT.md "Budget"): every block subtracts
    // its length; only the function entry and the back edges (the only way to run longer than one
    // pass over the page) compare the budget with maxPath, the most instructions any path of forward
    // edges can execute from there. So the budget never goes below zero and instret stays exact.
    const N = starts.length;
    const lens = bodies.map((list) => list.filter((d) => d.len > 0 && d.cls !== Cls.Unsupported).length);
    const longest = new Int32Array(N);
    for (let k = N - 1; k >= 0; k--) {
      let best = 0;
      for (const t of forwardTargets(bodies[k]!)) {
        const j = t >= 0 && t < 4096 ? blockAt[t >>> 1]! : -1;
        if (j > k && longest[j]! > best) best = longest[j]!;
      }
      longest[k] = lens[k]! + best;
    }
    let maxPath = 1;
    for (let k = 0; k < N; k++) if (longest[k]! > maxPath) maxPath = longest[k]!;
    this.maxPath = maxPath;
    const E = this.engineOffset;
    this.locals = [];
    this.localBytes = 0;
    for (const t of FIXED_LOCALS) this.local(t);
    this.tmps.fill(-1);
    this.pool.length = 0;
    this.groupLocals.length = 0;
    if (this.regsInLocals) for (let r = 1; r < 32; r++) this.regLocal[r] = this.local(ValType.I64);
    // Entry: with less budget than the longest forward path, return at once (ENG_PC already holds
    // the entry pc: the dispatcher or the exit that chained here wrote it).
    c.localGet(L_BUDGET).i32Const(maxPath).op(Op.I32LtS).if_();
    c.i32Const(0).localGet(L_BUDGET).mem(Op.I32Store, 2, E + ENG_BUDGET).i32Const(ExitKind.Budget).op(Op.Return);
    c.end();
    // Prologue: registers the unit reads or writes, and the virtual page.
    for (let r = 1; r < 32; r++) {
      if (this.regsInLocals && (used[r] || written[r])) c.i32Const(0).mem(Op.I64Load, 3, E + ENG_REGS + 8 * r).localSet(this.regLocal[r]!);
    }
    c.i32Const(0).mem(Op.I64Load, 3, E + ENG_VPAGE).localSet(L_VPAGE);
    // block $miss { block $out { loop $top { ... } } exit; return } TLB-miss exit stub; exit
    c.block().block().loop();
    for (let k = 0; k < N; k++) c.block();
    c.localGet(L_NEXT).byte(Op.BrTable).u32(N);
    for (let k = 0; k < N; k++) c.u32(k);
    c.u32(N + 1); // default: $out (never taken: the dispatcher passes a valid index)
    for (let k = 0; k < N; k++) {
      c.end();
      insns += this.emitBlock(c, k, N, bodies[k]!, blockAt, lens[k]!);
    }
    c.end().end();
    // Exit sequence.
    const exit = (chain: boolean) => {
      for (let r = 1; r < 32; r++) if (this.regsInLocals && written[r]) c.i32Const(0).localGet(this.regLocal[r]!).mem(Op.I64Store, 3, E + ENG_REGS + 8 * r);
      c.i32Const(0).localGet(L_PC).mem(Op.I64Store, 3, E + ENG_PC);
      if (chain) this.chainExit(c);
      c.i32Const(0).localGet(L_BUDGET).mem(Op.I32Store, 2, E + ENG_BUDGET);
      c.localGet(L_KIND);
    };
    exit(this.chain);
    c.op(Op.Return).end();
    // The TLB-miss exit shared by every load and store of the unit (out-of-line: each access sets
    // L_X and branches here, ~8 bytes instead of ~35 of exit code per access).
    c.i32Const(0).localGet(L_A).mem(Op.I64Store, 3, E + ENG_ADDR);
    c.localGet(L_VPAGE).localGet(L_X).i32Const(0xfff).op(Op.I32And).op(Op.I64ExtendI32U).op(Op.I64Add).localSet(L_PC);
    c.localGet(L_BUDGET).localGet(L_X).i32Const(12).op(Op.I32ShrU).op(Op.I32Add).localSet(L_BUDGET);
    c.i32Const(ExitKind.Interp).localSet(L_KIND);
    exit(false);
    return { body: c, blockAt, covered: seen, blocks: N, insns, locals: this.locals };
  }

  /** The locals of the unit being emitted (after the two parameters), and their allocation. */
  private locals: ValType[] = [];
  private localBytes = 0;
  private local(t: ValType): number {
    this.localBytes += t === ValType.I32 || t === ValType.F32 ? 4 : 8;
    this.locals.push(t);
    return 1 + this.locals.length;
  }
  /** Tmp -> local, or -1 while the unit has not needed it. */
  private readonly tmps = new Int32Array(TMP_TYPES.length);
  private tmp(k: Tmp): number {
    if (this.tmps[k]! < 0) this.tmps[k] = this.local(TMP_TYPES[k]!);
    return this.tmps[k]!;
  }
  /** regsInLocals: the local of each guest register. */
  private readonly regLocal = new Int32Array(32);

  /** Emits block k; returns the number of guest instructions in it. */
  private emitBlock(c: CodeWriter, k: number, N: number, list: Insn[], blockAt: Int16Array, len: number): number {
    // A block that branches back to its own start (the tightest loops: string compares, copies,
    // hash chains) is wrapped in its own wasm `loop`, so its back edge is a direct `br` instead of
    // a round trip through the function's br_table dispatch (an indirect jump).
    const startOff = list[0]!.off;
    this.inLoop = list.some((d) => d.len > 0 && ((d.insn & 0x7f) === 0x63 && d.off + branchImm(d.insn) === startOff || (d.insn & 0x7f) === 0x6f && d.off + jalImm(d.insn) === startOff));
    const dOut = N - k + (this.inLoop ? 1 : 0);
    if (this.inLoop) c.loop();
    this.startBlockCache(list);
    // The whole block (len translated instructions) is charged at its head; exits refund what they
    // skip. The budget is compared only at unit entry and back edges (see translate).
    if (len > 0) c.localGet(L_BUDGET).i32Const(len).op(Op.I32Sub).localSet(L_BUDGET);
    let j = 0; // instructions of this block executed so far
    this.curList = list;
    for (let idx = 0; idx < list.length; idx++) {
      const d = list[idx]!;
      this.curIdx = idx;
      if (d.len === -1) { // fall through into the block that starts here, or into the next page
        this.goto(c, d.off, blockAt, k, N, 0);
        return this.endBlock(c, len);
      }
      if (d.len === 0 || d.cls === Cls.Unsupported) {
        this.refund(c, len - j);
        this.exitStatic(c, d.off, ExitKind.Interp, dOut);
        return this.endBlock(c, len);
      }
      const insn = d.insn;
      const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31, f3 = (insn >>> 12) & 7;
      if (d.cls === Cls.Step) {
        this.emitStep(c, d.off, insn, len - j, stepFlags(insn, d.len), dOut);
        this.uncache(rd); // the interpreter may have written rd (x or f; uncaching is harmless either way)
        this.grpH.fill(-1); // and may have changed the TLB (SFENCE.VMA)
        j++;
        continue;
      }
      switch (insn & 0x7f) {
        case 0x6f: { // JAL
          const t = d.off + jalImm(insn);
          if (rd !== 0) { c.localGet(L_VPAGE).i64Const(d.off + d.len, 0).op(Op.I64Add); this.setReg(c, rd); }
          this.refund(c, len - j - 1);
          this.goto(c, t, blockAt, k, N, 0);
          return this.endBlock(c, len);
        }
        case 0x67: { // JALR: target computed before the link is written (rd may equal rs1)
          this.getReg(c, rs1).i64Const(insn >> 20, insn >> 31).op(Op.I64Add).i64Const(-2, -1).op(Op.I64And).localSet(L_PC);
          if (rd !== 0) { c.localGet(L_VPAGE).i64Const(d.off + d.len, 0).op(Op.I64Add); this.setReg(c, rd); }
          this.refund(c, len - j - 1);
          this.jalrInPage(c, dOut);
          c.i32Const(ExitKind.Jump).localSet(L_KIND).br(dOut);
          return this.endBlock(c, len);
        }
        case 0x63: { // BRANCH
          this.getReg(c, rs1);
          this.getReg(c, rs2);
          c.op([Op.I64Eq, Op.I64Ne, 0, 0, Op.I64LtS, Op.I64GeS, Op.I64LtU, Op.I64GeU][f3]!);
          c.if_();
          this.refund(c, len - j - 1);
          this.goto(c, d.off + branchImm(insn), blockAt, k, N, 1);
          c.end();
          j++;
          const f = d.off + d.len;
          this.refund(c, len - j);
          this.goto(c, f, blockAt, k, N, 0);
          return this.endBlock(c, len);
        }
        case 0x03: { // LOAD
          const op = [Op.I64Load8S, Op.I64Load16S, Op.I64Load32S, Op.I64Load, Op.I64Load8U, Op.I64Load16U, Op.I64Load32U][f3]!;
          this.tlbCheck(c, rs1, insn >> 20, ENG_TLB_LOAD, f3 & 3, d.off, len - j, dOut, (o) => { c.mem(op, 0, o); this.setReg(c, rd); });
          break;
        }
        case 0x23: { // STORE
          const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 0x1f);
          this.tlbCheck(c, rs1, imm, ENG_TLB_STORE, f3, d.off, len - j, dOut, (o) => {
            this.getReg(c, rs2);
            c.mem([Op.I64Store8, Op.I64Store16, Op.I64Store32, Op.I64Store][f3]!, 0, o);
          });
          break;
        }
        case 0x2f:
          this.emitAmo(c, insn, rd, rs1, rs2, f3, d.off, len - j, dOut);
          break;
        case 0x07: case 0x27:
          this.emitFpMem(c, insn, rd, rs1, rs2, f3, d.off, len - j, dOut);
          break;
        case 0x53:
          this.emitFpOp(c, insn, rd, rs1, rs2, f3, d.off, len - j, dOut);
          break;
        default:
          this.emitAlu(c, insn, d.off, rd, rs1, rs2, f3);
      }
      j++;
    }
    return this.endBlock(c, len);
  }

  /**
   * An indirect jump (return, call through a pointer, switch) whose target is in this unit's page
   * and is a block the dispatcher entered in this code generation (its jump-cache entry, which the
   * trampoline would look up next) continues inside the unit, as a back edge does (with budget for
   * another forward pass), instead of returning to the trampoline for another call. The entry's
   * block number is this unit's: the jump cache maps virtual pcs, the unit's virtual page maps to
   * its physical page until the next TLB change, and any change of translation or mapping starts a
   * new generation (Dbt.newJumpGen). L_PC holds the target.
   */
  private jalrInPage(c: CodeWriter, dOut: number): void {
    const E = this.engineOffset;
    c.localGet(L_PC).localGet(L_VPAGE).op(Op.I64Sub).i64Const(4096, 0).op(Op.I64LtU).if_();
    c.localGet(L_PC).op(Op.I32WrapI64).i32Const(1).op(Op.I32ShrU).i32Const(JC_ENTRIES - 1).op(Op.I32And).i32Const(4).op(Op.I32Shl).localSet(L_E);
    c.localGet(L_E).mem(Op.I64Load, 3, E + ENG_JC).localGet(L_PC).op(Op.I64Eq);
    c.localGet(L_E).mem(Op.I32Load, 2, E + ENG_JC + 12).i32Const(0).mem(Op.I32Load, 2, E + ENG_GEN).op(Op.I32Eq).op(Op.I32And);
    c.localGet(L_BUDGET).i32Const(this.maxPath).op(Op.I32GeS).op(Op.I32And).if_();
    c.localGet(L_E).mem(Op.I32Load, 2, E + ENG_JC + 8).i32Const(16).op(Op.I32ShrU).localSet(L_NEXT).br(dOut + 1); // round $top
    c.end().end();
  }

  /**
   * Chaining from the unit's exit (PageTranslatorOptions.chain; docs/DBT.md "Session 7: chaining"):
   * a Jump exit (other page, JALR) whose target pc (L_PC, already stored at ENG_PC) has a jump-cache
   * entry of the current generation and privilege (ENG_GEN), into a unit compared with its snapshot
   * in this generation (ENG_VERIFIED), tail-calls that unit with the budget left (through the
   * trampoline module's `chain`, which tail-calls the table slot: a table import per unit would keep
   * every unit instance alive): the same checks the trampoline makes, without the return to it. The callee checks the budget against its longest
   * path at entry, as after any call, and returns with ENG_PC = its entry pc when it is too small,
   * so instret and the interrupt-check slice stay exact. A miss falls through to the plain exit, and
   * the trampoline (same lookup) returns to the dispatcher. L_E and L_X are free at every exit.
   */
  private chainExit(c: CodeWriter): void {
    const E = this.engineOffset;
    c.localGet(L_KIND).op(Op.I32Eqz).if_(); // ExitKind.Jump
    c.localGet(L_PC).op(Op.I32WrapI64).i32Const(1).op(Op.I32ShrU).i32Const(JC_ENTRIES - 1).op(Op.I32And).i32Const(4).op(Op.I32Shl).localSet(L_E);
    c.localGet(L_E).mem(Op.I64Load, 3, E + ENG_JC).localGet(L_PC).op(Op.I64Eq);
    c.localGet(L_E).mem(Op.I32Load, 2, E + ENG_JC + 12).i32Const(0).mem(Op.I32Load, 2, E + ENG_GEN).op(Op.I32Eq).op(Op.I32And).if_();
    c.localGet(L_E).mem(Op.I32Load, 2, E + ENG_JC + 8).localTee(L_X).i32Const(0xffff).op(Op.I32And).localTee(L_E);
    c.mem(Op.I32Load8U, 0, E + ENG_VERIFIED).if_();
    c.i32Const(0).i32Const(0).mem(Op.I32Load, 2, E + ENG_CALLS).i32Const(1).op(Op.I32Add).mem(Op.I32Store, 2, E + ENG_CALLS);
    c.i32Const(0).localGet(L_PC).i64Const(-4096, -1).op(Op.I64And).mem(Op.I64Store, 3, E + ENG_VPAGE);
    // Hotness per unit (ENG_UNIT_INSNS, which the trampoline credits with the budget it gave and
    // debits with the budget left): the budget passed on moves from the running unit's counter
    // (ENG_UNIT_SLOT) to the callee's, which becomes the running one. L_KIND is free from here on;
    // the callee's slot is below VERIFIED_SLOTS <= UNIT_SLOTS.
    c.i32Const(0).mem(Op.I32Load, 2, E + ENG_UNIT_SLOT).i32Const(UNIT_SLOTS - 1).op(Op.I32And).i32Const(2).op(Op.I32Shl).localTee(L_KIND);
    c.localGet(L_KIND).mem(Op.I32Load, 2, E + ENG_UNIT_INSNS).localGet(L_BUDGET).op(Op.I32Sub).mem(Op.I32Store, 2, E + ENG_UNIT_INSNS);
    c.localGet(L_E).i32Const(2).op(Op.I32Shl).localTee(L_KIND);
    c.localGet(L_KIND).mem(Op.I32Load, 2, E + ENG_UNIT_INSNS).localGet(L_BUDGET).op(Op.I32Add).mem(Op.I32Store, 2, E + ENG_UNIT_INSNS);
    c.i32Const(0).localGet(L_E).mem(Op.I32Store, 2, E + ENG_UNIT_SLOT);
    c.localGet(L_X).i32Const(16).op(Op.I32ShrU).localGet(L_BUDGET).localGet(L_E).byte(Op.ReturnCall).u32(this.step ? 1 : 0);
    c.end().end().end();
  }

  private endBlock(c: CodeWriter, len: number): number {
    if (this.inLoop) { c.end(); this.inLoop = false; }
    return len;
  }

  private refund(c: CodeWriter, n: number): void {
    if (n > 0) c.localGet(L_BUDGET).i32Const(n).op(Op.I32Add).localSet(L_BUDGET);
  }

  /** Exit with pc = vpage + off. `depth` is the branch depth of $out here. */
  private exitStatic(c: CodeWriter, off: number, kind: ExitKind, depth: number): void {
    c.localGet(L_VPAGE).i64Const(off, off >> 31).op(Op.I64Add).localSet(L_PC);
    c.i32Const(kind).localSet(L_KIND).br(depth);
  }

  /** Continues at page offset t: a block of this unit if there is one, else leave the unit. */
  /**
   * From block k (of N, `extra` labels deeper), continues at page offset t. Forward targets are a
   * direct `br` to the end of their block label, which the code of the target block follows (a
   * fall-through into block k+1 is `br 0`); backward targets go round the loop and its br_table (an
   * indirect jump, hard to predict: only loops pay it); targets outside the unit leave it.
   */
  private inLoop = false;
  private maxPath = 1;
  private goto(c: CodeWriter, t: number, blockAt: Int16Array, k: number, N: number, extra: number): void {
    const j = t >= 0 && t < 4096 ? blockAt[t >>> 1]! : -1;
    if (j >= 0 && j <= k) {
      // A back edge: continue only with budget for another full forward pass; else leave before the
      // target block (nothing of it charged yet).
      c.localGet(L_BUDGET).i32Const(this.maxPath).op(Op.I32LtS).if_();
      this.exitStatic(c, t, ExitKind.Budget, N - k + extra + 1 + (this.inLoop ? 1 : 0));
      c.end();
    }
    if (this.inLoop) {
      if (j === k) { c.br(extra); return; } // back to the head of this block's own loop
      extra++;
    }
    if (j > k) {
      c.br(j - k - 1 + extra);
    } else if (j >= 0) {
      c.i32Const(j).localSet(L_NEXT).br(N - 1 - k + extra);
    } else {
      this.exitStatic(c, t, ExitKind.Jump, N - k + extra);
    }
  }

  /**
   * Registers in the engine area, cached in locals within one basic block (memory mode): a read of
   * a register loads it from memory, into a cache slot when a later instruction of the block reads
   * it too; later reads use the slot. Writes go to the slot (or a scratch local) and through to
   * memory at once, so every exit (precise exceptions included) finds the register file in memory
   * exact and needs no write-back code, and a slot may be taken from its register at any time.
   * Dependency chains then run through machine registers instead of store-to-load forwarding. A
   * block head is a merge point: the cache is reset there (startBlockCache). The slots are a pool
   * of locals (shared with hoisted TLB checks) kept under LOCAL_BYTES per unit, reused by every block
   * (one local per guest register made every unit zero-fill ~420 bytes of locals per call); when
   * they are taken, the register read furthest ahead gives up its slot (Belady's choice, over the
   * block's known instructions).
   */
  private readonly pool: number[] = [];
  /** Per pool slot, the guest register it holds in the current block (0: free). */
  private readonly slotReg = new Int8Array(POOL_MAX);
  /** Per guest register, its pool slot in the current block, or -1. */
  private readonly slotOf = new Int8Array(32);
  /** Per instruction of the current block, the x registers its translation reads (bit r). */
  private reads = new Uint32Array(256);

  private startBlockCache(list: Insn[]): void {
    this.slotOf.fill(-1);
    this.slotReg.fill(0);
    this.grpH.fill(-1);
    this.grpNext = 0;
    if (this.reads.length < list.length) this.reads = new Uint32Array(2 * list.length);
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      this.reads[i] = d.len > 0 && d.cls !== Cls.Unsupported && d.cls !== Cls.Step ? readMask(d.insn) : 0;
    }
  }

  /** Instructions from the current one to the next one of the block that reads r (LOOKAHEAD + 1: none near). */
  private nextRead(r: number): number {
    const bit = 1 << r, idx = this.curIdx;
    const end = Math.min(this.curList.length, idx + 1 + LOOKAHEAD);
    for (let i = idx + 1; i < end; i++) if ((this.reads[i]! & bit) !== 0) return i - idx;
    return LOOKAHEAD + 1;
  }

  /** Drops register r from the cache (the interpreter may have written it). */
  private uncache(r: number): void {
    const s = this.slotOf[r]!;
    if (s >= 0) { this.slotReg[s] = 0; this.slotOf[r] = -1; }
  }

  /**
   * A cache slot's local for register r, which is read again `dist` instructions ahead: a free
   * slot; with `want`, also a new slot while the unit's locals allow, else the slot of the register
   * read furthest ahead when that is further than r. -1: none.
   */
  private slotFor(r: number, dist: number, want: boolean): number {
    const pool = this.pool;
    let s = this.slotReg.indexOf(0);
    if (s >= pool.length) s = -1;
    if (s < 0 && want) {
      if (this.localBytes + 8 < LOCAL_BYTES && pool.length < POOL_MAX) {
        s = pool.length;
        pool.push(this.local(ValType.I64));
      } else {
        let far = dist;
        for (let i = 0; i < pool.length; i++) {
          const d = this.nextRead(this.slotReg[i]!);
          if (d > far) { far = d; s = i; }
        }
        if (s >= 0) this.slotOf[this.slotReg[s]!] = -1;
      }
    }
    if (s < 0) return -1;
    this.slotReg[s] = r;
    this.slotOf[r] = s;
    return pool[s]!;
  }

  private getReg(c: CodeWriter, r: number): CodeWriter {
    if (r === 0) return c.i64Const(0, 0);
    if (this.regsInLocals) return c.localGet(this.regLocal[r]!);
    const s = this.slotOf[r]!;
    if (s >= 0) return c.localGet(this.pool[s]!);
    c.i32Const(0).mem(Op.I64Load, 3, this.engineOffset + ENG_REGS + 8 * r);
    const dist = this.nextRead(r);
    const l = this.slotFor(r, dist, dist <= LOOKAHEAD);
    return l >= 0 ? c.localTee(l) : c;
  }
  private setReg(c: CodeWriter, r: number): void {
    this.grpH[r] = this.grpH[32 + r] = -1; // hoisted TLB checks through r are void
    if (r === 0) c.op(Op.Drop);
    else if (this.regsInLocals) c.localSet(this.regLocal[r]!);
    else {
      const s = this.slotOf[r]!;
      let l = s >= 0 ? this.pool[s]! : -1;
      if (l < 0) {
        const dist = this.nextRead(r);
        l = this.slotFor(r, dist, dist <= LOOKAHEAD);
      }
      if (l < 0) l = L_W;
      c.localSet(l).i32Const(0).localGet(l).mem(Op.I64Store, 3, this.engineOffset + ENG_REGS + 8 * r);
    }
  }

  /** Hoisted TLB-check group n's pair of locals (host address, page offset), or -1 when the unit's locals are used up. */
  private groupLocal(n: number): number {
    const g = this.groupLocals;
    if (n < g.length) return g[n]!;
    if (this.localBytes + 8 >= LOCAL_BYTES) return -1;
    g.push(this.local(ValType.I32));
    this.local(ValType.I32);
    return g[n]!;
  }
  private readonly groupLocals: number[] = [];

  /**
   * TLB-mirror lookup for a `1 << sizeLog2`-byte access at rs1 + imm, then `access` (emitted with the
   * i32 host address on the stack). A miss (page not in the mirror, or an access across the page
   * end) leaves the unit through the shared $miss stub, and the interpreter executes the
   * instruction: it walks the page table, faults precisely, does MMIO or the access across pages.
   * Misaligned accesses inside a page run here (wasm memory accesses may be unaligned), as the
   * interpreter performs them (Unprivileged ISA 2.6 allows either); an `atomic` access (AMO) must be
   * aligned, so a misaligned one misses and the interpreter raises the exception. (Stepping the
   * access inside the unit, as emitStep does for other instructions, was tried: the rejoin after
   * the step is a control-flow merge after every load and store, where Liftoff spills its
   * registers, and a boot was no faster.)
   */
  private tlbCheck(c: CodeWriter, rs1: number, imm: number, tlb: number, sizeLog2: number, off: number, refund: number, dOut: number, access: (offset: number) => void, atomic = false): void {
    const E = this.engineOffset;
    if (this.countMirror) this.count(c, ENG_LOOKUPS);
    const key = (tlb === ENG_TLB_STORE ? 32 : 0) | rs1;
    const size = 1 << sizeLog2;
    const g = atomic ? -1 : this.grpH[key]!;
    const delta = g >= 0 ? imm - this.grpImm[key]! : 0;
    if (g >= 0) {
      // Hoisted (see "TLB checks per base register" in docs/DBT.md): an earlier access of this block
      // through the same, unchanged base register found its page in this mirror; this one is in the
      // same page iff its page offset (that access's offset + delta) is in [0, 4096 - size], at
      // host + delta, and surely so inside that access's bytes. Outside the page (a stack frame or
      // buffer across a page end), its own mirror lookup: leaving through the miss exit there instead
      // missed at every execution, whether the neighbouring page was in the mirror or not
      // (docs/DBT.md "Session 6: TLB mirror").
      if (delta >= 0 && delta + size <= this.grpSize[key]!) {
        c.localGet(g);
        access(delta);
        return;
      }
      // The address before the branch: reading rs1 may change the register cache's slots, which
      // must not happen on one path only.
      this.getReg(c, rs1).i64Const(imm, imm >> 31).op(Op.I64Add).localSet(L_A);
      c.localGet(g + 1).i32Const(delta).op(Op.I32Add).i32Const(4096 - size).op(Op.I32LeU).if_(ValType.I32);
      c.localGet(g).i32Const(delta).op(Op.I32Add);
      c.byte(Op.Else);
      c.localGet(L_A);
      this.mirrorLookup(c, tlb, sizeLog2, false, off, refund, dOut + 1, -1);
      c.end();
      access(0);
      return;
    }
    this.getReg(c, rs1).i64Const(imm, imm >> 31).op(Op.I64Add).localTee(L_A);
    // A later access of this block through the same base register reuses this check (a group).
    const group = !atomic && this.grpNext < GROUPS && this.reused(key, rs1) ? this.groupLocal(this.grpNext) : -1;
    if (group >= 0) this.grpNext++;
    this.mirrorLookup(c, tlb, sizeLog2, atomic, off, refund, dOut, group);
    if (group >= 0) {
      // registered before the access, whose destination register may be the base itself
      this.grpH[key] = group;
      this.grpImm[key] = imm;
      this.grpSize[key] = size;
    }
    access(0);
  }

  /** Adds 1 to the i32 counter at engine-area offset `at` (for --stats: DbtOptions.countMirror). */
  private count(c: CodeWriter, at: number): void {
    c.i32Const(0).i32Const(0).mem(Op.I32Load, 2, this.engineOffset + at).i32Const(1).op(Op.I32Add).mem(Op.I32Store, 2, this.engineOffset + at);
  }

  /**
   * The mirror lookup of tlbCheck for the access whose address is on the stack (and in L_A): pushes
   * its i32 host address, or leaves through the $miss stub (`dOut` + 1 is its depth) when neither
   * way of the page's set holds it. `group` >= 0: the access is the first of a group, whose locals
   * get its host address and page offset.
   */
  private mirrorLookup(c: CodeWriter, tlb: number, sizeLog2: number, atomic: boolean, off: number, refund: number, dOut: number, group: number): void {
    const E = this.engineOffset;
    // set = mirrorIndex(a) * TLB_SET_BYTES = ((a ^ (a >>> 20) ^ (a >>> 33)) >>> 7) & ((MIRROR_SETS - 1) << 5)
    c.localGet(L_A).i64Const(20, 0).op(Op.I64ShrU).op(Op.I64Xor).localGet(L_A).i64Const(33, 0).op(Op.I64ShrU).op(Op.I64Xor);
    c.op(Op.I32WrapI64).i32Const(7).op(Op.I32ShrU).i32Const((MIRROR_SETS - 1) << 5).op(Op.I32And).localSet(L_E);
    // Compared with the tags: the page of the access's last byte (an access across the page end
    // misses), or for an atomic access the page and the alignment bits (a tag never has them).
    const key = () => {
      c.localGet(L_A);
      if (atomic) c.i64Const(-4096 | ((1 << sizeLog2) - 1), -1);
      else {
        if (sizeLog2 > 0) c.i64Const((1 << sizeLog2) - 1, 0).op(Op.I64Add);
        c.i64Const(-4096, -1);
      }
      c.op(Op.I64And);
    };
    // block $hit (result: the entry's offset) { br_if $hit (way 0 holds the page); way 1 or $miss;
    // + way 1 }: a hit in way 0 is one compare and a branch, as in the direct-mapped mirror; way 1
    // is compared out of line (the key kept in L_W, free here: ~22 bytes of wasm per lookup).
    // Branches, not if-blocks: Liftoff keeps its cached registers (memory start, instance) on the
    // fall-through path of a br_if. L_X holds a constant, set only on the miss path.
    if (!this.twoWays) {
      // direct-mapped (DbtOptions.mirrorWays 1): a miss in way 0 leaves
      c.i32Const(off | (refund << 12)).localSet(L_X);
      c.localGet(L_E).mem(Op.I64Load, 3, E + tlb);
      key();
      c.op(Op.I64Ne).brIf(dOut + 1); // to $miss
      c.localGet(L_E);
    } else {
      c.block(ValType.I32).localGet(L_E);
      c.localGet(L_E).mem(Op.I64Load, 3, E + tlb);
      key();
      c.localTee(L_W).op(Op.I64Eq).brIf(0); // to $hit
      c.i32Const(off | (refund << 12)).localSet(L_X);
      c.localGet(L_E).mem(Op.I64Load, 3, E + tlb + TLB_ENTRY_BYTES).localGet(L_W).op(Op.I64Ne).brIf(dOut + 2); // to $miss
      if (this.countMirror) this.count(c, ENG_WAY1_HITS);
      c.i32Const(TLB_ENTRY_BYTES).op(Op.I32Add);
      c.end();
    }
    if (group >= 0) c.localGet(L_A).op(Op.I32WrapI64).i32Const(0xfff).op(Op.I32And).localSet(group + 1);
    c.mem(Op.I32Load, 2, E + tlb + 8).localGet(L_A).op(Op.I32WrapI64).op(Op.I32Add); // + addend
    if (group >= 0) c.localTee(group);
  }

  /**
   * Hoisted TLB checks of the current block: per key (mirror: loads 0, stores 32; | base register),
   * the local of the group (its host address; the page offset is the next local) or -1, the
   * immediate and the size of its first access.
   */
  private readonly grpH = new Int32Array(64).fill(-1);
  private readonly grpImm = new Int32Array(64);
  private readonly grpSize = new Int32Array(64);
  private grpNext = 0;
  /** The block being emitted and the index in it of the instruction being emitted. */
  private curList: Insn[] = [];
  private curIdx = 0;

  /**
   * Whether a later load/store of the current block (same mirror `key`) goes through base register
   * rs1 before rs1 is written or the block steps an instruction in the interpreter (a heuristic:
   * a group costs two locals and two instructions, worth it only when reused).
   */
  private reused(key: number, rs1: number): boolean {
    const list = this.curList;
    const cur = list[this.curIdx]!;
    if (rs1 !== 0 && lookupOpcode(cur.insn)?.rd === "x" && ((cur.insn >>> 7) & 31) === rs1) return false; // ld a0, 0(a0)
    for (let i = this.curIdx + 1; i < list.length; i++) {
      const d = list[i]!;
      if (d.len <= 0 || d.cls === Cls.Unsupported || d.cls === Cls.Step) return false;
      const op = d.insn & 0x7f;
      const k = op === 0x03 || op === 0x07 ? 0 : op === 0x23 || op === 0x27 ? 32 : -1;
      if (k >= 0 && (k | ((d.insn >>> 15) & 31)) === key) return true;
      if (rs1 !== 0 && lookupOpcode(d.insn)?.rd === "x" && ((d.insn >>> 7) & 31) === rs1) return false;
    }
    return false;
  }

  /**
   * Hands the instruction at page offset `off` to the interpreter through the `step` import and
   * continues after it, or leaves the unit (ExitKind.Stepped) when step says control cannot continue
   * here. `refund` is the budget charged for this instruction and the rest of the block, so
   * budget + refund is the budget before the instruction, which step records for the dispatcher
   * (a Stepped exit needs no refund code). `dOut` is the branch depth of $out here. About 20 bytes:
   * it is emitted for every load and store.
   */
  private emitStep(c: CodeWriter, off: number, insn: number, refund: number, flags: number, dOut: number): void {
    c.localGet(L_BUDGET);
    if (refund !== 0) c.i32Const(refund).op(Op.I32Add);
    c.i32Const(off | (flags << 12)).i32Const(insn).call(PageTranslator.STEP_FN).op(Op.I32Eqz).if_();
    c.i32Const(ExitKind.Stepped).localSet(L_KIND).br(dOut + 1);
    c.end();
  }

  /**
   * AMO{SWAP,ADD,XOR,AND,OR,MIN,MAX,MINU,MAXU}.{W,D} (Unprivileged ISA 8.4): read-modify-write of an
   * aligned word through the STORE mirror (an AMO needs write permission and faults as a store/AMO,
   * Privileged ISA 4.3.1; a misaligned address misses the mirror and the interpreter raises the
   * misaligned exception). Translated code runs one hart at a time, so plain wasm loads and stores are
   * atomic with respect to the other harts; aq/rl order nothing further here. rd gets the old value
   * (sign-extended for .W), computed after rs2 is read, since rd may equal rs2.
   */
  private emitAmo(c: CodeWriter, insn: number, rd: number, rs1: number, rs2: number, f3: number, off: number, refund: number, dOut: number): void {
    this.tlbCheck(c, rs1, 0, ENG_TLB_STORE, f3, off, refund, dOut, () => this.amoAccess(c, insn, rd, rs2, f3), true);
  }

  private amoAccess(c: CodeWriter, insn: number, rd: number, rs2: number, f3: number): void {
    const L_H = L_E, L_O = L_W; // free after tlbCheck; setReg's use of L_W comes last
    const f5 = insn >>> 27;
    const w = f3 === 2;
    if (this.atomics) return this.emitAmoShared(c, f5, w, rd, rs2);
    c.localTee(L_H).mem(w ? Op.I64Load32S : Op.I64Load, w ? 2 : 3, 0).localSet(L_O);
    c.localGet(L_H); // address for the store
    const old = () => (w ? c.localGet(L_O).op(Op.I32WrapI64) : c.localGet(L_O));
    const src = () => (w ? this.getReg(c, rs2).op(Op.I32WrapI64) : this.getReg(c, rs2));
    if (f5 === 1) src();
    else if (f5 < 16) {
      old(); src();
      c.op(w ? [Op.I32Add, 0, 0, 0, Op.I32Xor, 0, 0, 0, Op.I32Or, 0, 0, 0, Op.I32And][f5]! : [Op.I64Add, 0, 0, 0, Op.I64Xor, 0, 0, 0, Op.I64Or, 0, 0, 0, Op.I64And][f5]!);
    } else {
      // MIN/MAX/MINU/MAXU: select(old, src, old <cmp> src)
      old(); src(); old(); src();
      const cmp = w ? [Op.I32LtS, Op.I32GtS, Op.I32LtU, Op.I32GtU] : [Op.I64LtS, Op.I64GtS, Op.I64LtU, Op.I64GtU];
      c.op(cmp[(f5 - 16) >>> 2]!).op(Op.Select);
    }
    c.mem(w ? Op.I32Store : Op.I64Store, w ? 2 : 3, 0);
    if (rd !== 0) { c.localGet(L_O); this.setReg(c, rd); }
  }

  /**
   * emitAmo when other harts run concurrently (PageTranslatorOptions.atomics), with the host address
   * on the stack: one wasm atomic read-modify-write (threads proposal: 0xfe-prefixed, natural
   * alignment) for SWAP/ADD/XOR/AND/OR, a compare-and-swap loop for MIN/MAX[U]; rd gets the old value.
   */
  private emitAmoShared(c: CodeWriter, f5: number, w: boolean, rd: number, rs2: number): void {
    const L_H = L_E, L_O = L_W;
    const atomic = (code: number) => c.byte(0xfe).u32(code).u32(w ? 2 : 3).u32(0);
    const old = () => (w ? c.localGet(L_O).op(Op.I32WrapI64) : c.localGet(L_O));
    const src = () => (w ? this.getReg(c, rs2).op(Op.I32WrapI64) : this.getReg(c, rs2));
    c.localSet(L_H);
    // i32/i64.atomic.rmw.{add,xchg,xor,or,and} by funct5
    const rmw = f5 === 0 ? 0x1e : f5 === 1 ? 0x41 : f5 === 4 ? 0x3a : f5 === 8 ? 0x33 : f5 === 12 ? 0x2c : 0;
    if (rmw !== 0) {
      c.localGet(L_H); src(); atomic(w ? rmw : rmw + 1);
    } else {
      c.loop();
      c.localGet(L_H); atomic(w ? 0x10 : 0x11); // atomic.load
      if (w) c.op(Op.I64ExtendI32S);
      c.localSet(L_O);
      c.localGet(L_H); old(); // address, expected
      old(); src(); old(); src();
      const cmp = w ? [Op.I32LtS, Op.I32GtS, Op.I32LtU, Op.I32GtU] : [Op.I64LtS, Op.I64GtS, Op.I64LtU, Op.I64GtU];
      c.op(cmp[(f5 - 16) >>> 2]!).op(Op.Select); // replacement
      atomic(w ? 0x48 : 0x49); // cmpxchg: the value it found
      old(); c.op(w ? Op.I32Ne : Op.I64Ne).brIf(0); // another hart got in between: again
      c.end();
      c.localGet(L_O);
      if (w) c.op(Op.I32WrapI64);
    }
    if (w) c.op(Op.I64ExtendI32S);
    c.localSet(L_O);
    if (rd !== 0) { c.localGet(L_O); this.setReg(c, rd); }
  }

  /** Leaves for the interpreter at this instruction unless FP instructions may run here (ENG_FPOK). */
  private fpGuard(c: CodeWriter, off: number, refund: number, dOut: number): void {
    c.i32Const(0).mem(Op.I32Load, 2, this.engineOffset + ENG_FPOK).op(Op.I32Eqz).if_();
    this.refund(c, refund);
    this.exitStatic(c, off, ExitKind.Interp, dOut + 1);
    c.end();
  }

  private fget(c: CodeWriter, r: number): CodeWriter {
    return c.i32Const(0).mem(Op.I64Load, 3, this.engineOffset + ENG_FREGS + 8 * r);
  }

  /**
   * The OP-FP rows the opcode table marks translated (Unprivileged ISA 12.6-12.7). Exactness is checked in wasm:
   * a NaN operand of a compare, or a conversion that does not round-trip, leaves before the
   * instruction, and the interpreter computes the result and the flags.
   */
  private emitFpOp(c: CodeWriter, insn: number, rd: number, rs1: number, rs2: number, f3: number, off: number, refund: number, dOut: number): void {
    const E = this.engineOffset;
    const f7 = insn >>> 25;
    this.fpGuard(c, off, refund, dOut);
    const exitIf = () => { c.if_(); this.refund(c, refund); this.exitStatic(c, off, ExitKind.Interp, dOut + 1); c.end(); };
    const F64_REINTERPRET_I64 = 0xbf, F64_EQ = 0x61, F64_NE = 0x62, F64_LT = 0x63, F64_LE = 0x65, F64_CONVERT_I64_S = 0xb9, I64_REINTERPRET_F64 = 0xbd;
    if (f7 === 0x01 || f7 === 0x05 || f7 === 0x09 || f7 === 0x0d) { this.emitFpArith(c, f7, rd, rs1, rs2, f3, exitIf); return; }
    switch (f7) {
      case 0x11: { // FSGNJ.D / FSGNJN.D / FSGNJX.D: magnitude of rs1, sign from rs2 (bit operations, 12.6)
        c.i32Const(0);
        this.fget(c, rs1); this.k64(c, -1, 0x7fffffff).op(Op.I64And);
        if (f3 === 2) { this.fget(c, rs1); this.fget(c, rs2).op(Op.I64Xor); } else { this.fget(c, rs2); if (f3 === 1) c.i64Const(-1, -1).op(Op.I64Xor); }
        this.k64(c, 0, 0x80000000 | 0).op(Op.I64And).op(Op.I64Or);
        c.mem(Op.I64Store, 3, E + ENG_FREGS + 8 * rd);
        return;
      }
      case 0x71: this.fget(c, rs1); this.setReg(c, rd); return; // FMV.X.D
      case 0x79: c.i32Const(0); this.getReg(c, rs1); c.mem(Op.I64Store, 3, E + ENG_FREGS + 8 * rd); return; // FMV.D.X
      case 0x51: { // FLE.D / FLT.D / FEQ.D: NaN operands (which set NV) go to the interpreter
        const L_FA = this.tmp(Tmp.FA), L_FB = this.tmp(Tmp.FB);
        this.fget(c, rs1).byte(F64_REINTERPRET_I64).localTee(L_FA).localGet(L_FA).byte(F64_NE);
        this.fget(c, rs2).byte(F64_REINTERPRET_I64).localTee(L_FB).localGet(L_FB).byte(F64_NE).op(Op.I32Or);
        exitIf();
        c.localGet(L_FA).localGet(L_FB).byte([F64_LE, F64_LT, F64_EQ][f3]!).op(Op.I64ExtendI32U);
        this.setReg(c, rd);
        return;
      }
      case 0x61: { // FCVT.L.D: exact only if the value is an integer in range (then no rounding, no flags)
        const L_FA = this.tmp(Tmp.FA);
        this.fget(c, rs1).byte(F64_REINTERPRET_I64).localTee(L_FA).byte(0xfc).u32(6).localTee(L_A); // i64.trunc_sat_f64_s
        c.byte(F64_CONVERT_I64_S).localGet(L_FA).byte(F64_NE);
        c.localGet(L_A).i64Const(-1, 0x7fffffff).op(Op.I64Eq).op(Op.I32Or); // +2^63 saturates to INT64_MAX
        exitIf();
        c.localGet(L_A); this.setReg(c, rd);
        return;
      }
      default: { // 0x69 FCVT.D.L: exact only if the double converts back to the same integer (and is not 2^63)
        const L_O = L_W;
        this.getReg(c, rs1).localTee(L_A).byte(F64_CONVERT_I64_S).byte(I64_REINTERPRET_F64).localTee(L_O);
        c.byte(F64_REINTERPRET_I64).byte(0xfc).u32(6).localGet(L_A).op(Op.I64Ne);
        c.localGet(L_O).i64Const(0, 0x43e00000).op(Op.I64Eq).op(Op.I32Or); // 2^63: rounded up from near INT64_MAX
        exitIf();
        c.i32Const(0).localGet(L_O).mem(Op.I64Store, 3, E + ENG_FREGS + 8 * rd);
        return;
      }
    }
  }

  /**
   * FADD/FSUB/FMUL/FDIV.D rounding to nearest-even (Unprivileged ISA 12.4; IEEE 754 4.3.1, 7.6): the
   * host's f64 arithmetic rounds the same way, so the result is exact as computed; the only flag left
   * to compute is NX, from an error-free transformation (Knuth's TwoSum for +/-, Dekker's
   * TwoProduct for * and for the check q * b == a of /). Everything that could raise another flag
   * leaves before the instruction for the interpreter's softfloat: a NaN or infinite result or
   * operand (NV, and NaN canonicalisation), division by zero (DZ), and operands of * and / outside
   * [2^-480, 2^480] (zero allowed), which keeps results away from overflow and underflow (OF, UF) and
   * the error terms representable. Sums need no such bound: a subnormal sum is exact.
   */
  private emitFpArith(c: CodeWriter, f7: number, rd: number, rs1: number, rs2: number, f3: number, exitIf: () => void): void {
    const L_FA = this.tmp(Tmp.FA), L_FB = this.tmp(Tmp.FB), L_FR = this.tmp(Tmp.FR), L_F1 = this.tmp(Tmp.F1);
    const E = this.engineOffset;
    const F64_ABS = 0x99, F64_NEG = 0x9a, F64_ADD = 0xa0, F64_SUB = 0xa1, F64_MUL = 0xa2, F64_DIV = 0xa3;
    const F64_EQ = 0x61, F64_NE = 0x62, F64_LT = 0x63, F64_LE = 0x65, F64_GE = 0x66, F64_REINTERPRET_I64 = 0xbf, I64_REINTERPRET_F64 = 0xbd;
    if (f3 === 7) { // dynamic rounding mode: only while frm is RNE
      c.i32Const(0).mem(Op.I32Load, 2, E + ENG_FPOK).i32Const(FPOK_RNE).op(Op.I32And).op(Op.I32Eqz);
      exitIf();
    }
    this.fget(c, rs1).byte(F64_REINTERPRET_I64).localSet(L_FA);
    this.fget(c, rs2).byte(F64_REINTERPRET_I64).localSet(L_FB);
    /** Leaves an i32: |x| in [2^-480, 2^480] (false for NaN and infinities). */
    const inRange = (l: number) => {
      c.localGet(l).byte(F64_ABS).f64Const(2 ** -480).byte(F64_GE);
      c.localGet(l).byte(F64_ABS).f64Const(2 ** 480).byte(F64_LE).op(Op.I32And);
    };
    /** Dekker's split of local l into (hi, lo) locals: hi = c - (c - x), lo = x - hi, c = (2^27 + 1) x. */
    const split = (l: number, hi: number, lo: number) => {
      c.f64Const(134217729).localGet(l).byte(F64_MUL).localTee(hi);
      c.localGet(hi).localGet(l).byte(F64_SUB).byte(F64_SUB).localSet(hi);
      c.localGet(l).localGet(hi).byte(F64_SUB).localSet(lo);
    };
    /** Leaves the f64 error a * b - p of p = a * b rounded (locals a, b, p; uses L_F1..L_F4). */
    const productError = (a: number, b: number, p: number) => {
      const L_F2 = this.tmp(Tmp.F2), L_F3 = this.tmp(Tmp.F3), L_F4 = this.tmp(Tmp.F4);
      split(a, L_F1, L_F2);
      split(b, L_F3, L_F4);
      c.localGet(L_F1).localGet(L_F3).byte(F64_MUL).localGet(p).byte(F64_SUB);
      c.localGet(L_F1).localGet(L_F4).byte(F64_MUL).byte(F64_ADD);
      c.localGet(L_F2).localGet(L_F3).byte(F64_MUL).byte(F64_ADD);
      c.localGet(L_F2).localGet(L_F4).byte(F64_MUL).byte(F64_ADD);
    };
    const nx = () => { // fflags.NX |= (i32 on the stack)
      c.localSet(L_E).i32Const(0).i32Const(0).mem(Op.I32Load, 2, E + ENG_FFLAGS).localGet(L_E).op(Op.I32Or).mem(Op.I32Store, 2, E + ENG_FFLAGS);
    };
    if (f7 === 0x01 || f7 === 0x05) {
      if (f7 === 0x05) c.localGet(L_FB).byte(F64_NEG).localSet(L_FB); // a - b = a + (-b), exactly
      c.localGet(L_FA).localGet(L_FB).byte(F64_ADD).localTee(L_FR).byte(F64_ABS).f64Const(Infinity).byte(F64_LT).op(Op.I32Eqz);
      exitIf();
      // TwoSum: bb = r - a; err = (a - (r - bb)) + (b - bb)
      c.localGet(L_FR).localGet(L_FA).byte(F64_SUB).localSet(L_F1);
      c.localGet(L_FA).localGet(L_FR).localGet(L_F1).byte(F64_SUB).byte(F64_SUB);
      c.localGet(L_FB).localGet(L_F1).byte(F64_SUB).byte(F64_ADD).f64Const(0).byte(F64_NE);
      nx();
    } else if (f7 === 0x09) {
      // operands in range, or zero with the other in range (0 * inf is NaN: NV, for the interpreter)
      c.localGet(L_FA).f64Const(0).byte(F64_EQ); inRange(L_FA); c.op(Op.I32Or);
      c.localGet(L_FB).f64Const(0).byte(F64_EQ); inRange(L_FB); c.op(Op.I32Or).op(Op.I32And).op(Op.I32Eqz);
      exitIf();
      c.localGet(L_FA).localGet(L_FB).byte(F64_MUL).localSet(L_FR);
      productError(L_FA, L_FB, L_FR); c.f64Const(0).byte(F64_NE);
      nx();
    } else {
      // a zero or in range, b in range (b = 0 is DZ or NV: the interpreter's)
      c.localGet(L_FA).f64Const(0).byte(F64_EQ); inRange(L_FA); c.op(Op.I32Or);
      inRange(L_FB); c.op(Op.I32And).op(Op.I32Eqz);
      exitIf();
      // q = a / b is exact iff q * b == a exactly: with p = q * b rounded and e its error, the
      // quotient is inexact iff p != a or e != 0.
      c.localGet(L_FA).localGet(L_FB).byte(F64_DIV).localSet(L_FR);
      c.localGet(L_FR).localGet(L_FB).byte(F64_MUL).localTee(L_F1).localGet(L_FA).byte(F64_NE).localSet(L_E);
      c.localGet(L_F1).localSet(L_FA); // p (a is no longer needed)
      productError(L_FR, L_FB, L_FA); c.f64Const(0).byte(F64_NE).localGet(L_E).op(Op.I32Or);
      nx();
    }
    c.i32Const(0).localGet(L_FR).byte(I64_REINTERPRET_F64).mem(Op.I64Store, 3, E + ENG_FREGS + 8 * rd);
  }

  /**
   * FLW/FLD/FSW/FSD (Unprivileged ISA 11.5, 12.3): plain bit moves between memory and the f register
   * file in the engine area, FLW NaN-boxing its value (12.2). They run only while mstatus.FS is Dirty
   * (ENG_FPOK, set by the dispatcher): otherwise they must trap (FS = Off) or set FS to Dirty, which
   * the interpreter does (Privileged ISA 3.1.6.6), so the code leaves before the instruction.
   */
  private emitFpMem(c: CodeWriter, insn: number, rd: number, rs1: number, rs2: number, f3: number, off: number, refund: number, dOut: number): void {
    const L_O = L_W;
    const E = this.engineOffset;
    const store = (insn & 0x7f) === 0x27;
    this.fpGuard(c, off, refund, dOut);
    if (store) {
      const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 0x1f);
      this.tlbCheck(c, rs1, imm, ENG_TLB_STORE, f3, off, refund, dOut, (o) => {
        if (f3 === 2) c.i32Const(0).mem(Op.I32Load, 2, E + ENG_FREGS + 8 * rs2).mem(Op.I32Store, 2, o);
        else c.i32Const(0).mem(Op.I64Load, 3, E + ENG_FREGS + 8 * rs2).mem(Op.I64Store, 3, o);
      });
      return;
    }
    this.tlbCheck(c, rs1, insn >> 20, ENG_TLB_LOAD, f3, off, refund, dOut, (o) => {
      if (f3 === 2) c.mem(Op.I64Load32U, 2, o).i64Const(0, -1).op(Op.I64Or); // NaN-box: upper 32 bits all ones
      else c.mem(Op.I64Load, 3, o);
      c.localSet(L_O).i32Const(0).localGet(L_O).mem(Op.I64Store, 3, E + ENG_FREGS + 8 * rd);
    });
  }

  /** Integer computational instructions (RV64I 2.4/5.2, M 7.1/7.2 without MULH*). */
  private emitAlu(c: CodeWriter, insn: number, off: number, rd: number, rs1: number, rs2: number, f3: number): void {
    const f7 = insn >>> 25;
    const imm = insn >> 20;
    switch (insn & 0x7f) {
      case 0x37: { // LUI
        if (rd === 0) return;
        const v = insn & 0xfffff000;
        c.i64Const(v, v >> 31); this.setReg(c, rd);
        return;
      }
      case 0x17: { // AUIPC
        if (rd === 0) return;
        const v = (insn & 0xfffff000) + off; // sign-extended imm (int32) + offset: may exceed 2^31 - 1
        c.localGet(L_VPAGE).i64Const(v | 0, v < 0 ? -1 : 0).op(Op.I64Add); this.setReg(c, rd);
        return;
      }
      case 0x0f: // FENCE: with other harts on other threads a full barrier (RVWMO fence rw,rw and weaker)
        if (this.atomics) c.byte(0xfe).u32(0x03).byte(0x00); // atomic.fence
        return;
      case 0x13: { // OP-IMM
        if (rd === 0) return;
        const sh = (insn >>> 20) & 63;
        if ((f3 === 1 || f3 === 5) && (insn >>> 26) !== 0 && (insn >>> 26) !== 0x10) { this.bitImm(c, insn, rs1, sh); this.setReg(c, rd); return; }
        this.getReg(c, rs1);
        switch (f3) {
          case 0: c.i64Const(imm, imm >> 31).op(Op.I64Add); break;
          case 2: c.i64Const(imm, imm >> 31).op(Op.I64LtS).op(Op.I64ExtendI32U); break;
          case 3: c.i64Const(imm, imm >> 31).op(Op.I64LtU).op(Op.I64ExtendI32U); break;
          case 4: c.i64Const(imm, imm >> 31).op(Op.I64Xor); break;
          case 6: c.i64Const(imm, imm >> 31).op(Op.I64Or); break;
          case 7: c.i64Const(imm, imm >> 31).op(Op.I64And); break;
          case 1: c.i64Const(sh, 0).op(Op.I64Shl); break;
          default: c.i64Const(sh, 0).op((insn >>> 26) === 0 ? Op.I64ShrU : Op.I64ShrS); break;
        }
        this.setReg(c, rd);
        return;
      }
      case 0x1b: { // OP-IMM-32
        if (rd === 0) return;
        if (f3 === 1 && (insn >>> 26) === 0x02) { // SLLI.UW (Zba)
          this.getReg(c, rs1).i64Const(-1, 0).op(Op.I64And).i64Const((insn >>> 20) & 63, 0).op(Op.I64Shl); this.setReg(c, rd);
          return;
        }
        this.getReg(c, rs1).op(Op.I32WrapI64);
        const sh = (insn >>> 20) & 31;
        if (f3 !== 0 && f7 === 0x30) { // CLZW/CTZW/CPOPW, RORIW (Zbb); for ADDIW (f3 = 0) these bits are the immediate
          if (f3 === 1) c.op([Op.I32Clz, Op.I32Ctz, Op.I32Popcnt][sh]!); else c.i32Const(sh).op(Op.I32Rotr);
          c.op(Op.I64ExtendI32S); this.setReg(c, rd);
          return;
        }
        if (f3 === 0) c.i32Const(imm).op(Op.I32Add);
        else if (f3 === 1) c.i32Const(sh).op(Op.I32Shl);
        else c.i32Const(sh).op(f7 === 0 ? Op.I32ShrU : Op.I32ShrS);
        c.op(Op.I64ExtendI32S); this.setReg(c, rd);
        return;
      }
      case 0x33: { // OP
        if (rd === 0) return;
        if (f7 === 1 && f3 >= 4) { this.div64(c, rs1, rs2, f3); this.setReg(c, rd); return; }
        if (f7 === 1 && f3 !== 0) { this.mulh(c, rs1, rs2, f3); this.setReg(c, rd); return; }
        if (f7 !== 0 && f7 !== 1 && !(f7 === 0x20 && (f3 === 0 || f3 === 5))) { this.bitOp(c, f7, f3, rs1, rs2); this.setReg(c, rd); return; }
        this.getReg(c, rs1);
        this.getReg(c, rs2);
        if (f7 === 1) c.op(Op.I64Mul);
        else if (f7 === 0x20) c.op(f3 === 0 ? Op.I64Sub : Op.I64ShrS);
        else {
          switch (f3) {
            case 0: c.op(Op.I64Add); break;
            case 1: c.op(Op.I64Shl); break;
            case 2: c.op(Op.I64LtS).op(Op.I64ExtendI32U); break;
            case 3: c.op(Op.I64LtU).op(Op.I64ExtendI32U); break;
            case 4: c.op(Op.I64Xor); break;
            case 5: c.op(Op.I64ShrU); break;
            case 6: c.op(Op.I64Or); break;
            default: c.op(Op.I64And); break;
          }
        }
        this.setReg(c, rd);
        return;
      }
      case 0x3b: { // OP-32
        if (rd === 0) return;
        if (f7 === 1 && f3 >= 4) { this.div32(c, rs1, rs2, f3); c.op(Op.I64ExtendI32S); this.setReg(c, rd); return; }
        if (f7 === 0x10 || f7 === 0x04) { // SHxADD.UW, ADD.UW (Zba), ZEXT.H (Zbb)
          this.getReg(c, rs1);
          if (f7 === 0x04 && f3 === 4) { c.i64Const(0xffff, 0).op(Op.I64And); this.setReg(c, rd); return; }
          c.i64Const(-1, 0).op(Op.I64And);
          if (f7 === 0x10) c.i64Const(f3 >>> 1, 0).op(Op.I64Shl);
          this.getReg(c, rs2).op(Op.I64Add); this.setReg(c, rd);
          return;
        }
        if (f7 === 0x30) { // ROLW/RORW (Zbb)
          this.getReg(c, rs1).op(Op.I32WrapI64);
          this.getReg(c, rs2).op(Op.I32WrapI64).op(f3 === 1 ? Op.I32Rotl : Op.I32Rotr).op(Op.I64ExtendI32S); this.setReg(c, rd);
          return;
        }
        this.getReg(c, rs1).op(Op.I32WrapI64);
        this.getReg(c, rs2).op(Op.I32WrapI64);
        if (f7 === 1) c.op(Op.I32Mul);
        else if (f7 === 0x20) c.op(f3 === 0 ? Op.I32Sub : Op.I32ShrS);
        else c.op(f3 === 0 ? Op.I32Add : f3 === 1 ? Op.I32Shl : Op.I32ShrU);
        c.op(Op.I64ExtendI32S); this.setReg(c, rd);
        return;
      }
    }
  }

  /** 64-bit constant helper (lo, hi halves as int32). */
  private k64(c: CodeWriter, lo: number, hi: number): CodeWriter { return c.i64Const(lo | 0, hi | 0); }

  /**
   * MULH/MULHSU/MULHU (M 7.1): the high 64 bits of the 128-bit product, from four 32x32->64 partial
   * products (wasm has no widening multiply); the signed forms correct the unsigned high part:
   * mulh(a,b) = mulhu(a,b) - (a<0 ? b : 0) - (b<0 ? a : 0), mulhsu drops the second term.
   */
  private mulh(c: CodeWriter, rs1: number, rs2: number, f3: number): void {
    const L_T = L_W, L_T2 = this.tmp(Tmp.T2), L_O = this.tmp(Tmp.O); // L_W: setReg of the result comes last
    this.getReg(c, rs1).localSet(L_T);
    this.getReg(c, rs2).localSet(L_A);
    const lo = (l: number) => { c.localGet(l); this.k64(c, -1, 0).op(Op.I64And); };
    const hi = (l: number) => { c.localGet(l).i64Const(32, 0).op(Op.I64ShrU); };
    // L_O = mid = (aL*bL >>> 32) + lo32(aL*bH) + lo32(aH*bL)
    lo(L_T); lo(L_A); c.op(Op.I64Mul).i64Const(32, 0).op(Op.I64ShrU);
    lo(L_T); hi(L_A); c.op(Op.I64Mul).localTee(L_T2); this.k64(c, -1, 0).op(Op.I64And).op(Op.I64Add);
    hi(L_T); lo(L_A); c.op(Op.I64Mul).localTee(L_PC); this.k64(c, -1, 0).op(Op.I64And).op(Op.I64Add).localSet(L_O);
    // high = aH*bH + (aL*bH >>> 32) + (aH*bL >>> 32) + (mid >>> 32)
    hi(L_T); hi(L_A); c.op(Op.I64Mul);
    c.localGet(L_T2).i64Const(32, 0).op(Op.I64ShrU).op(Op.I64Add);
    c.localGet(L_PC).i64Const(32, 0).op(Op.I64ShrU).op(Op.I64Add);
    c.localGet(L_O).i64Const(32, 0).op(Op.I64ShrU).op(Op.I64Add);
    if (f3 === 1 || f3 === 2) { // - (a < 0 ? b : 0)
      c.localGet(L_A).localGet(L_T).i64Const(63, 0).op(Op.I64ShrS).op(Op.I64And).op(Op.I64Sub);
    }
    if (f3 === 1) { // - (b < 0 ? a : 0)
      c.localGet(L_T).localGet(L_A).i64Const(63, 0).op(Op.I64ShrS).op(Op.I64And).op(Op.I64Sub);
    }
  }

  /** Zba/Zbb/Zbs register-register forms of OP (Bitmanip 1.0.0 chapter 2). Leaves the i64 result. */
  private bitOp(c: CodeWriter, f7: number, f3: number, rs1: number, rs2: number): void {
    const a = () => this.getReg(c, rs1), b = () => this.getReg(c, rs2);
    switch (f7) {
      case 0x10: a(); c.i64Const(f3 >>> 1, 0).op(Op.I64Shl); b(); c.op(Op.I64Add); return; // SH1ADD/SH2ADD/SH3ADD
      case 0x20: // ANDN, ORN, XNOR
        if (f3 === 4) { a(); b(); c.op(Op.I64Xor).i64Const(-1, -1).op(Op.I64Xor); return; }
        a(); b(); c.i64Const(-1, -1).op(Op.I64Xor).op(f3 === 7 ? Op.I64And : Op.I64Or); return;
      case 0x05: // MIN, MINU, MAX, MAXU: select(a, b, a <cmp> b)
        a(); b(); a(); b(); c.op([Op.I64LtS, Op.I64LtU, Op.I64GtS, Op.I64GtU][f3 - 4]!).op(Op.Select); return;
      case 0x30: a(); b(); c.op(f3 === 1 ? Op.I64Rotl : Op.I64Rotr); return; // ROL, ROR (shift amount mod 64, as wasm)
      case 0x24:
        if (f3 === 5) { a(); b(); c.op(Op.I64ShrU).i64Const(1, 0).op(Op.I64And); return; } // BEXT
        a(); c.i64Const(1, 0); b(); c.op(Op.I64Shl).i64Const(-1, -1).op(Op.I64Xor).op(Op.I64And); return; // BCLR
      case 0x34: a(); c.i64Const(1, 0); b(); c.op(Op.I64Shl).op(Op.I64Xor); return; // BINV
      default: a(); c.i64Const(1, 0); b(); c.op(Op.I64Shl).op(Op.I64Or); return; // BSET (0x14)
    }
  }

  /** Zbb/Zbs immediate forms of OP-IMM (shift-amount field sh): leaves the i64 result. */
  private bitImm(c: CodeWriter, insn: number, rs1: number, sh: number): void {
    const f3 = (insn >>> 12) & 7, f6 = insn >>> 26, imm12 = insn >>> 20;
    this.getReg(c, rs1);
    const bit = () => this.k64(c, sh >= 32 ? 0 : 1 << sh, sh >= 32 ? 1 << (sh - 32) : 0);
    if (f3 === 1) {
      switch (f6) {
        case 0x12: bit(); c.i64Const(-1, -1).op(Op.I64Xor).op(Op.I64And); return; // BCLRI
        case 0x0a: bit(); c.op(Op.I64Or); return; // BSETI
        case 0x1a: bit(); c.op(Op.I64Xor); return; // BINVI
      }
      c.op([Op.I64Clz, Op.I64Ctz, Op.I64Popcnt, 0, Op.I64Extend8S, Op.I64Extend16S][imm12 - 0x600]!); // CLZ CTZ CPOP SEXT.B SEXT.H
      return;
    }
    if (f6 === 0x12) { c.i64Const(sh, 0).op(Op.I64ShrU).i64Const(1, 0).op(Op.I64And); return; } // BEXTI
    if (f6 === 0x18) { c.i64Const(sh, 0).op(Op.I64Rotr); return; } // RORI
    const L_T = L_W; // setReg of the result comes last
    if (imm12 === 0x287) { // ORC.B: per byte, 0xff if the byte is non-zero else 0
      c.localTee(L_T);
      this.k64(c, 0x7f7f7f7f, 0x7f7f7f7f).op(Op.I64And);
      this.k64(c, 0x7f7f7f7f, 0x7f7f7f7f).op(Op.I64Add).localGet(L_T).op(Op.I64Or); // high bit set iff byte != 0
      this.k64(c, 0x80808080, 0x80808080).op(Op.I64And).i64Const(7, 0).op(Op.I64ShrU).i64Const(0xff, 0).op(Op.I64Mul);
      return;
    }
    // REV8: byte swap in three stages (swap bytes, halfwords, words)
    c.localTee(L_T).i64Const(8, 0).op(Op.I64ShrU); this.k64(c, 0x00ff00ff, 0x00ff00ff).op(Op.I64And);
    c.localGet(L_T); this.k64(c, 0x00ff00ff, 0x00ff00ff).op(Op.I64And).i64Const(8, 0).op(Op.I64Shl).op(Op.I64Or);
    c.localTee(L_T).i64Const(16, 0).op(Op.I64ShrU); this.k64(c, 0x0000ffff, 0x0000ffff).op(Op.I64And);
    c.localGet(L_T); this.k64(c, 0x0000ffff, 0x0000ffff).op(Op.I64And).i64Const(16, 0).op(Op.I64Shl).op(Op.I64Or);
    c.i64Const(32, 0).op(Op.I64Rotl);
  }

  /**
   * DIV/DIVU/REM/REMU (M 7.2): division by zero gives -1 / all ones / the dividend, and the signed
   * overflow (-2^63 / -1) gives the dividend / 0, without trapping (wasm's div traps on both).
   */
  private div64(c: CodeWriter, rs1: number, rs2: number, f3: number): void {
    const L_T = L_W;
    this.getReg(c, rs1).localSet(L_T);
    this.getReg(c, rs2).localTee(L_A).op(Op.I64Eqz).if_(BT_I64);
    if (f3 === 4 || f3 === 5) c.i64Const(-1, -1); else c.localGet(L_T);
    c.byte(Op.Else);
    if (f3 === 4 || f3 === 6) {
      c.localGet(L_A).i64Const(-1, -1).op(Op.I64Eq).if_(BT_I64);
      if (f3 === 4) c.i64Const(0, 0).localGet(L_T).op(Op.I64Sub); else c.i64Const(0, 0);
      c.byte(Op.Else).localGet(L_T).localGet(L_A).byte(f3 === 4 ? I64_DIV_S : I64_REM_S).end();
    } else {
      c.localGet(L_T).localGet(L_A).byte(f3 === 5 ? I64_DIV_U : I64_REM_U);
    }
    c.end();
  }

  /** DIVW/DIVUW/REMW/REMUW (M 7.2) on the low 32 bits; leaves an i32. */
  private div32(c: CodeWriter, rs1: number, rs2: number, f3: number): void {
    const L_T = L_W;
    this.getReg(c, rs1).localSet(L_T);
    this.getReg(c, rs2).localSet(L_A);
    c.localGet(L_A).op(Op.I32WrapI64).op(Op.I32Eqz).if_(ValType.I32);
    if (f3 === 4 || f3 === 5) c.i32Const(-1); else c.localGet(L_T).op(Op.I32WrapI64);
    c.byte(Op.Else);
    if (f3 === 4 || f3 === 6) {
      c.localGet(L_A).op(Op.I32WrapI64).i32Const(-1).op(Op.I32Eq).if_(ValType.I32);
      if (f3 === 4) c.i32Const(0).localGet(L_T).op(Op.I32WrapI64).op(Op.I32Sub); else c.i32Const(0);
      c.byte(Op.Else).localGet(L_T).op(Op.I32WrapI64).localGet(L_A).op(Op.I32WrapI64).byte(f3 === 4 ? I32_DIV_S : I32_REM_S).end();
    } else {
      c.localGet(L_T).op(Op.I32WrapI64).localGet(L_A).op(Op.I32WrapI64).byte(f3 === 5 ? I32_DIV_U : I32_REM_U);
    }
    c.end();
  }
}

/** Page offsets a block's code continues at inside the page (branch/jump targets, fall-throughs). */
function forwardTargets(list: Insn[]): number[] {
  const last = list[list.length - 1]!;
  if (last.len === -1) return [last.off];
  if (last.len === 0) return [];
  switch (last.insn & 0x7f) {
    case 0x63: return [last.off + branchImm(last.insn), last.off + last.len];
    case 0x6f: return [last.off + jalImm(last.insn)];
    default: return [];
  }
}

/** The integer registers (bit r, not x0) a translated instruction reads (from the opcode table). */
function readMask(insn: number): number {
  const o = lookupOpcode(insn);
  if (o === undefined) return 0;
  return ((o.rs1 === "x" ? 1 << ((insn >>> 15) & 31) : 0) | (o.rs2 === "x" ? 1 << ((insn >>> 20) & 31) : 0)) & ~1;
}

/** Marks the integer registers a translated instruction reads and writes (from the opcode table). */
function markRegs(insn: number, used: Uint8Array, written: Uint8Array): void {
  const o = lookupOpcode(insn);
  if (o === undefined) return;
  if (o.rd === "x") written[(insn >>> 7) & 31] = 1;
  if (o.rs1 === "x") used[(insn >>> 15) & 31] = 1;
  if (o.rs2 === "x") used[(insn >>> 20) & 31] = 1;
  written[0] = 0;
  used[0] = 0;
}

export { TLB_ENTRY_BYTES };
