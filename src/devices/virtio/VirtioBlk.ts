// virtio-blk, virtio 1.2 §5.2. One request queue; requests are [header | data | status] chains
// (§5.2.6) parsed as a scatter-gather list, so any layout works (VERSION_1 implies ANY_LAYOUT).
// Disk I/O is asynchronous and zero-copy: the host reads/writes straight between the image file and
// guest RAM, and the request completes (used ring + interrupt) from the I/O callback, so a vCPU never
// waits for the disk. A completed FLUSH means every earlier completed write has been fsync'ed.

import type { GuestMemory } from "../../memory/GuestMemory.js";
import type { BlockBackend } from "../block/BlockBackend.js";
import { DescChain, POP_OK, type VirtQueue } from "./VirtQueue.js";
import { InFlight, VIRTIO_ID_BLOCK, bit, type VirtioContext, type VirtioDevice } from "./VirtioDevice.js";
import { gpa } from "../../memory/Address.js";

// Feature bits, §5.2.3.
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

// Request types and status values, §5.2.6.
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

const SECTOR = 512;
const QUEUE_SIZE = 256;
/** Largest data transfer accepted in one request; Linux stays far below (max_sectors_kb). */
const MAX_REQUEST_BYTES = 64 << 20;
/**
 * Bound on the data bytes of requests in flight on one disk (issue 12: a guest queueing 32 x 64 MiB
 * writes made the host hold 2 GB). Requests beyond it stay in the available ring, not popped, until
 * earlier ones complete; the driver sees a slower disk, never an error. One request of up to
 * MAX_REQUEST_BYTES is always admitted when nothing is in flight, so no request can starve.
 */
export const MAX_INFLIGHT_BYTES = 64 << 20;
const MAX_DISCARD_SECTORS = 0x3fffff;
const DISCARD_ALIGN_SECTORS = 8;

export interface VirtioBlkOptions {
  /** Up to 20 bytes reported by VIRTIO_BLK_T_GET_ID (Linux: /sys/block/vdX/serial). */
  serial?: string;
}

/** An in-flight request: its chain plus the reusable I/O vector (pooled, not allocated per request). */
class Request {
  readonly chain = new DescChain(16);
  readonly vec: Uint8Array[] = [];
  generation = 0;
  status = -1;
  written = 0;
  isWrite = false;
  /** A read (VIRTIO_BLK_T_IN) in flight: the host writes into `vec`, guest RAM. */
  isRead = false;
  /** Data bytes this request counts against MAX_INFLIGHT_BYTES while in flight. */
  cost = 0;
}

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly name = "virtio-blk";
  readonly features: bigint;
  readonly queueMaxSizes = [QUEUE_SIZE];
  private ctx: VirtioContext | null = null;
  private readonly config = new DataView(new ArrayBuffer(60));
  private readonly serial = new Uint8Array(20);
  private readonly hdr = new Uint8Array(16);
  private readonly hdrView = new DataView(this.hdr.buffer);
  private readonly free: Request[] = [];
  private readonly inflight = new InFlight();
  private readonly writes = new InFlight();
  private logCount = 0;
  /** Data bytes of requests in flight (see MAX_INFLIGHT_BYTES). */
  private inflightBytes = 0;
  /** A request was left in the ring because of the bound: pop again when bytes complete. */
  private throttled = false;
  /** Counters for tests and `vm info`. */
  readonly stats = {
    requests: 0,
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
    flushes: 0,
    peakInflightBytes: 0,
    throttled: 0,
  };

  constructor(
    private readonly memory: GuestMemory,
    readonly backend: BlockBackend,
    opts: VirtioBlkOptions = {},
  ) {
    let f = bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_FLUSH);
    if (backend.readOnly) f |= bit(VIRTIO_BLK_F_RO);
    else f |= bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES);
    this.features = f;
    const c = this.config;
    // struct virtio_blk_config, §5.2.4.
    c.setBigUint64(0, BigInt(Math.floor(backend.size / SECTOR)), true); // capacity
    c.setUint32(12, QUEUE_SIZE - 2, true); // seg_max: header and status take two descriptors
    c.setUint32(36, MAX_DISCARD_SECTORS, true); // max_discard_sectors
    c.setUint32(40, 1, true); // max_discard_seg
    c.setUint32(44, DISCARD_ALIGN_SECTORS, true); // discard_sector_alignment
    c.setUint32(48, MAX_DISCARD_SECTORS, true); // max_write_zeroes_sectors
    c.setUint32(52, 1, true); // max_write_zeroes_seg
    c.setUint8(56, 0); // write_zeroes_may_unmap
    const s = new TextEncoder().encode(opts.serial ?? "");
    if (s.length > 20) throw new RangeError(`virtio-blk serial "${opts.serial}" is longer than 20 bytes`);
    this.serial.set(s);
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    if (offset < 0 || offset + size > this.config.byteLength) return 0;
    return size === 1
      ? this.config.getUint8(offset)
      : size === 2
        ? this.config.getUint16(offset, true)
        : this.config.getUint32(offset, true);
  }

  configWrite(): void {
    // Only `writeback` is writable, and only with CONFIG_WCE, which we do not offer.
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  reset(): void {
    this.ctx = null;
    this.throttled = false;
  }

  idle(): Promise<void> {
    return this.inflight.idle();
  }

  queueNotify(index: number): void {
    const ctx = this.ctx;
    if (!ctx || index !== 0) return;
    const q = ctx.queues[0]!;
    for (;;) {
      const req = this.free.pop() ?? new Request();
      const r = q.pop(req.chain);
      if (r !== POP_OK) {
        this.free.push(req);
        break;
      }
      const ch = req.chain;
      // Chains that will fail at once (bad buffers, longer than any request) hold no host I/O.
      // The 16-byte header and the status byte (§5.2.6) are not data.
      const bytes = ch.readableBytes + ch.writableBytes - 17;
      const cost = ch.error !== "" || bytes <= 0 || bytes > MAX_REQUEST_BYTES ? 0 : bytes;
      if (cost > 0 && this.inflightBytes > 0 && this.inflightBytes + cost > MAX_INFLIGHT_BYTES) {
        q.unpop();
        this.free.push(req);
        this.throttled = true;
        this.stats.throttled++;
        break;
      }
      req.cost = cost;
      req.generation = q.generation;
      this.stats.requests++;
      this.start(ctx, q, req);
    }
  }

  private fail(req: Request, status: number, why: string): void {
    this.stats.errors++;
    if (this.logCount < 50) {
      this.logCount++;
      this.ctx?.log(`${this.name}: request failed: ${why}`);
    }
    req.status = status;
  }

  /** Parses and starts one request; errors complete it at once, I/O completes it later. */
  private start(ctx: VirtioContext, q: VirtQueue, req: Request): void {
    const mem = this.memory;
    const ch = req.chain;
    req.status = -1;
    req.written = 0;
    const statusAddr = ch.lastWritableByte(mem);
    if (ch.error) this.fail(req, VIRTIO_BLK_S_IOERR, ch.error);
    else if (statusAddr < 0) this.fail(req, VIRTIO_BLK_S_IOERR, "no device-writable status byte in the chain (§5.2.6)");
    else if (ch.readInto(mem, 0, this.hdr, 0, 16) < 16)
      this.fail(req, VIRTIO_BLK_S_IOERR, "request header shorter than 16 bytes");
    if (req.status >= 0) {
      this.complete(ctx, q, req, statusAddr);
      return;
    }

    const type = this.hdrView.getUint32(0, true);
    const sectorLo = this.hdrView.getUint32(8, true);
    const sectorHi = this.hdrView.getUint32(12, true);
    const pos = sectorHi >= 0x200000 ? Infinity : (sectorHi * 0x1_0000_0000 + sectorLo) * SECTOR;
    const be = this.backend;
    let op: Promise<void> | null = null;
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const len = ch.writableBytes - 1;
        if (!this.checkRange(req, pos, len)) break;
        this.gather(req, true, 0, len);
        req.written = len;
        req.isRead = true;
        this.stats.bytesRead += len;
        op = be.read(req.vec, pos);
        break;
      }
      case VIRTIO_BLK_T_OUT: {
        const len = ch.readableBytes - 16;
        if (be.readOnly) {
          this.fail(req, VIRTIO_BLK_S_IOERR, "write to a read-only disk");
          break;
        }
        if (!this.checkRange(req, pos, len)) break;
        this.gather(req, false, 16, len);
        this.stats.bytesWritten += len;
        this.writes.begin();
        req.isWrite = true;
        op = be.write(req.vec, pos);
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        // Every write completed before this flush was issued must be durable when it completes
        // (§5.2.6.2); we also wait for writes still in flight, which is stronger.
        this.stats.flushes++;
        op = this.writes.idle().then(() => be.flush());
        break;
      case VIRTIO_BLK_T_GET_ID: {
        const n = Math.min(20, ch.writableBytes - 1);
        req.written = ch.writeFrom(mem, 0, this.serial, 0, n);
        req.status = VIRTIO_BLK_S_OK;
        break;
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES: {
        if (be.readOnly) {
          this.fail(req, VIRTIO_BLK_S_IOERR, "discard/write-zeroes on a read-only disk");
          break;
        }
        // §5.2.6: one 16-byte segment {sector u64, num_sectors u32, flags u32}; we allow max_*_seg = 1.
        if (ch.readableBytes - 16 !== 16) {
          this.fail(
            req,
            VIRTIO_BLK_S_UNSUPP,
            `${ch.readableBytes - 16} bytes of discard/write-zeroes segments; exactly one is supported`,
          );
          break;
        }
        ch.readInto(mem, 16, this.hdr, 0, 16);
        const sLo = this.hdrView.getUint32(0, true);
        const sHi = this.hdrView.getUint32(4, true);
        const count = this.hdrView.getUint32(8, true);
        const flags = this.hdrView.getUint32(12, true);
        const start = sHi >= 0x200000 ? Infinity : (sHi * 0x1_0000_0000 + sLo) * SECTOR;
        if (count > MAX_DISCARD_SECTORS) {
          this.fail(req, VIRTIO_BLK_S_IOERR, `${count} sectors exceed max_*_sectors`);
          break;
        }
        if (type === VIRTIO_BLK_T_DISCARD ? flags !== 0 : (flags & ~1) !== 0) {
          this.fail(req, VIRTIO_BLK_S_UNSUPP, `reserved flags 0x${flags.toString(16)}`);
          break;
        }
        if (!this.checkRange(req, start, count * SECTOR)) break;
        op = type === VIRTIO_BLK_T_DISCARD ? be.discard(start, count * SECTOR) : be.writeZeroes(start, count * SECTOR);
        if (type === VIRTIO_BLK_T_WRITE_ZEROES) {
          this.writes.begin();
          req.isWrite = true;
        }
        break;
      }
      default:
        this.fail(req, VIRTIO_BLK_S_UNSUPP, `unsupported request type ${type}`);
    }
    if (op === null) {
      if (req.status < 0) req.status = VIRTIO_BLK_S_OK;
      this.complete(ctx, q, req, statusAddr);
      return;
    }
    this.inflight.begin();
    this.inflightBytes += req.cost;
    if (this.inflightBytes > this.stats.peakInflightBytes) this.stats.peakInflightBytes = this.inflightBytes;
    // One reaction per request (no .then().finally() chain): completions are the hot path.
    op.then(
      () => {
        req.status = VIRTIO_BLK_S_OK;
        this.finish(ctx, q, req, statusAddr);
      },
      (e: unknown) => {
        req.written = 0;
        this.fail(req, VIRTIO_BLK_S_IOERR, `host I/O error on ${be.description}: ${(e as Error).message}`);
        this.finish(ctx, q, req, statusAddr);
      },
    );
  }

  private finish(ctx: VirtioContext, q: VirtQueue, req: Request, statusAddr: number): void {
    if (req.isWrite) {
      req.isWrite = false;
      this.writes.end();
    }
    this.inflightBytes -= req.cost;
    req.cost = 0;
    // A read's data reached guest RAM just now, after gather() marked its pages: a migration round
    // may have taken those marks in between (GuestMemory.dirtyLog), so they are marked again.
    if (req.isRead) {
      req.isRead = false;
      for (const v of req.vec) this.memory.markRange(v.byteOffset, v.length);
    }
    try {
      // A reset (or a new driver) while the I/O ran: the ring is no longer this request's.
      if (this.ctx === ctx && q.generation === req.generation) this.complete(ctx, q, req, statusAddr);
      else this.release(req);
    } catch (e) {
      // Runs in a promise reaction: an exception here would be an unhandled rejection that ends the VMM.
      ctx.needsReset(`internal error completing a request: ${(e as Error).message}`);
    } finally {
      this.inflight.end();
    }
    // Requests left in the ring by the in-flight bound go now that bytes have completed.
    if (this.throttled && this.ctx !== null) {
      this.throttled = false;
      this.queueNotify(0);
    }
  }

  private checkRange(req: Request, pos: number, len: number): boolean {
    if (len < 0 || len % SECTOR !== 0) {
      this.fail(req, VIRTIO_BLK_S_IOERR, `data length ${len} is not a multiple of 512`);
      return false;
    }
    if (len > MAX_REQUEST_BYTES) {
      this.fail(req, VIRTIO_BLK_S_IOERR, `data length ${len} is absurd (limit ${MAX_REQUEST_BYTES})`);
      return false;
    }
    if (!(pos + len <= this.backend.size)) {
      this.fail(
        req,
        VIRTIO_BLK_S_IOERR,
        `sector range ${pos / SECTOR}+${len / SECTOR} is past the end of the disk (${this.backend.size / SECTOR} sectors)`,
      );
      return false;
    }
    return true;
  }

  /** Builds req.vec: views of guest RAM for `len` bytes of the readable/writable part, `skip` bytes in. */
  private gather(req: Request, writable: boolean, skip: number, len: number): void {
    const ch = req.chain;
    const mem = this.memory;
    const vec = req.vec;
    vec.length = 0;
    const from = writable ? ch.firstWritable : 0;
    const to = writable ? ch.count : ch.firstWritable;
    let lastEnd = -1;
    for (let i = from; i < to && len > 0; i++) {
      let l = ch.len[i]!;
      let a = ch.addr[i]!;
      if (skip >= l) {
        skip -= l;
        continue;
      }
      a += skip;
      l -= skip;
      skip = 0;
      const n = Math.min(l, len);
      const off = mem.offsetOf(gpa(a), n); // checked in pop(); never negative here
      if (writable) mem.markDirty(gpa(a), n);
      // Merge physically contiguous buffers: Linux's are often adjacent pages, and one view is cheaper.
      if (off === lastEnd && vec.length > 0) {
        const prev = vec[vec.length - 1]!;
        vec[vec.length - 1] = mem.bytes.subarray(prev.byteOffset, off + n);
      } else {
        vec.push(mem.bytes.subarray(off, off + n));
      }
      lastEnd = off + n;
      len -= n;
    }
  }

  private complete(ctx: VirtioContext, q: VirtQueue, req: Request, statusAddr: number): void {
    if (statusAddr >= 0) ctx.memory.writeU8(gpa(statusAddr), req.status);
    // used.len counts bytes written into device-writable buffers, including the status byte (§2.7.8).
    q.pushUsed(req.chain.head, statusAddr >= 0 ? req.written + 1 : 0);
    this.release(req);
    ctx.notifyUsed(q);
  }

  private release(req: Request): void {
    req.vec.length = 0;
    this.free.push(req);
  }
}
