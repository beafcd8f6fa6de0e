// Split virtqueue, device side (virtio 1.2 §2.7): descriptor table, available ring (driver area),
// used ring (device area), with indirect descriptors (§2.7.5.3) and event index (§2.7.7, §2.7.10).
//
// Nothing the guest wrote is trusted. Ring addresses are checked once, when the queue is enabled
// (they cannot move afterwards); every buffer address is checked against guest RAM as the chain is
// walked. Two classes of guest error:
//  - ring corruption (head or next index past the table, a loop, nested indirect tables, more
//    buffers "available" than the queue holds): the queue is broken; pop() returns BROKEN with the
//    reason in `broken` and the transport sets DEVICE_NEEDS_RESET (§2.1.2);
//  - a bad request (buffer outside RAM, device-writable before device-readable buffers, absurd
//    lengths): pop() still returns the chain, with `chain.error` set, so the device can fail just
//    that request with an error status and hand the buffers back.
// Walking is bounded by the queue size (or indirect table length), so a hostile chain cannot hang us,
// and the hot path reuses preallocated DescChain objects instead of allocating per request.

import type { GuestMemory } from "../../memory/GuestMemory.js";
import { gpa as asGpa } from "../../memory/Address.js";

const VIRTQ_DESC_F_NEXT = 1;
const VIRTQ_DESC_F_WRITE = 2;
const VIRTQ_DESC_F_INDIRECT = 4;
const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

/** Upper bound on buffers in one chain, direct or indirect (Linux never builds more than 1024+ring). */
export const MAX_CHAIN_SEGMENTS = 4096;

export const POP_EMPTY = 0;
export const POP_OK = 1;
export const POP_BROKEN = -1;

/** One descriptor chain as a scatter-gather list: readable buffers first, then writable (§2.7.4.2). */
export class DescChain {
  head = 0;
  count = 0;
  /** Index of the first device-writable buffer (=== count if none). */
  firstWritable = 0;
  readableBytes = 0;
  writableBytes = 0;
  /** Non-empty when the request is malformed; the device must fail it. */
  error = "";
  addr: Float64Array;
  len: Uint32Array;

  constructor(capacity = 8) {
    this.addr = new Float64Array(capacity);
    this.len = new Uint32Array(capacity);
  }

  clear(head: number): void {
    this.head = head;
    this.count = 0;
    this.firstWritable = -1;
    this.readableBytes = 0;
    this.writableBytes = 0;
    this.error = "";
  }

  /** Adds a buffer, growing storage geometrically (amortised: no allocation in steady state). */
  push(addr: number, len: number, writable: boolean): void {
    if (this.count === this.addr.length) {
      const a = new Float64Array(this.addr.length * 2);
      a.set(this.addr);
      this.addr = a;
      const l = new Uint32Array(this.len.length * 2);
      l.set(this.len);
      this.len = l;
    }
    this.addr[this.count] = addr;
    this.len[this.count] = len;
    this.count++;
    if (writable) {
      if (this.firstWritable < 0) this.firstWritable = this.count - 1;
      this.writableBytes += len;
    } else {
      if (this.firstWritable >= 0 && this.error === "")
        this.error = "device-readable buffer after a device-writable one (virtio 1.2 §2.7.4.2)";
      this.readableBytes += len;
    }
  }

  finish(): void {
    if (this.firstWritable < 0) this.firstWritable = this.count;
  }

  /**
   * Copies `len` bytes of the device-readable part, starting `from` bytes in, into dst[dstOff..].
   * Returns the number of bytes copied (less than `len` if the chain is shorter).
   */
  readInto(mem: GuestMemory, from: number, dst: Uint8Array, dstOff: number, len: number): number {
    let done = 0;
    let skip = from;
    for (let i = 0; i < this.firstWritable && done < len; i++) {
      const l = this.len[i]!;
      if (skip >= l) {
        skip -= l;
        continue;
      }
      const n = Math.min(l - skip, len - done);
      const off = mem.offsetOf(asGpa(this.addr[i]! + skip), n);
      if (off < 0) return done;
      dst.set(mem.bytes.subarray(off, off + n), dstOff + done);
      done += n;
      skip = 0;
    }
    return done;
  }

  /** Copies src into the device-writable part starting `at` bytes in; marks pages dirty. Returns bytes written. */
  writeFrom(mem: GuestMemory, at: number, src: Uint8Array, srcOff: number, len: number): number {
    let done = 0;
    let skip = at;
    for (let i = this.firstWritable; i < this.count && done < len; i++) {
      const l = this.len[i]!;
      if (skip >= l) {
        skip -= l;
        continue;
      }
      const n = Math.min(l - skip, len - done);
      const gpa = this.addr[i]! + skip;
      const off = mem.offsetOf(asGpa(gpa), n);
      if (off < 0) return done;
      mem.bytes.set(src.subarray(srcOff + done, srcOff + done + n), off);
      mem.markDirty(asGpa(gpa), n);
      done += n;
      skip = 0;
    }
    return done;
  }

  /** Guest address of the last device-writable byte (virtio-blk/-console status), or -1. */
  lastWritableByte(mem: GuestMemory): number {
    for (let i = this.count - 1; i >= this.firstWritable; i--) {
      const l = this.len[i]!;
      if (l === 0) continue;
      const gpa = this.addr[i]! + l - 1;
      return mem.contains(asGpa(gpa), 1) ? gpa : -1;
    }
    return -1;
  }
}

/** One queue's state for snapshots. */
export interface VirtQueueSavedState {
  size: number;
  ready: boolean;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  lastAvail: number;
  usedIdx: number;
  signalled: number;
  eventIdx: boolean;
  indirect: boolean;
  broken: string;
}

export class VirtQueue {
  /** Queue size chosen by the driver (QueueNum), a power of two ≤ maxSize for split rings (§2.7). */
  size: number;
  ready = false;
  descAddr = 0;
  availAddr = 0;
  usedAddr = 0;
  /** Next available-ring slot the device will look at. */
  lastAvail = 0;
  /** The device's copy of used.idx. */
  usedIdx = 0;
  /** used.idx when we last decided about an interrupt (event index, §2.7.10). */
  private signalled = 0;
  eventIdx = false;
  indirect = false;
  /** Why the queue is unusable, or "". */
  broken = "";
  /**
   * Bumped on every reset/enable: an async request remembers it and completes only if it still
   * matches, so I/O finishing after a reset never writes into the driver's new rings.
   */
  generation = 0;

  private mem: GuestMemory | null = null;
  private u16: Uint16Array | null = null;
  private descOff = 0;
  private availOff = 0;
  private usedOff = 0;

  constructor(
    readonly index: number,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  reset(): void {
    this.generation++;
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = this.availAddr = this.usedAddr = 0;
    this.lastAvail = this.usedIdx = this.signalled = 0;
    this.eventIdx = this.indirect = false;
    this.broken = "";
    this.mem = null;
  }

  /**
   * Validates the ring layout against guest RAM (§2.7: alignment 16/2/4, sizes 16·n, 6+2·n, 6+8·n)
   * and makes the queue live. Returns an error string (queue stays not ready) or "".
   */
  enable(mem: GuestMemory, eventIdx: boolean, indirect: boolean): string {
    const n = this.size;
    if (n === 0 || n > this.maxSize || (n & (n - 1)) !== 0)
      return `queue ${this.index}: size ${n} is not a power of two ≤ ${this.maxSize}`;
    if (this.descAddr % 16 || this.availAddr % 2 || this.usedAddr % 4)
      return `queue ${this.index}: misaligned ring addresses`;
    const d = mem.offsetOf(asGpa(this.descAddr), 16 * n);
    const a = mem.offsetOf(asGpa(this.availAddr), 6 + 2 * n);
    const u = mem.offsetOf(asGpa(this.usedAddr), 6 + 8 * n);
    if (d < 0 || a < 0 || u < 0)
      return `queue ${this.index}: ring at desc=0x${this.descAddr.toString(16)} avail=0x${this.availAddr.toString(16)} used=0x${this.usedAddr.toString(16)} is outside guest RAM`;
    this.mem = mem;
    // Atomics on a 16-bit view give the ring indices and avail_event the ordering virtio's memory
    // barriers ask for (§2.7.13.3.1): the drivers run on vCPU threads (src/vmm/vcpu) beside this one.
    this.u16 = new Uint16Array(mem.buffer, 0, mem.size >>> 1);
    this.descOff = d;
    this.availOff = a;
    this.usedOff = u;
    this.eventIdx = eventIdx;
    this.indirect = indirect;
    this.generation++;
    this.lastAvail = this.usedIdx = this.signalled = 0;
    this.broken = "";
    this.ready = true;
    return "";
  }

  /** Snapshot state: the driver's configuration and the device's ring positions. */
  saveState(): VirtQueueSavedState {
    return {
      size: this.size,
      ready: this.ready,
      descAddr: this.descAddr,
      availAddr: this.availAddr,
      usedAddr: this.usedAddr,
      lastAvail: this.lastAvail,
      usedIdx: this.usedIdx,
      signalled: this.signalled,
      eventIdx: this.eventIdx,
      indirect: this.indirect,
      broken: this.broken,
    };
  }

  /**
   * Puts back a saveState() value on `mem` (the restored guest's RAM): a ready queue is re-validated
   * as enable() does, then gets its saved ring positions back. Returns an error string or "".
   */
  restoreState(mem: GuestMemory, s: VirtQueueSavedState): string {
    this.reset();
    this.size = s.size;
    this.descAddr = s.descAddr;
    this.availAddr = s.availAddr;
    this.usedAddr = s.usedAddr;
    if (s.ready) {
      const why = this.enable(mem, s.eventIdx, s.indirect);
      if (why) return why;
    }
    this.eventIdx = s.eventIdx;
    this.indirect = s.indirect;
    this.lastAvail = s.lastAvail & 0xffff;
    this.usedIdx = s.usedIdx & 0xffff;
    this.signalled = s.signalled & 0xffff;
    this.broken = s.broken;
    return "";
  }

  /** Number of buffers the driver made available that we have not popped (or > size if corrupt). */
  pending(): number {
    if (!this.ready || this.broken) return 0;
    return (Atomics.load(this.u16!, (this.availOff + 2) >>> 1) - this.lastAvail) & 0xffff;
  }

  /**
   * Takes the next available descriptor chain into `chain`.
   * Returns POP_EMPTY, POP_OK (check chain.error) or POP_BROKEN (see this.broken).
   */
  pop(chain: DescChain): number {
    if (!this.ready || this.broken) return this.broken ? POP_BROKEN : POP_EMPTY;
    const mem = this.mem!;
    const view = mem.view;
    const n = this.size;
    const avail = this.pending();
    if (avail === 0) {
      if (this.eventIdx) this.writeAvailEvent();
      return POP_EMPTY;
    }
    if (avail > n) return this.fail(`driver made ${avail} buffers available on a queue of ${n} (avail.idx corrupt)`);
    const head = view.getUint16(this.availOff + 4 + 2 * (this.lastAvail % n), true);
    if (head >= n) return this.fail(`available head index ${head} is past the descriptor table (size ${n})`);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.eventIdx) this.writeAvailEvent();
    chain.clear(head);

    let i = head;
    let steps = 0;
    for (;;) {
      if (++steps > n) return this.fail(`descriptor chain starting at ${head} loops (more than ${n} descriptors)`);
      const o = this.descOff + 16 * i;
      const addr = view.getUint32(o, true) + view.getUint32(o + 4, true) * 0x1_0000_0000;
      const len = view.getUint32(o + 8, true);
      const flags = view.getUint16(o + 12, true);
      const next = view.getUint16(o + 14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect)
          return this.fail(`descriptor ${i} is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated`);
        if (flags & VIRTQ_DESC_F_NEXT) return this.fail(`descriptor ${i} sets both INDIRECT and NEXT (§2.7.5.3.1)`);
        const r = this.walkIndirect(chain, addr, len);
        if (r !== POP_OK) return r;
        break;
      }
      this.addBuffer(chain, addr, len, (flags & VIRTQ_DESC_F_WRITE) !== 0);
      if (chain.count > MAX_CHAIN_SEGMENTS) return this.fail(`descriptor chain longer than ${MAX_CHAIN_SEGMENTS}`);
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      if (next >= n) return this.fail(`descriptor ${i} links to ${next}, past the table (size ${n})`);
      i = next;
    }
    chain.finish();
    return POP_OK;
  }

  private walkIndirect(chain: DescChain, tableAddr: number, tableLen: number): number {
    const mem = this.mem!;
    if (tableLen === 0 || tableLen % 16 !== 0)
      return this.fail(`indirect table length ${tableLen} is not a non-zero multiple of 16`);
    const entries = tableLen / 16;
    if (entries > MAX_CHAIN_SEGMENTS) return this.fail(`indirect table of ${entries} descriptors is absurdly long`);
    const base = mem.offsetOf(asGpa(tableAddr), tableLen);
    if (base < 0) return this.fail(`indirect table at 0x${tableAddr.toString(16)}+${tableLen} is outside guest RAM`);
    const view = mem.view;
    let i = 0;
    let steps = 0;
    for (;;) {
      if (++steps > entries) return this.fail(`indirect descriptor chain loops`);
      const o = base + 16 * i;
      const addr = view.getUint32(o, true) + view.getUint32(o + 4, true) * 0x1_0000_0000;
      const len = view.getUint32(o + 8, true);
      const flags = view.getUint16(o + 12, true);
      const next = view.getUint16(o + 14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) return this.fail(`indirect descriptor inside an indirect table (§2.7.5.3.1)`);
      this.addBuffer(chain, addr, len, (flags & VIRTQ_DESC_F_WRITE) !== 0);
      if (!(flags & VIRTQ_DESC_F_NEXT)) return POP_OK;
      if (next >= entries) return this.fail(`indirect descriptor ${i} links to ${next}, past its table (${entries})`);
      i = next;
    }
  }

  private addBuffer(chain: DescChain, addr: number, len: number, writable: boolean): void {
    if (chain.error === "" && !this.mem!.contains(asGpa(addr), len)) {
      chain.error = `buffer 0x${addr.toString(16)}+${len} is outside guest RAM`;
    }
    chain.push(addr, len, writable);
  }

  private fail(reason: string): number {
    this.broken = `queue ${this.index}: ${reason}`;
    return POP_BROKEN;
  }

  /**
   * Gives back the chain pop() just returned, so the next pop() returns it again: a device that
   * cannot take more work now leaves requests in the ring (backpressure) instead of buffering them.
   */
  unpop(): void {
    if (!this.ready || this.broken) return;
    this.lastAvail = (this.lastAvail - 1) & 0xffff;
    if (this.eventIdx) this.writeAvailEvent();
  }

  private writeAvailEvent(): void {
    // avail_event lives after the used ring (§2.7.8): "notify me when you pass this index".
    const o = this.usedOff + 4 + 8 * this.size;
    // A sequentially consistent store: the next pending() must not read avail.idx before this write
    // is visible. Else the driver on a vCPU thread, adding a buffer at that moment, reads the old
    // avail_event after its own barrier and skips the notification while this side sees no new
    // buffer: the request is never served (a Linux guest's mount hung on 2 vCPU threads).
    Atomics.store(this.u16!, o >>> 1, this.lastAvail);
    this.mem!.markRange(o, 2); // GuestMemory.dirtyLog: device writes to guest RAM are marked
  }

  /** Returns a chain to the driver with `written` bytes written into its device-writable part (§2.7.8). */
  pushUsed(head: number, written: number): void {
    if (!this.ready) return; // reset while the request was in flight: the ring is no longer ours
    const mem = this.mem!;
    const slot = this.usedOff + 4 + 8 * (this.usedIdx % this.size);
    mem.view.setUint32(slot, head, true);
    mem.view.setUint32(slot + 4, written, true);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    Atomics.store(this.u16!, (this.usedOff + 2) >>> 1, this.usedIdx);
    mem.markRange(slot, 8);
    mem.markRange(this.usedOff + 2, 2);
  }

  /** Whether the driver wants a used-buffer notification now (§2.7.7.2, §2.7.10). */
  needInterrupt(): boolean {
    if (!this.ready) return false;
    const newIdx = this.usedIdx;
    const old = this.signalled;
    if (newIdx === old) return false;
    this.signalled = newIdx;
    // Atomic loads after pushUsed's Atomics.store of used.idx: the store-then-load order the driver's
    // suppression check relies on, also on hosts whose plain loads may pass a releasing store.
    if (this.eventIdx) {
      const usedEvent = Atomics.load(this.u16!, (this.availOff + 4 + 2 * this.size) >>> 1);
      return ((newIdx - usedEvent - 1) & 0xffff) < ((newIdx - old) & 0xffff);
    }
    return (Atomics.load(this.u16!, this.availOff >>> 1) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }
}
