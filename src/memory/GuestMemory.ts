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
  /** One bit per 4 KiB guest page written by the device side (for live migration / snapshots). */
  readonly dirty: Uint32Array;
  /**
   * Lazy restore (docs/SNAPSHOTS.md "Restore is lazy"): one byte per 4 KiB page, non-zero while the
   * page's contents are still only in a snapshot file; undefined when every page is resident. Only
   * slow paths consult it, and they are the only ways into RAM: a hart's translation fills (its fast
   * caches, and the translator's TLB mirror copied from them, hold only pages a fill admitted),
   * page-table walks, and device DMA through offsetOf() and the checked accessors.
   */
  absent: Uint8Array | undefined = undefined;
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
    this.dirty = new Uint32Array(Math.ceil(size / 4096 / 32));
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
   * when lazy residency ends (the loader closes its file).
   */
  beginLazy(absent: Uint8Array, pageIn: (page: number) => void, ended?: () => void): void {
    this.endLazy();
    this.absent = absent;
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
    if (a[p] !== 0) {
      a[p] = 0;
      this.pageIn!(p);
      this.pagedIn++;
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

  markDirty(gpa: Gpa, len: number): void {
    if (len <= 0) return;
    const first = (gpa - this.base) >>> GUEST_PAGE_SHIFT;
    const last = (gpa - this.base + len - 1) >>> GUEST_PAGE_SHIFT;
    for (let p = first; p <= last; p++) this.dirty[p >>> 5]! |= 1 << (p & 31);
  }

  /** Returns the guest page numbers (relative to base) marked dirty and clears the marks. */
  takeDirty(): number[] {
    const out: number[] = [];
    for (let w = 0; w < this.dirty.length; w++) {
      let bits = this.dirty[w]!;
      if (bits === 0) continue;
      this.dirty[w] = 0;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        out.push(w * 32 + b);
        bits &= bits - 1;
      }
    }
    return out;
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
