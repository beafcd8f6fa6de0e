// A virtio-blk disk held in memory, for the page (and for embedders under Node): the image's bytes
// are the read-only base, and the guest's writes are kept beside it in 64 KiB chunks, so the base
// (fetched once, perhaps shared) is never modified, and the changes can be listed, counted and
// downloaded as a whole new image. Nothing is written anywhere else: reload the page and the disk is
// as the image was (docs/WEB.md).
import { BlockBackendError, type BlockBackend } from "../devices/block/BlockBackend.js";

/** The unit in which changes are kept (and persisted). */
export const CHUNK = 64 * 1024;

/**
 * Where a MemoryDisk's changed chunks persist across sessions (the page: OPFS, OpfsChunkStore.ts).
 * save() gets the whole chunk after every write to it; flush() is the guest's flush.
 */
export interface ChunkStore {
  /** Chunks saved earlier, by index. */
  load(): Map<number, Uint8Array>;
  save(index: number, chunk: Uint8Array): void;
  flush(): void;
}

export class MemoryDisk implements BlockBackend {
  readonly size: number;
  /** Changed chunks by index: the base's bytes with the guest's writes applied. */
  private readonly changed = new Map<number, Uint8Array>();

  constructor(
    private readonly base: Uint8Array,
    readonly readOnly = false,
    readonly description = "memory disk",
    private readonly store?: ChunkStore,
  ) {
    if (base.length % 512 !== 0)
      throw new BlockBackendError(`${description}: ${base.length} bytes is not a whole number of 512-byte sectors`);
    this.size = base.length;
    const chunks = Math.ceil(this.size / CHUNK);
    for (const [i, c] of store?.load() ?? []) {
      const len = Math.min(CHUNK, this.size - i * CHUNK);
      if (i >= 0 && i < chunks && c.length === len) this.changed.set(i, c);
    }
  }

  /** Bytes in chunks the guest has written. */
  get changedBytes(): number {
    return this.changed.size * CHUNK;
  }

  /** The chunk to read [pos, ...) from: a changed copy, or the base. */
  private source(index: number): { bytes: Uint8Array; at: number } {
    const c = this.changed.get(index);
    return c ? { bytes: c, at: 0 } : { bytes: this.base, at: index * CHUNK };
  }

  private copy(bufs: readonly Uint8Array[], pos: number, toGuest: boolean): void {
    let first = -1;
    let last = -1;
    for (const b of bufs) {
      let done = 0;
      while (done < b.length) {
        const p = pos + done;
        const index = Math.floor(p / CHUNK);
        const within = p - index * CHUNK;
        const n = Math.min(b.length - done, CHUNK - within);
        if (toGuest) {
          const s = this.source(index);
          b.set(s.bytes.subarray(s.at + within, s.at + within + n), done);
        } else {
          this.writable(index).set(b.subarray(done, done + n), within);
          if (first < 0) first = index;
          last = index;
        }
        done += n;
      }
      pos += b.length;
    }
    if (this.store && first >= 0) for (let i = first; i <= last; i++) this.store.save(i, this.changed.get(i)!);
  }

  private writable(index: number): Uint8Array {
    let c = this.changed.get(index);
    if (!c) {
      c = this.base.slice(index * CHUNK, Math.min(this.size, (index + 1) * CHUNK));
      this.changed.set(index, c);
    }
    return c;
  }

  read(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    this.copy(bufs, pos, true);
    return Promise.resolve();
  }

  write(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    if (this.readOnly) return Promise.reject(new BlockBackendError(`${this.description} is read-only`));
    return this.tryCopy(bufs, pos);
  }

  /** A write, its failure to persist (quota, storage gone) a failed request rather than an exception. */
  private tryCopy(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    try {
      this.copy(bufs, pos, false);
    } catch (e) {
      return Promise.reject(
        new BlockBackendError(`${this.description}: saving the change failed: ${(e as Error).message}`),
      );
    }
    return Promise.resolve();
  }

  flush(): Promise<void> {
    try {
      this.store?.flush();
    } catch (e) {
      return Promise.reject(
        new BlockBackendError(`${this.description}: saving the changes failed: ${(e as Error).message}`),
      );
    }
    return Promise.resolve();
  }

  discard(): Promise<void> {
    return Promise.resolve();
  }

  writeZeroes(pos: number, len: number): Promise<void> {
    if (this.readOnly) return Promise.reject(new BlockBackendError(`${this.description} is read-only`));
    const bufs: Uint8Array[] = [];
    for (let left = len; left > 0; left -= Math.min(left, CHUNK)) bufs.push(new Uint8Array(Math.min(left, CHUNK)));
    return this.tryCopy(bufs, pos);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The whole disk as it is now, in pieces (base ranges and changed chunks, in order), to be joined
   * into a download (a Blob in the page) without one more copy of the disk.
   */
  pieces(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const chunks = Math.ceil(this.size / CHUNK);
    let from = 0;
    for (let i = 0; i < chunks; i++) {
      const c = this.changed.get(i);
      if (!c) continue;
      if (from < i) out.push(this.base.subarray(from * CHUNK, i * CHUNK));
      out.push(c);
      from = i + 1;
    }
    if (from < chunks) out.push(this.base.subarray(from * CHUNK, this.size));
    return out;
  }
}
