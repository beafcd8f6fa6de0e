// Two-stage address translation for the hypervisor extension (Privileged ISA 20211203, 8.5): a
// guest virtual address (GVA) goes through the VS-stage (Sv39/48/57 page tables under vsatp, which
// the guest kernel owns, giving a guest-physical address, GPA) and then the G-stage (Sv39x4/48x4/57x4
// under hgatp, which the hypervisor owns, giving the supervisor-physical address). The hart uses it
// whenever the effective virtualization mode is 1 (V=1, MPRV with MPV=1, HLV/HLVX/HSV).
//
// Decisions (the spec leaves them to the implementation):
// - A/D bits are set by hardware at both stages (8.5.1 and 4.3.1 allow it), like Mmu.ts.
// - Every VS-stage PTE access is itself translated by the G-stage as an implicit U-mode load (a store
//   when A/D must be written), 8.5.1; a G-stage fault there is a guest-page fault of the original
//   access type with the PTE's GPA in htval and a pseudoinstruction in htinst (8.6.3).
// - The TLB caches whole GVA -> physical translations per 4 KiB page, tagged with the VMID, the
//   ASID (or "Bare" for vsatp.MODE = Bare) and the G bit, plus both stages' leaf permissions so
//   priv/SUM/MXR checks stay exact on hits; so world switches do not flush it. HFENCE.VVMA drops a
//   VMID's entries (by address/ASID as asked); HFENCE.GVMA drops a whole VMID (or all): a
//   GPA-specific fence over-flushes, which the spec allows.
// - hgatp.PPN[1:0] are read-only zero (the 16 KiB root is always aligned; 8.2.10 lets them be).
import type { GuestMemory } from "../memory/GuestMemory.js";
import { Access } from "./Trap.js";
import { ACCESS_FAULT, PAGE_FAULT, permitted, SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV48 } from "./Mmu.js";

/** translate() result: a guest-page fault; faultGpa holds the guest-physical address. */
export const GUEST_PAGE_FAULT = -3;

const PTE_V = 1,
  PTE_R = 2,
  PTE_W = 4,
  PTE_X = 8,
  PTE_U = 16,
  PTE_G = 32,
  PTE_A = 64,
  PTE_D = 128;

const TLB_BITS = 9;
const TLB_SIZE = 1 << TLB_BITS;
const TWO20 = 1048576;
const TWO32 = 4294967296;
/** asid tag for translations made with vsatp.MODE = Bare (no VS-stage). */
const BARE = -1;

/** What the two-stage walk needs from the CSRs, set by the caller before translate(). */
export interface TwoStageContext {
  vsatpLo: number;
  vsatpHi: number;
  hgatpLo: number;
  hgatpHi: number;
}

export class TwoStageMmu {
  private readonly tagLo = new Int32Array(TLB_SIZE).fill(1);
  private readonly tagHi = new Int32Array(TLB_SIZE);
  private readonly vmid = new Int32Array(TLB_SIZE);
  private readonly asid = new Int32Array(TLB_SIZE);
  /** VS-stage leaf flags (all of RWXU|A|D for Bare) and G-stage leaf flags. */
  private readonly vsFlags = new Int32Array(TLB_SIZE);
  private readonly gFlags = new Int32Array(TLB_SIZE);
  private readonly level = new Int32Array(TLB_SIZE);
  private readonly ppage = new Float64Array(TLB_SIZE);
  private readonly ram: Int32Array;
  /** After GUEST_PAGE_FAULT: the faulting guest-physical address and whether it was a VS-stage PTE access. */
  faultGpa = 0;
  faultImplicit = false;
  /** After an implicit PTE-access fault: whether it was the A/D write (htinst pseudoinstruction kind). */
  faultImplicitWrite = false;
  /** --stats: two-stage walks and G-stage (guest-page) faults. */
  walks = 0;
  gstageFaults = 0;

  constructor(private readonly memory: GuestMemory) {
    this.ram = new Int32Array(memory.buffer, 0, memory.size >>> 2);
  }

  /**
   * Translates GVA (vhi:vlo) for `access` at effective privilege `priv` (S or U of the guest).
   * `sum`/`mxrVs`: vsstatus.SUM and vsstatus.MXR | mstatus.MXR (VS-stage); `mxrG`: mstatus.MXR (G-stage).
   * `hlvx`: HLVX, a load that needs execute permission at both stages (8.3.3). Returns the physical
   * address or PAGE_FAULT / ACCESS_FAULT / GUEST_PAGE_FAULT.
   */
  translate(
    vlo: number,
    vhi: number,
    access: Access,
    priv: number,
    sum: boolean,
    mxrVs: boolean,
    mxrG: boolean,
    hlvx: boolean,
    c: TwoStageContext,
  ): number {
    const vsMode = c.vsatpHi >>> 28;
    const curVmid = (c.hgatpHi >>> 12) & 0x3fff;
    const curAsid = vsMode === SATP_MODE_BARE ? BARE : (c.vsatpHi >>> 12) & 0xffff;
    const idx = (vlo >>> 12) & (TLB_SIZE - 1);
    const check = hlvx ? Access.Fetch : access;
    if (
      this.tagLo[idx] === (vlo & ~0xfff) &&
      this.tagHi[idx] === vhi &&
      this.vmid[idx] === curVmid &&
      (this.asid[idx] === curAsid ||
        (curAsid !== BARE && this.asid[idx] !== BARE && (this.vsFlags[idx]! & PTE_G) !== 0))
    ) {
      const f = this.vsFlags[idx]!,
        g = this.gFlags[idx]!;
      if (
        (curAsid === BARE || permitted(f, check, priv, sum, mxrVs)) &&
        permitted(g, check, 0, false, mxrG) &&
        (access !== Access.Store || (f & g & PTE_D) !== 0)
      ) {
        return this.ppage[idx]! + (vlo & 0xfff);
      }
    }
    this.walks++;
    let gpa: number;
    let vsF = PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D;
    let vsLevel = 0;
    if (curAsid === BARE) {
      // No VS-stage: the GVA is the GPA (all 64 bits go to the G-stage's range check).
      gpa = (vhi >>> 0) * TWO32 + (vlo >>> 0);
      if (vhi < 0) return this.guestFault(TWO32 * TWO32, false, false);
    } else {
      const r = this.walkVs(vlo, vhi, access, check, priv, sum, mxrVs, mxrG, vsMode, c);
      if (r < 0) return r;
      gpa = r;
      vsF = this.leafFlags;
      vsLevel = this.leafLevel;
    }
    const pa = this.gstage(gpa, access, check, mxrG, c);
    if (pa < 0) {
      if (pa === GUEST_PAGE_FAULT) return this.guestFault(gpa, false, false);
      return pa;
    }
    const gF = this.leafFlags;
    const page = pa - (pa % 4096);
    this.tagLo[idx] = vlo & ~0xfff;
    this.tagHi[idx] = vhi;
    this.vmid[idx] = curVmid;
    this.asid[idx] = curAsid;
    this.vsFlags[idx] = vsF;
    this.gFlags[idx] = gF;
    this.level[idx] = vsLevel;
    this.ppage[idx] = page;
    return pa;
  }

  /** Leaf PTE flags and level of the last successful walk (walkVs / gstage). */
  private leafFlags = 0;
  private leafLevel = 0;

  private guestFault(gpa: number, implicit: boolean, write: boolean): number {
    this.faultGpa = gpa;
    this.faultImplicit = implicit;
    this.faultImplicitWrite = write;
    this.gstageFaults++;
    return GUEST_PAGE_FAULT;
  }

  /** VS-stage walk (4.3.2 with every PTE address a GPA, 8.5.1); returns the GPA or a fault code. */
  private walkVs(
    vlo: number,
    vhi: number,
    access: Access,
    check: Access,
    priv: number,
    sum: boolean,
    mxrVs: boolean,
    mxrG: boolean,
    mode: number,
    c: TwoStageContext,
  ): number {
    const levels = mode === SATP_MODE_SV39 ? 3 : mode === SATP_MODE_SV48 ? 4 : 5;
    const topShift = levels === 3 ? 6 : levels === 4 ? 15 : 24;
    const top = vhi >> topShift;
    if (top !== 0 && top !== -1) return PAGE_FAULT;
    const vpnAll = (vlo >>> 12) + (vhi & 0x1ffffff) * TWO20;
    let a = ((c.vsatpLo >>> 0) + (c.vsatpHi & 0xfff) * TWO32) * 4096;
    for (let i = levels - 1; i >= 0; i--) {
      const vpn = Math.floor(vpnAll / 2 ** (9 * i)) % 512;
      const pteGpa = a + vpn * 8;
      // The PTE read is an implicit G-stage load (permission R, as a U-mode access).
      const pteSpa = this.gstage(pteGpa, Access.Load, Access.Load, mxrG, c);
      if (pteSpa < 0) return pteSpa === GUEST_PAGE_FAULT ? this.guestFault(pteGpa, true, false) : pteSpa;
      const mem = this.memory;
      if (pteSpa < mem.base || pteSpa + 8 > mem.end) return ACCESS_FAULT;
      if (mem.absent !== undefined) mem.touch(pteSpa - mem.base); // lazy restore (GuestMemory.absent)
      const w = (pteSpa - mem.base) >>> 2;
      let lo = this.ram[w]!;
      const hi = this.ram[w + 1]!;
      if ((lo & PTE_V) === 0 || ((lo & PTE_R) === 0 && (lo & PTE_W) !== 0) || hi >>> 22 !== 0) return PAGE_FAULT;
      const ppn = (lo >>> 10) + (hi & 0x3fffff) * 4194304;
      if ((lo & (PTE_R | PTE_X)) === 0) {
        if (i === 0) return PAGE_FAULT;
        a = ppn * 4096;
        continue;
      }
      if (!permitted(lo, check, priv, sum, mxrVs)) return PAGE_FAULT;
      const span = 2 ** (9 * i);
      if (i > 0 && ppn % span !== 0) return PAGE_FAULT;
      const want = lo | PTE_A | (access === Access.Store ? PTE_D : 0);
      if (want !== lo) {
        // The A/D update is an implicit G-stage store to the PTE (8.5.1).
        const wSpa = this.gstage(pteGpa, Access.Store, Access.Store, mxrG, c);
        if (wSpa < 0) return wSpa === GUEST_PAGE_FAULT ? this.guestFault(pteGpa, true, true) : wSpa;
        lo = want;
        this.ram[w] = lo;
        this.memory.markPage(w * 4); // GuestMemory.dirtyLog
      }
      this.leafFlags = lo & 0xff;
      this.leafLevel = i;
      return (ppn - (ppn % span) + (vpnAll % span)) * 4096 + (vlo & 0xfff);
    }
    return PAGE_FAULT;
  }

  /**
   * G-stage translation of `gpa` (8.5.1: Sv39x4/48x4/57x4, every access checked as U-mode, the root
   * table 16 KiB with two more index bits). Returns the physical address, GUEST_PAGE_FAULT (the caller
   * records which GPA) or ACCESS_FAULT. Sets leafFlags.
   */
  private gstage(gpa: number, access: Access, check: Access, mxr: boolean, c: TwoStageContext): number {
    const mode = c.hgatpHi >>> 28;
    if (mode === SATP_MODE_BARE) {
      this.leafFlags = PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D;
      return gpa;
    }
    const levels = mode === SATP_MODE_SV39 ? 3 : mode === SATP_MODE_SV48 ? 4 : 5;
    // GPA width: 41, 50 or 59 bits; bits above must be zero (8.5.1).
    if (gpa >= 2 ** (levels * 9 + 14)) return GUEST_PAGE_FAULT;
    const gpn = Math.floor(gpa / 4096);
    let a = ((c.hgatpLo >>> 0) + (c.hgatpHi & 0xfff) * TWO32) * 4096;
    a -= a % 16384;
    const mem = this.memory;
    for (let i = levels - 1; i >= 0; i--) {
      const span = 2 ** (9 * i);
      const idx = i === levels - 1 ? Math.floor(gpn / span) % 2048 : Math.floor(gpn / span) % 512;
      const pteAddr = a + idx * 8;
      if (pteAddr < mem.base || pteAddr + 8 > mem.end) return ACCESS_FAULT;
      if (mem.absent !== undefined) mem.touch(pteAddr - mem.base); // lazy restore (GuestMemory.absent)
      const w = (pteAddr - mem.base) >>> 2;
      let lo = this.ram[w]!;
      const hi = this.ram[w + 1]!;
      if ((lo & PTE_V) === 0 || ((lo & PTE_R) === 0 && (lo & PTE_W) !== 0) || hi >>> 22 !== 0) return GUEST_PAGE_FAULT;
      const ppn = (lo >>> 10) + (hi & 0x3fffff) * 4194304;
      if ((lo & (PTE_R | PTE_X)) === 0) {
        // A G bit in a G-stage PTE is reserved for future use and must be zero (8.5.1): ignored here.
        if (i === 0) return GUEST_PAGE_FAULT;
        a = ppn * 4096;
        continue;
      }
      // Every G-stage access is checked as a U-mode access (U must be set).
      if (!permitted(lo, check, 0, false, mxr)) return GUEST_PAGE_FAULT;
      if (i > 0 && ppn % span !== 0) return GUEST_PAGE_FAULT; // misaligned superpage
      const want = lo | PTE_A | (access === Access.Store ? PTE_D : 0);
      if (want !== lo) {
        lo = want;
        this.ram[w] = lo;
        this.memory.markPage(w * 4); // GuestMemory.dirtyLog
      }
      this.leafFlags = lo & 0xff;
      return (ppn - (ppn % span) + (gpn % span)) * 4096 + (gpa % 4096);
    }
    return GUEST_PAGE_FAULT;
  }

  /**
   * HFENCE.VVMA (8.3.2) for VMID `vmid`: hasAddr/hasAsid as in SFENCE.VMA; global entries survive
   * an ASID-specific fence.
   */
  hfenceVvma(vmid: number, hasAddr: boolean, vlo: number, vhi: number, hasAsid: boolean, asid: number): void {
    asid &= 0xffff;
    for (let i = 0; i < TLB_SIZE; i++) {
      const tl = this.tagLo[i]!;
      if (tl === 1 || this.vmid[i] !== vmid) continue;
      if (hasAsid && (this.asid[i] === BARE || (this.vsFlags[i]! & PTE_G) !== 0 || this.asid[i] !== asid)) continue;
      if (hasAddr) {
        const l = this.level[i]!,
          th = this.tagHi[i]!;
        const same =
          l <= 2
            ? th === vhi && tl >>> (12 + 9 * l) === vlo >>> (12 + 9 * l)
            : th >> (9 * l - 20) === vhi >> (9 * l - 20);
        if (!same) continue;
      }
      this.tagLo[i] = 1;
    }
  }

  /** HFENCE.GVMA (8.3.2): every entry of VMID `vmid`, or of all VMIDs (the GPA operand over-flushes). */
  hfenceGvma(hasVmid: boolean, vmid: number): void {
    if (!hasVmid) {
      this.tagLo.fill(1);
      return;
    }
    vmid &= 0x3fff;
    for (let i = 0; i < TLB_SIZE; i++) if (this.vmid[i] === vmid) this.tagLo[i] = 1;
  }

  flushAll(): void {
    this.tagLo.fill(1);
  }
}
