// A test-side virtio driver that talks to a VirtioMmio window through the bus exactly as Linux's
// virtio_mmio.c + virtio_ring.c do: reset, ACKNOWLEDGE, DRIVER, feature negotiation with FEATURES_OK
// re-check, per-queue setup (QueueSel, QueueNumMax, QueueNum, addresses, QueueReady), DRIVER_OK,
// then split-ring requests with optional indirect tables and event-index notification suppression,
// and interrupt handling through InterruptStatus/InterruptACK. Used by the device tests and benches.
// (Not a test file itself: it only exports helpers.)

import type { GuestMemory } from "../../src/memory/GuestMemory.js";
import type { IrqLine } from "../../src/memory/IrqLine.js";
import {
  REG,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  type VirtioMmio,
} from "../../src/devices/virtio/VirtioMmio.js";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  bit,
} from "../../src/devices/virtio/VirtioDevice.js";
import { gpa } from "../../src/memory/Address.js";

export class TestIrq implements IrqLine {
  level = false;
  raised = 0;
  set(level: boolean): void {
    if (level && !this.level) this.raised++;
    this.level = level;
  }
}

/** Bump allocator over guest RAM, for rings and buffers. */
export class GuestAlloc {
  private next: number;
  constructor(
    private readonly mem: GuestMemory,
    start = mem.base,
  ) {
    this.next = start;
  }
  alloc(len: number, align = 16): number {
    this.next = Math.ceil(this.next / align) * align;
    const a = this.next;
    this.next += len;
    if (this.next > this.mem.end) throw new Error("test guest RAM exhausted");
    return a;
  }
}

export interface Buf {
  addr: number;
  len: number;
}

export class DriverQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  private freeHead = 0;
  private numFree: number;
  availIdx = 0;
  lastUsed = 0;
  /** Descriptor count per head, to return them to the free list. */
  private chainLen: number[];
  private indirectTables = new Map<number, number>();

  constructor(
    readonly dev: VirtioDriver,
    readonly index: number,
    readonly size: number,
    alloc: GuestAlloc,
  ) {
    const m = dev.mem;
    this.desc = alloc.alloc(16 * size, 16);
    this.avail = alloc.alloc(6 + 2 * size, 2);
    this.used = alloc.alloc(6 + 8 * size, 4);
    m.bytes.fill(0, this.desc - m.base, this.used + 6 + 8 * size - m.base);
    for (let i = 0; i < size; i++) m.writeU16(gpa(this.desc + 16 * i + 14), i + 1);
    this.numFree = size;
    this.chainLen = new Array<number>(size).fill(0);
  }

  get free(): number {
    return this.numFree;
  }

  private writeDesc(table: number, i: number, b: Buf, flags: number, next: number): void {
    const m = this.dev.mem;
    const o = table + 16 * i;
    m.writeU32(gpa(o), b.addr % 0x1_0000_0000);
    m.writeU32(gpa(o + 4), Math.floor(b.addr / 0x1_0000_0000));
    m.writeU32(gpa(o + 8), b.len);
    m.writeU16(gpa(o + 12), flags);
    m.writeU16(gpa(o + 14), next);
  }

  /**
   * Adds a chain of device-readable `out` then device-writable `inb` buffers (virtqueue_add_sgs).
   * With `indirect`, the chain goes into an indirect table (one ring descriptor). Returns the head.
   */
  add(out: Buf[], inb: Buf[], indirect = false): number {
    const all = [...out.map((b) => ({ b, w: false })), ...inb.map((b) => ({ b, w: true }))];
    const m = this.dev.mem;
    let head: number;
    if (indirect) {
      if (this.numFree < 1) throw new Error("queue full");
      const table = this.dev.alloc.alloc(16 * all.length, 16);
      all.forEach((e, i) =>
        this.writeDesc(table, i, e.b, (e.w ? 2 : 0) | (i + 1 < all.length ? 1 : 0), i + 1 < all.length ? i + 1 : 0),
      );
      head = this.freeHead;
      this.freeHead = m.readU16(gpa(this.desc + 16 * head + 14));
      this.writeDesc(this.desc, head, { addr: table, len: 16 * all.length }, 4, this.freeHead);
      this.numFree--;
      this.chainLen[head] = 1;
      this.indirectTables.set(head, table);
    } else {
      if (this.numFree < all.length) throw new Error("queue full");
      head = this.freeHead;
      let i = head;
      all.forEach((e, k) => {
        const nxt = m.readU16(gpa(this.desc + 16 * i + 14));
        const last = k === all.length - 1;
        this.writeDesc(this.desc, i, e.b, (e.w ? 2 : 0) | (last ? 0 : 1), nxt);
        if (!last) i = nxt;
        else this.freeHead = nxt;
      });
      this.numFree -= all.length;
      this.chainLen[head] = all.length;
    }
    // Publish: ring slot first, then idx (virtio_ring does a write barrier between them).
    m.writeU16(gpa(this.avail + 4 + 2 * (this.availIdx % this.size)), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    m.writeU16(gpa(this.avail + 2), this.availIdx);
    return head;
  }

  /** Low-level: put an arbitrary head index in the available ring (hostile tests). */
  pushRawHead(head: number): void {
    const m = this.dev.mem;
    m.writeU16(gpa(this.avail + 4 + 2 * (this.availIdx % this.size)), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    m.writeU16(gpa(this.avail + 2), this.availIdx);
  }

  /** Low-level: write descriptor `i` directly (hostile tests). */
  setDesc(i: number, addr: number, len: number, flags: number, next: number): void {
    this.writeDesc(this.desc, i, { addr, len }, flags, next);
  }

  /** virtqueue_kick: notify unless the device asked not to be (event index, §2.7.10). */
  kick(): boolean {
    const m = this.dev.mem;
    if (this.dev.eventIdx) {
      const availEvent = m.readU16(gpa(this.used + 4 + 8 * this.size));
      // vring_need_event(avail_event, new, old) with old = new - 1 would miss batches; Linux tracks
      // the idx at the previous kick. We kick whenever the device's event is within what we added.
      const newIdx = this.availIdx;
      const old = this.kickedIdx;
      this.kickedIdx = newIdx;
      if (((newIdx - availEvent - 1) & 0xffff) >= ((newIdx - old) & 0xffff)) return false;
    } else if (m.readU16(gpa(this.used)) & 1) {
      return false;
    }
    this.dev.mmio.write(REG.QueueNotify, 4, this.index);
    return true;
  }
  private kickedIdx = 0;

  /** virtqueue_get_buf: next used element, or null. Frees its descriptors. */
  getUsed(): { id: number; len: number } | null {
    const m = this.dev.mem;
    const usedIdx = m.readU16(gpa(this.used + 2));
    if (usedIdx === this.lastUsed) return null;
    const slot = this.used + 4 + 8 * (this.lastUsed % this.size);
    const id = m.readU32(gpa(slot));
    const len = m.readU32(gpa(slot + 4));
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    if (this.dev.eventIdx) m.writeU16(gpa(this.avail + 4 + 2 * this.size), this.lastUsed); // used_event
    // Return descriptors to the free list.
    let n = this.chainLen[id] ?? 0;
    let i = id;
    while (--n > 0) i = m.readU16(gpa(this.desc + 16 * i + 14));
    m.writeU16(gpa(this.desc + 16 * i + 14), this.freeHead);
    this.freeHead = id;
    this.numFree += this.chainLen[id] ?? 0;
    this.chainLen[id] = 0;
    this.indirectTables.delete(id);
    return { id, len };
  }
}

export class VirtioDriver {
  readonly alloc: GuestAlloc;
  queues: DriverQueue[] = [];
  features = 0n;
  eventIdx = false;
  /** Interrupt causes seen by handleInterrupt(). */
  usedIrqs = 0;
  configIrqs = 0;

  constructor(
    readonly mem: GuestMemory,
    readonly mmio: VirtioMmio,
    readonly irq: TestIrq,
    alloc?: GuestAlloc,
  ) {
    this.alloc = alloc ?? new GuestAlloc(mem);
  }

  reg(off: number): number {
    return this.mmio.read(off, 4);
  }
  setReg(off: number, v: number): void {
    this.mmio.write(off, 4, v);
  }
  get status(): number {
    return this.reg(REG.Status);
  }

  /**
   * virtio_mmio probe + virtio_dev_probe: checks magic/version, resets, negotiates features
   * (`want` ∩ offered, VERSION_1 always), sets up `nqueues` queues, sets DRIVER_OK.
   */
  init(want: bigint, nqueues: number, opts: { indirect?: boolean; eventIdx?: boolean; queueSize?: number } = {}): void {
    if (this.reg(REG.MagicValue) !== 0x74726976) throw new Error("bad magic");
    if (this.reg(REG.Version) !== 2) throw new Error("not a modern virtio-mmio device");
    this.setReg(REG.Status, 0);
    this.setReg(REG.Status, STATUS_ACKNOWLEDGE);
    this.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    this.setReg(REG.DeviceFeaturesSel, 1);
    let offered = BigInt(this.reg(REG.DeviceFeatures)) << 32n;
    this.setReg(REG.DeviceFeaturesSel, 0);
    offered |= BigInt(this.reg(REG.DeviceFeatures));
    let w = want | bit(VIRTIO_F_VERSION_1);
    if (opts.indirect ?? true) w |= bit(VIRTIO_F_INDIRECT_DESC);
    if (opts.eventIdx ?? true) w |= bit(VIRTIO_F_EVENT_IDX);
    this.features = offered & w;
    this.eventIdx = (this.features & bit(VIRTIO_F_EVENT_IDX)) !== 0n;
    this.setReg(REG.DriverFeaturesSel, 1);
    this.setReg(REG.DriverFeatures, Number(this.features >> 32n));
    this.setReg(REG.DriverFeaturesSel, 0);
    this.setReg(REG.DriverFeatures, Number(this.features & 0xffffffffn));
    this.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(this.status & STATUS_FEATURES_OK)) throw new Error("device rejected features");
    this.queues = [];
    for (let i = 0; i < nqueues; i++) {
      this.setReg(REG.QueueSel, i);
      if (this.reg(REG.QueueReady) !== 0) throw new Error(`queue ${i} already live`);
      const max = this.reg(REG.QueueNumMax);
      if (max === 0) throw new Error(`queue ${i} not available`);
      const size = Math.min(max, opts.queueSize ?? max);
      const q = new DriverQueue(this, i, size, this.alloc);
      this.setReg(REG.QueueNum, size);
      this.setReg(REG.QueueDescLow, q.desc % 0x1_0000_0000);
      this.setReg(REG.QueueDescHigh, Math.floor(q.desc / 0x1_0000_0000));
      this.setReg(REG.QueueDriverLow, q.avail % 0x1_0000_0000);
      this.setReg(REG.QueueDriverHigh, Math.floor(q.avail / 0x1_0000_0000));
      this.setReg(REG.QueueDeviceLow, q.used % 0x1_0000_0000);
      this.setReg(REG.QueueDeviceHigh, Math.floor(q.used / 0x1_0000_0000));
      this.setReg(REG.QueueReady, 1);
      this.queues.push(q);
    }
    this.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  /** vm_interrupt: read and acknowledge InterruptStatus. */
  handleInterrupt(): number {
    const s = this.reg(REG.InterruptStatus);
    if (s) this.setReg(REG.InterruptACK, s);
    if (s & 1) this.usedIrqs++;
    if (s & 2) this.configIrqs++;
    return s;
  }

  config8(off: number): number {
    return this.mmio.read(REG.Config + off, 1);
  }
  config16(off: number): number {
    return this.mmio.read(REG.Config + off, 2);
  }
  config32(off: number): number {
    return this.mmio.read(REG.Config + off, 4);
  }
  config64(off: number): bigint {
    // §4.2.2.2 / virtio_cread: re-read while the configuration generation changes.
    for (;;) {
      const g = this.reg(REG.ConfigGeneration);
      const v = (BigInt(this.config32(off + 4)) << 32n) | BigInt(this.config32(off));
      if (g === this.reg(REG.ConfigGeneration)) return v;
    }
  }

  /** Waits until the device has no host I/O in flight, then drains `q`'s used ring. */
  async waitUsed(q: DriverQueue, count = 1): Promise<{ id: number; len: number }[]> {
    const out: { id: number; len: number }[] = [];
    for (let spins = 0; ; spins++) {
      await this.mmio.idle();
      this.handleInterrupt();
      let u;
      while ((u = q.getUsed())) out.push(u);
      if (out.length >= count || spins >= 1000) break;
      await new Promise((r) => setImmediate(r));
    }
    return out;
  }
}
