// A RISC-V RV64GC hart (Unprivileged ISA 20191213, Privileged ISA 20211203 = 1.12).
//
// PUBLIC API CONTRACT (other parts of Typevisor code against this; keep it stable):
//
//   const hart = new Hart({ memory, bus, hartId: 0, timer });
//   hart.setPc(0x8000_0000n); hart.priv = PRIV_M;
//   const reason = hart.run(1_000_000);   // executes up to N instructions, returns an ExitReason
//
// - Registers: getX(i)/setX(i, v) and getF(i)/setF(i, v) take/return bigint (64-bit, as raw bits);
//   getPc()/setPc(v) likewise. Hot code inside the engine uses the int32 views directly.
// - CSRs from the host side (no privilege checks, no side effects on illegal): readCsr(n)/writeCsr(n, v).
// - priv: 0 = U, 1 = S, 3 = M. With `new Hart({ ..., hypervisor: true })` the hart has the H
//   extension (Hypervisor.ts, docs/HYPERVISOR.md): `virt` is the V bit (priv 1 with virt 1 = VS,
//   priv 0 with virt 1 = VU), changed only by the guest's traps and xRETs; `hyp` holds the H state.
// - exitMask: a bitmask over exception causes 0..31. An exception whose cause bit is set does NOT
//   enter the guest's trap handler: run() returns ExitReason.Trap with exitCause/exitTval set and the
//   pc left at the faulting instruction (for ecall: the ecall itself; the host advances pc by 4).
//   This is the trap-and-emulate hook: built-in SBI firmware sets bit 9 (ecall from S-mode);
//   the user-mode ABI layer (typevisor exec) sets all causes.
// - Interrupts: setInterruptPending(bit, level) sets/clears an mip bit from outside (MEIP/SEIP from
//   the PLIC, MSIP from the CLINT). The machine timer (MTIP) comes from comparing timer.now() with
//   hart.mtimecmp, and STIP with stimecmp when Sstc is enabled (menvcfg.STCE).
// - run() also returns ExitReason.Wfi when the hart executes wfi with no interrupt pending and
//   the host should idle until the next timer deadline (nextTimerDeadline()) or an external event;
//   ExitReason.Budget when N instructions were retired; ExitReason.Halt when requestExit() was called
//   (e.g. by a device: HTIF tohost, poweroff) during the run.
// - flushTlb(): the host changed guest page tables or memory mappings behind the hart's back.
// - instret: instructions retired since reset (a number; exact up to 2^53).
//
// Implementation notes (decisions the specs leave to the implementation):
// - getX/getF/getPc return the raw 64 bits as an unsigned bigint; setters accept signed or unsigned.
// - The run(N) budget counts instruction attempts, including ones that trap, so a guest stuck in a
//   trap loop still returns to the host. instret counts retired instructions only.
// - Register file layout (HartState, one ArrayBuffer of 512 bytes): bytes 0..255 = x0..x31 as
//   little-endian int64 (x[2*i] low half, x[2*i+1] high half); bytes 256..511 = f0..f31 raw 64-bit.
// - Misaligned loads and stores are EMULATED (no trap; Unprivileged ISA 2.6 allows it) by splitting
//   into byte accesses; LR/SC/AMOs raise address-misaligned (cause 4 for LR, 6 for SC/AMO) since
//   atomicity cannot be kept across the split (Unprivileged ISA 8.2/8.4).
// - Instruction fetch only from RAM; fetch from anything else is an instruction access fault.
// - LR/SC/AMOs only on RAM; on I/O they raise an access fault (an I/O PMA without AMO support).
// - The reservation set is one address (the LR's physical address), cleared by SC, by every trap
//   and by MRET/SRET (Privileged ISA 3.3.2 allows xRET to clear it). breakReservation(pa) lets a
//   board with several harts break it when another hart stores to that address.
// - WFI in U-mode raises illegal instruction (S-mode is implemented, Privileged ISA 3.3.3), as does
//   WFI in S-mode with mstatus.TW=1 (our time limit is 0).
// - mcycle counts the same as minstret (one cycle per instruction); mhpmcounter3-31 and mhpmevent3-31
//   are read-only zero (Zihpm); mcountinhibit is storage only.
// - PMP registers are storage only: every physical access is allowed (see Mmu.ts).
//
// Speed design (the interpreter's hot loop is slice()):
// - Registers are int32 halves in an Int32Array; BigInt only for MULH*/64-bit DIV/REM with large operands.
// - RVC is a 64K-entry expansion table (Compressed.ts); the major opcode switch is dense (opcode >> 2)
//   so V8 emits a jump table.
// - Fetch goes through a cached current-page host offset; loads/stores through per-kind fast caches
//   (virtual page -> host offset of a RAM page) whose tags are page aligned, so a misaligned address
//   never hits and takes the emulating slow path. The store cache is only filled for pages whose PTE
//   has D = 1, so the first store to a clean page walks and sets D.
// - No decoded-instruction cache: decode is a handful of shifts, and self-modifying code, DMA into
//   code pages and FENCE.I need no invalidation. Caching per physical page is the binary
//   translator's job (src/dbt), which attaches through attachEngine() (the contract: HartEngine.ts).
// - Measured with bench/hart-loop.ts (12-instruction ALU/mul/ld/sd loop, CPU time, heavily loaded
//   2-core machine): 40 MIPS for the first version, ~73 MIPS after the jump-table switch, pc in
//   locals and the imul-based MUL; a pure addi loop runs at 120-160 MIPS.
import type { GuestMemory } from "../memory/GuestMemory.js";
import type { IoBus } from "../memory/IoBus.js";
import type { FpContext } from "./fpu/FpContext.js";
import type { HartEngine, HartEngineView } from "./HartEngine.js";
import type { HartSavedState } from "./HartPersist.js";
import { compressedTable } from "./Compressed.js";
import { executeFp } from "./fpu/index.js";
import { Mmu, PAGE_FAULT as MMU_PAGE_FAULT, SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV57 } from "./Mmu.js";
import { Access, Cause, Irq, PAGE_FAULT, ACCESS_FAULT } from "./Trap.js";
import { ExitReason } from "./ExitReason.js";
import { PRIV_M, PRIV_S, PRIV_U } from "./Privilege.js";
import * as C from "./Csr.js";
import { Hypervisor } from "./Hypervisor.js";
import { Sdtrig, TRIG_EXECUTE, TRIG_LOAD, TRIG_M, TRIG_S, TRIG_STORE, TRIG_U, TRIG_VS, TRIG_VU } from "./Sdtrig.js";
import { A_HI, A_LO, amo, cas, fullFence, load64 } from "./SharedAtomics.js";

export { PRIV_U, PRIV_S, PRIV_M } from "./Privilege.js";

export { ExitReason } from "./ExitReason.js";

/** The machine timer as the board provides it (ACLINT MTIMER, Privileged ISA 3.2.1). */
export interface MachineTimer {
  /** Current mtime in ticks of `frequency` Hz. */
  now(): number;
  readonly frequency: number;
}

export interface HartOptions {
  memory: GuestMemory;
  bus: IoBus;
  hartId?: number;
  timer?: MachineTimer;
  /** Implement the hypervisor extension (misa.H, HS/VS/VU modes; Hypervisor.ts). Default false. */
  hypervisor?: boolean;
}

/** Counters for `--stats` (plain numbers and typed arrays; incremented without allocation). */
export interface HartStats {
  /** Exceptions taken (into the guest or to the host through exitMask), by cause 0..31. */
  readonly exceptions: Float64Array;
  /** Interrupts taken, by interrupt number 0..15. */
  readonly interrupts: Float64Array;
  csrAccesses: number;
  mret: number;
  sret: number;
  sfenceVma: number;
  wfi: number;
  fenceI: number;
}



class DefaultTimer implements MachineTimer {
  readonly frequency = 10_000_000;
  private readonly t0 = performance.now();
  now(): number { return Math.floor((performance.now() - this.t0) * 10_000); }
}

const FAST_BITS = 8;
const FAST_SIZE = 1 << FAST_BITS;
/** Superpages the fast caches keep track of for address-specific SFENCE.VMA (Hart.sfencePage). */
const SUPERPAGE_SLOTS = 16;
/** Whether (hi:lo) lies in the level-l superpage that contains (shi:slo) (as Mmu.sfence compares). */
function coversSame(l: number, shi: number, slo: number, hi: number, lo: number): boolean {
  return l <= 2 ? shi === hi && slo >>> (12 + 9 * l) === lo >>> (12 + 9 * l) : shi >> (9 * l - 20) === hi >> (9 * l - 20);
}
/** Instructions between two interrupt/timer checks when nothing else ends a slice. */
const SLICE = 4096;
const TWO32 = 4294967296;
/** mip bits that are the OR of a software-writable bit and a line (PLIC's SEIP, Sstc's STIP). */
const MIP_LINE_BITS = (1 << Irq.SEI) | (1 << Irq.STI);
const IRQ_PRIORITY = [11, 3, 7, 9, 1, 5]; // MEI MSI MTI SEI SSI STI (Privileged ISA 3.1.9)

function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}
function popcnt32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}
function bswap32(v: number): number {
  return ((v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) | 0;
}
function orcb32(v: number): number {
  let r = 0;
  if (v & 0xff) r |= 0xff;
  if (v & 0xff00) r |= 0xff00;
  if (v & 0xff0000) r |= 0xff0000;
  if (v & 0xff000000) r |= 0xff000000;
  return r | 0;
}
let UM_HI = 0, UM_LO = 0;
/** Unsigned 32x32 -> 64-bit product into UM_HI:UM_LO (unsigned numbers), from 16-bit limbs (exact in doubles). */
function umul32(a: number, b: number): void {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const low = a0 * b0 + (mid & 0xffff) * 65536; // < 2^33
  UM_LO = low >>> 0;
  UM_HI = a1 * b1 + Math.floor(mid / 65536) + (low >= 4294967296 ? 1 : 0);
}
let MUL_HLO = 0, MUL_HHI = 0;
/** High 64 bits of the unsigned 64x64-bit product, into MUL_HHI:MUL_HLO (int32 halves). */
function mulhu64(alo: number, ahi: number, blo: number, bhi: number): void {
  umul32(alo, blo); const h0 = UM_HI;
  umul32(alo, bhi); const h1 = UM_HI, l1 = UM_LO;
  umul32(ahi, blo); const h2 = UM_HI, l2 = UM_LO;
  umul32(ahi, bhi); const h3 = UM_HI, l3 = UM_LO;
  const s1 = h0 + l1 + l2; // word 1 of the 128-bit product, < 3 * 2^32
  const c1 = Math.floor(s1 / 4294967296);
  const s2 = h1 + h2 + l3 + c1; // word 2
  const c2 = Math.floor(s2 / 4294967296);
  MUL_HLO = s2 | 0;
  MUL_HHI = (h3 + c2) | 0;
}
function ltu64(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi !== bhi ? (ahi >>> 0) < (bhi >>> 0) : (alo >>> 0) < (blo >>> 0);
}
function lt64(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi !== bhi ? ahi < bhi : (alo >>> 0) < (blo >>> 0);
}

export class Hart implements FpContext {
  readonly memory: GuestMemory;
  readonly bus: IoBus;
  readonly hartId: number;
  readonly timer: MachineTimer;
  readonly mmu: Mmu;

  /**
   * HartState: x registers then f registers (layout in the header comment). Its own buffer, until
   * relocateState() moves it (the binary translator keeps it in the WebAssembly memory).
   */
  state: ArrayBufferLike = new ArrayBuffer(512);
  x = new Int32Array(this.state, 0, 64);
  xb = new BigInt64Array(this.state, 0, 32);
  fi = new Int32Array(this.state, 256, 64);
  f = new Float64Array(this.state, 256, 32);
  private fb = new BigInt64Array(this.state, 256, 32);

  /**
   * Moves the register state (512 bytes: x0..x31, f0..f31 as little-endian 64-bit values) to
   * `buffer` at `byteOffset`, keeping its values. The binary translator puts it in its engine area so
   * translated code and the interpreter share one register file with no copies at each transition.
   */
  relocateState(buffer: ArrayBufferLike, byteOffset: number): void {
    const bytes = new Uint8Array(buffer, byteOffset, 512);
    bytes.set(new Uint8Array(this.state, this.x.byteOffset, 512));
    this.state = buffer;
    this.x = new Int32Array(buffer, byteOffset, 64);
    this.xb = new BigInt64Array(buffer, byteOffset, 32);
    this.fi = new Int32Array(buffer, byteOffset + 256, 64);
    this.f = new Float64Array(buffer, byteOffset + 256, 32);
    this.fb = new BigInt64Array(buffer, byteOffset + 256, 32);
  }
  frm = 0;
  fflags = 0;

  pcLo = 0;
  pcHi = 0;
  /** Current privilege level (internal writes go through privLevel and flush the fast caches themselves). */
  /** @internal (Hypervisor.ts) */
  privLevel = PRIV_M;
  /** The virtualization mode V (Privileged ISA 8.1): 1 in VS/VU-mode. Only Hypervisor.ts changes it. */
  virt = 0;
  /** The hypervisor extension's state and logic, when enabled (HartOptions.hypervisor). */
  readonly hyp: Hypervisor | undefined;
  /** Debug triggers (Sdtrig CSRs). */
  private readonly triggers = new Sdtrig();
  /** @internal The exception a failing CSR access raises: illegal, or virtual instruction with H. */
  csrFault: number = Cause.IllegalInsn;
  get priv(): number { return this.privLevel; }
  /** Setting the privilege from the host drops translations cached for the old one. */
  set priv(p: number) {
    if (p !== PRIV_U && p !== PRIV_S && p !== PRIV_M) throw new RangeError(`privilege level ${p} is not U (0), S (1) or M (3)`);
    if (p !== this.privLevel) {
      this.privLevel = p;
      this.flushFast();
    }
  }

  exitMask = 0;
  exitCause = 0;
  private exitTvalLo = 0;
  private exitTvalHi = 0;
  /** Set while running: the reason the current run() ends early, or -1. */
  private exitReason = -1;

  instret = 0;
  readonly stats: HartStats = {
    exceptions: new Float64Array(32), interrupts: new Float64Array(16),
    csrAccesses: 0, mret: 0, sret: 0, sfenceVma: 0, wfi: 0, fenceI: 0,
  };

  // CSR storage: csr[2*n] / csr[2*n+1] = low/high half of CSR n, for the plain read/write ones.
  /** @internal (Hypervisor.ts) */
  readonly csr = new Int32Array(8192);
  /** mstatus low word (the high word is fixed: UXL = SXL = 2, plus SD computed from FS). */
  mstatus = 0;
  /** mip bits written by software (SSIP, STIP, SEIP) and by devices (MSIP, MEIP, SEIP). */
  /** @internal (Hypervisor.ts: hvip lives here as VSSIP/VSTIP/VSEIP) */
  mipSw = 0;
  private mipExt = 0;
  /** MTIP / STIP(Sstc) computed from the timer at the start of each slice. */
  private mipTimer = 0;
  private mtimecmpN = Number.POSITIVE_INFINITY;
  private stimecmpN = Number.POSITIVE_INFINITY;
  /** minstret/mcycle write offsets. */
  private cycleDelta = 0;

  // LR/SC reservation (physical address), and the value the LR read (for smp's compare-and-swap SC).
  /** @internal */
  resValid = false;
  private resAddr = 0;
  private resLo = 0;
  private resHi = 0;
  /**
   * Other harts run on other threads over the same memory (src/vmm/vcpu): AMOs become host atomic
   * read-modify-writes, SC a compare-and-swap and FENCE a full barrier (SharedAtomics.ts).
   */
  smp = false;
  /**
   * A word other threads set non-zero when they need this hart's thread (an interrupt, an IPI, a
   * remote fence): run() then returns ExitReason.Halt at its next interrupt check (src/vmm/vcpu).
   */
  attention: Int32Array | undefined = undefined;
  attentionIndex = 0;

  // Slice bookkeeping.
  private sliceTraps = 0;
  private stepsBefore = 0;

  // Memory views over RAM (host offset = gpa - memory.base).
  private readonly ram8: Uint8Array;
  private readonly ram16: Uint16Array;
  private readonly ram32: Int32Array;
  private readonly memBase: number;
  private readonly memSize: number;
  private readonly ctab: Int32Array;
  /** Result of readMem(). */
  private vLo = 0;
  private vHi = 0;

  // Fast translation caches (fetch, load, store): virtual page -> host offset of a RAM page, valid for
  // the current privilege/SUM/MXR/MPRV/satp; flushed whenever any of those change. kind*FAST_SIZE + idx.
  private readonly fastTagLo = new Int32Array(3 * FAST_SIZE).fill(1);
  private readonly fastTagHi = new Int32Array(3 * FAST_SIZE);
  private readonly fastBase = new Int32Array(3 * FAST_SIZE);

  constructor(opts: HartOptions) {
    this.memory = opts.memory;
    this.bus = opts.bus;
    this.hartId = opts.hartId ?? 0;
    this.timer = opts.timer ?? new DefaultTimer();
    this.mmu = new Mmu(opts.memory);
    const buf = opts.memory.buffer;
    this.memBase = opts.memory.base;
    this.memSize = opts.memory.size;
    this.ram8 = new Uint8Array(buf, 0, this.memSize);
    this.ram16 = new Uint16Array(buf, 0, this.memSize >>> 1);
    this.ram32 = new Int32Array(buf, 0, this.memSize >>> 2);
    this.ctab = compressedTable();
    this.hyp = opts.hypervisor === true ? new Hypervisor(this) : undefined;
    this.reset();
  }

  /** Architectural reset state (Privileged ISA 3.4): M-mode, MIE = MPRV = 0, misa full, counters 0. */
  reset(): void {
    this.x.fill(0);
    this.fi.fill(0);
    this.csr.fill(0);
    this.privLevel = PRIV_M;
    this.virt = 0;
    this.mstatus = 0;
    this.mipSw = 0;
    if (this.hyp !== undefined) {
      this.hyp.reset();
      this.csr[2 * C.CSR_MIDELEG] = C.MIDELEG_H_RO1;
    }
    this.mipTimer = 0;
    this.frm = 0;
    this.fflags = 0;
    this.resValid = false;
    this.triggers.reset();
    this.mmu.flushAll();
    this.flushFast();
  }

  // ---------------------------------------------------------------- host-side register API

  getX(i: number): bigint { return i === 0 ? 0n : BigInt.asUintN(64, this.xb[i]!); }
  setX(i: number, v: bigint): void { if (i !== 0) this.xb[i] = BigInt.asIntN(64, v); }
  getF(i: number): bigint { return BigInt.asUintN(64, this.fb[i]!); }
  setF(i: number, v: bigint): void { this.fb[i] = BigInt.asIntN(64, v); }
  getPc(): bigint { return (BigInt(this.pcHi >>> 0) << 32n) | BigInt(this.pcLo >>> 0); }
  setPc(v: bigint): void {
    // IALIGN = 16 (C is always on): bit 0 of the pc is always zero.
    this.pcLo = Number(BigInt.asIntN(32, v)) & ~1;
    this.pcHi = Number(BigInt.asIntN(32, v >> 32n));
  }
  get exitTval(): bigint { return (BigInt(this.exitTvalHi >>> 0) << 32n) | BigInt(this.exitTvalLo >>> 0); }

  get mtimecmp(): bigint { return this.mtimecmpN === Number.POSITIVE_INFINITY ? 0xffff_ffff_ffff_ffffn : BigInt(this.mtimecmpN); }
  set mtimecmp(v: bigint) { this.mtimecmpN = Number(BigInt.asUintN(64, v)); }
  get stimecmp(): bigint { return this.stimecmpN === Number.POSITIVE_INFINITY ? 0xffff_ffff_ffff_ffffn : BigInt(this.stimecmpN); }

  readCsr(n: number): bigint {
    const saved = this.priv;
    this.privLevel = PRIV_M;
    const fs = this.mstatus & C.MS_FS;
    this.mstatus |= C.MS_FS; // so fcsr reads from the host work while FS = Off
    const ok = this.csrRead(n);
    this.mstatus = (this.mstatus & ~C.MS_FS) | fs;
    this.privLevel = saved;
    if (!ok) throw new RangeError(`CSR 0x${n.toString(16)} does not exist on this hart`);
    return (BigInt(this.cHi >>> 0) << 32n) | BigInt(this.cLo >>> 0);
  }

  writeCsr(n: number, v: bigint): void {
    const saved = this.priv;
    this.privLevel = PRIV_M;
    this.stepsBefore = 0;
    this.sliceTraps = 0;
    const ok = this.csrWrite(n, Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));
    this.privLevel = saved;
    if (!ok) throw new RangeError(`CSR 0x${n.toString(16)} does not exist on this hart`);
  }

  /** Sets or clears a device-driven mip bit (MSIP 3, MEIP 11, SEIP 9; also SSIP 1 for ACLINT SSWI). */
  setInterruptPending(bit: number, level: boolean): void {
    if (level) this.mipExt |= 1 << bit;
    else this.mipExt &= ~(1 << bit);
  }

  /** Ends the current run() with ExitReason.Halt after the current instruction. */
  requestExit(): void {
    if (this.exitReason < 0) this.exitReason = ExitReason.Halt;
  }

  /** The host changed guest page tables or memory behind the hart's back. */
  flushTlb(): void {
    this.mmu.flushAll();
    this.hyp?.mmu.flushAll();
    this.flushFast();
  }

  /**
   * Drops this hart's LR reservation whatever it covers: a supervisor switching the hart to another
   * task (typevisor exec's threads) must not let that task's SC pair with this task's LR.
   */
  clearReservation(): void {
    this.resValid = false;
  }

  /** Breaks this hart's LR reservation if it covers physical address `pa` (another hart stored there). */
  breakReservation(pa: number): void {
    if (this.resValid && Math.floor(pa / 8) === Math.floor(this.resAddr / 8)) this.resValid = false;
  }

  /** The earliest timer value (in timer ticks) at which a timer interrupt becomes pending; Infinity if none. */
  nextTimerDeadline(): number {
    let d = this.mtimecmpN;
    if (this.sstcEnabled() && this.stimecmpN < d) d = this.stimecmpN;
    if (this.hyp !== undefined) d = Math.min(d, this.hyp.vsTimerDeadline());
    return d;
  }

  private sstcEnabled(): boolean {
    return (this.csr[2 * C.CSR_MENVCFG + 1]! & C.MENVCFG_STCE_HI) !== 0;
  }

  /**
   * Superpages (level, vhi, vlo) the fast caches may hold 4 KiB pieces of since their last flush, so
   * an address-specific SFENCE.VMA can drop just its page unless a superpage covers the address
   * (superpageCount > SUPERPAGE_SLOTS: too many to list, flush all).
   */
  private readonly superpages = new Int32Array(3 * SUPERPAGE_SLOTS);
  private superpageCount = 0;
  private noteSuperpage(lo: number, hi: number): void {
    const l = this.mmu.lastLevel;
    if (l === 0) return;
    const sp = this.superpages;
    for (let i = 0; i < this.superpageCount && i < SUPERPAGE_SLOTS; i++) {
      if (sp[3 * i] === l && coversSame(l, sp[3 * i + 1]!, sp[3 * i + 2]!, hi, lo)) return;
    }
    if (this.superpageCount < SUPERPAGE_SLOTS) {
      const i = 3 * this.superpageCount;
      sp[i] = l; sp[i + 1] = hi; sp[i + 2] = lo;
    }
    this.superpageCount++;
  }

  /**
   * SFENCE.VMA with rs1 = (hi:lo) (Privileged ISA 4.2.1: only the leaf entries for that address):
   * drops that 4 KiB page from the fast caches, and tells the engine to do the same with its copy.
   * A Linux boot fences ~110 k single pages; flushing everything each time cost 0.7 M refills of
   * the engine's TLB mirror. A superpage covering the address (its pieces may sit at any index)
   * flushes everything.
   */
  private sfencePage(lo: number, hi: number): void {
    const sp = this.superpages;
    if (this.superpageCount > SUPERPAGE_SLOTS) { this.flushFast(); return; }
    for (let i = 0; i < this.superpageCount; i++) {
      if (coversSame(sp[3 * i]!, sp[3 * i + 1]!, sp[3 * i + 2]!, hi, lo)) { this.flushFast(); return; }
    }
    const idx = (lo >>> 12) & (FAST_SIZE - 1), page = lo & ~0xfff;
    for (let k = 0; k < 3; k++) {
      const i = k * FAST_SIZE + idx;
      if (this.fastTagLo[i] === page && this.fastTagHi[i] === hi) this.fastTagLo[i] = 1;
    }
    this.engine?.fastPageEvicted(lo, hi);
  }

  /** @internal */
  flushFast(): void {
    this.fastTagLo.fill(1);
    this.superpageCount = 0;
    this.fastEpoch++; // tells an attached engine its copy of these caches is stale
    this.fastFullEpoch++;
  }

  /**
   * The fast caches are per privilege (and mstatus.SUM): a switch between U and S (trap entry, SRET;
   * no H extension) or a SUM toggle empties them, but leaves every translation of the other
   * privilege valid, so an engine may keep its copy of each one's entries (HartEngineView.tlbFullEpoch
   * is not bumped). `old` is the privilege before, with V = 0 before (callers check); V = 1 after, or
   * M-mode on either side, flushes everything.
   */
  flushFastForPrivilege(old: number): void {
    if (this.virt !== 0 || (old !== PRIV_U && old !== PRIV_S) || (this.privLevel !== PRIV_U && this.privLevel !== PRIV_S)) { this.flushFast(); return; }
    this.fastTagLo.fill(1);
    this.superpageCount = 0;
    this.fastEpoch++;
  }

  // ---------------------------------------------------------------- run loop

  /** The attached CPU engine (HartEngine.ts), or undefined: the interpreter runs everything. */
  private engine: HartEngine | undefined = undefined;
  /** Incremented whenever the fast translation caches are flushed (HartEngineView.tlbEpoch). */
  private fastEpoch = 0;
  /** Incremented by flushes other than U/S privilege switches (HartEngineView.tlbFullEpoch). */
  private fastFullEpoch = 0;
  /** The engine's code pages (HartEngine.codePages), kept here for the store slow paths. */
  private codePages: Uint8Array | undefined = undefined;

  /**
   * Attaches a CPU engine (the binary translator): from now on run() hands every run to it while it
   * is not busy. Returns the read-only view of the fast caches the engine mirrors. One engine per
   * hart; a new hart (reboot) gets a new engine.
   */
  attachEngine(engine: HartEngine): HartEngineView {
    if (this.engine !== undefined) throw new Error(`hart ${this.hartId} already has a CPU engine attached`);
    this.engine = engine;
    this.codePages = engine.codePages;
    const hart = this; // the view's getters read live hart state
    return {
      fastSize: FAST_SIZE,
      fastTagLo: this.fastTagLo,
      fastTagHi: this.fastTagHi,
      fastBase: this.fastBase,
      ctab: this.ctab,
      get tlbEpoch(): number { return hart.fastEpoch; },
      get tlbFullEpoch(): number { return hart.fastFullEpoch; },
      // With V=1, FP is usable only if vsstatus.FS is on too (8.2.11): the engine sees FS as Off then.
      get mstatus(): number {
        const h = hart.hyp;
        return hart.virt !== 0 && h !== undefined && (h.vsstatus & C.MS_FS) !== C.MS_FS ? hart.mstatus & ~C.MS_FS : hart.mstatus;
      },
      probeFetch: () => hart.probeFetch(),
    };
  }

  /** Whether a CPU engine is attached (attachEngine). */
  get engineAttached(): boolean { return this.engine !== undefined; }

  /** Drops store fast-cache entries for a host page that just became a code page. */
  evictStorePage(hostPage: number): void {
    for (let i = 2 * FAST_SIZE; i < 3 * FAST_SIZE; i++) if (this.fastBase[i] === hostPage) this.fastTagLo[i] = 1;
  }

  /** The hart's architectural state for a snapshot (HartPersist.ts says what is and is not in it). */
  saveState(): HartSavedState {
    const csr: [number, number][] = [];
    for (let i = 0; i < this.csr.length; i++) if (this.csr[i] !== 0) csr.push([i, this.csr[i]!]);
    const fin = (v: number) => (v === Number.POSITIVE_INFINITY ? null : v);
    return {
      x: Array.from(this.x), f: Array.from(this.fi), pcLo: this.pcLo, pcHi: this.pcHi, priv: this.privLevel,
      frm: this.frm, fflags: this.fflags, csr, mstatus: this.mstatus, mipSw: this.mipSw, mipExt: this.mipExt,
      mtimecmp: fin(this.mtimecmpN), stimecmp: fin(this.stimecmpN), cycleDelta: this.cycleDelta,
      resValid: this.resValid, resAddr: this.resAddr, instret: this.instret, exitMask: this.exitMask,
      resLo: this.resLo, resHi: this.resHi, virt: this.virt,
      ...(this.hyp === undefined ? {} : { hyp: { vsstatus: this.hyp.vsstatus, hstatus: this.hyp.hstatus, mstatusHi: this.hyp.mstatusHi, vstimecmp: fin(this.hyp.vstimecmpN) } }),
    };
  }

  /** Puts back a saveState() value; cached translations (TLB, fast caches) are dropped. */
  restoreState(s: HartSavedState): void {
    if (s.x.length !== 64 || s.f.length !== 64) throw new RangeError("hart state: x and f need 64 words each");
    this.x.set(s.x); this.x[0] = 0; this.x[1] = 0;
    this.fi.set(s.f);
    this.pcLo = s.pcLo | 0; this.pcHi = s.pcHi | 0;
    if (s.priv !== PRIV_U && s.priv !== PRIV_S && s.priv !== PRIV_M) throw new RangeError(`hart state: privilege ${s.priv}`);
    this.privLevel = s.priv;
    this.frm = s.frm; this.fflags = s.fflags;
    this.csr.fill(0);
    for (const [i, v] of s.csr) {
      if (!Number.isInteger(i) || i < 0 || i >= this.csr.length) throw new RangeError(`hart state: CSR word ${i}`);
      this.csr[i] = v;
    }
    this.mstatus = s.mstatus | 0; this.mipSw = s.mipSw | 0; this.mipExt = s.mipExt | 0; this.mipTimer = 0;
    this.mtimecmpN = s.mtimecmp ?? Number.POSITIVE_INFINITY;
    this.stimecmpN = s.stimecmp ?? Number.POSITIVE_INFINITY;
    this.cycleDelta = s.cycleDelta; this.resValid = s.resValid; this.resAddr = s.resAddr;
    this.instret = s.instret; this.exitMask = s.exitMask;
    this.resLo = s.resLo ?? 0; this.resHi = s.resHi ?? 0;
    if ((s.virt ?? 0) !== 0 && this.hyp === undefined) throw new RangeError("hart state: saved in V mode, but this hart has no H extension (start it with --hypervisor on)");
    this.virt = s.virt ?? 0;
    if (this.hyp !== undefined) {
      const hs = s.hyp;
      this.hyp.vsstatus = hs?.vsstatus ?? 0; this.hyp.hstatus = hs?.hstatus ?? 0; this.hyp.mstatusHi = hs?.mstatusHi ?? 0;
      this.hyp.vstimecmpN = hs?.vstimecmp ?? Number.POSITIVE_INFINITY;
      this.hyp.mmu.flushAll();
    }
    this.stepsBefore = 0; this.sliceTraps = 0;
    this.flushTlb();
  }

  /** Updates the timer and tells whether an enabled interrupt is pending (a run() would take it). */
  interruptPending(): boolean {
    this.updateTimer();
    return this.pendingInterrupts() !== 0 || (this.attention !== undefined && this.attention[this.attentionIndex] !== 0);
  }

  private codeWritten(off: number): void {
    const cp = this.codePages;
    if (cp !== undefined && cp[off >>> 12] !== 0) this.engine!.codeWritten(off - (off & 0xfff));
  }

  run(budget: number): ExitReason {
    const eng = this.engine;
    const trig = this.triggers;
    // An armed debug trigger is checked by the interpreter only (Sdtrig.ts): no translated code then.
    if (eng !== undefined && !eng.busy && !trig.execArmed && !trig.lsArmed) return eng.run(budget);
    this.exitReason = -1;
    let remaining = budget;
    while (remaining > 0) {
      this.updateTimer();
      if (this.attention !== undefined && this.attention[this.attentionIndex] !== 0) return ExitReason.Halt;
      if (this.pendingInterrupts() !== 0 && this.takeInterrupt()) {
        // The trap entry counts as a step so that a storm of interrupts still ends the run.
        remaining--;
        continue;
      }
      this.sliceTraps = 0;
      if (trig.execArmed) {
        // Execute triggers: one instruction per slice, its address checked before it runs.
        if (this.triggerHit(TRIG_EXECUTE, this.pcLo, this.pcHi)) {
          this.raise(Cause.Breakpoint, this.pcLo, this.pcHi);
          remaining--;
          if (this.exitReason >= 0) return this.exitReason as ExitReason;
          continue;
        }
      }
      const n = trig.execArmed ? 1 : remaining < SLICE ? remaining : SLICE;
      const steps = this.slice(n);
      this.x[0] = 0; this.x[1] = 0; // x0 is 0 whenever the host or the translator looks
      this.instret += steps - this.sliceTraps;
      remaining -= steps;
      if (this.exitReason >= 0) return this.exitReason as ExitReason;
    }
    return ExitReason.Budget;
  }

  private updateTimer(): void {
    const hyp = this.hyp;
    if (this.mtimecmpN === Number.POSITIVE_INFINITY && this.stimecmpN === Number.POSITIVE_INFINITY && (hyp === undefined || hyp.vstimecmpN === Number.POSITIVE_INFINITY)) {
      this.mipTimer = 0; // no deadline armed: skip reading the clock
      return;
    }
    const now = this.timer.now();
    let t = now >= this.mtimecmpN ? 1 << Irq.MTI : 0;
    if (this.sstcEnabled() && now >= this.stimecmpN) t |= 1 << Irq.STI;
    if (hyp !== undefined && hyp.vsTimerPending(now)) t |= 1 << Irq.VSTI;
    this.mipTimer = t;
  }

  /** @internal */
  mipValue(): number {
    // With Sstc enabled, STIP reflects stimecmp only (Sstc 1.0 §2.1); otherwise it is software's bit.
    const sw = this.sstcEnabled() ? this.mipSw & ~(1 << Irq.STI) : this.mipSw;
    return sw | this.mipExt | this.mipTimer;
  }

  /** Pending and enabled interrupts, before global enables (the WFI wake-up condition). */
  private pendingInterrupts(): number {
    return this.mipValue() & this.csr[2 * C.CSR_MIE]!;
  }

  /** Takes the highest-priority interrupt that the global enables allow (Privileged ISA 3.1.6.1, 3.1.9). */
  private takeInterrupt(): boolean {
    const pend = this.pendingInterrupts();
    if (this.hyp !== undefined) return this.hyp.takeInterrupt(pend);
    const mideleg = this.csr[2 * C.CSR_MIDELEG]!;
    const p = this.priv;
    const mOn = p < PRIV_M || (this.mstatus & C.MS_MIE) !== 0;
    const sOn = p < PRIV_S || (p === PRIV_S && (this.mstatus & C.MS_SIE) !== 0);
    let take = 0;
    if (mOn) take |= pend & ~mideleg;
    if (sOn) take |= pend & mideleg;
    if (take === 0) return false;
    for (let i = 0; i < IRQ_PRIORITY.length; i++) {
      const irq = IRQ_PRIORITY[i]!;
      if ((take >>> irq) & 1) {
        this.stats.interrupts[irq]!++;
        this.enterTrap(irq, true, 0, 0);
        return true;
      }
    }
    return false;
  }

  /** Raises an exception for the instruction at pc (or hands it to the host through exitMask). */
  /** @internal */
  raise(cause: number, tvalLo: number, tvalHi: number): void {
    this.stats.exceptions[cause]!++;
    this.sliceTraps++;
    if ((this.exitMask >>> cause) & 1) {
      this.exitReason = ExitReason.Trap;
      this.exitCause = cause;
      this.exitTvalLo = tvalLo;
      this.exitTvalHi = tvalHi;
      return;
    }
    this.enterTrap(cause, false, tvalLo, tvalHi);
  }

  /** @internal */
  illegal(raw: number): void {
    this.raise(Cause.IllegalInsn, raw, 0);
  }

  /** Trap entry (Privileged ISA 3.1.6.1, 3.1.7, 4.1.1): delegation, xEPC/xCAUSE/xTVAL, xPIE/xPP, xtvec. */
  private enterTrap(cause: number, isInterrupt: boolean, tvalLo: number, tvalHi: number): void {
    if (this.hyp !== undefined) { this.hyp.enterTrap(cause, isInterrupt, tvalLo, tvalHi); return; }
    const p = this.priv;
    const csr = this.csr;
    const deleg = p <= PRIV_S && ((((isInterrupt ? csr[2 * C.CSR_MIDELEG]! : csr[2 * C.CSR_MEDELEG]!) >>> cause) & 1) !== 0);
    let tvec: number;
    let ms = this.mstatus;
    if (deleg) {
      csr[2 * C.CSR_SCAUSE] = cause;
      csr[2 * C.CSR_SCAUSE + 1] = isInterrupt ? 0x80000000 | 0 : 0;
      csr[2 * C.CSR_SEPC] = this.pcLo;
      csr[2 * C.CSR_SEPC + 1] = this.pcHi;
      csr[2 * C.CSR_STVAL] = tvalLo;
      csr[2 * C.CSR_STVAL + 1] = tvalHi;
      ms = (ms & ~(C.MS_SPIE | C.MS_SIE | C.MS_SPP)) | ((ms & C.MS_SIE) !== 0 ? C.MS_SPIE : 0) | (p === PRIV_S ? C.MS_SPP : 0);
      this.privLevel = PRIV_S;
      tvec = 2 * C.CSR_STVEC;
    } else {
      csr[2 * C.CSR_MCAUSE] = cause;
      csr[2 * C.CSR_MCAUSE + 1] = isInterrupt ? 0x80000000 | 0 : 0;
      csr[2 * C.CSR_MEPC] = this.pcLo;
      csr[2 * C.CSR_MEPC + 1] = this.pcHi;
      csr[2 * C.CSR_MTVAL] = tvalLo;
      csr[2 * C.CSR_MTVAL + 1] = tvalHi;
      ms = (ms & ~(C.MS_MPIE | C.MS_MIE | C.MS_MPP)) | ((ms & C.MS_MIE) !== 0 ? C.MS_MPIE : 0) | (p << C.MS_MPP_SHIFT);
      this.privLevel = PRIV_M;
      tvec = 2 * C.CSR_MTVEC;
    }
    this.mstatus = ms;
    const base = csr[tvec]!;
    let lo = base & ~3;
    let hi = csr[tvec + 1]!;
    if ((base & 1) !== 0 && isInterrupt) { // vectored mode (3.1.7): BASE + 4 * cause for interrupts
      const n = (lo + 4 * cause) | 0;
      if ((n >>> 0) < (lo >>> 0)) hi = (hi + 1) | 0;
      lo = n;
    }
    this.pcLo = lo;
    this.pcHi = hi;
    this.resValid = false;
    // The fast caches are valid for one effective privilege: drop them when it may have changed
    // (a new mode, or a new MPP while MPRV is set in M-mode).
    if (this.privLevel !== p || (this.privLevel === PRIV_M && (ms & C.MS_MPRV) !== 0)) this.flushFastForPrivilege(p);
  }

  // ---------------------------------------------------------------- address translation

  /** Virtual -> physical for `access` (raising the fault and returning -1 on failure). */
  private xlate(lo: number, hi: number, access: Access): number {
    if (access !== Access.Fetch && this.triggers.lsArmed && this.triggerHit(access === Access.Load ? TRIG_LOAD : TRIG_STORE, lo, hi)) {
      this.raise(Cause.Breakpoint, lo, hi); // Sdtrig: address breakpoint before the access (tval = the address)
      return -1;
    }
    let p = this.priv;
    let v = this.virt;
    if (access !== Access.Fetch && (this.mstatus & C.MS_MPRV) !== 0 && p === PRIV_M) {
      p = (this.mstatus >>> C.MS_MPP_SHIFT) & 3; // MPRV (3.1.6.3); with H also MPV (8.2.1)
      if (p !== PRIV_M && this.hyp !== undefined && (this.hyp.mstatusHi & C.MSH_MPV) !== 0) v = 1;
    }
    if (v !== 0) return this.admit(this.hyp!.translate(lo, hi, access, p, false, access), access);
    const satpHi = this.csr[2 * C.CSR_SATP + 1]!;
    if (p === PRIV_M || (satpHi >>> 28) === SATP_MODE_BARE) return this.admit((hi >>> 0) * TWO32 + (lo >>> 0), access);
    const ms = this.mstatus;
    const pa = this.mmu.translate(lo, hi, access, p, (ms & C.MS_SUM) !== 0, (ms & C.MS_MXR) !== 0, this.csr[2 * C.CSR_SATP]!, satpHi);
    if (pa >= 0) { this.noteSuperpage(lo, hi); return this.admit(pa, access); }
    this.raise(pa === MMU_PAGE_FAULT ? PAGE_FAULT[access]! : ACCESS_FAULT[access]!, lo, hi);
    return -1;
  }

  /**
   * Every RAM access that misses the fast caches comes through xlate() (or probeFetch): a page a
   * lazy restore has not loaded yet is loaded here, before any cache can hold it (GuestMemory.absent),
   * and a page about to be stored to is marked in the dirty log before the store cache can hold it
   * (GuestMemory.dirtyLog: the store caches are the write protection of live migration).
   */
  private admit(pa: number, access: Access = Access.Load): number {
    const off = pa - this.memBase;
    if (off >= 0 && off < this.memSize) {
      if (this.memory.absent !== undefined) this.memory.touch(off);
      if (access === Access.Store) this.memory.markPage(off);
    }
    return pa;
  }

  /** Remembers a RAM translation in the fast cache for `access` (page-aligned host offset). */
  private fillFast(access: Access, lo: number, hi: number, hostPage: number): void {
    if (hostPage > 0x7fff_f000) return; // keep the cache in int32 range
    if (access !== Access.Fetch && this.triggers.lsArmed) return; // every load/store goes through xlate's trigger check
    if (access === Access.Store && this.codePages !== undefined && this.codePages[hostPage >>> 12] !== 0) return;
    const i = access * FAST_SIZE + ((lo >>> 12) & (FAST_SIZE - 1));
    this.fastTagLo[i] = lo & ~0xfff;
    this.fastTagHi[i] = hi;
    this.fastBase[i] = hostPage;
  }

  /**
   * Fills the fetch cache for pc's page without raising anything (HartEngineView.probeFetch): the
   * host page offset, or -1 if fetching there would fault (then the interpreter's next step raises it).
   * The walk may set the PTE's A bit, as the fetch that follows would (Privileged ISA 4.3.1 allows
   * A to be set by speculative accesses too).
   */
  private probeFetch(): number {
    const lo = this.pcLo, hi = this.pcHi;
    let pa: number;
    const satpHi = this.csr[2 * C.CSR_SATP + 1]!;
    if (this.virt !== 0) {
      pa = this.hyp!.probe(lo, hi, this.priv);
      if (pa < 0) return -1;
    } else if (this.priv === PRIV_M || (satpHi >>> 28) === SATP_MODE_BARE) pa = (hi >>> 0) * TWO32 + (lo >>> 0);
    else {
      const ms = this.mstatus;
      pa = this.mmu.translate(lo, hi, Access.Fetch, this.priv, (ms & C.MS_SUM) !== 0, (ms & C.MS_MXR) !== 0, this.csr[2 * C.CSR_SATP]!, satpHi);
      if (pa < 0) return -1;
      this.noteSuperpage(lo, hi);
    }
    const off = pa - this.memBase;
    if (off < 0 || off >= this.memSize) return -1;
    this.admit(pa);
    const page = off - (off & 0xfff);
    this.fillFast(Access.Fetch, lo, hi, page);
    return page;
  }

  /** Host offset of the RAM page holding pc, or -1 after raising a fetch fault. */
  private fetchPage(lo: number, hi: number): number {
    const i = (lo >>> 12) & (FAST_SIZE - 1);
    if (this.fastTagLo[i] === (lo & ~0xfff) && this.fastTagHi[i] === hi) return this.fastBase[i]!;
    const pa = this.xlate(lo, hi, Access.Fetch);
    if (pa < 0) return -1;
    const off = pa - this.memBase;
    if (off < 0 || off >= this.memSize) {
      this.raise(Cause.InsnAccessFault, lo, hi);
      return -1;
    }
    const page = off - (off & 0xfff);
    this.fillFast(Access.Fetch, lo, hi, page);
    return page;
  }

  /** Fetches a 32-bit instruction whose upper half lies on the next page; -1 after raising a fault. */
  private fetchCross(lo: number, hi: number, low16: number): number {
    const nlo = (lo + 2) | 0;
    const nhi = (nlo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
    const page = this.fetchPage(nlo, nhi); // faults report the address of the upper half (3.1.16)
    if (page < 0) return -1;
    return (low16 | (this.ram16[(page + (nlo & 0xfff)) >>> 1]! << 16)) | 0;
  }

  /** Loads `size` bytes at virtual (hi:lo) into vLo/vHi (zero-extended). False after raising a fault. */
  private readMem(lo: number, hi: number, size: number): boolean {
    if ((lo & (size - 1)) !== 0) return this.readMisaligned(lo, hi, size);
    const i = FAST_SIZE + ((lo >>> 12) & (FAST_SIZE - 1));
    let off: number;
    if (this.fastTagLo[i] === (lo & ~0xfff) && this.fastTagHi[i] === hi) {
      off = this.fastBase[i]! + (lo & 0xfff);
    } else {
      const pa = this.xlate(lo, hi, Access.Load);
      if (pa < 0) return false;
      off = pa - this.memBase;
      if (off < 0 || off + size > this.memSize) {
        if (!this.bus.load(pa, size as 1 | 2 | 4 | 8)) {
          this.raise(Cause.LoadAccessFault, lo, hi);
          return false;
        }
        this.vLo = size === 1 ? this.bus.lo & 0xff : size === 2 ? this.bus.lo & 0xffff : this.bus.lo;
        this.vHi = size === 8 ? this.bus.hi : 0;
        this.exitSlice = true;
        return true;
      }
      this.fillFast(Access.Load, lo, hi, off - (off & 0xfff));
    }
    switch (size) {
      case 1: this.vLo = this.ram8[off]!; this.vHi = 0; break;
      case 2: this.vLo = this.ram16[off >>> 1]!; this.vHi = 0; break;
      case 4: this.vLo = this.ram32[off >>> 2]!; this.vHi = 0; break;
      default: this.vLo = this.ram32[off >>> 2]!; this.vHi = this.ram32[(off >>> 2) + 1]!; break;
    }
    return true;
  }

  private readMisaligned(lo: number, hi: number, size: number): boolean {
    let rlo = 0, rhi = 0;
    for (let k = 0; k < size; k++) {
      const blo = (lo + k) | 0;
      const bhi = (blo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      if (!this.readMem(blo, bhi, 1)) return false;
      if (k < 4) rlo |= this.vLo << (8 * k);
      else rhi |= this.vLo << (8 * (k - 4));
    }
    this.vLo = rlo | 0;
    this.vHi = rhi | 0;
    return true;
  }

  /** Stores the low `size` bytes of (vhi:vlo) at virtual (hi:lo). False after raising a fault. */
  private writeMem(lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
    if ((lo & (size - 1)) !== 0) return this.writeMisaligned(lo, hi, size, vlo, vhi);
    const i = 2 * FAST_SIZE + ((lo >>> 12) & (FAST_SIZE - 1));
    let off: number;
    if (this.fastTagLo[i] === (lo & ~0xfff) && this.fastTagHi[i] === hi) {
      off = this.fastBase[i]! + (lo & 0xfff);
    } else {
      const pa = this.xlate(lo, hi, Access.Store);
      if (pa < 0) return false;
      off = pa - this.memBase;
      if (off < 0 || off + size > this.memSize) {
        if (!this.bus.store(pa, size as 1 | 2 | 4 | 8, vlo, vhi)) {
          this.raise(Cause.StoreAccessFault, lo, hi);
          return false;
        }
        this.exitSlice = true;
        return true;
      }
      this.fillFast(Access.Store, lo, hi, off - (off & 0xfff));
    }
    switch (size) {
      case 1: this.ram8[off] = vlo; break;
      case 2: this.ram16[off >>> 1] = vlo; break;
      case 4: this.ram32[off >>> 2] = vlo; break;
      default: this.ram32[off >>> 2] = vlo; this.ram32[(off >>> 2) + 1] = vhi; break;
    }
    if (this.codePages !== undefined) this.codeWritten(off);
    return true;
  }

  /** Misaligned store: translate every byte first so a fault on the second page writes nothing. */
  private readonly misPa = new Float64Array(8);
  private writeMisaligned(lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
    for (let k = 0; k < size; k++) {
      const blo = (lo + k) | 0;
      const bhi = (blo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      const pa = this.xlate(blo, bhi, Access.Store);
      if (pa < 0) return false;
      const off = pa - this.memBase;
      if ((off < 0 || off >= this.memSize) && !this.bus.devices().some((d) => pa >= d.base && pa < d.base + d.size)) {
        this.raise(Cause.StoreAccessFault, blo, bhi);
        return false;
      }
      this.misPa[k] = pa;
    }
    for (let k = 0; k < size; k++) {
      const byte = (k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4))) & 0xff;
      const pa = this.misPa[k]!;
      const off = pa - this.memBase;
      if (off >= 0 && off < this.memSize) { this.ram8[off] = byte; if (this.codePages !== undefined) this.codeWritten(off); }
      else { this.bus.store(pa, 1, byte, 0); this.exitSlice = true; }
    }
    return true;
  }

  /** @internal Loads `size` bytes of RAM at physical `pa` (naturally aligned, in RAM) into cLo/cHi (HLV). */
  loadPhys(pa: number, size: number): void {
    this.admit(pa);
    const off = pa - this.memBase;
    this.cHi = 0;
    switch (size) {
      case 1: this.cLo = this.ram8[off]!; break;
      case 2: this.cLo = this.ram16[off >>> 1]!; break;
      case 4: this.cLo = this.ram32[off >>> 2]!; break;
      default: this.cLo = this.ram32[off >>> 2]!; this.cHi = this.ram32[(off >>> 2) + 1]!; break;
    }
  }

  /** @internal Stores `size` bytes to RAM at physical `pa` (naturally aligned, in RAM) (HSV). */
  storePhys(pa: number, size: number, vlo: number, vhi: number): void {
    this.admit(pa, Access.Store);
    const off = pa - this.memBase;
    switch (size) {
      case 1: this.ram8[off] = vlo; break;
      case 2: this.ram16[off >>> 1] = vlo; break;
      case 4: this.ram32[off >>> 2] = vlo; break;
      default: this.ram32[off >>> 2] = vlo; this.ram32[(off >>> 2) + 1] = vhi; break;
    }
    if (this.codePages !== undefined) this.codeWritten(off);
  }

  /** Set by slow paths (MMIO, CSR writes) to end the current slice after this instruction. */
  /** @internal */
  exitSlice = false;

  // ---------------------------------------------------------------- the interpreter

  /** Executes up to n instructions; returns the number of steps (retired + trapped). */
  private slice(n: number): number {
    const x = this.x;
    const ram8 = this.ram8, ram16 = this.ram16, ram32 = this.ram32;
    const ctab = this.ctab;
    const tagLo = this.fastTagLo, tagHi = this.fastTagHi, fbase = this.fastBase;
    let fPageLo = 1, fPageHi = 0, fBase = 0;
    this.exitSlice = false;
    let pcLo = this.pcLo, pcHi = this.pcHi;
    let i = 0;
    x[0] = 0; x[1] = 0; // slow paths may have written x0 before leaving the previous slice
    while (i < n) {
      i++;
      if ((pcLo & ~0xfff) !== fPageLo || pcHi !== fPageHi) {
        this.pcLo = pcLo; this.pcHi = pcHi; 
        const page = this.fetchPage(pcLo, pcHi);
        if (page < 0) return i;
        fPageLo = pcLo & ~0xfff; fPageHi = pcHi; fBase = page;
      }
      const poff = fBase + (pcLo & 0xfff);
      const h = ram16[poff >>> 1]!;
      let insn: number, raw: number, ilen: number;
      if ((h & 3) === 3) {
        if ((pcLo & 0xfff) === 0xffe) {
          this.pcLo = pcLo; this.pcHi = pcHi; 
          insn = this.fetchCross(pcLo, pcHi, h);
          if (insn === -1 && this.sliceTraps > 0) return i;
        } else {
          insn = h | (ram16[(poff >>> 1) + 1]! << 16);
        }
        raw = insn; ilen = 4;
      } else {
        insn = ctab[h]!; raw = h; ilen = 2;
        if (insn === 0) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(h); return i; }
      }
      let nLo = (pcLo + ilen) | 0;
      let nHi = (nLo >>> 0) < (pcLo >>> 0) ? (pcHi + 1) | 0 : pcHi;
      const rd2 = (insn >>> 6) & 62;
      const rs1 = (insn >>> 14) & 62;
      const rs2 = (insn >>> 19) & 62;
      const f3 = (insn >>> 12) & 7;
      switch ((insn >>> 2) & 31) {
        case 13 /* 0x37 */: { // LUI
          const v = insn & 0xfffff000;
          x[rd2] = v; x[rd2 + 1] = v >> 31;
          break;
        }
        case 5 /* 0x17 */: { // AUIPC
          const imm = insn & 0xfffff000;
          const lo = (pcLo + imm) | 0;
          x[rd2 + 1] = (pcHi + (imm >> 31) + ((lo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
          x[rd2] = lo;
          break;
        }
        case 27 /* 0x6f */: { // JAL
          const imm = ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >>> 20) & 1) << 11) | (((insn >>> 21) & 0x3ff) << 1);
          x[rd2] = nLo; x[rd2 + 1] = nHi;
          nLo = (pcLo + imm) | 0;
          nHi = (pcHi + (imm >> 31) + ((nLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
          break;
        }
        case 25 /* 0x67 */: { // JALR
          if (f3 !== 0) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          const imm = insn >> 20;
          const blo = x[rs1]!, bhi = x[rs1 + 1]!;
          const tlo = (blo + imm) | 0;
          const thi = (bhi + (imm >> 31) + ((tlo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0;
          x[rd2] = nLo; x[rd2 + 1] = nHi;
          nLo = tlo & ~1; nHi = thi;
          break;
        }
        case 24 /* 0x63 */: { // BRANCH
          const alo = x[rs1]!, ahi = x[rs1 + 1]!, blo = x[rs2]!, bhi = x[rs2 + 1]!;
          let taken: boolean;
          switch (f3) {
            case 0: taken = alo === blo && ahi === bhi; break;
            case 1: taken = alo !== blo || ahi !== bhi; break;
            case 4: taken = ahi !== bhi ? ahi < bhi : (alo >>> 0) < (blo >>> 0); break;
            case 5: taken = ahi !== bhi ? ahi > bhi : (alo >>> 0) >= (blo >>> 0); break;
            case 6: taken = ahi !== bhi ? (ahi >>> 0) < (bhi >>> 0) : (alo >>> 0) < (blo >>> 0); break;
            case 7: taken = ahi !== bhi ? (ahi >>> 0) > (bhi >>> 0) : (alo >>> 0) >= (blo >>> 0); break;
            default: this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i;
          }
          if (taken) {
            const imm = ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
            nLo = (pcLo + imm) | 0;
            nHi = (pcHi + (imm >> 31) + ((nLo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
          }
          break;
        }
        case 0 /* 0x03 */: { // LOAD
          const imm = insn >> 20;
          const blo = x[rs1]!, bhi = x[rs1 + 1]!;
          const alo = (blo + imm) | 0;
          const ahi = (bhi + (imm >> 31) + ((alo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0;
          const size = 1 << (f3 & 3);
          if (f3 === 7) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          const ti = FAST_SIZE + ((alo >>> 12) & (FAST_SIZE - 1));
          if (tagLo[ti] === (alo & (-4096 | (size - 1))) && tagHi[ti] === ahi) {
            const off = fbase[ti]! + (alo & 0xfff);
            switch (f3) {
              case 0: { const v = (ram8[off]! << 24) >> 24; x[rd2] = v; x[rd2 + 1] = v >> 31; break; }
              case 1: { const v = (ram16[off >>> 1]! << 16) >> 16; x[rd2] = v; x[rd2 + 1] = v >> 31; break; }
              case 2: { const v = ram32[off >>> 2]!; x[rd2] = v; x[rd2 + 1] = v >> 31; break; }
              case 3: x[rd2] = ram32[off >>> 2]!; x[rd2 + 1] = ram32[(off >>> 2) + 1]!; break;
              case 4: x[rd2] = ram8[off]!; x[rd2 + 1] = 0; break;
              case 5: x[rd2] = ram16[off >>> 1]!; x[rd2 + 1] = 0; break;
              default: x[rd2] = ram32[off >>> 2]!; x[rd2 + 1] = 0; break;
            }
          } else {
            this.pcLo = pcLo; this.pcHi = pcHi; 
            if (!this.readMem(alo, ahi, size)) return i;
            const v = this.vLo;
            switch (f3) {
              case 0: x[rd2] = (v << 24) >> 24; x[rd2 + 1] = v << 24 >> 31; break;
              case 1: x[rd2] = (v << 16) >> 16; x[rd2 + 1] = v << 16 >> 31; break;
              case 2: x[rd2] = v; x[rd2 + 1] = v >> 31; break;
              case 3: x[rd2] = v; x[rd2 + 1] = this.vHi; break;
              default: x[rd2] = v; x[rd2 + 1] = 0; break;
            }
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the CSR write just made (microsoft/TypeScript#9998)
            if (this.exitSlice) { this.pcLo = nLo; this.pcHi = nHi; return i; }
          }
          break;
        }
        case 8 /* 0x23 */: { // STORE
          if (f3 > 3) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 0x1f);
          const blo = x[rs1]!, bhi = x[rs1 + 1]!;
          const alo = (blo + imm) | 0;
          const ahi = (bhi + (imm >> 31) + ((alo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0;
          const size = 1 << f3;
          const ti = 2 * FAST_SIZE + ((alo >>> 12) & (FAST_SIZE - 1));
          if (tagLo[ti] === (alo & (-4096 | (size - 1))) && tagHi[ti] === ahi) {
            const off = fbase[ti]! + (alo & 0xfff);
            switch (f3) {
              case 0: ram8[off] = x[rs2]!; break;
              case 1: ram16[off >>> 1] = x[rs2]!; break;
              case 2: ram32[off >>> 2] = x[rs2]!; break;
              default: ram32[off >>> 2] = x[rs2]!; ram32[(off >>> 2) + 1] = x[rs2 + 1]!; break;
            }
          } else {
            this.pcLo = pcLo; this.pcHi = pcHi; 
            if (!this.writeMem(alo, ahi, size, x[rs2]!, x[rs2 + 1]!)) return i;
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the CSR write just made (microsoft/TypeScript#9998)
            if (this.exitSlice) { this.pcLo = nLo; this.pcHi = nHi; return i; }
          }
          break;
        }
        case 4 /* 0x13 */: { // OP-IMM (RV64I 2.4, Zbb, Zbs)
          const imm = insn >> 20;
          const alo = x[rs1]!, ahi = x[rs1 + 1]!;
          switch (f3) {
            case 0: { // ADDI
              const lo = (alo + imm) | 0;
              x[rd2 + 1] = (ahi + (imm >> 31) + ((lo >>> 0) < (alo >>> 0) ? 1 : 0)) | 0;
              x[rd2] = lo;
              break;
            }
            case 2: { const t = lt64(alo, ahi, imm, imm >> 31) ? 1 : 0; x[rd2] = t; x[rd2 + 1] = 0; break; }
            case 3: { const t = ltu64(alo, ahi, imm, imm >> 31) ? 1 : 0; x[rd2] = t; x[rd2 + 1] = 0; break; }
            case 4: x[rd2] = alo ^ imm; x[rd2 + 1] = ahi ^ (imm >> 31); break;
            case 6: x[rd2] = alo | imm; x[rd2 + 1] = ahi | (imm >> 31); break;
            case 7: x[rd2] = alo & imm; x[rd2 + 1] = ahi & (imm >> 31); break;
            case 1: {
              const f6 = insn >>> 26, sh = (insn >>> 20) & 63;
              if (f6 === 0) { // SLLI
                if (sh === 0) { x[rd2] = alo; x[rd2 + 1] = ahi; }
                else if (sh < 32) { x[rd2 + 1] = (ahi << sh) | (alo >>> (32 - sh)); x[rd2] = alo << sh; }
                else { x[rd2 + 1] = alo << (sh - 32); x[rd2] = 0; }
              } else if (!this.opImmZb1(insn, f6, sh, rd2, alo, ahi)) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
              break;
            }
            default: { // 5: SRLI / SRAI / Zbb
              const f6 = insn >>> 26, sh = (insn >>> 20) & 63;
              if (f6 === 0) { // SRLI
                if (sh === 0) { x[rd2] = alo; x[rd2 + 1] = ahi; }
                else if (sh < 32) { x[rd2] = (alo >>> sh) | (ahi << (32 - sh)); x[rd2 + 1] = ahi >>> sh; }
                else { x[rd2] = ahi >>> (sh - 32); x[rd2 + 1] = 0; }
              } else if (f6 === 0x10) { // SRAI
                if (sh === 0) { x[rd2] = alo; x[rd2 + 1] = ahi; }
                else if (sh < 32) { x[rd2] = (alo >>> sh) | (ahi << (32 - sh)); x[rd2 + 1] = ahi >> sh; }
                else { x[rd2] = ahi >> (sh - 32); x[rd2 + 1] = ahi >> 31; }
              } else if (!this.opImmZb5(insn, f6, sh, rd2, alo, ahi)) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
              break;
            }
          }
          break;
        }
        case 6 /* 0x1b */: { // OP-IMM-32
          const a = x[rs1]!;
          let v: number;
          if (f3 === 0) v = (a + (insn >> 20)) | 0;
          else if (f3 === 1) {
            const f7 = insn >>> 25, sh = (insn >>> 20) & 31;
            if (f7 === 0) v = a << sh;
            else if ((insn >>> 26) === 0x02) { // SLLI.UW (Zba)
              const s = (insn >>> 20) & 63;
              const lo = a, hi = 0;
              if (s === 0) { x[rd2] = lo; x[rd2 + 1] = hi; }
              else if (s < 32) { x[rd2 + 1] = lo >>> (32 - s); x[rd2] = lo << s; }
              else { x[rd2 + 1] = lo << (s - 32); x[rd2] = 0; }
              break;
            } else if (f7 === 0x30) { // CLZW CTZW CPOPW
              const which = (insn >>> 20) & 31;
              if (which === 0) v = Math.clz32(a);
              else if (which === 1) v = ctz32(a);
              else if (which === 2) v = popcnt32(a);
              else { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
            } else { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          } else if (f3 === 5) {
            const f7 = insn >>> 25, sh = (insn >>> 20) & 31;
            if (f7 === 0) v = a >>> sh;
            else if (f7 === 0x20) v = a >> sh;
            else if (f7 === 0x30) v = sh === 0 ? a : (a >>> sh) | (a << (32 - sh)); // RORIW
            else { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          } else { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          v |= 0;
          x[rd2] = v; x[rd2 + 1] = v >> 31;
          break;
        }
        case 12 /* 0x33 */: { // OP
          const f7 = insn >>> 25;
          const alo = x[rs1]!, ahi = x[rs1 + 1]!, blo = x[rs2]!, bhi = x[rs2 + 1]!;
          if (f7 === 0) {
            switch (f3) {
              case 0: {
                const lo = (alo + blo) | 0;
                x[rd2 + 1] = (ahi + bhi + ((lo >>> 0) < (alo >>> 0) ? 1 : 0)) | 0;
                x[rd2] = lo;
                break;
              }
              case 1: {
                const sh = blo & 63;
                if (sh === 0) { x[rd2] = alo; x[rd2 + 1] = ahi; }
                else if (sh < 32) { x[rd2 + 1] = (ahi << sh) | (alo >>> (32 - sh)); x[rd2] = alo << sh; }
                else { x[rd2 + 1] = alo << (sh - 32); x[rd2] = 0; }
                break;
              }
              case 2: { const t = lt64(alo, ahi, blo, bhi) ? 1 : 0; x[rd2] = t; x[rd2 + 1] = 0; break; }
              case 3: { const t = ltu64(alo, ahi, blo, bhi) ? 1 : 0; x[rd2] = t; x[rd2 + 1] = 0; break; }
              case 4: x[rd2] = alo ^ blo; x[rd2 + 1] = ahi ^ bhi; break;
              case 5: {
                const sh = blo & 63;
                if (sh === 0) { x[rd2] = alo; x[rd2 + 1] = ahi; }
                else if (sh < 32) { x[rd2] = (alo >>> sh) | (ahi << (32 - sh)); x[rd2 + 1] = ahi >>> sh; }
                else { x[rd2] = ahi >>> (sh - 32); x[rd2 + 1] = 0; }
                break;
              }
              case 6: x[rd2] = alo | blo; x[rd2 + 1] = ahi | bhi; break;
              default: x[rd2] = alo & blo; x[rd2 + 1] = ahi & bhi; break;
            }
          } else if (f7 === 0x20 && f3 === 0) { // SUB
            const lo = (alo - blo) | 0;
            x[rd2 + 1] = (ahi - bhi - ((alo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0;
            x[rd2] = lo;
          } else if (f7 === 0x20 && f3 === 5) { // SRA
            const sh = blo & 63;
            if (sh === 0) { x[rd2] = alo; x[rd2 + 1] = ahi; }
            else if (sh < 32) { x[rd2] = (alo >>> sh) | (ahi << (32 - sh)); x[rd2 + 1] = ahi >> sh; }
            else { x[rd2] = ahi >> (sh - 32); x[rd2 + 1] = ahi >> 31; }
          } else if (f7 === 1) {
            if (f3 === 0) this.mul64(rd2, alo, ahi, blo, bhi);
            else this.mulDiv(f3, rd2, rs1, rs2, alo, ahi, blo, bhi);
          } else if (!this.opZb(f7, f3, rd2, alo, ahi, blo, bhi)) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          break;
        }
        case 14 /* 0x3b */: { // OP-32
          const f7 = insn >>> 25;
          const a = x[rs1]!, b = x[rs2]!;
          let v: number;
          if (f7 === 0) {
            if (f3 === 0) v = a + b;
            else if (f3 === 1) v = a << (b & 31);
            else if (f3 === 5) v = a >>> (b & 31);
            else { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          } else if (f7 === 0x20) {
            if (f3 === 0) v = a - b;
            else if (f3 === 5) v = a >> (b & 31);
            else { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          } else if (f7 === 1) {
            switch (f3) {
              case 0: v = Math.imul(a, b); break;
              case 4: v = b === 0 ? -1 : (a === -0x80000000 && b === -1) ? a : (a / b); break;
              case 5: v = b === 0 ? -1 : (a >>> 0) / (b >>> 0); break;
              case 6: v = b === 0 ? a : (a === -0x80000000 && b === -1) ? 0 : a % b; break;
              case 7: v = b === 0 ? a : (a >>> 0) % (b >>> 0); break;
              default: this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i;
            }
          } else if (!this.op32Zb(f7, f3, rd2, rs2, a, b, x[rs1 + 1]!, x[rs2 + 1]!)) {
            this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i;
          } else break;
          v |= 0;
          x[rd2] = v; x[rd2 + 1] = v >> 31;
          break;
        }
        case 3 /* 0x0f */: // MISC-MEM: FENCE (a no-op on one in-order hart), FENCE.I (Zifencei; no decode cache to drop)
          if (f3 === 1) this.stats.fenceI++;
          else if (f3 === 0) { if (this.smp) fullFence(); }
          else if (f3 !== 0) { this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i; }
          break;
        case 28 /* 0x73 */: // SYSTEM
          this.pcLo = pcLo; this.pcHi = pcHi; 
          this.stepsBefore = i - 1;
          // CSR accesses that cannot change interrupt or translation state continue the slice;
          // everything else (xRET, ecall, sfence, wfi, sensitive CSR writes, traps) ends it.
          this.exitSlice = false;
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by system() (microsoft/TypeScript#9998)
          if (!this.system(insn, raw, nLo, nHi) || this.exitSlice) return i;
          break;
        case 11 /* 0x2f */: // AMO
          this.pcLo = pcLo; this.pcHi = pcHi; 
          if (!this.amo(insn, raw)) return i;
          break;
        case 1 /* 0x07 */: case 9 /* 0x27 */: // LOAD-FP / STORE-FP
          this.pcLo = pcLo; this.pcHi = pcHi; 
          if (!this.fpLoadStore(insn, raw)) return i;
          break;
        case 20 /* 0x53 */: case 16 /* 0x43 */: case 17 /* 0x47 */: case 18 /* 0x4b */: case 19 /* 0x4f */:
          if ((this.mstatus & C.MS_FS) === 0 || (this.virt !== 0 && this.vsFpOff()) || !executeFp(this, insn)) {
            this.pcLo = pcLo; this.pcHi = pcHi; this.illegal(raw); return i;
          }
          this.mstatus |= C.MS_FS; // FS = Dirty (3.1.6.6)
          if (this.virt !== 0) this.fpDirty();
          break;
        default:
          this.pcLo = pcLo; this.pcHi = pcHi;
          this.illegal(raw);
          return i;
      }
      // Instructions write rd unconditionally; x0 is restored after those that named it.
      if (rd2 === 0) { x[0] = 0; x[1] = 0; }
      pcLo = nLo;
      pcHi = nHi;
    }
    this.pcLo = pcLo;
    this.pcHi = pcHi;
    return i;
  }

  /** MUL: the low 64 bits of a 64x64 product, from 16-bit partial products (exact in doubles). */
  private mul64(rd2: number, alo: number, ahi: number, blo: number, bhi: number): void {
    const a0 = alo & 0xffff, a1 = alo >>> 16, b0 = blo & 0xffff, b1 = blo >>> 16;
    const mid = a0 * b1 + a1 * b0; // < 2^33: exact; `& 0xffff` keeps its low bits (ToInt32 is modular)
    const low = a0 * b0 + (mid & 0xffff) * 65536; // < 2^33
    const hiPart = a1 * b1 + Math.floor(mid / 65536) + (low >= TWO32 ? 1 : 0);
    this.x[rd2] = Math.imul(alo, blo);
    this.x[rd2 + 1] = (hiPart + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
  }

  /** MULH/MULHSU/MULHU/DIV/DIVU/REM/REMU (M extension, ch. 7); large 64-bit divisions use BigInt. */
  private mulDiv(f3: number, rd2: number, rs1: number, rs2: number, alo: number, ahi: number, blo: number, bhi: number): void {
    const x = this.x;
    // Fast path when both operands are small: signed int32 values (or non-negative ones for the
    // unsigned forms) divide exactly in doubles; -2^31 / -1 = 2^31 still fits in 64 bits.
    if (f3 >= 4 && blo !== 0 && ahi === (alo >> 31) && bhi === (blo >> 31) && ((f3 & 1) === 0 || (ahi === 0 && bhi === 0))) {
      const q = (f3 & 2) === 0 ? Math.trunc(alo / blo) : alo % blo;
      x[rd2] = q | 0; x[rd2 + 1] = q < 0 ? -1 : 0;
      return;
    }
    if (f3 < 4) { // MULH (1), MULHSU (2), MULHU (3): no BigInt (compilers emit MULHU for division by constants)
      mulhu64(alo, ahi, blo, bhi);
      let hlo = MUL_HLO, hhi = MUL_HHI;
      // Signed corrections (two's complement): subtract b if a < 0 (MULH, MULHSU), a if b < 0 (MULH).
      if (f3 !== 3 && ahi < 0) { const t = (hlo - blo) | 0; hhi = (hhi - bhi - ((hlo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0; hlo = t; }
      if (f3 === 1 && bhi < 0) { const t = (hlo - alo) | 0; hhi = (hhi - ahi - ((hlo >>> 0) < (alo >>> 0) ? 1 : 0)) | 0; hlo = t; }
      x[rd2] = hlo; x[rd2 + 1] = hhi;
      return;
    }
    // Operands below 2^52 in magnitude: floor(|a| / |b|) of two such doubles is exact (the true
    // quotient is at least 1/|b| away from the next integer, more than half an ulp), and so is
    // a - q*b. Covers most kernel divisions without BigInt.
    const unsigned = (f3 & 1) !== 0;
    if ((bhi | blo) !== 0 && (unsigned ? (ahi >>> 20) === 0 && (bhi >>> 20) === 0
      : (ahi >> 20) === (ahi >> 31) && (bhi >> 20) === (bhi >> 31))) {
      const a = ahi * TWO32 + (alo >>> 0), b = bhi * TWO32 + (blo >>> 0);
      let q = Math.floor(Math.abs(a) / Math.abs(b));
      if ((a < 0) !== (b < 0)) q = -q;
      const r = (f3 & 2) === 0 ? q : a - q * b;
      x[rd2] = r | 0;
      x[rd2 + 1] = Math.floor(r / TWO32) | 0;
      return;
    }
    const xb = this.xb;
    const a = xb[rs1 >>> 1]!, b = xb[rs2 >>> 1]!;
    let r: bigint;
    switch (f3) {
      case 4: r = b === 0n ? -1n : (a === -(1n << 63n) && b === -1n) ? a : a / b; break;
      case 5: r = b === 0n ? -1n : BigInt.asUintN(64, a) / BigInt.asUintN(64, b); break;
      case 6: r = b === 0n ? a : (a === -(1n << 63n) && b === -1n) ? 0n : a % b; break;
      default: r = b === 0n ? a : BigInt.asUintN(64, a) % BigInt.asUintN(64, b); break;
    }
    xb[rd2 >>> 1] = BigInt.asIntN(64, r);
  }

  /** OP-IMM funct3=1 extensions: Zbb CLZ/CTZ/CPOP/SEXT.B/SEXT.H, Zbs BCLRI/BSETI/BINVI. */
  private opImmZb1(insn: number, f6: number, sh: number, rd2: number, alo: number, ahi: number): boolean {
    const x = this.x;
    if ((insn >>> 20) >= 0x600 && (insn >>> 20) <= 0x605) {
      switch ((insn >>> 20) & 0xfff) {
        case 0x600: { const v = ahi !== 0 ? Math.clz32(ahi) : 32 + Math.clz32(alo); x[rd2] = v; x[rd2 + 1] = 0; return true; }
        case 0x601: { const v = alo !== 0 ? ctz32(alo) : 32 + ctz32(ahi); x[rd2] = v; x[rd2 + 1] = 0; return true; }
        case 0x602: { x[rd2] = popcnt32(alo) + popcnt32(ahi); x[rd2 + 1] = 0; return true; }
        case 0x604: { const v = (alo << 24) >> 24; x[rd2] = v; x[rd2 + 1] = v >> 31; return true; }
        case 0x605: { const v = (alo << 16) >> 16; x[rd2] = v; x[rd2 + 1] = v >> 31; return true; }
        default: return false;
      }
    }
    const m = 1 << (sh & 31), onHi = sh >= 32;
    switch (f6) {
      case 0x12: x[rd2] = onHi ? alo : alo & ~m; x[rd2 + 1] = onHi ? ahi & ~m : ahi; return true; // BCLRI
      case 0x0a: x[rd2] = onHi ? alo : alo | m; x[rd2 + 1] = onHi ? ahi | m : ahi; return true; // BSETI
      case 0x1a: x[rd2] = onHi ? alo : alo ^ m; x[rd2 + 1] = onHi ? ahi ^ m : ahi; return true; // BINVI
      default: return false;
    }
  }

  /** OP-IMM funct3=5 extensions: Zbb RORI, ORC.B, REV8; Zbs BEXTI. */
  private opImmZb5(insn: number, f6: number, sh: number, rd2: number, alo: number, ahi: number): boolean {
    const x = this.x;
    const imm12 = (insn >>> 20) & 0xfff;
    if (imm12 === 0x287) { x[rd2] = orcb32(alo); x[rd2 + 1] = orcb32(ahi); return true; }
    if (imm12 === 0x6b8) { x[rd2] = bswap32(ahi); x[rd2 + 1] = bswap32(alo); return true; }
    if (f6 === 0x18) { this.rotr(rd2, alo, ahi, sh); return true; }
    if (f6 === 0x12) { x[rd2] = ((sh >= 32 ? ahi : alo) >>> (sh & 31)) & 1; x[rd2 + 1] = 0; return true; }
    return false;
  }

  private rotr(rd2: number, lo: number, hi: number, s: number): void {
    const x = this.x;
    if (s >= 32) { const t = lo; lo = hi; hi = t; s -= 32; }
    if (s === 0) { x[rd2] = lo; x[rd2 + 1] = hi; return; }
    x[rd2] = (lo >>> s) | (hi << (32 - s));
    x[rd2 + 1] = (hi >>> s) | (lo << (32 - s));
  }

  /** OP with funct7 other than 0/0x20/1: Zba SHxADD, Zbb ANDN/ORN/XNOR/MIN/MAX/ROL/ROR, Zbs. */
  private opZb(f7: number, f3: number, rd2: number, alo: number, ahi: number, blo: number, bhi: number): boolean {
    const x = this.x;
    if (f7 === 0x10 && (f3 === 2 || f3 === 4 || f3 === 6)) { // SH1ADD SH2ADD SH3ADD
      const s = f3 >>> 1;
      const slo = alo << s, shi = (ahi << s) | (alo >>> (32 - s));
      const lo = (slo + blo) | 0;
      x[rd2 + 1] = (shi + bhi + ((lo >>> 0) < (slo >>> 0) ? 1 : 0)) | 0;
      x[rd2] = lo;
      return true;
    }
    if (f7 === 0x20) {
      if (f3 === 7) { x[rd2] = alo & ~blo; x[rd2 + 1] = ahi & ~bhi; return true; }
      if (f3 === 6) { x[rd2] = alo | ~blo; x[rd2 + 1] = ahi | ~bhi; return true; }
      if (f3 === 4) { x[rd2] = ~(alo ^ blo); x[rd2 + 1] = ~(ahi ^ bhi); return true; }
      return false;
    }
    if (f7 === 0x05) {
      let pickA: boolean;
      switch (f3) {
        case 4: pickA = lt64(alo, ahi, blo, bhi); break; // MIN
        case 5: pickA = ltu64(alo, ahi, blo, bhi); break; // MINU
        case 6: pickA = !lt64(alo, ahi, blo, bhi); break; // MAX
        case 7: pickA = !ltu64(alo, ahi, blo, bhi); break; // MAXU
        default: return false;
      }
      x[rd2] = pickA ? alo : blo; x[rd2 + 1] = pickA ? ahi : bhi;
      return true;
    }
    if (f7 === 0x30) {
      const s = blo & 63;
      if (f3 === 1) { this.rotr(rd2, alo, ahi, (64 - s) & 63); return true; } // ROL
      if (f3 === 5) { this.rotr(rd2, alo, ahi, s); return true; } // ROR
      return false;
    }
    const s = blo & 63, m = 1 << (s & 31), onHi = s >= 32;
    if (f7 === 0x24 && f3 === 1) { x[rd2] = onHi ? alo : alo & ~m; x[rd2 + 1] = onHi ? ahi & ~m : ahi; return true; } // BCLR
    if (f7 === 0x24 && f3 === 5) { x[rd2] = ((onHi ? ahi : alo) >>> (s & 31)) & 1; x[rd2 + 1] = 0; return true; } // BEXT
    if (f7 === 0x14 && f3 === 1) { x[rd2] = onHi ? alo : alo | m; x[rd2 + 1] = onHi ? ahi | m : ahi; return true; } // BSET
    if (f7 === 0x34 && f3 === 1) { x[rd2] = onHi ? alo : alo ^ m; x[rd2 + 1] = onHi ? ahi ^ m : ahi; return true; } // BINV
    return false;
  }

  /** OP-32 extensions: Zba ADD.UW/SHxADD.UW, Zbb ZEXT.H/ROLW/RORW. Writes rd itself. */
  private op32Zb(f7: number, f3: number, rd2: number, rs2: number, a: number, b: number, _ahi: number, bhi: number): boolean {
    const x = this.x;
    if ((f7 === 0x04 && f3 === 0) || (f7 === 0x10 && (f3 === 2 || f3 === 4 || f3 === 6))) {
      const s = f7 === 0x04 ? 0 : f3 >>> 1;
      const slo = a << s, shi = s === 0 ? 0 : a >>> (32 - s); // zext32(a) << s
      const lo = (slo + b) | 0;
      x[rd2 + 1] = (shi + bhi + ((lo >>> 0) < (slo >>> 0) ? 1 : 0)) | 0;
      x[rd2] = lo;
      return true;
    }
    if (f7 === 0x04 && f3 === 4 && rs2 === 0) { x[rd2] = a & 0xffff; x[rd2 + 1] = 0; return true; } // ZEXT.H
    if (f7 === 0x30 && (f3 === 1 || f3 === 5)) {
      let s = b & 31;
      if (f3 === 1) s = (32 - s) & 31;
      const v = s === 0 ? a : ((a >>> s) | (a << (32 - s))) | 0;
      x[rd2] = v; x[rd2 + 1] = v >> 31;
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- A extension

  /** LR/SC/AMO (Unprivileged ISA ch. 8). Returns false after raising an exception. */
  private amo(insn: number, raw: number): boolean {
    const f3 = (insn >>> 12) & 7;
    const f5 = insn >>> 27;
    const rd2 = (insn >>> 6) & 62, rs1 = (insn >>> 14) & 62, rs2 = (insn >>> 19) & 62;
    if (f3 !== 2 && f3 !== 3) { this.illegal(raw); return false; }
    const size = f3 === 2 ? 4 : 8;
    const isLr = f5 === 2, isSc = f5 === 3;
    if (isLr && rs2 !== 0) { this.illegal(raw); return false; }
    if (!isLr && !isSc && f5 !== 0 && f5 !== 1 && f5 !== 4 && f5 !== 8 && f5 !== 12 && f5 !== 16 && f5 !== 20 && f5 !== 24 && f5 !== 28) {
      this.illegal(raw); return false;
    }
    const x = this.x;
    const alo = x[rs1]!, ahi = x[rs1 + 1]!;
    if ((alo & (size - 1)) !== 0) {
      this.raise(isLr ? Cause.LoadMisaligned : Cause.StoreMisaligned, alo, ahi);
      return false;
    }
    const pa = this.xlate(alo, ahi, isLr ? Access.Load : Access.Store);
    if (pa < 0) return false;
    const off = pa - this.memBase;
    if (off < 0 || off + size > this.memSize) {
      this.raise(isLr ? Cause.LoadAccessFault : Cause.StoreAccessFault, alo, ahi);
      return false;
    }
    // Remember the translation like a load or store does, so the binary translator's store mirror
    // (which copies this cache) lets the next AMO to the page run in translated code, and its LR/SC
    // fast path (lrscInstruction) finds the page.
    this.fillFast(isLr ? Access.Load : Access.Store, alo, ahi, off - (off & 0xfff));
    if (this.smp) return this.amoShared(off, size, f5, pa, rd2, rs2);
    const w = off >>> 2;
    const ram = this.ram32;
    const olo = ram[w]!, ohi = size === 8 ? ram[w + 1]! : olo >> 31;
    if (isLr) {
      this.resValid = true;
      this.resAddr = pa;
      x[rd2] = olo; x[rd2 + 1] = ohi;
      return true;
    }
    const blo = x[rs2]!, bhi = size === 8 ? x[rs2 + 1]! : blo >> 31;
    if (isSc) {
      const ok = this.resValid && this.resAddr === pa;
      this.resValid = false;
      if (ok) {
        ram[w] = blo;
        if (size === 8) ram[w + 1] = bhi;
        if (this.codePages !== undefined) this.codeWritten(off);
      }
      x[rd2] = ok ? 0 : 1; x[rd2 + 1] = 0;
      return true;
    }
    let nlo: number, nhi: number;
    switch (f5) {
      case 1: nlo = blo; nhi = bhi; break; // SWAP
      case 0: nlo = (olo + blo) | 0; nhi = (ohi + bhi + ((nlo >>> 0) < (olo >>> 0) ? 1 : 0)) | 0; break; // ADD
      case 4: nlo = olo ^ blo; nhi = ohi ^ bhi; break;
      case 12: nlo = olo & blo; nhi = ohi & bhi; break;
      case 8: nlo = olo | blo; nhi = ohi | bhi; break;
      case 16: { const a = lt64(olo, ohi, blo, bhi); nlo = a ? olo : blo; nhi = a ? ohi : bhi; break; } // MIN
      case 20: { const a = !lt64(olo, ohi, blo, bhi); nlo = a ? olo : blo; nhi = a ? ohi : bhi; break; } // MAX
      case 24: { // MINU (for .W compare the 32-bit values unsigned)
        const a = size === 4 ? (olo >>> 0) < (blo >>> 0) : ltu64(olo, ohi, blo, bhi);
        nlo = a ? olo : blo; nhi = a ? ohi : bhi; break;
      }
      default: { // MAXU
        const a = size === 4 ? (olo >>> 0) >= (blo >>> 0) : !ltu64(olo, ohi, blo, bhi);
        nlo = a ? olo : blo; nhi = a ? ohi : bhi; break;
      }
    }
    ram[w] = nlo;
    if (size === 8) ram[w + 1] = nhi;
    if (this.codePages !== undefined) this.codeWritten(off);
    x[rd2] = olo; x[rd2 + 1] = ohi;
    return true;
  }

  /** amo() on memory other threads write: host atomics (SharedAtomics.ts). */
  private amoShared(off: number, size: number, f5: number, pa: number, rd2: number, rs2: number): boolean {
    const x = this.x;
    if (f5 === 2) { // LR: remember the value; SC succeeds only if memory still holds it
      if (size === 4) { this.resLo = Atomics.load(this.ram32, off >>> 2); this.resHi = this.resLo >> 31; }
      else { load64(this.ram32, off); this.resLo = A_LO; this.resHi = A_HI; }
      this.resValid = true;
      this.resAddr = pa;
      x[rd2] = this.resLo; x[rd2 + 1] = this.resHi;
      return true;
    }
    const blo = x[rs2]!, bhi = size === 8 ? x[rs2 + 1]! : blo >> 31;
    if (f5 === 3) {
      const ok = this.resValid && this.resAddr === pa && cas(this.ram32, off, size, this.resLo, this.resHi, blo, bhi);
      this.resValid = false;
      if (ok && this.codePages !== undefined) this.codeWritten(off);
      x[rd2] = ok ? 0 : 1; x[rd2 + 1] = 0;
      return true;
    }
    amo(this.ram32, off, size, f5, blo, bhi);
    if (this.codePages !== undefined) this.codeWritten(off);
    x[rd2] = A_LO; x[rd2 + 1] = A_HI;
    return true;
  }

  // ---------------------------------------------------------------- F/D loads and stores

  /** FLW/FLD/FSW/FSD (Unprivileged ISA 11.5, 12.3). FS = Off makes them illegal (Privileged 3.1.6.6). */
  private fpLoadStore(insn: number, raw: number): boolean {
    const f3 = (insn >>> 12) & 7;
    if ((this.mstatus & C.MS_FS) === 0 || this.vsFpOff() || (f3 !== 2 && f3 !== 3)) { this.illegal(raw); return false; }
    const size = f3 === 2 ? 4 : 8;
    const x = this.x, fi = this.fi;
    const rs1 = (insn >>> 14) & 62;
    const store = (insn & 0x7f) === 0x27;
    const imm = store ? ((insn >> 25) << 5) | ((insn >>> 7) & 0x1f) : insn >> 20;
    const blo = x[rs1]!, bhi = x[rs1 + 1]!;
    const alo = (blo + imm) | 0;
    const ahi = (bhi + (imm >> 31) + ((alo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0;
    if (store) {
      const r = (insn >>> 19) & 62;
      return this.writeMem(alo, ahi, size, fi[r]!, fi[r + 1]!);
    }
    if (!this.readMem(alo, ahi, size)) return false;
    const r = (insn >>> 6) & 62;
    fi[r] = this.vLo;
    fi[r + 1] = size === 4 ? -1 : this.vHi; // NaN-boxing (12.2)
    this.fpDirty();
    return true;
  }

  // ---------------------------------------------------------------- SYSTEM

  /** Executes a SYSTEM instruction; true if it was a CSR access that completed (the slice may go on). */
  private system(insn: number, raw: number, nLo: number, nHi: number): boolean {
    const f3 = (insn >>> 12) & 7;
    if (f3 === 0) {
      this.privileged(insn, raw, nLo, nHi);
      return false;
    }
    if (f3 === 4) {
      if (this.hyp !== undefined) this.hyp.loadStore(insn, raw, nLo, nHi); // HLV/HLVX/HSV (8.3.1)
      else this.illegal(raw);
      return false;
    }
    this.stats.csrAccesses++;
    if (!this.zicsr(insn)) { this.raise(this.csrFault, raw, 0); return false; }
    this.pcLo = nLo; this.pcHi = nHi;
    return true;
  }

  /**
   * A Zicsr instruction for an engine's fast path (docs/DBT.md "Session 7: exits"): the interpreter's
   * own access (zicsr), without pc or instret; false, with nothing changed, when V = 1 or it would
   * raise an exception (the engine then steps it in the interpreter, which raises it).
   */
  csrInstruction(insn: number): boolean {
    if (this.virt !== 0 || !this.zicsr(insn)) return false;
    this.stats.csrAccesses++;
    return true;
  }

  /**
   * LR.W/D or SC.W/D for an engine's fast path (docs/DBT.md "Session 7: exits"): the interpreter's own
   * amo(), reservation included (Unprivileged ISA 8.2), when it cannot trap: aligned, and the page is
   * in the fast cache for the access (so the translation succeeds; a code page never is for stores).
   * False, with nothing changed, otherwise (the engine then steps it in the interpreter). Not for
   * harts that share memory with other threads (their reservations use host atomics).
   */
  lrscInstruction(insn: number): boolean {
    const f3 = (insn >>> 12) & 7, f5 = insn >>> 27;
    if (this.smp || (f3 !== 2 && f3 !== 3) || (f5 !== 2 && f5 !== 3) || (f5 === 2 && ((insn >>> 20) & 31) !== 0)) return false;
    const rs1 = (insn >>> 14) & 62;
    const lo = this.x[rs1]!, hi = this.x[rs1 + 1]!;
    const i = (f5 === 2 ? Access.Load : Access.Store) * FAST_SIZE + ((lo >>> 12) & (FAST_SIZE - 1));
    if ((lo & (f3 === 2 ? 3 : 7)) !== 0 || this.fastTagLo[i] !== (lo & ~0xfff) || this.fastTagHi[i] !== hi) return false;
    return this.amo(insn, insn);
  }

  /** Zicsr (Unprivileged ch. 9; permissions Privileged 2.1); false: raise csrFault (nothing changed). */
  private zicsr(insn: number): boolean {
    const f3 = (insn >>> 12) & 7;
    let n = insn >>> 20;
    const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31;
    const write = (f3 & 3) === 1 || rs1 !== 0;
    this.csrFault = Cause.IllegalInsn;
    if (this.hyp !== undefined) {
      n = this.hyp.csrAccess(n, write); // H privilege rules and the S -> VS redirection when V=1
      if (n < 0) return false; // csrFault: illegal or virtual instruction, set by the H rules
    } else if (((n >>> 8) & 3) > this.priv || (write && (n >>> 10) === 3)) return false;
    if (!this.csrRead(n)) return false;
    const oldLo = this.cLo, oldHi = this.cHi;
    if (write) {
      let sLo: number, sHi: number;
      if (f3 & 4) { sLo = rs1; sHi = 0; } else { sLo = this.x[2 * rs1]!; sHi = this.x[2 * rs1 + 1]!; }
      // mip: only the software-writable SEIP/STIP bits take part in CSRRS/CSRRC, not the interrupt
      // controller's line or Sstc's timer (Privileged ISA 3.1.9): else setting SSIP (OpenSBI's IPI)
      // while a device interrupt is pending would latch SEIP on for good.
      const baseLo = n === C.CSR_MIP ? (oldLo & ~MIP_LINE_BITS) | (this.mipSw & MIP_LINE_BITS) : oldLo;
      let vLo: number, vHi: number;
      switch (f3 & 3) {
        case 1: vLo = sLo; vHi = sHi; break;
        case 2: vLo = baseLo | sLo; vHi = oldHi | sHi; break;
        default: vLo = baseLo & ~sLo; vHi = oldHi & ~sHi; break;
      }
      if (!this.csrWrite(n, vLo, vHi)) return false;
    }
    if (rd !== 0) { this.x[2 * rd] = oldLo; this.x[2 * rd + 1] = oldHi; }
    return true;
  }

  private privileged(insn: number, raw: number, nLo: number, nHi: number): void {
    if (this.hyp !== undefined && this.hyp.privileged(insn, raw, nLo, nHi)) return;
    const p = this.priv;
    const ms = this.mstatus;
    if ((insn >>> 25) === 0x09 && ((insn >>> 7) & 31) === 0) { // SFENCE.VMA (4.2.1)
      if (p === PRIV_U || (p === PRIV_S && (ms & C.MS_TVM) !== 0)) { this.illegal(raw); return; }
      this.stats.sfenceVma++;
      const rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31;
      this.mmu.sfence(rs1 !== 0, this.x[2 * rs1]!, this.x[2 * rs1 + 1]!, rs2 !== 0, this.x[2 * rs2]!);
      if (rs1 !== 0) this.sfencePage(this.x[2 * rs1]!, this.x[2 * rs1 + 1]!);
      else this.flushFast();
      this.pcLo = nLo; this.pcHi = nHi;
      return;
    }
    switch (insn) {
      case 0x00000073: // ECALL
        this.raise(Cause.EcallU + p + (this.virt & p), 0, 0); // 8 U/VU, 9 HS, 10 VS, 11 M
        return;
      case 0x00100073: // EBREAK: tval = pc
        this.raise(Cause.Breakpoint, this.pcLo, this.pcHi);
        return;
      case 0x30200073: { // MRET (3.3.2)
        if (p !== PRIV_M) { this.illegal(raw); return; }
        this.stats.mret++;
        const mpp = (ms >>> C.MS_MPP_SHIFT) & 3;
        let n = (ms & ~(C.MS_MIE | C.MS_MPP)) | C.MS_MPIE | ((ms & C.MS_MPIE) !== 0 ? C.MS_MIE : 0);
        if (mpp !== PRIV_M) n &= ~C.MS_MPRV;
        this.mstatus = n;
        this.privLevel = mpp;
        this.pcLo = this.csr[2 * C.CSR_MEPC]! & ~1;
        this.pcHi = this.csr[2 * C.CSR_MEPC + 1]!;
        this.resValid = false;
        if (mpp !== PRIV_M || (n & C.MS_MPRV) !== 0) this.flushFast();
        return;
      }
      case 0x10200073: { // SRET (3.3.2, TSR 3.1.6.5)
        if (p === PRIV_U || (p === PRIV_S && (ms & C.MS_TSR) !== 0)) { this.illegal(raw); return; }
        this.stats.sret++;
        const spp = (ms & C.MS_SPP) !== 0 ? PRIV_S : PRIV_U;
        this.mstatus = (ms & ~(C.MS_SIE | C.MS_SPP | C.MS_MPRV)) | C.MS_SPIE | ((ms & C.MS_SPIE) !== 0 ? C.MS_SIE : 0);
        this.privLevel = spp;
        this.pcLo = this.csr[2 * C.CSR_SEPC]! & ~1;
        this.pcHi = this.csr[2 * C.CSR_SEPC + 1]!;
        this.resValid = false;
        if (spp !== p) this.flushFastForPrivilege(p);
        return;
      }
      case 0x10500073: { // WFI (3.3.3)
        if (p === PRIV_U || (p === PRIV_S && (ms & C.MS_TW) !== 0)) { this.illegal(raw); return; }
        this.stats.wfi++;
        this.pcLo = nLo; this.pcHi = nHi;
        this.updateTimer();
        if (this.pendingInterrupts() === 0 && this.exitReason < 0) this.exitReason = ExitReason.Wfi;
        return;
      }
      default:
        this.illegal(raw);
    }
  }

  // ---------------------------------------------------------------- CSRs

  /** Result of csrRead(). */
  /** @internal */
  cLo = 0;
  /** @internal */
  cHi = 0;

  private currentInstret(): number {
    return this.instret + this.stepsBefore - this.sliceTraps;
  }

  /** Counter access allowed by mcounteren/scounteren (Privileged 3.1.11, 4.1.5)? */
  private counterOk(bitNo: number): boolean {
    if (this.priv === PRIV_M) return true;
    if (((this.csr[2 * C.CSR_MCOUNTEREN]! >>> bitNo) & 1) === 0) return false;
    if (this.virt !== 0) return this.hyp!.counterAllowedV(bitNo); // hcounteren/scounteren: virtual instruction (8.2.6)
    if (this.priv === PRIV_U && ((this.csr[2 * C.CSR_SCOUNTEREN]! >>> bitNo) & 1) === 0) return false;
    return true;
  }

  private setC(v: number): void {
    this.cLo = v | 0;
    this.cHi = Math.floor(v / TWO32) | 0;
  }

  /** Reads CSR n into cLo/cHi; false if it does not exist or is not accessible now (illegal instruction). */
  private csrRead(n: number): boolean {
    const csr = this.csr;
    switch (n) {
      case C.CSR_FFLAGS: case C.CSR_FRM: case C.CSR_FCSR:
        if ((this.mstatus & C.MS_FS) === 0 || this.vsFpOff()) return false;
        this.cHi = 0;
        this.cLo = n === C.CSR_FFLAGS ? this.fflags : n === C.CSR_FRM ? this.frm : (this.frm << 5) | this.fflags;
        return true;
      case C.CSR_CYCLE: if (!this.counterOk(0)) return false; this.setC(this.currentInstret() + this.cycleDelta); return true;
      case C.CSR_TIME:
        if (!this.counterOk(1)) return false;
        if (this.virt !== 0) this.hyp!.readTimeV(this.timer.now()); else this.setC(this.timer.now());
        return true;
      case C.CSR_INSTRET: if (!this.counterOk(2)) return false; this.setC(this.currentInstret()); return true;
      case C.CSR_MCYCLE: this.setC(this.currentInstret() + this.cycleDelta); return true;
      case C.CSR_MINSTRET: this.setC(this.currentInstret()); return true;
      case C.CSR_SSTATUS: {
        const ms = this.mstatus;
        this.cLo = ms & C.SSTATUS_MASK;
        this.cHi = 2 | ((ms & C.MS_FS) === C.MS_FS ? 0x80000000 | 0 : 0); // UXL = 2, SD
        return true;
      }
      case C.CSR_MSTATUS: {
        const ms = this.mstatus;
        this.cLo = ms;
        this.cHi = C.MSTATUS_HI | ((ms & C.MS_FS) === C.MS_FS ? 0x80000000 | 0 : 0) | (this.hyp !== undefined ? this.hyp.mstatusHi : 0);
        return true;
      }
      // sie/sip show the S-level bits only (VS-level ones are in hie/hip, 8.2.3).
      case C.CSR_SIE: this.cLo = csr[2 * C.CSR_MIE]! & csr[2 * C.CSR_MIDELEG]! & C.MIDELEG_MASK; this.cHi = 0; return true;
      case C.CSR_SIP: this.cLo = this.mipValue() & csr[2 * C.CSR_MIDELEG]! & C.MIDELEG_MASK; this.cHi = 0; return true;
      case C.CSR_MIP: this.cLo = this.mipValue(); this.cHi = 0; return true;
      case C.CSR_STIMECMP:
        if (this.priv === PRIV_S && (!this.sstcEnabled() || ((csr[2 * C.CSR_MCOUNTEREN]! >>> 1) & 1) === 0)) return false;
        if (this.stimecmpN === Number.POSITIVE_INFINITY) { this.cLo = -1; this.cHi = -1; } else this.setC(this.stimecmpN);
        return true;
      case C.CSR_SATP:
        if (this.priv === PRIV_S && (this.mstatus & C.MS_TVM) !== 0) return false;
        this.cLo = csr[2 * n]!; this.cHi = csr[2 * n + 1]!;
        return true;
      case C.CSR_MISA: this.cLo = C.MISA_LO | (this.hyp !== undefined ? C.MISA_H : 0); this.cHi = C.MISA_HI; return true;
      case C.CSR_MHARTID: this.cLo = this.hartId; this.cHi = 0; return true;
      case C.CSR_MVENDORID: case C.CSR_MARCHID: case C.CSR_MIMPID: case C.CSR_MCONFIGPTR:
        this.cLo = 0; this.cHi = 0; return true;
      case C.CSR_STVEC: case C.CSR_SCOUNTEREN: case C.CSR_SENVCFG: case C.CSR_SSCRATCH: case C.CSR_SEPC:
      case C.CSR_SCAUSE: case C.CSR_STVAL: case C.CSR_MEDELEG: case C.CSR_MIDELEG: case C.CSR_MIE:
      case C.CSR_MTVEC: case C.CSR_MCOUNTEREN: case C.CSR_MENVCFG: case C.CSR_MCOUNTINHIBIT:
      case C.CSR_MSCRATCH: case C.CSR_MEPC: case C.CSR_MCAUSE: case C.CSR_MTVAL: case C.CSR_MSECCFG:
        this.cLo = csr[2 * n]!; this.cHi = csr[2 * n + 1]!;
        return true;
      default:
        if (n >= C.CSR_HPMCOUNTER3 && n <= C.CSR_HPMCOUNTER31) {
          if (!this.counterOk(n - C.CSR_CYCLE)) return false;
          this.cLo = 0; this.cHi = 0; return true;
        }
        if ((n >= C.CSR_MHPMCOUNTER3 && n <= C.CSR_MHPMCOUNTER31) || (n >= C.CSR_MHPMEVENT3 && n <= C.CSR_MHPMEVENT31)) {
          this.cLo = 0; this.cHi = 0; return true;
        }
        if (n >= C.CSR_PMPCFG0 && n <= C.CSR_PMPCFG15) {
          if (n & 1) return false; // RV64: odd pmpcfg registers do not exist (3.7.1)
          this.cLo = csr[2 * n]!; this.cHi = csr[2 * n + 1]!; return true;
        }
        if (n >= C.CSR_PMPADDR0 && n <= C.CSR_PMPADDR63) { this.cLo = csr[2 * n]!; this.cHi = csr[2 * n + 1]!; return true; }
        if (n >= C.CSR_TSELECT && n <= C.CSR_MCONTEXT) {
          if (!this.triggers.read(n)) return false;
          this.cLo = this.triggers.lo; this.cHi = this.triggers.hi; return true;
        }
        return this.hyp !== undefined && this.hyp.read(n);
    }
  }

  /** Writes CSR n (WARL legalisation per field); false = illegal instruction. Ends the slice. */
  private csrWrite(n: number, lo: number, hi: number): boolean {
    const csr = this.csr;
    switch (n) {
      case C.CSR_MSTATUS: case C.CSR_SSTATUS: case C.CSR_MIE: case C.CSR_SIE: case C.CSR_MIP: case C.CSR_SIP:
      case C.CSR_MIDELEG: case C.CSR_SATP: case C.CSR_MENVCFG: case C.CSR_STIMECMP: case C.CSR_MCYCLE: case C.CSR_MINSTRET:
        // These change which interrupts are pending/enabled, the translation, or the instret
        // bookkeeping: end the slice so the run loop re-evaluates.
        this.exitSlice = true;
        break;
      default:
        break;
    }
    switch (n) {
      case C.CSR_FFLAGS: this.fflags = lo & 0x1f; this.fpDirty(); return true;
      case C.CSR_FRM: this.frm = lo & 7; this.fpDirty(); return true;
      case C.CSR_FCSR: this.fflags = lo & 0x1f; this.frm = (lo >>> 5) & 7; this.fpDirty(); return true;
      case C.CSR_MSTATUS:
        if (this.hyp !== undefined) {
          const mpvWas = this.hyp.mstatusHi & C.MSH_MPV;
          this.hyp.mstatusHi = hi & (C.MSH_MPV | C.MSH_GVA);
          if ((this.hyp.mstatusHi & C.MSH_MPV) !== mpvWas) this.flushFast(); // MPRV translations follow MPV
        }
        this.setMstatus((this.mstatus & ~C.MSTATUS_WMASK) | (lo & C.MSTATUS_WMASK));
        return true;
      case C.CSR_SSTATUS: this.setMstatus((this.mstatus & ~C.SSTATUS_WMASK) | (lo & C.SSTATUS_WMASK)); return true;
      case C.CSR_MISA: case C.CSR_MHARTID: case C.CSR_MVENDORID: case C.CSR_MARCHID: case C.CSR_MIMPID: case C.CSR_MCONFIGPTR:
        return true; // misa is WARL and we keep every extension on; the ID CSRs are read-only (caught earlier)
      case C.CSR_MEDELEG: csr[2 * n] = lo & (this.hyp !== undefined ? C.MEDELEG_MASK_H : C.MEDELEG_MASK); return true;
      case C.CSR_MIDELEG: csr[2 * n] = (lo & C.MIDELEG_MASK) | (this.hyp !== undefined ? C.MIDELEG_H_RO1 : 0); return true;
      case C.CSR_MIE: csr[2 * n] = lo & (this.hyp !== undefined ? C.MIE_MASK | C.HIE_MASK : C.MIE_MASK); return true;
      case C.CSR_SIE: {
        const d = csr[2 * C.CSR_MIDELEG]! & C.MIDELEG_MASK;
        csr[2 * C.CSR_MIE] = (csr[2 * C.CSR_MIE]! & ~d) | (lo & d);
        return true;
      }
      case C.CSR_MIP: { // with H, mip.VSSIP is writable too (an alias of hvip.VSSIP, 8.4.3)
        const m = this.hyp !== undefined ? C.MIP_WMASK | (1 << Irq.VSSI) : C.MIP_WMASK;
        this.mipSw = (this.mipSw & ~m) | (lo & m);
        return true;
      }
      case C.CSR_SIP: { // only SSIP is writable through sip (4.1.3), and only when delegated
        const m = csr[2 * C.CSR_MIDELEG]! & (1 << Irq.SSI);
        this.mipSw = (this.mipSw & ~m) | (lo & m);
        return true;
      }
      case C.CSR_MTVEC: case C.CSR_STVEC:
        // WARL: MODE 0 (direct) or 1 (vectored); reserved modes >= 2 fall back to direct.
        csr[2 * n] = (lo & 3) >= 2 ? lo & ~3 : lo; csr[2 * n + 1] = hi;
        return true;
      case C.CSR_MEPC: case C.CSR_SEPC: csr[2 * n] = lo & ~1; csr[2 * n + 1] = hi; return true;
      case C.CSR_MCOUNTEREN: case C.CSR_SCOUNTEREN: csr[2 * n] = lo; csr[2 * n + 1] = 0; return true;
      case C.CSR_MCOUNTINHIBIT: csr[2 * n] = lo & 5; return true;
      case C.CSR_MENVCFG: // FIOM (bit 0) and STCE (bit 63); PBMTE/CBIE/CBCFE/CBZE are read-only 0
        csr[2 * n] = lo & 1; csr[2 * n + 1] = hi & C.MENVCFG_STCE_HI;
        return true;
      case C.CSR_SENVCFG: csr[2 * n] = lo & 1; csr[2 * n + 1] = 0; return true;
      case C.CSR_MSECCFG: csr[2 * n] = 0; csr[2 * n + 1] = 0; return true; // no Smepmp: read-only 0
      case C.CSR_SSCRATCH: case C.CSR_SCAUSE: case C.CSR_STVAL: case C.CSR_MSCRATCH: case C.CSR_MCAUSE: case C.CSR_MTVAL:
        csr[2 * n] = lo; csr[2 * n + 1] = hi;
        return true;
      case C.CSR_STIMECMP:
        if (this.priv === PRIV_S && (!this.sstcEnabled() || ((csr[2 * C.CSR_MCOUNTEREN]! >>> 1) & 1) === 0)) return false;
        this.stimecmpN = (hi >>> 0) * TWO32 + (lo >>> 0);
        return true;
      case C.CSR_SATP: {
        if (this.priv === PRIV_S && (this.mstatus & C.MS_TVM) !== 0) return false;
        const mode = hi >>> 28;
        // Unsupported modes: the write has no effect (4.1.11). ASID is 16 bits, PPN 44 bits.
        if (mode !== SATP_MODE_BARE && (mode < SATP_MODE_SV39 || mode > SATP_MODE_SV57)) return true;
        csr[2 * n] = lo; csr[2 * n + 1] = hi;
        this.flushFast();
        return true;
      }
      case C.CSR_MCYCLE: this.cycleDelta = (hi >>> 0) * TWO32 + (lo >>> 0) - this.currentInstret() - 1; return true;
      case C.CSR_MINSTRET:
        // The write replaces this instruction's increment (Unprivileged 9.1): after it, instret = value.
        this.instret = (hi >>> 0) * TWO32 + (lo >>> 0) - this.stepsBefore - 1 + this.sliceTraps;
        return true;
      default:
        if ((n >= C.CSR_MHPMCOUNTER3 && n <= C.CSR_MHPMCOUNTER31) || (n >= C.CSR_MHPMEVENT3 && n <= C.CSR_MHPMEVENT31)) return true;
        if (n >= C.CSR_PMPCFG0 && n <= C.CSR_PMPCFG15) {
          if (n & 1) return false;
          csr[2 * n] = lo; csr[2 * n + 1] = hi;
          return true;
        }
        if (n >= C.CSR_PMPADDR0 && n <= C.CSR_PMPADDR63) {
          csr[2 * n] = lo; csr[2 * n + 1] = hi & 0x3fffff; // pmpaddr holds bits 55:2
          return true;
        }
        if (n >= C.CSR_TSELECT && n <= C.CSR_MCONTEXT) {
          this.flushFast(); // an armed load/store trigger keeps the fast caches empty
          this.exitSlice = true;
          return this.triggers.write(n, lo, hi);
        }
        return this.hyp !== undefined && this.hyp.write(n, lo, hi);
    }
  }

  /**
   * Whether a debug trigger fires for `kind` at (hi:lo) in the current mode. Without tcontrol, the
   * reentrancy rule of Sdtrig 5.4 applies: no match in M-mode while mstatus.MIE = 0, nor in
   * S-mode (VS-mode) while SIE (vsstatus.SIE) = 0 when breakpoints are delegated there.
   */
  private triggerHit(kind: number, lo: number, hi: number): boolean {
    const p = this.privLevel, ms = this.mstatus;
    const toS = (this.csr[2 * C.CSR_MEDELEG]! & (1 << Cause.Breakpoint)) !== 0;
    let mode: number;
    if (p === PRIV_M) {
      if ((ms & C.MS_MIE) === 0) return false;
      mode = TRIG_M;
    } else if (p === PRIV_S) {
      if (this.virt !== 0) {
        if (toS && (this.csr[2 * C.CSR_HEDELEG]! & (1 << Cause.Breakpoint)) !== 0 && (this.hyp!.vsstatus & C.MS_SIE) === 0) return false;
        mode = TRIG_VS;
      } else {
        if (toS && (ms & C.MS_SIE) === 0) return false;
        mode = TRIG_S;
      }
    } else mode = this.virt !== 0 ? TRIG_VU : TRIG_U;
    return this.triggers.hit(kind, lo, hi, mode);
  }

  /** With V=1, vsstatus.FS = Off makes FP instructions illegal as well (8.2.11). */
  private vsFpOff(): boolean {
    return this.virt !== 0 && (this.hyp!.vsstatus & C.MS_FS) === 0;
  }

  /** An FP register or fcsr changed: FS = Dirty, in vsstatus too when V=1 (8.2.11). */
  private fpDirty(): void {
    this.mstatus |= C.MS_FS;
    if (this.virt !== 0) this.hyp!.vsstatus |= C.MS_FS;
  }

  private setMstatus(v: number): void {
    // MPP is WARL: the reserved value 2 keeps the previous mode.
    if (((v >>> C.MS_MPP_SHIFT) & 3) === 2) v = (v & ~C.MS_MPP) | (this.mstatus & C.MS_MPP);
    const old = this.mstatus;
    this.mstatus = v;
    // MPRV/MPP/SUM/MXR change what the fast translation caches may hold; SIE/MIE toggles (frequent) do not.
    // A SUM toggle alone (Linux's user-memory accessors, thousands per boot) only switches which
    // translations S-mode may use, like a privilege switch.
    const d = (old ^ v) & (C.MS_MPRV | C.MS_MPP | C.MS_SUM | C.MS_MXR);
    if (d === C.MS_SUM) this.flushFastForPrivilege(this.privLevel);
    else if (d !== 0) this.flushFast();
  }
}
