// Page-based virtual memory: Sv39, Sv48 and Sv57 (Privileged ISA 20211203, 4.3-4.5) with an
// ASID-tagged TLB whose flushing follows SFENCE.VMA (4.2.1).
//
// Design decisions (documented as the spec asks implementations to):
// - A and D bits are updated by hardware during the walk (4.3.1 allows either trapping or updating;
//   we update). The update is a plain read-modify-write of the PTE's low word, atomic with respect to
//   this hart (JavaScript runs one hart per thread; a multi-hart board must move this to Atomics).
// - The TLB caches leaf translations per 4 KiB virtual page, tagged with the ASID, the G bit and the
//   leaf level (so an address-specific SFENCE.VMA also drops every 4 KiB slice of a superpage).
//   Entries are only created for PTEs whose A bit is set; a store through an entry whose D bit is
//   clear walks again, so D is set exactly when the first store happens.
// - A permission failure on a cached entry walks again before faulting, so a guest that upgraded a
//   PTE without SFENCE.VMA sees either the old or the new permission, never a fault the new PTE forbids
//   (4.2.1 allows both; re-walking avoids spurious faults).
// - PMP: the pmpcfg/pmpaddr CSRs exist as storage but are not enforced (every access is allowed), and
//   PMAs are: RAM (GuestMemory) is cacheable memory; everything else is I/O on the IoBus.
import type { GuestMemory } from "../memory/GuestMemory.js";
import { Access } from "./Trap.js";
import { PRIV_S, PRIV_U } from "./Privilege.js";

export const SATP_MODE_BARE = 0,
  SATP_MODE_SV39 = 8,
  SATP_MODE_SV48 = 9,
  SATP_MODE_SV57 = 10;

const PTE_V = 1,
  PTE_R = 2,
  PTE_W = 4,
  PTE_X = 8,
  PTE_U = 16,
  PTE_G = 32,
  PTE_A = 64,
  PTE_D = 128;

/** translate() results below zero. */
export const PAGE_FAULT = -1;
export const ACCESS_FAULT = -2;

const TLB_BITS = 10;
const TLB_SIZE = 1 << TLB_BITS;
const TWO20 = 1048576;
const TWO32 = 4294967296;

export class Mmu {
  // TLB entries (struct of arrays, no allocation after construction). tagLo = 1 marks an empty slot
  // (a real tag is page aligned).
  private readonly tagLo = new Int32Array(TLB_SIZE).fill(1);
  private readonly tagHi = new Int32Array(TLB_SIZE);
  private readonly asid = new Int32Array(TLB_SIZE);
  private readonly flags = new Int32Array(TLB_SIZE);
  private readonly level = new Int32Array(TLB_SIZE);
  /** Physical address of the 4 KiB page. */
  private readonly ppage = new Float64Array(TLB_SIZE);
  private readonly ram: Int32Array;
  /** Counters for --stats: TLB misses that walked the page table. */
  walks = 0;
  /**
   * Leaf level of the last successful translate() (0: 4 KiB page, 1: 2 MiB, ...): the hart's fast
   * caches, which hold 4 KiB pages, must know which of them came from a superpage so an
   * address-specific SFENCE.VMA can drop them too.
   */
  lastLevel = 0;

  constructor(private readonly memory: GuestMemory) {
    this.ram = new Int32Array(memory.buffer, 0, memory.size >>> 2);
  }

  /**
   * Translates virtual address (vhi:vlo) for `access` with effective privilege `priv` and the
   * mstatus SUM/MXR bits, under satp (satpHi:satpLo). Returns the physical address, or PAGE_FAULT /
   * ACCESS_FAULT (a PTE outside RAM, 4.3.2 step 2). The caller handles Bare mode and M-mode.
   */
  translate(
    vlo: number,
    vhi: number,
    access: Access,
    priv: number,
    sum: boolean,
    mxr: boolean,
    satpLo: number,
    satpHi: number,
  ): number {
    const mode = satpHi >>> 28;
    const levels = mode === SATP_MODE_SV39 ? 3 : mode === SATP_MODE_SV48 ? 4 : 5;
    // 4.3.2/4.4/4.5: bits above the top VPN must all equal its highest bit.
    const topShift = levels === 3 ? 6 : levels === 4 ? 15 : 24; // address bit (levels*9+11) in vhi
    const top = vhi >> topShift;
    if (top !== 0 && top !== -1) return PAGE_FAULT;
    const curAsid = (satpHi >>> 12) & 0xffff;
    const idx = (vlo >>> 12) & (TLB_SIZE - 1);
    const pageLo = vlo & ~0xfff;
    if (
      this.tagLo[idx] === pageLo &&
      this.tagHi[idx] === vhi &&
      ((this.flags[idx]! & PTE_G) !== 0 || this.asid[idx] === curAsid)
    ) {
      const f = this.flags[idx]!;
      if (permitted(f, access, priv, sum, mxr) && (access !== Access.Store || (f & PTE_D) !== 0)) {
        this.lastLevel = this.level[idx]!;
        return this.ppage[idx]! + (vlo & 0xfff);
      }
    }
    return this.walk(vlo, vhi, access, priv, sum, mxr, satpLo, satpHi, levels, curAsid, idx);
  }

  private walk(
    vlo: number,
    vhi: number,
    access: Access,
    priv: number,
    sum: boolean,
    mxr: boolean,
    satpLo: number,
    satpHi: number,
    levels: number,
    curAsid: number,
    idx: number,
  ): number {
    this.walks++;
    const mem = this.memory;
    const vpnAll = (vlo >>> 12) + (vhi & 0x1ffffff) * TWO20;
    // satp.PPN is bits 43:0.
    let a = ((satpLo >>> 0) + (satpHi & 0xfff) * TWO32) * 4096;
    for (let i = levels - 1; i >= 0; i--) {
      const vpn = Math.floor(vpnAll / 2 ** (9 * i)) % 512;
      const pteAddr = a + vpn * 8;
      if (pteAddr < mem.base || pteAddr + 8 > mem.end) return ACCESS_FAULT;
      if (mem.absent !== undefined) mem.touch(pteAddr - mem.base); // lazy restore (GuestMemory.absent)
      const w = (pteAddr - mem.base) >>> 2;
      let lo = this.ram[w]!;
      const hi = this.ram[w + 1]!;
      // Step 3: invalid, W without R, or reserved bits 63:54 set (no Svpbmt/Svnapot here).
      if ((lo & PTE_V) === 0 || ((lo & PTE_R) === 0 && (lo & PTE_W) !== 0) || hi >>> 22 !== 0) return PAGE_FAULT;
      const ppn = (lo >>> 10) + (hi & 0x3fffff) * 4194304;
      if ((lo & (PTE_R | PTE_X)) === 0) {
        // pointer to the next level
        if (i === 0) return PAGE_FAULT;
        a = ppn * 4096;
        continue;
      }
      // Step 5: leaf permissions.
      if (!permitted(lo, access, priv, sum, mxr)) return PAGE_FAULT;
      const span = 2 ** (9 * i);
      if (i > 0 && ppn % span !== 0) return PAGE_FAULT; // step 6: misaligned superpage
      // Step 7: set A, and D on a store (hardware update, see the header comment).
      const want = lo | PTE_A | (access === Access.Store ? PTE_D : 0);
      if (want !== lo) {
        // Atomic with the check above (Privileged ISA 4.3.2 step 7): another hart's thread may be
        // rewriting this PTE; if it changed since we read it, walk again with its new value.
        if (Atomics.compareExchange(this.ram, w, lo, want) !== lo)
          return this.walk(vlo, vhi, access, priv, sum, mxr, satpLo, satpHi, levels, curAsid, idx);
        mem.markPage(w * 4); // GuestMemory.dirtyLog
        lo = want;
      }
      const page = (ppn - (ppn % span) + (vpnAll % span)) * 4096;
      this.tagLo[idx] = vlo & ~0xfff;
      this.tagHi[idx] = vhi;
      this.asid[idx] = curAsid;
      this.flags[idx] = lo & 0xff;
      this.level[idx] = i;
      this.ppage[idx] = page;
      this.lastLevel = i;
      return page + (vlo & 0xfff);
    }
    return PAGE_FAULT;
  }

  /**
   * SFENCE.VMA (4.2.1). `hasAddr`: rs1 != x0 (vhi:vlo is the address); `hasAsid`: rs2 != x0.
   * An ASID-specific fence keeps global mappings; an address-specific one drops every entry whose
   * leaf (4 KiB page or superpage) contains the address.
   */
  sfence(hasAddr: boolean, vlo: number, vhi: number, hasAsid: boolean, asid: number): void {
    asid &= 0xffff;
    if (!hasAddr && !hasAsid) {
      this.tagLo.fill(1);
      return;
    }
    // Integer compares only: a Linux boot issues ~110 k address-specific fences, and a scan with
    // float divisions per entry made them a quarter of the boot's time. An entry of leaf level L
    // covers the address when both agree above bit 12 + 9L (4 KiB, 2 MiB, 1 GiB, 512 GiB, 256 TiB).
    const tagLo = this.tagLo,
      tagHi = this.tagHi,
      level = this.level,
      flags = this.flags,
      asids = this.asid;
    for (let i = 0; i < TLB_SIZE; i++) {
      const tl = tagLo[i]!;
      if (tl === 1) continue;
      if (hasAsid && ((flags[i]! & PTE_G) !== 0 || asids[i] !== asid)) continue;
      if (hasAddr) {
        const l = level[i]!,
          th = tagHi[i]!;
        const same =
          l <= 2
            ? th === vhi && tl >>> (12 + 9 * l) === vlo >>> (12 + 9 * l)
            : th >> (9 * l - 20) === vhi >> (9 * l - 20);
        if (!same) continue;
      }
      tagLo[i] = 1;
    }
  }

  flushAll(): void {
    this.tagLo.fill(1);
  }
}

/** Leaf permission check (4.3.2 step 5; U/SUM 4.1.1.2; MXR 3.1.6.3). */
export function permitted(f: number, access: Access, priv: number, sum: boolean, mxr: boolean): boolean {
  if (priv === PRIV_U) {
    if ((f & PTE_U) === 0) return false;
  } else if (priv === PRIV_S && (f & PTE_U) !== 0) {
    if (access === Access.Fetch || !sum) return false;
  }
  if (access === Access.Fetch) return (f & PTE_X) !== 0;
  if (access === Access.Load) return (f & PTE_R) !== 0 || (mxr && (f & PTE_X) !== 0);
  return (f & PTE_W) !== 0;
}
