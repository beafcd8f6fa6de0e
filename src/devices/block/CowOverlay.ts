// A copy-on-write overlay over a read-only base image, so many VMs can share one base file that is
// never modified. Writes land in the overlay file; reads take each cluster from the overlay if it
// has been written there, else from the base.
//
// Overlay file format (little-endian), our own and deliberately simple:
//   0     8   magic "TVCOW\0\0\x01"
//   8     4   cluster size (bytes, power of two ≥ 512)
//   12    4   reserved (0)
//   16    8   virtual disk size (bytes) = base size when created
//   24    8   base image size when created (refuses to open if the base changed size)
//   32    4   base path length, then the base path (UTF-8), informational
//   4096  ... allocation bitmap, one bit per cluster (1 = cluster lives in the overlay)
//   dataOffset = 4096 + bitmap rounded up to 4 KiB: cluster i at dataOffset + i·clusterSize
// The data area is sparse, so unwritten clusters take no host disk space. A cluster's data is
// written before its bitmap bit, so a crash can lose a write but never expose garbage.

import { open, type FileHandle } from "node:fs/promises";
import { type BlockBackend, BlockBackendError, type FileWriteLog, ZERO_CHUNK } from "./BlockBackend.js";
import { readvAll, writevAll } from "./FileIo.js";
import { RawImage } from "./RawImage.js";

const MAGIC = Uint8Array.from([0x54, 0x56, 0x43, 0x4f, 0x57, 0, 0, 1]);
const HEADER = 4096;
/** Granularity of the write log (logWrites): the cluster size Typevisor creates overlays with. */
const WRITE_LOG_BLOCK = 4096;

export class CowOverlay implements BlockBackend {
  readonly readOnly = false;
  readonly description: string;
  private readonly bitmap: Uint8Array;
  private readonly dataOffset: number;
  /** Writes are serialised so two copy-ups of one cluster cannot race. */
  private writeChain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly base: RawImage,
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly clusterSize: number,
    bitmap: Uint8Array,
    overlayPath: string,
  ) {
    this.bitmap = bitmap;
    this.dataOffset = HEADER + roundUp(bitmap.length, 4096);
    this.description = `${overlayPath} (overlay on ${base.description})`;
  }

  /** Opens `overlayPath`, creating it over `basePath` if it does not exist. The base is opened read-only. */
  static async open(basePath: string, overlayPath: string, clusterSize = 4096): Promise<CowOverlay> {
    if (clusterSize < 512 || (clusterSize & (clusterSize - 1)) !== 0)
      throw new BlockBackendError(`overlay cluster size ${clusterSize} must be a power of two ≥ 512`);
    const base = await RawImage.open(basePath, true);
    let fh: FileHandle | undefined;
    try {
      try {
        fh = await open(overlayPath, "r+");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        fh = await open(overlayPath, "wx+");
        const clusters = Math.ceil(base.size / clusterSize);
        const hdr = new Uint8Array(HEADER);
        const dv = new DataView(hdr.buffer);
        hdr.set(MAGIC, 0);
        dv.setUint32(8, clusterSize, true);
        dv.setBigUint64(16, BigInt(base.size), true);
        dv.setBigUint64(24, BigInt(base.size), true);
        const p = new TextEncoder().encode(basePath).subarray(0, HEADER - 40);
        dv.setUint32(32, p.length, true);
        hdr.set(p, 36);
        await fh.write(hdr, 0, HEADER, 0);
        const bm = new Uint8Array(Math.ceil(clusters / 8));
        await fh.write(bm, 0, bm.length, HEADER);
        await fh.truncate(HEADER + roundUp(bm.length, 4096) + clusters * clusterSize);
        await fh.sync();
        return new CowOverlay(base, fh, base.size, clusterSize, bm, overlayPath);
      }
      const hdr = new Uint8Array(HEADER);
      const { bytesRead } = await fh.read(hdr, 0, HEADER, 0);
      const dv = new DataView(hdr.buffer);
      if (bytesRead < 40 || !MAGIC.every((b, i) => hdr[i] === b))
        throw new BlockBackendError(
          `${overlayPath} is not a Typevisor overlay file (bad magic); delete it to start a fresh overlay`,
        );
      const cs = dv.getUint32(8, true);
      const vsize = Number(dv.getBigUint64(16, true));
      const bsize = Number(dv.getBigUint64(24, true));
      if (bsize !== base.size)
        throw new BlockBackendError(
          `overlay ${overlayPath} was made for a ${bsize}-byte base, but ${basePath} is ${base.size} bytes: the base changed, so the overlay is invalid`,
        );
      if (cs < 512 || (cs & (cs - 1)) !== 0 || vsize % 512 !== 0 || vsize <= 0)
        throw new BlockBackendError(`overlay ${overlayPath} has a corrupt header`);
      const bm = new Uint8Array(Math.ceil(Math.ceil(vsize / cs) / 8));
      await fh.read(bm, 0, bm.length, HEADER);
      return new CowOverlay(base, fh, vsize, cs, bm, overlayPath);
    } catch (e) {
      await fh?.close();
      await base.close();
      if (e instanceof BlockBackendError) throw e;
      throw new BlockBackendError(`cannot open overlay ${overlayPath}: ${(e as Error).message}`);
    }
  }

  private allocated(c: number): boolean {
    return (this.bitmap[c >>> 3]! & (1 << (c & 7))) !== 0;
  }

  /** BlockBackend.logWrites: one byte per WRITE_LOG_BLOCK of the overlay file, while a log is open. */
  private written: Uint8Array | undefined;

  logWrites(): FileWriteLog {
    const fileSize = this.dataOffset + Math.ceil(this.size / this.clusterSize) * this.clusterSize;
    const written = new Uint8Array(Math.ceil(fileSize / WRITE_LOG_BLOCK));
    this.written = written;
    return {
      blockSize: WRITE_LOG_BLOCK,
      fileSize,
      take: () => {
        const out: number[] = [];
        for (let i = 0; i < written.length; i++) if (written[i] !== 0) out.push(i);
        for (const i of out) written[i] = 0;
        return out;
      },
      close: () => {
        if (this.written === written) this.written = undefined;
      },
    };
  }

  /** Records file range [off, off+len) as written (after the write reached the file). */
  private noteWritten(off: number, len: number): void {
    const w = this.written;
    if (w === undefined || len <= 0) return;
    for (let b = Math.floor(off / WRITE_LOG_BLOCK); b <= Math.floor((off + len - 1) / WRITE_LOG_BLOCK); b++) w[b] = 1;
  }

  async read(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    const cs = this.clusterSize;
    let total = 0;
    for (const b of bufs) total += b.length;
    // Walk runs of clusters that come from the same file.
    let off = 0;
    while (off < total) {
      const c = Math.floor((pos + off) / cs);
      const inOverlay = this.allocated(c);
      let end = Math.min(total, (c + 1) * cs - pos);
      while (end < total && this.allocated(Math.floor((pos + end) / cs)) === inOverlay) end = Math.min(total, end + cs);
      const part = sliceVec(bufs, off, end - off);
      if (inOverlay) await readvAll(this.fh, part, this.dataOffset + pos + off);
      else await this.base.read(part, pos + off);
      off = end;
    }
  }

  write(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    // The vector is views of guest RAM, written from directly (zero-copy, like RawImage): copying
    // each in-flight request cost one host buffer per request, 2 GB for 32 queued 64 MiB writes
    // (issue 12). Only partial clusters that need a copy-up get a cluster-sized buffer.
    const p = this.writeChain.then(() => this.writeLocked(bufs, pos));
    this.writeChain = p.catch(() => {});
    return p;
  }

  private async writeLocked(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    const cs = this.clusterSize;
    let total = 0;
    for (const b of bufs) total += b.length;
    if (total === 0) return;
    const end = pos + total;
    let at = pos;
    while (at < end) {
      const c = Math.floor(at / cs);
      const cStart = c * cs;
      const cEnd = Math.min(cStart + cs, this.size);
      const to = Math.min(end, cEnd);
      if (!this.allocated(c) && (at !== cStart || to !== cEnd)) {
        // Copy-up: the rest of the cluster must come from the base before the cluster switches files.
        const buf = new Uint8Array(cEnd - cStart);
        await this.base.read([buf], cStart);
        let o = at - cStart;
        for (const part of sliceVec(bufs, at - pos, to - at)) {
          buf.set(part, o);
          o += part.length;
        }
        await writevAll(this.fh, [buf], this.dataOffset + cStart);
        this.noteWritten(this.dataOffset + cStart, buf.length);
        at = to;
        continue;
      }
      // A run of clusters that are already in the overlay or wholly overwritten: one vectored write.
      let runEnd = to;
      while (runEnd < end) {
        const c2 = runEnd / cs; // cluster-aligned here
        const e2 = Math.min(runEnd + cs, this.size);
        const t2 = Math.min(end, e2);
        if (t2 !== e2 && !this.allocated(c2)) break;
        runEnd = t2;
      }
      await writevAll(this.fh, sliceVec(bufs, at - pos, runEnd - at), this.dataOffset + at);
      this.noteWritten(this.dataOffset + at, runEnd - at);
      at = runEnd;
    }
    // The data is on disk; now the bitmap bits (a crash in between loses the write, never exposes garbage).
    const first = Math.floor(pos / cs);
    const last = Math.floor((end - 1) / cs);
    let lo = -1;
    let hi = -1;
    for (let c = first; c <= last; c++) {
      if (this.allocated(c)) continue;
      this.bitmap[c >>> 3]! |= 1 << (c & 7);
      if (lo < 0) lo = c >>> 3;
      hi = c >>> 3;
    }
    if (lo >= 0) {
      await writevAll(this.fh, [this.bitmap.subarray(lo, hi + 1)], HEADER + lo);
      this.noteWritten(HEADER + lo, hi + 1 - lo);
    }
  }

  /**
   * Re-reads the allocation bitmap: another process wrote the overlay since it was opened here (a
   * live migration's source, until it stopped), so clusters it allocated are seen, not the base's.
   */
  async refresh(): Promise<void> {
    await this.writeChain;
    // The file was rewritten whole by someone else: its layout must be the one this overlay reads
    // (cluster size and virtual size), or the bitmap below would be taken at the wrong place.
    const hdr = new Uint8Array(24);
    await readvAll(this.fh, [hdr], 0);
    const dv = new DataView(hdr.buffer);
    if (
      !MAGIC.every((b, i) => hdr[i] === b) ||
      dv.getUint32(8, true) !== this.clusterSize ||
      Number(dv.getBigUint64(16, true)) !== this.size
    )
      throw new BlockBackendError(
        `${this.description}: the copied overlay has another layout (magic, cluster size or disk size differ from this disk's)`,
      );
    await readvAll(this.fh, [this.bitmap], HEADER);
  }

  async flush(): Promise<void> {
    await this.writeChain;
    await this.fh.sync();
  }

  async discard(): Promise<void> {}

  async writeZeroes(pos: number, len: number): Promise<void> {
    while (len > 0) {
      const n = Math.min(len, ZERO_CHUNK.length);
      await this.write([ZERO_CHUNK.subarray(0, n)], pos);
      pos += n;
      len -= n;
    }
  }

  async close(): Promise<void> {
    await this.writeChain;
    await this.fh.close();
    await this.base.close();
  }
}

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** The bytes [off, off+len) of a buffer vector, as a new vector of views. */
function sliceVec(bufs: readonly Uint8Array[], off: number, len: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (len === 0) break;
    if (off >= b.length) {
      off -= b.length;
      continue;
    }
    const n = Math.min(b.length - off, len);
    out.push(b.subarray(off, off + n));
    len -= n;
    off = 0;
  }
  return out;
}
