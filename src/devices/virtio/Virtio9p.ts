// virtio-9p: a host directory shared with the guest. Virtio 1.2 §5 lists device ID 9, "9P
// transport", without a section of its own: the layout is Linux's include/uapi/linux/virtio_9p.h
// and net/9p/trans_virtio.c. One request queue; each chain carries a 9P T-message in its readable
// buffers and room for the R-message in its writable ones. The configuration space is the mount
// tag (struct virtio_9p_config: tag_len u16, tag[tag_len]) the guest names in
// `mount -t 9p -o trans=virtio TAG DIR`. The file server is src/devices/fs/P9Server.ts.
import type { GuestMemory } from "../../memory/GuestMemory.js";
import { DescChain, POP_OK } from "./VirtQueue.js";
import { InFlight, bit, type VirtioContext, type VirtioDevice } from "./VirtioDevice.js";
import { P9Server } from "../fs/P9Server.js";
import { Errno } from "../../abi/Errno.js";

export const VIRTIO_ID_9P = 9;
/** VIRTIO_9P_MOUNT_TAG: the configuration space holds the mount tag. */
const VIRTIO_9P_MOUNT_TAG = 0;
/** Longest tag Linux accepts is limited by the config field; keep tags short and simple. */
export const MAX_9P_TAG = 31;

export class Virtio9p implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_9P;
  readonly name = "virtio-9p";
  readonly features = bit(VIRTIO_9P_MOUNT_TAG);
  readonly queueMaxSizes = [128];
  private ctx: VirtioContext | null = null;
  private readonly chain = new DescChain(16);
  private readonly config: Uint8Array;
  private readonly none = new InFlight();
  private request = new Uint8Array(0);
  private readonly header = new Uint8Array(7);
  private logCount = 0;

  constructor(
    private readonly memory: GuestMemory,
    private readonly server: P9Server,
    tag: string,
  ) {
    const t = Buffer.from(tag, "utf8");
    if (t.length === 0 || t.length > MAX_9P_TAG)
      throw new RangeError(`9p mount tag '${tag}' must be 1-${MAX_9P_TAG} bytes`);
    this.config = new Uint8Array(2 + t.length);
    new DataView(this.config.buffer).setUint16(0, t.length, true);
    this.config.set(t, 2);
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | (this.config[offset + i] ?? 0);
    return v >>> 0;
  }

  configWrite(): void {}
  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }
  reset(): void {
    this.ctx = null;
    this.server.reset();
  }
  /**
   * Open fids stand for host descriptors and paths the guest walked to; a restore in another process
   * could not rebuild them, so a mounted share blocks snapshots (unmount it first).
   */
  snapshotBlocker(): string {
    const n = this.server.openFids;
    return n === 0
      ? ""
      : `${this.name}: the guest has the share mounted (${n} open fids); unmount it before a snapshot`;
  }

  idle(): Promise<void> {
    return this.none.idle();
  }

  queueNotify(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const q = ctx.queues[0]!;
    const ch = this.chain;
    let any = false;
    while (q.pending() > 0 && q.pop(ch) === POP_OK) {
      any = true;
      let written = 0;
      if (ch.error) {
        this.warn(ctx, `request dropped: ${ch.error}`);
      } else {
        const n = ch.readableBytes;
        let rep: Buffer;
        if (n < 7 || n > this.server.maxMessage) {
          // Still answered (Rlerror EMSGSIZE, with the request's tag when there is one): a chain used
          // without a reply would leave the guest's request waiting forever.
          this.warn(ctx, `request of ${n} bytes refused (not 7..${this.server.maxMessage})`);
          const head = this.header;
          head.fill(0);
          ch.readInto(this.memory, 0, head, 0, Math.min(n, 7));
          rep = P9Server.error(n >= 7 ? head[5]! | (head[6]! << 8) : 0xffff, Errno.EMSGSIZE);
        } else {
          // One buffer the size of the negotiated msize, reused: no allocation per request.
          if (this.request.length < n) this.request = new Uint8Array(this.server.maxMessage);
          const req = this.request.subarray(0, n);
          ch.readInto(this.memory, 0, req, 0, n);
          rep = this.server.handle(req);
        }
        if (rep.length > ch.writableBytes) {
          this.warn(ctx, `reply of ${rep.length} bytes does not fit the ${ch.writableBytes}-byte buffer`);
          rep = P9Server.error(rep.readUInt16LE(5), Errno.EMSGSIZE);
        }
        if (rep.length <= ch.writableBytes) written = ch.writeFrom(this.memory, 0, rep, 0, rep.length);
      }
      q.pushUsed(ch.head, written);
    }
    if (any) ctx.notifyUsed(q);
  }

  /** Rate-limited: a guest sending malformed requests in a loop must not flood the host's log (issue 12). */
  private warn(ctx: VirtioContext, line: string): void {
    if (this.logCount >= 50) return;
    this.logCount++;
    ctx.log(`${this.name}: ${line}${this.logCount === 50 ? " (further request errors not logged)" : ""}`);
  }
}
