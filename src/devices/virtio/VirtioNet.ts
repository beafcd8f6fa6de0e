// virtio-net, virtio 1.2 §5.1: one receiveq/transmitq pair, no offloads. Every buffer starts with
// struct virtio_net_hdr (12 bytes with VERSION_1, §5.1.6), followed by one Ethernet frame. Frames
// for the guest wait in a bounded queue until it posts receive buffers; beyond that they are dropped,
// as a real NIC drops when its ring is full.

import type { GuestMemory } from "../../memory/GuestMemory.js";
import { ETH_MAX_FRAME, ETH_MIN_FRAME, type NetBackend, type NetEndpoint } from "../net/NetBackend.js";
import { DescChain, POP_OK } from "./VirtQueue.js";
import { InFlight, VIRTIO_ID_NET, bit, type VirtioContext, type VirtioDevice } from "./VirtioDevice.js";

export const VIRTIO_NET_F_MTU = 3;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_HDR_LEN = 12;

const QUEUE_SIZE = 256;
const RX_BACKLOG = 256;

export interface VirtioNetOptions {
  mac: Uint8Array;
}

export class VirtioNet implements VirtioDevice, NetEndpoint {
  readonly deviceId = VIRTIO_ID_NET;
  readonly name = "virtio-net";
  readonly features = bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_STATUS) | bit(VIRTIO_NET_F_MTU);
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly mac: Uint8Array;
  private ctx: VirtioContext | null = null;
  private readonly config = new DataView(new ArrayBuffer(12));
  private readonly rxChain = new DescChain(4);
  private readonly txChain = new DescChain(4);
  private readonly frame = new Uint8Array(VIRTIO_NET_HDR_LEN + ETH_MAX_FRAME);
  /** Separate receive scratch: a backend may answer synchronously from inside send(). */
  private readonly rxFrame = new Uint8Array(VIRTIO_NET_HDR_LEN + ETH_MAX_FRAME);
  /** Pending frames for the guest: a ring of preallocated slots (no allocation per packet). */
  private readonly backlog: Uint8Array[] = [];
  private readonly backlogLen = new Uint16Array(RX_BACKLOG);
  private bHead = 0;
  private bCount = 0;
  private logCount = 0;
  private readonly none = new InFlight();
  readonly stats = { txFrames: 0, rxFrames: 0, rxDropped: 0, txErrors: 0 };

  constructor(
    private readonly memory: GuestMemory,
    readonly backend: NetBackend,
    opts: VirtioNetOptions,
  ) {
    if (opts.mac.length !== 6 || opts.mac[0]! & 1) throw new RangeError("virtio-net MAC must be 6 bytes and unicast");
    this.mac = Uint8Array.from(opts.mac);
    // struct virtio_net_config, §5.1.4: mac[6], status, max_virtqueue_pairs, mtu.
    for (let i = 0; i < 6; i++) this.config.setUint8(i, this.mac[i]!);
    this.config.setUint16(6, VIRTIO_NET_S_LINK_UP, true);
    this.config.setUint16(8, 1, true);
    this.config.setUint16(10, 1500, true);
    for (let i = 0; i < RX_BACKLOG; i++) this.backlog.push(new Uint8Array(ETH_MAX_FRAME));
    backend.attach(this);
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    if (offset < 0 || offset + size > 12) return 0;
    return size === 1
      ? this.config.getUint8(offset)
      : size === 2
        ? this.config.getUint16(offset, true)
        : this.config.getUint32(offset, true);
  }

  configWrite(): void {
    // The MAC is writable only with VIRTIO_NET_F_CTRL_MAC_ADDR-less legacy drivers; modern ones use the control queue. Ignore.
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }
  reset(): void {
    this.ctx = null;
    this.bCount = 0;
  }
  idle(): Promise<void> {
    return this.none.idle();
  }

  private warn(line: string): void {
    if (this.logCount++ < 50) this.ctx?.log(`${this.name}: ${line}`);
  }

  queueNotify(index: number): void {
    if (index === 1) this.transmit();
    else if (index === 0) this.drainBacklog();
  }

  /** Guest → backend (§5.1.6.2): strip the header, check the frame, hand it over. */
  private transmit(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const q = ctx.queues[1]!;
    const ch = this.txChain;
    let any = false;
    while (q.pop(ch) === POP_OK) {
      any = true;
      const total = ch.readableBytes;
      if (ch.error) {
        this.stats.txErrors++;
        this.warn(`transmit dropped: ${ch.error}`);
      } else if (total < VIRTIO_NET_HDR_LEN + ETH_MIN_FRAME || total > VIRTIO_NET_HDR_LEN + ETH_MAX_FRAME) {
        this.stats.txErrors++;
        this.warn(
          `transmit of ${total - VIRTIO_NET_HDR_LEN}-byte frame dropped (not ${ETH_MIN_FRAME}..${ETH_MAX_FRAME}; no offloads negotiated)`,
        );
      } else {
        ch.readInto(this.memory, 0, this.frame, 0, total);
        // flags/gso_type must be 0 without checksum/GSO features (§5.1.6.2.1).
        if (this.frame[0] !== 0 || this.frame[1] !== 0) {
          this.stats.txErrors++;
          this.warn("transmit with offload flags that were not negotiated dropped");
        } else {
          this.stats.txFrames++;
          this.backend.send(this.frame.subarray(VIRTIO_NET_HDR_LEN, total));
        }
      }
      q.pushUsed(ch.head, 0);
    }
    if (any) ctx.notifyUsed(q);
  }

  /** NetEndpoint: a frame from the backend for the guest. */
  receive(frame: Uint8Array): boolean {
    if (!this.ctx || frame.length < ETH_MIN_FRAME || frame.length > ETH_MAX_FRAME) {
      this.stats.rxDropped++;
      return false;
    }
    if (this.bCount === RX_BACKLOG) {
      this.stats.rxDropped++;
      return false;
    }
    const slot = (this.bHead + this.bCount) % RX_BACKLOG;
    this.backlog[slot]!.set(frame);
    this.backlogLen[slot] = frame.length;
    this.bCount++;
    this.drainBacklog();
    return true;
  }

  /** Copies queued frames into posted receive buffers (§5.1.6.3). */
  private drainBacklog(): void {
    const ctx = this.ctx;
    if (!ctx || this.bCount === 0) return;
    const q = ctx.queues[0]!;
    if (!q.ready) return;
    const ch = this.rxChain;
    const mem = this.memory;
    let any = false;
    while (this.bCount > 0 && q.pending() > 0) {
      if (q.pop(ch) !== POP_OK) break;
      any = true;
      const f = this.backlog[this.bHead]!;
      const len = this.backlogLen[this.bHead]!;
      this.bHead = (this.bHead + 1) % RX_BACKLOG;
      this.bCount--;
      if (ch.error || ch.writableBytes < VIRTIO_NET_HDR_LEN + len) {
        this.stats.rxDropped++;
        this.warn(
          `receive buffer unusable (${ch.error || `${ch.writableBytes} bytes < header + ${len}-byte frame`}), frame dropped`,
        );
        q.pushUsed(ch.head, 0);
        continue;
      }
      // Header: no flags, GSO_NONE, num_buffers = 1 (§5.1.6.4).
      const rf = this.rxFrame;
      rf.fill(0, 0, VIRTIO_NET_HDR_LEN);
      rf[10] = 1;
      rf.set(f.subarray(0, len), VIRTIO_NET_HDR_LEN);
      const n = ch.writeFrom(mem, 0, rf, 0, VIRTIO_NET_HDR_LEN + len);
      this.stats.rxFrames++;
      q.pushUsed(ch.head, n);
    }
    if (any) ctx.notifyUsed(q);
  }
}
