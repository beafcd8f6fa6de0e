// The hypervisor extension's architectural state and behaviour (Privileged ISA 20211203 ch. 8,
// "Hypervisor Extension, Version 1.0"): the virtualization mode V (HS/VS/VU), the H and VS CSRs,
// trap routing to M/HS/VS with the extra trap state (MPV, GVA, SPV, SPVP, htval/mtval2,
// htinst/mtinst), SRET/MRET into and out of V=1, the virtual-instruction exception (cause 22),
// HLV/HLVX/HSV, HFENCE.VVMA/GVMA, VS-level interrupts (hvip/hip/hie, hideleg) and the timer offset
// (htimedelta, vstimecmp with Sstc). Two-stage translation is TwoStageMmu.ts.
//
// The hart (Hart.ts) owns the register file, the run loop and the V=0 fast paths; it creates one
// Hypervisor when H is enabled and calls it only where V or the H state matters (CSR accesses,
// traps, xRET/WFI/fences, address translation when the effective V is 1), so a hart without H,
// or running with V=0, takes the same paths as before.
//
// Decisions the spec leaves to the implementation (documented in docs/HYPERVISOR.md):
// - GEILEN = 0: no guest external interrupt files (no IMSIC), so hgeip/hgeie and hstatus.VGEIN are
//   read-only zero and VSEIP comes from hvip only (KVM injects the emulated PLIC's interrupts there).
// - VMIDLEN = 14 (the RV64 maximum). hgatp modes Bare, Sv39x4, Sv48x4, Sv57x4.
// - htinst/mtinst: zero, except the pseudoinstructions 0x3000/0x3020 that 8.6.3 requires for
//   guest-page faults of implicit VS-stage page-table accesses. Hypervisors (KVM) then read the
//   trapping instruction with HLVX.
// - Misaligned HLV/HSV raise address-misaligned (the hart emulates ordinary misaligned accesses).
import type { Hart } from "./Hart.js";
import * as C from "./Csr.js";
import { Access, Cause, Irq, PAGE_FAULT, ACCESS_FAULT, GUEST_PAGE_FAULT as GPF_CAUSE } from "./Trap.js";
import { PRIV_M, PRIV_S, PRIV_U } from "./Privilege.js";
import { GUEST_PAGE_FAULT, TwoStageMmu, type TwoStageContext } from "./TwoStageMmu.js";
import { PAGE_FAULT as MMU_PAGE_FAULT, SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV57 } from "./Mmu.js";

const TWO32 = 4294967296;
/** Causes whose xtval is a virtual address (GVA is set when it is a guest one): 8.6.4 / 8.2.1. */
const ADDR_CAUSES =
  (1 << 0) |
  (1 << 1) |
  (1 << 3) |
  (1 << 4) |
  (1 << 5) |
  (1 << 6) |
  (1 << 7) |
  (1 << 12) |
  (1 << 13) |
  (1 << 15) |
  (0xb << 20);
/** S CSRs that V=1 redirects to their VS copies (8.2: "when V=1, the VS CSRs substitute for the S CSRs"). */
const SWAPPED = new Set([
  C.CSR_SSTATUS,
  C.CSR_SIE,
  C.CSR_STVEC,
  C.CSR_SSCRATCH,
  C.CSR_SEPC,
  C.CSR_SCAUSE,
  C.CSR_STVAL,
  C.CSR_SIP,
  C.CSR_SATP,
  C.CSR_STIMECMP,
]);
/** H and VS CSRs stored as plain values in the hart's CSR array. */
const PLAIN = new Set([
  C.CSR_VSTVEC,
  C.CSR_VSSCRATCH,
  C.CSR_VSEPC,
  C.CSR_VSCAUSE,
  C.CSR_VSTVAL,
  C.CSR_VSATP,
  C.CSR_HEDELEG,
  C.CSR_HIDELEG,
  C.CSR_HCOUNTEREN,
  C.CSR_HENVCFG,
  C.CSR_HTVAL,
  C.CSR_HTINST,
  C.CSR_HGATP,
  C.CSR_HTIMEDELTA,
  C.CSR_MTVAL2,
  C.CSR_MTINST,
]);
/** Interrupt priority with H (8.4.2 / 3.1.9): M, then HS (SEI SSI STI), SGEI, then VS (VSEI VSSI VSTI). */
const IRQ_PRIORITY_H = [11, 3, 7, 9, 1, 5, 12, 10, 2, 6];

/** Counters for --stats. */
export interface HypervisorStats {
  /** Entries into V=1 (SRET/MRET) and exits from it (traps to HS or M). */
  vmEntries: number;
  vmExits: number;
  /** Guest-page faults (causes 20, 21, 23) taken. */
  guestPageFaults: number;
  /** Virtual-instruction exceptions taken. */
  virtualInsns: number;
}

export class Hypervisor {
  readonly mmu: TwoStageMmu;
  /** vsstatus, low word (SIE SPIE SPP FS SUM MXR; UXL = 2 and SD are computed). */
  vsstatus = 0;
  /** hstatus, low word (VSXL = 2 is fixed in the high word). */
  hstatus = 0;
  /** mstatus bits 38 (GVA) and 39 (MPV), as in the high word. */
  mstatusHi = 0;
  /** vstimecmp as a number (Infinity = never), compared with time + htimedelta. */
  vstimecmpN = Number.POSITIVE_INFINITY;
  readonly stats: HypervisorStats = { vmEntries: 0, vmExits: 0, guestPageFaults: 0, virtualInsns: 0 };
  /** Set while an HLV/HLVX/HSV runs: its faults report a guest virtual address (GVA = 1). */
  private hlv = false;
  /** Guest-page fault details for the trap being raised: GPA, htinst value. */
  private pendGpa = 0;
  private pendTinst = 0;
  private readonly ctx: TwoStageContext = { vsatpLo: 0, vsatpHi: 0, hgatpLo: 0, hgatpHi: 0 };

  constructor(private readonly hart: Hart) {
    this.mmu = new TwoStageMmu(hart.memory);
  }

  reset(): void {
    this.vsstatus = 0;
    this.hstatus = 0;
    this.mstatusHi = 0;
    this.vstimecmpN = Number.POSITIVE_INFINITY;
    this.mmu.flushAll();
  }

  // ------------------------------------------------------------------ CSR access rules

  /**
   * The privilege check of a CSR access with H (2.1 and 8.6.1): returns the CSR number to access
   * (an S CSR becomes its VS copy when V=1), or -1 with hart.csrFault set to the cause to raise.
   */
  csrAccess(n: number, write: boolean): number {
    const h = this.hart;
    const lvl = (n >>> 8) & 3;
    const p = h.privLevel;
    if (write && n >>> 10 === 3) return this.fail(Cause.IllegalInsn);
    if (lvl === 3) return p === PRIV_M ? n : this.fail(Cause.IllegalInsn);
    if (h.virt === 0) {
      if (lvl <= p || (lvl === 2 && p === PRIV_S)) return n;
      return this.fail(Cause.IllegalInsn);
    }
    // V=1: hypervisor and VS CSRs (and S CSRs from VU) that HS could access raise virtual instruction.
    if (lvl === 2 || (lvl === 1 && p === PRIV_U))
      return this.fail(this.exists(n) ? Cause.VirtualInsn : Cause.IllegalInsn);
    if (lvl === 1 && SWAPPED.has(n)) {
      if (n === C.CSR_SATP && (this.hstatus & C.HS_VTVM) !== 0) return this.fail(Cause.VirtualInsn);
      return n + 0x100;
    }
    return n;
  }

  private fail(cause: number): number {
    this.hart.csrFault = cause;
    return -1;
  }

  /** Whether CSR n exists on this hart (for the illegal vs virtual instruction choice). */
  private exists(n: number): boolean {
    if (n >>> 8 === 1 || (n >= 0xc00 && n <= 0xc1f)) return true;
    return (
      PLAIN.has(n) ||
      n === C.CSR_VSSTATUS ||
      n === C.CSR_VSIE ||
      n === C.CSR_VSIP ||
      n === C.CSR_VSTIMECMP ||
      n === C.CSR_HSTATUS ||
      n === C.CSR_HIE ||
      n === C.CSR_HIP ||
      n === C.CSR_HVIP ||
      n === C.CSR_HGEIE ||
      n === C.CSR_HGEIP
    );
  }

  /** Counter access (cycle/time/instret/hpm, 8.2.6): false with csrFault = VirtualInsn when hcounteren/scounteren deny it. */
  counterAllowedV(bitNo: number): boolean {
    const h = this.hart;
    const hc = h.csr[2 * C.CSR_HCOUNTEREN]!;
    if (
      ((hc >>> bitNo) & 1) === 0 ||
      (h.privLevel === PRIV_U && ((h.csr[2 * C.CSR_SCOUNTEREN]! >>> bitNo) & 1) === 0)
    ) {
      h.csrFault = Cause.VirtualInsn;
      return false;
    }
    return true;
  }

  /** time as V=1 sees it: mtime + htimedelta (8.2.7), into hart.cLo/cHi. */
  readTimeV(now: number): void {
    const h = this.hart;
    const lo = now % TWO32,
      hi = Math.floor(now / TWO32);
    const dlo = h.csr[2 * C.CSR_HTIMEDELTA]! >>> 0,
      dhi = h.csr[2 * C.CSR_HTIMEDELTA + 1]!;
    const s = lo + dlo;
    h.cLo = s | 0;
    h.cHi = (hi + dhi + (s >= TWO32 ? 1 : 0)) | 0;
  }

  /** htimedelta as a signed number of ticks (KVM writes guest_time - host_time modulo 2^64). */
  private delta(): number {
    const csr = this.hart.csr;
    const d = (csr[2 * C.CSR_HTIMEDELTA + 1]! >>> 0) * TWO32 + (csr[2 * C.CSR_HTIMEDELTA]! >>> 0);
    return d >= (TWO32 * TWO32) / 2 ? d - TWO32 * TWO32 : d;
  }

  /** Current time + htimedelta (what vstimecmp is compared with, Sstc 2.2). */
  guestTime(now: number): number {
    const t = now + this.delta();
    return t < 0 ? t + TWO32 * TWO32 : t;
  }

  /** VS timer deadline in host timer ticks (Infinity if none or not enabled). */
  vsTimerDeadline(): number {
    if (this.vstimecmpN === Number.POSITIVE_INFINITY || !this.stce()) return Number.POSITIVE_INFINITY;
    const t = this.vstimecmpN - this.delta();
    return t < 0 ? 0 : t;
  }

  /** henvcfg.STCE (and menvcfg.STCE): VS-level Sstc enabled. */
  private stce(): boolean {
    const h = this.hart;
    return (h.csr[2 * C.CSR_HENVCFG + 1]! & h.csr[2 * C.CSR_MENVCFG + 1]! & C.MENVCFG_STCE_HI) !== 0;
  }

  /** VSTIP from vstimecmp (Sstc 2.2), for the hart's updateTimer. */
  vsTimerPending(now: number): boolean {
    return this.vstimecmpN !== Number.POSITIVE_INFINITY && this.stce() && this.guestTime(now) >= this.vstimecmpN;
  }

  // ------------------------------------------------------------------ CSR read/write

  /** Reads an H/VS CSR (number already checked and redirected) into hart.cLo/cHi; false if none. */
  read(n: number): boolean {
    const h = this.hart;
    const csr = h.csr;
    if (n === C.CSR_HGATP && !this.hgatpReadable()) return false;
    if (PLAIN.has(n)) {
      h.cLo = csr[2 * n]!;
      h.cHi = csr[2 * n + 1]!;
      return true;
    }
    switch (n) {
      case C.CSR_VSSTATUS: {
        const v = this.vsstatus;
        h.cLo = v;
        h.cHi = 2 | ((v & C.MS_FS) === C.MS_FS ? 0x80000000 | 0 : 0);
        return true;
      }
      case C.CSR_HSTATUS:
        h.cLo = this.hstatus;
        h.cHi = 2; // VSXL = 64
        return true;
      case C.CSR_HIE:
        h.cLo = csr[2 * C.CSR_MIE]! & C.HIE_MASK;
        h.cHi = 0;
        return true;
      case C.CSR_HIP:
        h.cLo = h.mipValue() & C.HIE_MASK;
        h.cHi = 0;
        return true;
      case C.CSR_HVIP:
        h.cLo = h.mipSw & C.VS_IRQS;
        h.cHi = 0;
        return true;
      case C.CSR_HGEIE:
      case C.CSR_HGEIP:
        h.cLo = 0; // GEILEN = 0
        h.cHi = 0;
        return true;
      case C.CSR_VSIE:
        h.cLo = (csr[2 * C.CSR_MIE]! & csr[2 * C.CSR_HIDELEG]! & C.VS_IRQS) >>> 1;
        h.cHi = 0;
        return true;
      case C.CSR_VSIP:
        h.cLo = (h.mipValue() & csr[2 * C.CSR_HIDELEG]! & C.VS_IRQS) >>> 1;
        h.cHi = 0;
        return true;
      case C.CSR_VSTIMECMP:
        if (h.virt !== 0 && !this.vstimecmpAllowed()) return false;
        if (this.vstimecmpN === Number.POSITIVE_INFINITY) {
          h.cLo = -1;
          h.cHi = -1;
        } else {
          h.cLo = (this.vstimecmpN % TWO32) | 0;
          h.cHi = Math.floor(this.vstimecmpN / TWO32) | 0;
        }
        return true;
      default:
        return false;
    }
  }

  /** stimecmp from VS-mode (Sstc 2.2): virtual instruction unless hcounteren.TM and henvcfg.STCE. */
  private vstimecmpAllowed(): boolean {
    const h = this.hart;
    if (((h.csr[2 * C.CSR_HCOUNTEREN]! >>> 1) & 1) === 0 || (h.csr[2 * C.CSR_HENVCFG + 1]! & C.MENVCFG_STCE_HI) === 0) {
      h.csrFault = Cause.VirtualInsn;
      return false;
    }
    return true;
  }

  /** Writes an H/VS CSR (WARL per field); false if it does not exist. */
  write(n: number, lo: number, hi: number): boolean {
    const h = this.hart;
    const csr = h.csr;
    h.exitSlice = true; // interrupt, translation or timer state may have changed
    switch (n) {
      case C.CSR_VSSTATUS: {
        const old = this.vsstatus;
        this.vsstatus = (old & ~C.SSTATUS_WMASK) | (lo & C.SSTATUS_WMASK);
        if (((old ^ this.vsstatus) & (C.MS_SUM | C.MS_MXR)) !== 0) h.flushFast();
        return true;
      }
      case C.CSR_HSTATUS:
        this.hstatus = lo & C.HSTATUS_WMASK;
        return true;
      case C.CSR_HEDELEG:
        csr[2 * n] = lo & C.HEDELEG_MASK;
        return true;
      case C.CSR_HIDELEG:
        csr[2 * n] = lo & C.VS_IRQS;
        return true;
      case C.CSR_HIE:
        csr[2 * C.CSR_MIE] = (csr[2 * C.CSR_MIE]! & ~C.HIE_MASK) | (lo & C.HIE_MASK);
        return true;
      case C.CSR_HIP: // only VSSIP is writable (an alias of hvip.VSSIP)
        h.mipSw = (h.mipSw & ~(1 << Irq.VSSI)) | (lo & (1 << Irq.VSSI));
        return true;
      case C.CSR_HVIP:
        h.mipSw = (h.mipSw & ~C.VS_IRQS) | (lo & C.VS_IRQS);
        return true;
      case C.CSR_HGEIE:
      case C.CSR_HGEIP:
        return true; // GEILEN = 0: read-only zero
      case C.CSR_HCOUNTEREN:
        csr[2 * n] = lo;
        csr[2 * n + 1] = 0;
        return true;
      case C.CSR_HENVCFG: // FIOM and STCE (Sstc); the rest read-only zero
        csr[2 * n] = lo & 1;
        csr[2 * n + 1] = hi & C.MENVCFG_STCE_HI;
        return true;
      case C.CSR_HTIMEDELTA:
      case C.CSR_HTVAL:
      case C.CSR_HTINST:
      case C.CSR_MTVAL2:
      case C.CSR_MTINST:
      case C.CSR_VSSCRATCH:
      case C.CSR_VSCAUSE:
      case C.CSR_VSTVAL:
        csr[2 * n] = lo;
        csr[2 * n + 1] = hi;
        return true;
      case C.CSR_VSTVEC:
        csr[2 * n] = (lo & 3) >= 2 ? lo & ~3 : lo;
        csr[2 * n + 1] = hi;
        return true;
      case C.CSR_VSEPC:
        csr[2 * n] = lo & ~1;
        csr[2 * n + 1] = hi;
        return true;
      case C.CSR_VSIE: {
        const m = csr[2 * C.CSR_HIDELEG]! & C.VS_IRQS;
        csr[2 * C.CSR_MIE] = (csr[2 * C.CSR_MIE]! & ~m) | ((lo << 1) & m);
        return true;
      }
      case C.CSR_VSIP: {
        const m = csr[2 * C.CSR_HIDELEG]! & (1 << Irq.VSSI);
        h.mipSw = (h.mipSw & ~m) | ((lo << 1) & m);
        return true;
      }
      case C.CSR_VSTIMECMP:
        if (h.virt !== 0 && !this.vstimecmpAllowed()) return false;
        this.vstimecmpN = (hi >>> 0) * TWO32 + (lo >>> 0);
        return true;
      case C.CSR_VSATP: {
        const mode = hi >>> 28;
        if (mode !== SATP_MODE_BARE && (mode < SATP_MODE_SV39 || mode > SATP_MODE_SV57)) return true;
        csr[2 * n] = lo;
        csr[2 * n + 1] = hi;
        h.flushFast();
        return true;
      }
      case C.CSR_HGATP: {
        if (h.privLevel === PRIV_S && (h.mstatus & C.MS_TVM) !== 0) return false;
        const mode = hi >>> 28;
        // An unsupported MODE makes the whole write ignored (8.2.10); VMID 14 bits, PPN[1:0] zero.
        if (mode !== SATP_MODE_BARE && (mode < SATP_MODE_SV39 || mode > SATP_MODE_SV57)) return true;
        csr[2 * n] = lo & ~3;
        csr[2 * n + 1] = hi & ((0xf << 28) | (0x3fff << 12) | 0xfff);
        h.flushFast();
        return true;
      }
      default:
        return false;
    }
  }

  /** hgatp read with mstatus.TVM (8.2.10): illegal in HS-mode when TVM=1. */
  hgatpReadable(): boolean {
    const h = this.hart;
    return !(h.privLevel === PRIV_S && h.virt === 0 && (h.mstatus & C.MS_TVM) !== 0);
  }

  // ------------------------------------------------------------------ traps and interrupts

  /** Records the guest-page fault details (htval/mtval2, htinst/mtinst) for the trap about to be raised. */
  private noteGuestFault(): void {
    const m = this.mmu;
    this.pendGpa = m.faultGpa;
    this.pendTinst = m.faultImplicit ? (m.faultImplicitWrite ? 0x3020 : 0x3000) : 0;
    this.stats.guestPageFaults++;
  }

  /** Trap entry with H (8.6.2-8.6.4): to M, HS or VS by medeleg/mideleg, hedeleg/hideleg and V. */
  enterTrap(cause: number, isInterrupt: boolean, tvalLo: number, tvalHi: number): void {
    const h = this.hart;
    const csr = h.csr;
    const p = h.privLevel;
    const v = h.virt;
    const bit = 1 << cause;
    let target: number; // 0 = VS, 1 = HS, 3 = M
    if (isInterrupt) {
      if ((csr[2 * C.CSR_MIDELEG]! & bit) === 0) target = PRIV_M;
      else target = v !== 0 && (csr[2 * C.CSR_HIDELEG]! & bit) !== 0 ? 0 : PRIV_S;
    } else if (p === PRIV_M || (csr[2 * C.CSR_MEDELEG]! & bit) === 0) target = PRIV_M;
    else target = v !== 0 && (csr[2 * C.CSR_HEDELEG]! & bit) !== 0 ? 0 : PRIV_S;
    const gva = !isInterrupt && (v !== 0 || this.hlv) && (ADDR_CAUSES & bit) !== 0;
    const gpf =
      !isInterrupt &&
      (cause === Cause.InsnGuestPageFault || cause === Cause.LoadGuestPageFault || cause === Cause.StoreGuestPageFault);
    const htvalLo = gpf ? ((this.pendGpa / 4) % TWO32) | 0 : 0;
    const htvalHi = gpf ? Math.floor(this.pendGpa / 4 / TWO32) | 0 : 0;
    const tinst = gpf ? this.pendTinst : 0;
    this.hlv = false;
    if (cause === Cause.VirtualInsn && !isInterrupt) this.stats.virtualInsns++;
    let tvec: number;
    let code = cause;
    if (target === 0) {
      // VS-level interrupts arrive in VS-mode as the S-level ones (VSEI 10 -> SEI 9, ...), 8.6.2.
      if (isInterrupt) code = cause - 1;
      csr[2 * C.CSR_VSCAUSE] = code;
      csr[2 * C.CSR_VSCAUSE + 1] = isInterrupt ? 0x80000000 | 0 : 0;
      csr[2 * C.CSR_VSEPC] = h.pcLo;
      csr[2 * C.CSR_VSEPC + 1] = h.pcHi;
      csr[2 * C.CSR_VSTVAL] = tvalLo;
      csr[2 * C.CSR_VSTVAL + 1] = tvalHi;
      const s = this.vsstatus;
      this.vsstatus =
        (s & ~(C.MS_SPIE | C.MS_SIE | C.MS_SPP)) |
        ((s & C.MS_SIE) !== 0 ? C.MS_SPIE : 0) |
        (p === PRIV_S ? C.MS_SPP : 0);
      h.privLevel = PRIV_S;
      tvec = 2 * C.CSR_VSTVEC;
    } else if (target === PRIV_S) {
      csr[2 * C.CSR_SCAUSE] = cause;
      csr[2 * C.CSR_SCAUSE + 1] = isInterrupt ? 0x80000000 | 0 : 0;
      csr[2 * C.CSR_SEPC] = h.pcLo;
      csr[2 * C.CSR_SEPC + 1] = h.pcHi;
      csr[2 * C.CSR_STVAL] = tvalLo;
      csr[2 * C.CSR_STVAL + 1] = tvalHi;
      csr[2 * C.CSR_HTVAL] = htvalLo;
      csr[2 * C.CSR_HTVAL + 1] = htvalHi;
      csr[2 * C.CSR_HTINST] = tinst;
      csr[2 * C.CSR_HTINST + 1] = 0;
      let hs = (this.hstatus & ~(C.HS_SPV | C.HS_GVA)) | (v !== 0 ? C.HS_SPV : 0) | (gva ? C.HS_GVA : 0);
      if (v !== 0) hs = (hs & ~C.HS_SPVP) | (p === PRIV_S ? C.HS_SPVP : 0);
      this.hstatus = hs;
      const ms = h.mstatus;
      h.mstatus =
        (ms & ~(C.MS_SPIE | C.MS_SIE | C.MS_SPP)) |
        ((ms & C.MS_SIE) !== 0 ? C.MS_SPIE : 0) |
        (p === PRIV_S ? C.MS_SPP : 0);
      h.privLevel = PRIV_S;
      tvec = 2 * C.CSR_STVEC;
    } else {
      csr[2 * C.CSR_MCAUSE] = cause;
      csr[2 * C.CSR_MCAUSE + 1] = isInterrupt ? 0x80000000 | 0 : 0;
      csr[2 * C.CSR_MEPC] = h.pcLo;
      csr[2 * C.CSR_MEPC + 1] = h.pcHi;
      csr[2 * C.CSR_MTVAL] = tvalLo;
      csr[2 * C.CSR_MTVAL + 1] = tvalHi;
      csr[2 * C.CSR_MTVAL2] = htvalLo;
      csr[2 * C.CSR_MTVAL2 + 1] = htvalHi;
      csr[2 * C.CSR_MTINST] = tinst;
      csr[2 * C.CSR_MTINST + 1] = 0;
      this.mstatusHi = (v !== 0 ? C.MSH_MPV : 0) | (gva ? C.MSH_GVA : 0);
      const ms = h.mstatus;
      h.mstatus =
        (ms & ~(C.MS_MPIE | C.MS_MIE | C.MS_MPP)) | ((ms & C.MS_MIE) !== 0 ? C.MS_MPIE : 0) | (p << C.MS_MPP_SHIFT);
      h.privLevel = PRIV_M;
      tvec = 2 * C.CSR_MTVEC;
    }
    if (target !== 0 && v !== 0) {
      h.virt = 0;
      this.stats.vmExits++;
    }
    const base = csr[tvec]!;
    let lo = base & ~3;
    let hi = csr[tvec + 1]!;
    if ((base & 1) !== 0 && isInterrupt) {
      const nlo = (lo + 4 * code) | 0;
      if (nlo >>> 0 < lo >>> 0) hi = (hi + 1) | 0;
      lo = nlo;
    }
    h.pcLo = lo;
    h.pcHi = hi;
    h.resValid = false;
    if (v === 0)
      h.flushFastForPrivilege(p); // U <-> S with V = 0 keeps translations (the engine's TLB mirrors)
    else h.flushFast();
  }

  /** Takes the highest-priority enabled interrupt with H (8.4.2, 3.1.6.1); false if none. */
  takeInterrupt(pend: number): boolean {
    const h = this.hart;
    const p = h.privLevel;
    const v = h.virt;
    const mideleg = h.csr[2 * C.CSR_MIDELEG]!;
    const hideleg = h.csr[2 * C.CSR_HIDELEG]!;
    const mOn = p < PRIV_M || (h.mstatus & C.MS_MIE) !== 0;
    const hsOn = v !== 0 || p < PRIV_S || (p === PRIV_S && (h.mstatus & C.MS_SIE) !== 0);
    const vsOn = v !== 0 && (p === PRIV_U || (this.vsstatus & C.MS_SIE) !== 0);
    let take = 0;
    if (mOn) take |= pend & ~mideleg;
    if (hsOn) take |= pend & mideleg & ~hideleg;
    if (vsOn) take |= pend & mideleg & hideleg;
    if (take === 0) return false;
    for (let i = 0; i < IRQ_PRIORITY_H.length; i++) {
      const irq = IRQ_PRIORITY_H[i]!;
      if ((take >>> irq) & 1) {
        h.stats.interrupts[irq]!++;
        this.enterTrap(irq, true, 0, 0);
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ privileged instructions

  /**
   * SYSTEM funct3 = 0 instructions whose behaviour H changes: MRET, SRET, WFI, SFENCE.VMA,
   * HFENCE.VVMA/GVMA. Returns true if it handled the instruction (executed or raised).
   */
  privileged(insn: number, raw: number, nLo: number, nHi: number): boolean {
    const h = this.hart;
    const p = h.privLevel;
    const v = h.virt;
    const ms = h.mstatus;
    const f7 = insn >>> 25;
    if ((insn & 0x7f80) === 0 && (f7 === 0x09 || f7 === 0x11 || f7 === 0x31)) {
      const rs1 = (insn >>> 15) & 31,
        rs2 = (insn >>> 20) & 31;
      const x = h.x;
      if (f7 === 0x09) {
        // SFENCE.VMA (4.2.1; 8.6.1): in VS-mode it fences the guest's VS-stage translations.
        if (v !== 0) {
          if (p === PRIV_U || (this.hstatus & C.HS_VTVM) !== 0) return this.virtualInsn(raw);
          h.stats.sfenceVma++;
          this.mmu.hfenceVvma(this.vmid(), rs1 !== 0, x[2 * rs1]!, x[2 * rs1 + 1]!, rs2 !== 0, x[2 * rs2]!);
          h.flushFast();
          h.pcLo = nLo;
          h.pcHi = nHi;
          return true;
        }
        return false; // the hart's own SFENCE.VMA
      }
      if (v !== 0) return this.virtualInsn(raw);
      if (p === PRIV_U) {
        h.illegal(raw);
        return true;
      }
      if (f7 === 0x11) {
        // HFENCE.VVMA (8.3.2): for the current hgatp.VMID.
        this.mmu.hfenceVvma(this.vmid(), rs1 !== 0, x[2 * rs1]!, x[2 * rs1 + 1]!, rs2 !== 0, x[2 * rs2]!);
      } else {
        if (p === PRIV_S && (ms & C.MS_TVM) !== 0) {
          h.illegal(raw);
          return true;
        }
        this.mmu.hfenceGvma(rs2 !== 0, x[2 * rs2]!);
      }
      h.flushFast();
      h.pcLo = nLo;
      h.pcHi = nHi;
      return true;
    }
    switch (insn) {
      case 0x30200073: {
        // MRET (8.6.4): V = MPV unless MPP = M; MPV := 0.
        if (p !== PRIV_M) {
          h.illegal(raw);
          return true;
        }
        h.stats.mret++;
        const mpp = (ms >>> C.MS_MPP_SHIFT) & 3;
        let n = (ms & ~(C.MS_MIE | C.MS_MPP)) | C.MS_MPIE | ((ms & C.MS_MPIE) !== 0 ? C.MS_MIE : 0);
        if (mpp !== PRIV_M) n &= ~C.MS_MPRV;
        const nv = mpp !== PRIV_M && (this.mstatusHi & C.MSH_MPV) !== 0 ? 1 : 0;
        this.mstatusHi &= ~C.MSH_MPV;
        h.mstatus = n;
        h.privLevel = mpp;
        this.setVirt(nv);
        h.pcLo = h.csr[2 * C.CSR_MEPC]! & ~1;
        h.pcHi = h.csr[2 * C.CSR_MEPC + 1]!;
        h.resValid = false;
        h.flushFast();
        return true;
      }
      case 0x10200073: {
        // SRET (8.6.4): from HS by hstatus.SPV/sstatus.SPP, from VS by vsstatus.SPP.
        if (v !== 0) {
          if (p === PRIV_U || (this.hstatus & C.HS_VTSR) !== 0) return this.virtualInsn(raw);
          h.stats.sret++;
          const s = this.vsstatus;
          h.privLevel = (s & C.MS_SPP) !== 0 ? PRIV_S : PRIV_U;
          this.vsstatus = (s & ~(C.MS_SIE | C.MS_SPP)) | C.MS_SPIE | ((s & C.MS_SPIE) !== 0 ? C.MS_SIE : 0);
          h.pcLo = h.csr[2 * C.CSR_VSEPC]! & ~1;
          h.pcHi = h.csr[2 * C.CSR_VSEPC + 1]!;
        } else {
          if (p === PRIV_U || (p === PRIV_S && (ms & C.MS_TSR) !== 0)) {
            h.illegal(raw);
            return true;
          }
          h.stats.sret++;
          const spp = (ms & C.MS_SPP) !== 0 ? PRIV_S : PRIV_U;
          h.mstatus = (ms & ~(C.MS_SIE | C.MS_SPP | C.MS_MPRV)) | C.MS_SPIE | ((ms & C.MS_SPIE) !== 0 ? C.MS_SIE : 0);
          const nv = (this.hstatus & C.HS_SPV) !== 0 ? 1 : 0;
          this.hstatus &= ~C.HS_SPV;
          h.privLevel = spp;
          this.setVirt(nv);
          h.pcLo = h.csr[2 * C.CSR_SEPC]! & ~1;
          h.pcHi = h.csr[2 * C.CSR_SEPC + 1]!;
        }
        h.resValid = false;
        if (v === 0)
          h.flushFastForPrivilege(p); // U <-> S with V = 0 keeps translations (the engine's TLB mirrors)
        else h.flushFast();
        return true;
      }
      case 0x10500073: {
        // WFI (3.3.3, 8.6.1): TW=1 is illegal everywhere but M; in VU, or VS with VTW=1, virtual.
        if (p !== PRIV_M && (ms & C.MS_TW) !== 0) {
          h.illegal(raw);
          return true;
        }
        if (v !== 0 && (p === PRIV_U || (this.hstatus & C.HS_VTW) !== 0)) return this.virtualInsn(raw);
        if (v === 0 && p === PRIV_U) {
          h.illegal(raw);
          return true;
        }
        return false; // the hart's WFI
      }
      default:
        return false;
    }
  }

  private setVirt(nv: number): void {
    const h = this.hart;
    if (nv !== h.virt) {
      h.virt = nv;
      if (nv !== 0) this.stats.vmEntries++;
      else this.stats.vmExits++;
    }
  }

  private vmid(): number {
    return (this.hart.csr[2 * C.CSR_HGATP + 1]! >>> 12) & 0x3fff;
  }

  private virtualInsn(raw: number): boolean {
    this.hart.raise(Cause.VirtualInsn, raw, 0);
    return true;
  }

  // ------------------------------------------------------------------ address translation with V=1

  /** Two-stage translation under the current vsatp/hgatp/vsstatus/mstatus: a physical address or a fault code. */
  private walk(lo: number, hi: number, access: Access, priv: number, hlvx: boolean): number {
    const csr = this.hart.csr;
    const c = this.ctx;
    c.vsatpLo = csr[2 * C.CSR_VSATP]!;
    c.vsatpHi = csr[2 * C.CSR_VSATP + 1]!;
    c.hgatpLo = csr[2 * C.CSR_HGATP]!;
    c.hgatpHi = csr[2 * C.CSR_HGATP + 1]!;
    const vs = this.vsstatus;
    // mstatus.MXR applies to both stages, vsstatus.MXR to the VS-stage only (8.2.11).
    const mxrG = (this.hart.mstatus & C.MS_MXR) !== 0;
    return this.mmu.translate(
      lo,
      hi,
      access,
      priv,
      (vs & C.MS_SUM) !== 0,
      mxrG || (vs & C.MS_MXR) !== 0,
      mxrG,
      hlvx,
      c,
    );
  }

  /**
   * Two-stage translation for an access made with effective V=1 at guest privilege `priv`; returns
   * the physical address, or -1 after raising the page/access/guest-page fault (of `faultAccess`'s kind).
   */
  translate(lo: number, hi: number, access: Access, priv: number, hlvx: boolean, faultAccess: Access): number {
    const pa = this.walk(lo, hi, access, priv, hlvx);
    if (pa >= 0) return pa;
    const h = this.hart;
    if (pa === GUEST_PAGE_FAULT) {
      this.noteGuestFault();
      h.raise(GPF_CAUSE[faultAccess]!, lo, hi);
    } else h.raise(pa === MMU_PAGE_FAULT ? PAGE_FAULT[faultAccess]! : ACCESS_FAULT[faultAccess]!, lo, hi);
    return -1;
  }

  /** Translation of a fetch without raising (the hart's probeFetch); -1 if it would fault. */
  probe(lo: number, hi: number, priv: number): number {
    const pa = this.walk(lo, hi, Access.Fetch, priv, false);
    if (pa === GUEST_PAGE_FAULT) this.mmu.gstageFaults--; // a probe is not a fault taken
    return pa < 0 ? -1 : pa;
  }

  // ------------------------------------------------------------------ HLV / HLVX / HSV (8.3.1)

  /**
   * Hypervisor virtual-machine load/store (SYSTEM funct3 = 4): the access is made as V=1 at
   * privilege hstatus.SPVP, with vsatp/hgatp and vsstatus.SUM/MXR. Returns false after raising.
   */
  loadStore(insn: number, raw: number, nLo: number, nHi: number): boolean {
    const h = this.hart;
    const f7 = insn >>> 25;
    const rs2 = (insn >>> 20) & 31;
    const rd = (insn >>> 7) & 31;
    const store = (f7 & 1) !== 0;
    // Valid encodings: HLV.{B,BU,H,HU,W,WU,D}, HLVX.{HU,WU}, HSV.{B,H,W,D}.
    const sizeCode = (f7 >>> 1) & 3;
    const ok =
      f7 >>> 3 === 6 &&
      (store
        ? rd === 0
        : rs2 === 0 || (rs2 === 1 && sizeCode < 3) || (rs2 === 3 && (sizeCode === 1 || sizeCode === 2)));
    if (!ok) {
      h.illegal(raw);
      return false;
    }
    if (h.virt !== 0) {
      this.virtualInsn(raw);
      return false;
    }
    if (h.privLevel === PRIV_U && (this.hstatus & C.HS_HU) === 0) {
      h.illegal(raw);
      return false;
    }
    const size = 1 << sizeCode;
    const hlvx = !store && rs2 === 3;
    const x = h.x;
    const rs1 = (insn >>> 15) & 31;
    const lo = x[2 * rs1]!,
      hi = x[2 * rs1 + 1]!;
    this.hlv = true;
    if ((lo & (size - 1)) !== 0) {
      h.raise(store ? Cause.StoreMisaligned : Cause.LoadMisaligned, lo, hi);
      return false;
    }
    const priv = (this.hstatus & C.HS_SPVP) !== 0 ? PRIV_S : PRIV_U;
    const access = store ? Access.Store : Access.Load;
    const pa = this.translate(lo, hi, access, priv, hlvx, access);
    if (pa < 0) return false;
    const mem = h.memory;
    const inRam = pa >= mem.base && pa + size <= mem.end;
    if (store) {
      const vlo = x[2 * rs2]!,
        vhi = x[2 * rs2 + 1]!;
      if (inRam) h.storePhys(pa, size, vlo, vhi);
      else if (!h.bus.store(pa, size as 1 | 2 | 4 | 8, vlo, vhi)) {
        h.raise(Cause.StoreAccessFault, lo, hi);
        return false;
      }
    } else {
      let vlo: number, vhi: number;
      if (inRam) {
        h.loadPhys(pa, size);
        vlo = h.cLo;
        vhi = h.cHi;
      } else {
        if (!h.bus.load(pa, size as 1 | 2 | 4 | 8)) {
          h.raise(Cause.LoadAccessFault, lo, hi);
          return false;
        }
        vlo = h.bus.lo;
        vhi = h.bus.hi;
      }
      const unsigned = rs2 !== 0;
      if (size === 1) vlo = unsigned ? vlo & 0xff : (vlo << 24) >> 24;
      else if (size === 2) vlo = unsigned ? vlo & 0xffff : (vlo << 16) >> 16;
      if (size < 8) vhi = unsigned ? 0 : vlo >> 31;
      if (rd !== 0) {
        x[2 * rd] = vlo;
        x[2 * rd + 1] = vhi;
      }
    }
    this.hlv = false;
    h.pcLo = nLo;
    h.pcHi = nHi;
    h.exitSlice = true;
    return true;
  }
}
