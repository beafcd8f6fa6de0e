// One guest process's virtual address space: its mappings (VMAs, like Linux's vm_area_struct) and
// the real Sv39 page tables (Privileged ISA 4.4) that the hart's MMU walks in U-mode. We build the
// tables ourselves in the frame pool; the hart's TLB and fast path stay unchanged.
//
// Pages are mapped lazily: a VMA only records what may be mapped, and the first access takes a page
// fault (cause 12/13/15) that exits the hart to us (exitMask); handleFault() then allocates a zeroed
// frame (anonymous memory) and sets the PTE. fork() shares every frame and write-protects it; the
// first store to a shared frame faults again and gets a private copy (copy-on-write).
//
// Leaf PTEs carry A and D pre-set (Privileged ISA 4.3.1 allows the hardware to raise a fault instead
// of updating them; pre-setting means it never has to). Software bit 8 (RSW, ignored by hardware)
// marks "this PTE owns a frame", so a PROT_NONE page keeps its contents while V=0.
import { Errno, SyscallError } from "./Errno.js";
import { type FrameAllocator, PAGE_SIZE } from "./FrameAllocator.js";

export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_A = 64;
const PTE_D = 128;
const PTE_OWNS = 256; // RSW bit 8: software "frame present"

/** Sv39 user addresses end here (Linux riscv64 TASK_SIZE for Sv39: half of the 512 GiB space). */
export const TASK_SIZE = 0x40_0000_0000;
/** Where Linux puts the top of the main thread's stack (STACK_TOP = TASK_SIZE), minus a guard page. */
export const STACK_TOP = TASK_SIZE - PAGE_SIZE;
/** 8 MiB: the default RLIMIT_STACK. */
export const STACK_SIZE = 8 << 20;
/** Top of the mmap area: below the stack and a gap, as Linux's mmap_base() (mm/util.c). */
export const MMAP_BASE = STACK_TOP - STACK_SIZE - (128 << 20);
/** ELF_ET_DYN_BASE for riscv64: 2/3 of TASK_SIZE, where a PIE main program is placed. */
export const ET_DYN_BASE = Math.floor(((TASK_SIZE / 3) * 2) / PAGE_SIZE) * PAGE_SIZE;
/** mmap never hands out addresses below this (vm.mmap_min_addr). */
export const MMAP_MIN = 0x10000;

export interface Vma {
  start: number;
  end: number;
  prot: number;
  /** For /proc/self/maps-like reports and debugging: "[heap]", "[stack]", a file name, "". */
  name: string;
}

export const pageDown = (a: number) => a - (a % PAGE_SIZE);
export const pageUp = (a: number) => Math.ceil(a / PAGE_SIZE) * PAGE_SIZE;

export class AddressSpace {
  readonly frames: FrameAllocator;
  /** Frame of the Sv39 root page table. */
  readonly rootFrame: number;
  /** Sorted, non-overlapping. */
  vmas: Vma[] = [];
  brkStart = 0;
  brk = 0;
  /** Set whenever a PTE changed in a way the hart's TLB may have cached; the kernel flushes. */
  tlbStale = false;
  private readonly bytes: Uint8Array;
  private readonly dv: DataView;
  private destroyed = false;

  constructor(frames: FrameAllocator) {
    this.frames = frames;
    this.bytes = frames.memory.bytes;
    this.dv = frames.memory.view;
    this.rootFrame = frames.alloc();
  }

  /** satp for this space: MODE=8 (Sv39, Privileged ISA 4.1.11), ASID 0, root PPN. */
  satp(): bigint {
    return (8n << 60n) | BigInt(this.frames.addr(this.rootFrame) / PAGE_SIZE);
  }

  // ---- page tables ---------------------------------------------------------------------------

  /** Byte offset (in memory.bytes) of the leaf PTE for virtual page `vpn`, or -1 if absent. */
  private leaf(vpn: number, create: boolean): number {
    let table = this.rootFrame;
    for (let level = 2; level > 0; level--) {
      const idx = level === 2 ? (vpn >>> 18) & 511 : (vpn >>> 9) & 511;
      const off = table * PAGE_SIZE + idx * 8;
      const pte = this.dv.getUint32(off, true);
      if ((pte & PTE_V) === 0) {
        if (!create) return -1;
        const t = this.frames.alloc();
        // A non-leaf PTE: V only, R=W=X=0 (Privileged ISA 4.3.1, Table 4.5).
        const pa = this.frames.addr(t);
        this.dv.setUint32(off, ((pa / PAGE_SIZE) * 1024 + PTE_V) >>> 0, true);
        this.dv.setUint32(off + 4, 0, true);
        table = t;
      } else {
        table = this.frames.frameOf((pte >>> 10) * PAGE_SIZE);
      }
    }
    return table * PAGE_SIZE + (vpn & 511) * 8;
  }

  private static pteFlags(prot: number, writable: boolean): number {
    if (prot === PROT_NONE) return PTE_OWNS;
    let f = PTE_V | PTE_U | PTE_A | PTE_D | PTE_OWNS;
    if (prot & (PROT_READ | PROT_WRITE)) f |= PTE_R; // W without R is reserved in Sv39; Linux maps W as RW
    if (prot & PROT_WRITE && writable) f |= PTE_W;
    if (prot & PROT_EXEC) f |= PTE_X;
    return f;
  }

  private setLeaf(off: number, frame: number, flags: number): void {
    const pa = this.frames.addr(frame);
    this.dv.setUint32(off, ((pa / PAGE_SIZE) * 1024 + flags) >>> 0, true);
  }

  private frameAt(pte: number): number {
    return this.frames.frameOf((pte >>> 10) * PAGE_SIZE);
  }

  // ---- VMAs ----------------------------------------------------------------------------------

  findVma(va: number): Vma | undefined {
    let lo = 0;
    let hi = this.vmas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.vmas[mid]!;
      if (va < v.start) hi = mid - 1;
      else if (va >= v.end) lo = mid + 1;
      else return v;
    }
    return undefined;
  }

  /** True if no VMA overlaps [start, end). */
  isFree(start: number, end: number): boolean {
    for (const v of this.vmas) if (v.start < end && v.end > start) return false;
    return true;
  }

  /** A free range of `len` bytes, top-down from MMAP_BASE as Linux does, or -1. */
  findFree(len: number, below = MMAP_BASE): number {
    let top = below;
    for (let i = this.vmas.length - 1; i >= 0; i--) {
      const v = this.vmas[i]!;
      if (v.start >= top) continue;
      if (v.end <= top - len) break;
      top = v.start;
    }
    const start = top - len;
    return start >= MMAP_MIN ? start : -1;
  }

  /**
   * Adds a mapping [start, start+len) (page aligned), replacing whatever was there (MAP_FIXED
   * semantics). Pages are faulted in lazily; `data` (file contents) is copied in now.
   */
  map(start: number, len: number, prot: number, name: string, data?: Uint8Array, dataOffset = 0): void {
    const end = start + len;
    this.unmap(start, len);
    const vma: Vma = { start, end, prot, name };
    let i = 0;
    while (i < this.vmas.length && this.vmas[i]!.start < start) i++;
    this.vmas.splice(i, 0, vma);
    if (data && data.length > 0) this.populate(start + dataOffset, data, prot);
  }

  /** Copies bytes into mapped pages at `va`, allocating frames (the loader's and file mmap's path). */
  populate(va: number, data: Uint8Array, prot: number): void {
    let done = 0;
    while (done < data.length) {
      const a = va + done;
      const vpn = Math.floor(a / PAGE_SIZE);
      const inPage = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, data.length - done);
      const off = this.leaf(vpn, true);
      let pte = this.dv.getUint32(off, true);
      if ((pte & PTE_OWNS) === 0) {
        const f = this.frames.alloc();
        this.setLeaf(off, f, AddressSpace.pteFlags(prot, true));
        pte = this.dv.getUint32(off, true);
      }
      const fo = this.frameAt(pte) * PAGE_SIZE;
      this.bytes.set(data.subarray(done, done + n), fo + inPage);
      done += n;
    }
  }

  /** Removes mappings in [start, start+len): frees their frames (munmap). */
  unmap(start: number, len: number): void {
    const end = start + len;
    const out: Vma[] = [];
    let touched = false;
    for (const v of this.vmas) {
      if (v.end <= start || v.start >= end) {
        out.push(v);
        continue;
      }
      touched = true;
      if (v.start < start) out.push({ ...v, end: start });
      if (v.end > end) out.push({ ...v, start: end });
      this.dropPages(Math.max(v.start, start), Math.min(v.end, end));
    }
    if (touched) {
      out.sort((a, b) => a.start - b.start);
      this.vmas = out;
    }
  }

  private dropPages(start: number, end: number): void {
    for (let vpn = start / PAGE_SIZE; vpn < end / PAGE_SIZE; vpn++) {
      // Skip a whole absent second-level table quickly.
      const off = this.leaf(vpn, false);
      if (off < 0) {
        vpn = (Math.floor(vpn / 512) + 1) * 512 - 1;
        continue;
      }
      const pte = this.dv.getUint32(off, true);
      if (pte & PTE_OWNS) {
        this.frames.decRef(this.frameAt(pte));
        this.dv.setUint32(off, 0, true);
        this.tlbStale = true;
      }
    }
  }

  /** mprotect: changes VMA protections in [start, start+len); ENOMEM if part of it is unmapped. */
  protect(start: number, len: number, prot: number): void {
    const end = start + len;
    // Linux: every page of the range must be mapped.
    let cursor = start;
    for (const v of this.vmas) {
      if (v.end <= cursor) continue;
      if (v.start > cursor || cursor >= end) break;
      cursor = v.end;
    }
    if (cursor < end) throw new SyscallError(Errno.ENOMEM);
    const out: Vma[] = [];
    for (const v of this.vmas) {
      if (v.end <= start || v.start >= end) {
        out.push(v);
        continue;
      }
      if (v.start < start) out.push({ ...v, end: start });
      out.push({ ...v, start: Math.max(v.start, start), end: Math.min(v.end, end), prot });
      if (v.end > end) out.push({ ...v, start: end });
    }
    this.vmas = out;
    for (let vpn = start / PAGE_SIZE; vpn < end / PAGE_SIZE; vpn++) {
      const off = this.leaf(vpn, false);
      if (off < 0) continue;
      const pte = this.dv.getUint32(off, true);
      if ((pte & PTE_OWNS) === 0) continue;
      const f = this.frameAt(pte);
      // A frame still shared copy-on-write stays write-protected: the store fault copies it.
      this.setLeaf(off, f, AddressSpace.pteFlags(prot, this.frames.refs[f] === 1));
      this.tlbStale = true;
    }
  }

  /**
   * mremap: resizes [old, old+oldLen) to newLen, in place if possible, else (maymove) moves the
   * pages, PTEs and all, to a free range. Returns the new address or throws ENOMEM.
   */
  remap(old: number, oldLen: number, newLen: number, maymove: boolean): number {
    const v = this.findVma(old);
    if (!v || old + oldLen > v.end) throw new SyscallError(Errno.EFAULT);
    if (newLen <= oldLen) {
      if (newLen < oldLen) this.unmap(old + newLen, oldLen - newLen);
      return old;
    }
    if (this.isFree(old + oldLen, old + newLen) && old + newLen <= MMAP_BASE) {
      this.map(old + oldLen, newLen - oldLen, v.prot, v.name);
      this.mergeAdjacent();
      return old;
    }
    if (!maymove) throw new SyscallError(Errno.ENOMEM);
    const dest = this.findFree(newLen);
    if (dest < 0) throw new SyscallError(Errno.ENOMEM);
    this.map(dest, newLen, v.prot, v.name);
    for (let i = 0; i < oldLen / PAGE_SIZE; i++) {
      const src = this.leaf(old / PAGE_SIZE + i, false);
      if (src < 0) continue;
      const pte = this.dv.getUint32(src, true);
      if ((pte & PTE_OWNS) === 0) continue;
      const dst = this.leaf(dest / PAGE_SIZE + i, true);
      this.dv.setUint32(dst, pte, true);
      this.dv.setUint32(src, 0, true);
    }
    this.unmap(old, oldLen);
    this.tlbStale = true;
    return dest;
  }

  private mergeAdjacent(): void {
    const out: Vma[] = [];
    for (const v of this.vmas) {
      const last = out[out.length - 1];
      if (last && last.end === v.start && last.prot === v.prot && last.name === v.name) last.end = v.end;
      else out.push(v);
    }
    this.vmas = out;
  }

  /** brk(2): moves the program break; returns the new break (the old one on failure, as Linux). */
  setBrk(want: number): number {
    if (want < this.brkStart) return this.brk;
    const oldTop = pageUp(this.brk);
    const newTop = pageUp(want);
    if (newTop > oldTop) {
      if (!this.isFree(oldTop, newTop) || newTop > MMAP_BASE) return this.brk;
      // As mmap: growth that all of memory could never back fails (Linux's overcommit guess).
      if ((newTop - oldTop) / PAGE_SIZE > this.frames.total) return this.brk;
      const heap = this.vmas.find((x) => x.name === "[heap]");
      if (heap && heap.end === oldTop) heap.end = newTop;
      else this.map(oldTop, newTop - oldTop, PROT_READ | PROT_WRITE, "[heap]");
    } else if (newTop < oldTop) {
      this.unmap(newTop, oldTop - newTop);
    }
    this.brk = want;
    return want;
  }

  // ---- faults --------------------------------------------------------------------------------

  /**
   * Resolves a page fault at `va` for an access of kind 0 = load, 1 = store, 2 = fetch. Returns
   * true if the access may now be retried (page mapped in, copy-on-write broken), false if it is a
   * real fault (SIGSEGV: no mapping, or the mapping forbids the access).
   */
  handleFault(va: number, access: 0 | 1 | 2): boolean {
    if (!(va >= 0 && va < TASK_SIZE)) return false;
    const v = this.findVma(va);
    if (!v) return false;
    const need = access === 1 ? PROT_WRITE : access === 2 ? PROT_EXEC : PROT_READ | PROT_WRITE;
    if ((v.prot & need) === 0) return false;
    const vpn = Math.floor(va / PAGE_SIZE);
    const off = this.leaf(vpn, true);
    const pte = this.dv.getUint32(off, true);
    if ((pte & PTE_OWNS) === 0) {
      this.setLeaf(off, this.frames.alloc(), AddressSpace.pteFlags(v.prot, true));
    } else if (access === 1) {
      const f = this.frameAt(pte);
      if (this.frames.refs[f]! > 1) {
        // Copy-on-write: give this space its own copy and drop its share of the old frame.
        const copy = this.frames.allocCopy(f);
        this.frames.decRef(f);
        this.setLeaf(off, copy, AddressSpace.pteFlags(v.prot, true));
      } else {
        this.setLeaf(off, f, AddressSpace.pteFlags(v.prot, true));
      }
    }
    // Whatever the hart cached for this page is now wrong (it may even have cached the fault).
    this.tlbStale = true;
    return true;
  }

  /**
   * Host offset (in memory.bytes) of guest virtual address `va` for a kernel-side access, faulting
   * the page in as a user access would. -1 if the guest could not make that access itself.
   */
  hostOffset(va: number, write: boolean): number {
    if (!(va >= 0 && va < TASK_SIZE)) return -1;
    const vpn = Math.floor(va / PAGE_SIZE);
    let off = this.leaf(vpn, false);
    let pte = off < 0 ? 0 : this.dv.getUint32(off, true);
    const ok = write ? (pte & (PTE_V | PTE_W)) === (PTE_V | PTE_W) : (pte & (PTE_V | PTE_R)) === (PTE_V | PTE_R);
    if (!ok) {
      if (!this.handleFault(va, write ? 1 : 0)) return -1;
      off = this.leaf(vpn, false);
      pte = this.dv.getUint32(off, true);
    }
    return this.frameAt(pte) * PAGE_SIZE + (va % PAGE_SIZE);
  }

  // ---- kernel access to user memory (copy_from_user / copy_to_user) -----------------------------

  /**
   * Calls fn(hostOffset, n, doneSoFar) for each page-sized piece of [va, va+len). Throws EFAULT
   * (before touching anything further) when a piece is not accessible.
   */
  forEachChunk(va: number, len: number, write: boolean, fn: (off: number, n: number, done: number) => void): void {
    if (!(len >= 0) || !(va >= 0) || va + len > TASK_SIZE) throw new SyscallError(Errno.EFAULT);
    let done = 0;
    while (done < len) {
      const a = va + done;
      const n = Math.min(PAGE_SIZE - (a % PAGE_SIZE), len - done);
      const off = this.hostOffset(a, write);
      if (off < 0) throw new SyscallError(Errno.EFAULT);
      fn(off, n, done);
      done += n;
    }
  }

  /** Throws EFAULT unless the guest could access all of [va, va+len) (faulting pages in). */
  check(va: number, len: number, write: boolean): void {
    this.forEachChunk(va, len, write, () => {});
  }

  read(va: number, len: number): Uint8Array {
    if (!(len >= 0 && len <= 0x7fff_f000)) throw new SyscallError(Errno.EFAULT);
    const out = new Uint8Array(len);
    this.forEachChunk(va, len, false, (off, n, done) => out.set(this.bytes.subarray(off, off + n), done));
    return out;
  }

  write(va: number, data: Uint8Array): void {
    this.forEachChunk(va, data.length, true, (off, n, done) => this.bytes.set(data.subarray(done, done + n), off));
  }

  readU64(va: number): bigint {
    if (va % 8 === 0) {
      const off = this.hostOffset(va, false);
      if (off < 0) throw new SyscallError(Errno.EFAULT);
      return this.dv.getBigUint64(off, true);
    }
    const b = this.read(va, 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  writeU64(va: number, v: bigint): void {
    if (va % 8 === 0) {
      const off = this.hostOffset(va, true);
      if (off < 0) throw new SyscallError(Errno.EFAULT);
      this.dv.setBigUint64(off, BigInt.asUintN(64, v), true);
      return;
    }
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.write(va, b);
  }

  readU32(va: number): number {
    const b = this.read(va, 4);
    return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  }

  writeU32(va: number, v: number): void {
    this.write(va, new Uint8Array([v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255]));
  }

  /** A NUL-terminated string of at most `max` bytes (ENAMETOOLONG past it, EFAULT if unmapped). */
  readCString(va: number, max = 4096): string {
    return Buffer.from(this.readNulTerminated(va, max, Errno.ENAMETOOLONG)).toString("utf8");
  }

  /** Raw bytes of a NUL-terminated string (for argv/envp, which need not be UTF-8). */
  readCBytes(va: number, max = 131072): Uint8Array {
    return this.readNulTerminated(va, max, Errno.E2BIG);
  }

  /** Bytes up to the NUL, page by page; `tooLong` once `max` bytes pass without one. */
  private readNulTerminated(va: number, max: number, tooLong: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    let a = va;
    for (;;) {
      const off = this.hostOffset(a, false);
      if (off < 0) throw new SyscallError(Errno.EFAULT);
      const pageEnd = off + (PAGE_SIZE - (a % PAGE_SIZE));
      const z = this.bytes.subarray(off, pageEnd).indexOf(0);
      const end = z >= 0 ? off + z : pageEnd;
      parts.push(this.bytes.slice(off, end));
      total += end - off;
      if (total >= max) throw new SyscallError(tooLong);
      if (end < pageEnd) break;
      a += pageEnd - off;
    }
    return Buffer.concat(parts);
  }

  // ---- fork / exit ---------------------------------------------------------------------------

  /**
   * A copy-on-write duplicate (fork): every present frame is shared and write-protected in both.
   * Throws OutOfFramesError, with nothing leaked, when the child's page tables do not fit.
   */
  fork(): AddressSpace {
    const child = new AddressSpace(this.frames);
    try {
      this.shareInto(child);
    } catch (e) {
      child.destroy(); // drops exactly the references shareInto installed
      throw e;
    } finally {
      this.tlbStale = true; // our PTEs lost W, even on failure (the next store just re-gains it)
    }
    return child;
  }

  private shareInto(child: AddressSpace): void {
    child.vmas = this.vmas.map((v) => ({ ...v }));
    child.brkStart = this.brkStart;
    child.brk = this.brk;
    const r = this.rootFrame * PAGE_SIZE;
    for (let i = 0; i < 512; i++) {
      const p1 = this.dv.getUint32(r + i * 8, true);
      if ((p1 & PTE_V) === 0) continue;
      const t1 = this.frameAt(p1) * PAGE_SIZE;
      for (let j = 0; j < 512; j++) {
        const p2 = this.dv.getUint32(t1 + j * 8, true);
        if ((p2 & PTE_V) === 0) continue;
        const t2 = this.frameAt(p2) * PAGE_SIZE;
        for (let k = 0; k < 512; k++) {
          const off = t2 + k * 8;
          const pte = this.dv.getUint32(off, true);
          if ((pte & PTE_OWNS) === 0) continue;
          // The child's page table first: if it cannot be allocated, no reference was taken.
          const coff = child.leaf(i * 262144 + j * 512 + k, true);
          const f = this.frameAt(pte);
          this.frames.incRef(f);
          const shared = (pte & ~PTE_W) >>> 0;
          this.dv.setUint32(off, shared, true);
          this.dv.setUint32(coff, shared, true);
        }
      }
    }
  }

  /** Frees every frame and page table (exit, execve). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const r = this.rootFrame * PAGE_SIZE;
    for (let i = 0; i < 512; i++) {
      const p1 = this.dv.getUint32(r + i * 8, true);
      if ((p1 & PTE_V) === 0) continue;
      const f1 = this.frameAt(p1);
      for (let j = 0; j < 512; j++) {
        const p2 = this.dv.getUint32(f1 * PAGE_SIZE + j * 8, true);
        if ((p2 & PTE_V) === 0) continue;
        const f2 = this.frameAt(p2);
        for (let k = 0; k < 512; k++) {
          const pte = this.dv.getUint32(f2 * PAGE_SIZE + k * 8, true);
          if (pte & PTE_OWNS) this.frames.decRef(this.frameAt(pte));
        }
        this.frames.decRef(f2);
      }
      this.frames.decRef(f1);
    }
    this.frames.decRef(this.rootFrame);
    this.vmas = [];
  }

  /** Pages with a frame (resident set), for tests and reports. */
  residentPages(): number {
    let n = 0;
    for (const v of this.vmas) {
      for (let vpn = v.start / PAGE_SIZE; vpn < v.end / PAGE_SIZE; vpn++) {
        const off = this.leaf(vpn, false);
        if (off >= 0 && this.dv.getUint32(off, true) & PTE_OWNS) n++;
      }
    }
    return n;
  }
}
