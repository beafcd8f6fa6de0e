// The pool of 4 KiB guest-physical frames that backs every guest process (page tables included).
// Guest "physical" memory is one GuestMemory (a WebAssembly.Memory): pages never touched cost the
// host no RAM, so the pool can be large. Frames are reference counted because fork shares them
// copy-on-write between address spaces (a frame is freed when its last mapping goes).
import type { GuestMemory } from "../memory/GuestMemory.js";

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

export class OutOfFramesError extends Error {
  constructor(total: number) {
    super(`out of guest memory: all ${total} frames (${(total * PAGE_SIZE) >>> 20} MiB) are in use (raise --memory)`);
    this.name = "OutOfFramesError";
  }
}

export class FrameAllocator {
  readonly memory: GuestMemory;
  readonly total: number;
  /** References per frame: mappings of it (leaf PTEs) or 1 for a page-table page. */
  readonly refs: Uint16Array;
  private readonly freeStack: Int32Array;
  private freeTop = 0;
  /** Frames below this index have been handed out at least once; the rest are still zero. */
  private bump = 0;
  /** Frames currently allocated (for tests and memory reports). */
  inUse = 0;

  constructor(memory: GuestMemory) {
    this.memory = memory;
    this.total = Math.floor(memory.size / PAGE_SIZE);
    this.refs = new Uint16Array(this.total);
    this.freeStack = new Int32Array(this.total);
  }

  /** Guest-physical address of frame i. */
  addr(frame: number): number {
    return this.memory.base + frame * PAGE_SIZE;
  }

  /** Frame index of a guest-physical address. */
  frameOf(pa: number): number {
    return (pa - this.memory.base) >>> PAGE_SHIFT;
  }

  /** Offset of frame i in memory.bytes. */
  offset(frame: number): number {
    return frame * PAGE_SIZE;
  }

  /** A zero-filled frame with one reference. Throws OutOfFramesError when the pool is exhausted. */
  alloc(): number {
    let f: number;
    if (this.freeTop > 0) {
      f = this.freeStack[--this.freeTop]!;
      const o = f * PAGE_SIZE;
      this.memory.bytes.fill(0, o, o + PAGE_SIZE);
    } else if (this.bump < this.total) {
      f = this.bump++; // never used: the WebAssembly memory is still zero there
    } else {
      throw new OutOfFramesError(this.total);
    }
    this.refs[f] = 1;
    this.inUse++;
    return f;
  }

  /** A new frame holding a copy of frame `src` (copy-on-write break). */
  allocCopy(src: number): number {
    let f: number;
    if (this.freeTop > 0) f = this.freeStack[--this.freeTop]!;
    else if (this.bump < this.total) f = this.bump++;
    else throw new OutOfFramesError(this.total);
    this.refs[f] = 1;
    this.inUse++;
    this.memory.bytes.copyWithin(f * PAGE_SIZE, src * PAGE_SIZE, src * PAGE_SIZE + PAGE_SIZE);
    return f;
  }

  incRef(frame: number): void {
    if (this.refs[frame] === 0xffff) throw new Error("frame shared by more than 65535 mappings");
    this.refs[frame]!++;
  }

  /** Drops one reference; frees the frame when none remain. */
  decRef(frame: number): void {
    const r = this.refs[frame]!;
    if (r === 0) throw new Error(`frame ${frame} freed twice (internal error)`);
    this.refs[frame] = r - 1;
    if (r === 1) {
      this.freeStack[this.freeTop++] = frame;
      this.inUse--;
    }
  }
}
