// Guest-physical RAM: one contiguous region backed by a WebAssembly.Memory, so that device models
// and translated WebAssembly code see the same bytes. It is shared (SharedArrayBuffer) so that harts
// run in worker threads (src/vmm/vcpu: one per vCPU, each viewing the same memory).
// Device DMA goes through offsetOf(), which never returns an offset outside RAM.
//
// Layout of the backing buffer: [ RAM (size bytes) | engine area (engineBytes) ].
// RAM starts at offset 0, so host offset = gpa - base. The engine area holds per-hart state and
// TLBs where generated code can reach them (see docs/ARCHITECTURE.md).

import { type Gpa, type HostOffset, hostOffset } from "./Address.js";

const PAGE = 65536; // WebAssembly page size
export const GUEST_PAGE_SHIFT = 12;

export interface GuestMemoryOptions {
  /** Guest-physical address of the first byte of RAM (0x8000_0000 on the RISC-V virt board). */
  base: number;
  /** RAM size in bytes (a multiple of 4 KiB). */
  size: number;
  /** Extra bytes after RAM reserved for engine state (hart register files, TLBs). */
  engineBytes?: number;
  /** Share between worker threads (SharedArrayBuffer). Default true. */
  shared?: boolean;
  /**
   * An existing memory to view instead of creating one: a vCPU worker thread's view of the VM's
   * RAM (src/vmm/vcpu). It must be at least size + engineBytes bytes.
   */
  wasmMemory?: WebAssembly.Memory;
  /**
   * An existing dirty log to share (GuestMemory.dirtyLogBuffer of the memory `wasmMemory` belongs
   * to): a vCPU thread marks the pages it writes in the VMM thread's log.
   */
  dirtyLog?: SharedArrayBuffer;
}

export class GuestMemory {
  readonly base: number;
  readonly size: number;
  /** Last guest-physical address + 1. */
  readonly end: number;
  readonly wasmMemory: WebAssembly.Memory;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** View of RAM only. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Offset of the engine area inside `buffer`. */
  readonly engineOffset: number;
  readonly engineBytes: number;
  /**
   * The dirty log (live migration, docs/SNAPSHOTS.md "Dirty tracking"): one bit per 4 KiB page of
   * RAM (bit p & 31 of word p >>> 5), set by every write that does not go through a cached
   * translation: device DMA and the loaders (offsetOf's users mark what they write: markDirty,
   * slice(..., true), the checked writers), page-table walks setting A/D bits, and the harts' store
   * slow paths (Hart.xlate for a store, HSV). A hart's fast store cache and the translator's store
   * mirror are filled only by such a slow path, so a page written through them was marked when the
   * entry was filled; a migration round takes and clears the log, then flushes those caches
   * (vmm/DirtyRound.ts), which is write protection without a cost per store. Marking is atomic:
   * vCPU threads and the VMM thread share the log (SharedArrayBuffer when the memory is shared).
   */
  readonly dirtyLog: Int32Array;
  /**
   * Lazy restore (docs/SNAPSHOTS.md "Restore is lazy"): one byte per 4 KiB page, non-zero while the
   * page's contents are still only in a snapshot file; undefined when every page is resident. Only
   * slow paths consult it, and they are the only ways into RAM: a hart's translation fills (its fast
   * caches, and the translator's TLB mirror copied from them, hold only pages a fill admitted),
   * page-table walks, and device DMA through offsetOf() and the checked accessors.
   */
  absent: Uint8Array | undefined = undefined;
  /**
   * The file a lazy restore reads pages from (beginLazy's `source`): vCPU threads, whose views of
   * this memory share `absent` (a SharedArrayBuffer), open it to read pages in themselves.
   */
  lazySource: string | undefined = undefined;
  private pageIn: ((page: number) => void) | undefined;
  private lazyEnded: (() => void) | undefined;
  /** Pages brought in on first touch since the lazy restore (statistics). */
  pagedIn = 0;

  constructor(opts: GuestMemoryOptions) {
    const { base, size } = opts;
    if (!Number.isSafeInteger(base) || base < 0) throw new RangeError(`RAM base ${base} is not a valid address`);
    if (!Number.isSafeInteger(size) || size <= 0 || size % 4096 !== 0) {
      throw new RangeError(`RAM size ${size} must be a positive multiple of 4 KiB`);
    }
    const engineBytes = opts.engineBytes ?? 0;
    const total = size + engineBytes;
    const pages = Math.ceil(total / PAGE);
    if (pages > 65536)
      throw new RangeError(`RAM size ${size} bytes is more than the 4 GiB one WebAssembly memory can hold`);
    this.base = base;
    this.size = size;
    this.end = base + size;
    this.wasmMemory =
      opts.wasmMemory ?? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: opts.shared ?? true });
    if (this.wasmMemory.buffer.byteLength < total)
      throw new RangeError(`the given memory is smaller than ${total} bytes`);
    this.buffer = this.wasmMemory.buffer;
    this.bytes = new Uint8Array(this.buffer, 0, size);
    this.view = new DataView(this.buffer, 0, size);
    this.engineOffset = size;
    this.engineBytes = engineBytes;
    const words = Math.ceil(size / 4096 / 32);
    const log =
      opts.dirtyLog ?? ((opts.shared ?? true) ? new SharedArrayBuffer(4 * words) : new ArrayBuffer(4 * words));
    if (log.byteLength < 4 * words) throw new RangeError(`the given dirty log is smaller than ${4 * words} bytes`);
    this.dirtyLog = new Int32Array(log, 0, words);
  }

  /** The dirty log's buffer, for GuestMemoryOptions.dirtyLog of another thread's view. */
  get dirtyLogBuffer(): ArrayBuffer | SharedArrayBuffer {
    return this.dirtyLog.buffer;
  }

  /** True if [gpa, gpa+len) lies entirely inside RAM. */
  contains(gpa: Gpa, len: number): boolean {
    return len >= 0 && gpa >= this.base && gpa + len <= this.end && gpa + len >= gpa;
  }

  /**
   * Host offset of guest-physical range [gpa, gpa+len), or -1 if any byte of it is outside RAM.
   * Every device DMA access must go through this (or the checked helpers below).
   */
  offsetOf(gpa: Gpa, len: number): HostOffset | -1 {
    if (!(len >= 0) || !(gpa >= this.base) || gpa + len > this.end) return -1;
    if (this.absent !== undefined) this.touchRange(gpa - this.base, len);
    return hostOffset(gpa - this.base);
  }

  /**
   * Starts lazy residency: pages marked in `absent` are brought in by `pageIn(page)` on first
   * touch (page numbers relative to base; pageIn writes the page's bytes into RAM); `ended` runs
   * when lazy residency ends (the loader closes its file). Several threads' views may share one
   * `absent` (on a SharedArrayBuffer): a page is read in by the one that claims it (1 -> 2, a
   * compare-and-swap), the others wait until it is resident (0), so no thread's store to a page it
   * found resident is overwritten by another thread's late read of it.
   */
  beginLazy(absent: Uint8Array, pageIn: (page: number) => void, ended?: () => void, source?: string): void {
    this.endLazy();
    this.absent = absent;
    this.lazySource = source;
    this.pageIn = pageIn;
    this.lazyEnded = ended;
    this.pagedIn = 0;
  }

  /** Makes the page holding host offset `off` (inside RAM) resident. */
  touch(off: number): void {
    this.touchPage(off >>> GUEST_PAGE_SHIFT);
  }

  private touchPage(p: number): void {
    const a = this.absent;
    if (a === undefined) return;
    if (Atomics.load(a, p) === 0) return;
    if (Atomics.compareExchange(a, p, 1, 2) === 1) {
      try {
        this.pageIn!(p);
      } catch (e) {
        Atomics.store(a, p, 1);
        throw e;
      }
      this.pagedIn++;
      Atomics.store(a, p, 0);
    } else {
      // Another thread is reading it in (one pread of 4 KiB): wait for it.
      while (Atomics.load(a, p) !== 0) {
        /* spin */
      }
    }
  }

  /** Makes the pages of host range [off, off+len) (inside RAM) resident. */
  touchRange(off: number, len: number): void {
    if (this.absent === undefined || len <= 0) return;
    const last = (off + len - 1) >>> GUEST_PAGE_SHIFT;
    for (let p = off >>> GUEST_PAGE_SHIFT; p <= last; p++) this.touchPage(p);
  }

  /** Brings in every absent page and ends lazy residency (before reading all of RAM: snapshots, migration). */
  makeResident(): void {
    const a = this.absent;
    if (a === undefined) return;
    for (let p = 0; p < a.length; p++) this.touchPage(p);
    this.endLazy();
  }

  /** Ends lazy residency without loading anything (RAM is about to be cleared: a reboot). */
  endLazy(): void {
    const ended = this.lazyEnded;
    this.absent = undefined;
    this.lazySource = undefined;
    this.pageIn = undefined;
    this.lazyEnded = undefined;
    ended?.();
  }

  /** A view of guest RAM for DMA, or undefined if the range leaves RAM. Marks it dirty if `write`. */
  slice(gpa: Gpa, len: number, write: boolean): Uint8Array | undefined {
    const off = this.offsetOf(gpa, len);
    if (off < 0) return undefined;
    if (write) this.markDirty(gpa, len);
    return this.bytes.subarray(off, off + len);
  }

  /** Marks the pages of guest-physical range [gpa, gpa+len) (inside RAM) written. */
  markDirty(gpa: Gpa, len: number): void {
    this.markRange(gpa - this.base, len);
  }

  /** Marks the pages of host range [off, off+len) (inside RAM) written. */
  markRange(off: number, len: number): void {
    if (len <= 0) return;
    const last = (off + len - 1) >>> GUEST_PAGE_SHIFT;
    for (let p = off >>> GUEST_PAGE_SHIFT; p <= last; p++) this.markPage(p * 4096);
  }

  /**
   * Marks the page holding host offset `off` (inside RAM) written. A plain read first: a page
   * already marked costs no atomic operation (a concurrent take of the word is harmless, see
   * DirtyRound.ts: the pages taken are read only after every hart has flushed its store caches).
   */
  markPage(off: number): void {
    const w = off >>> 17;
    const bit = 1 << ((off >>> GUEST_PAGE_SHIFT) & 31);
    const log = this.dirtyLog;
    if ((log[w]! & bit) === 0) Atomics.or(log, w, bit);
    const cw = this.codeWatch;
    if (cw !== undefined && cw.pages[off >>> GUEST_PAGE_SHIFT] !== 0) cw.written(off & ~0xfff);
  }

  /**
   * Reports every marked write (markPage and its callers: device DMA, loaders, page-table A/D
   * updates, the harts' store slow paths) to a page whose byte in `pages` is not zero, with the
   * page's host offset: a translator's code pages, so that it drops a translation when something
   * other than its own harts' stores rewrites the code (QEMU's DIRTY_MEMORY_CODE for DMA). Only
   * writes through this object are seen: a translator relies on it only where every writer of RAM
   * on its thread marks (DbtOptions.hostWritesReported). undefined stops reporting.
   */
  watchCodeWrites(pages: Uint8Array | undefined, written?: (hostPage: number) => void): void {
    this.codeWatch = pages === undefined || written === undefined ? undefined : { pages, written };
  }
  private codeWatch: { readonly pages: Uint8Array; readonly written: (hostPage: number) => void } | undefined =
    undefined;

  /** Copies the dirty log into `into` (at least dirtyLog.length words) and clears it, word by word atomically. */
  takeDirtyLog(into: Int32Array): void {
    const log = this.dirtyLog;
    for (let w = 0; w < log.length; w++) into[w] = log[w] === 0 ? 0 : Atomics.exchange(log, w, 0);
  }

  /** Returns the guest page numbers (relative to base) marked dirty and clears the marks. */
  takeDirty(): number[] {
    const words = new Int32Array(this.dirtyLog.length);
    this.takeDirtyLog(words);
    return dirtyPages(words);
  }

  // Checked little-endian accessors for device models (RISC-V and x86 are little-endian).
  // They throw GuestMemoryError when the guest hands a device an address outside RAM; device code
  // catches it and fails the request (virtio: error status / DEVICE_NEEDS_RESET), never the VMM.
  readU8(gpa: Gpa): number {
    return this.view.getUint8(this.checked(gpa, 1));
  }
  readU16(gpa: Gpa): number {
    return this.view.getUint16(this.checked(gpa, 2), true);
  }
  readU32(gpa: Gpa): number {
    return this.view.getUint32(this.checked(gpa, 4), true);
  }
  readU64(gpa: Gpa): bigint {
    return this.view.getBigUint64(this.checked(gpa, 8), true);
  }
  writeU8(gpa: Gpa, v: number): void {
    this.view.setUint8(this.checked(gpa, 1, true), v);
  }
  writeU16(gpa: Gpa, v: number): void {
    this.view.setUint16(this.checked(gpa, 2, true), v, true);
  }
  writeU32(gpa: Gpa, v: number): void {
    this.view.setUint32(this.checked(gpa, 4, true), v, true);
  }
  writeU64(gpa: Gpa, v: bigint): void {
    this.view.setBigUint64(this.checked(gpa, 8, true), v, true);
  }

  /** Copies host bytes into guest RAM (loaders, DMA). */
  write(gpa: Gpa, data: Uint8Array): void {
    this.bytes.set(data, this.checked(gpa, data.length, true));
  }

  /** Copies guest RAM out into a new host buffer. */
  read(gpa: Gpa, len: number): Uint8Array {
    const off = this.checked(gpa, len);
    return this.bytes.slice(off, off + len);
  }

  private checked(gpa: Gpa, len: number, write = false): HostOffset {
    const off = this.offsetOf(gpa, len);
    if (off === -1) throw new GuestMemoryError(gpa, len);
    if (write) this.markDirty(gpa, len);
    return off;
  }
}

export class GuestMemoryError extends Error {
  constructor(
    readonly gpa: number,
    readonly len: number,
  ) {
    super(`guest-physical range 0x${gpa.toString(16)}+${len} is outside guest RAM`);
    this.name = "GuestMemoryError";
  }
}

/** The page numbers whose bits are set in a dirty log (GuestMemory.dirtyLog layout), ascending. */
export function dirtyPages(words: Int32Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < words.length; w++) {
    let bits = words[w]!;
    while (bits !== 0) {
      out.push(w * 32 + 31 - Math.clz32(bits & -bits));
      bits &= bits - 1;
    }
  }
  return out;
}
