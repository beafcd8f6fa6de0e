// What virtio-blk needs from host storage. Every call is asynchronous (fs/promises on libuv's thread
// pool), so a vCPU never waits for the disk: the device completes the request from the callback.
// Buffers are views straight into guest RAM (zero-copy DMA); offsets and lengths are in bytes and
// have been range-checked by the device against `size`.

export interface BlockBackend {
  /** Virtual disk size in bytes (a multiple of 512). */
  readonly size: number;
  readonly readOnly: boolean;
  /** Human-readable origin for log lines. */
  readonly description: string;
  /** Fills `bufs` (in order) from disk offset `pos`. */
  read(bufs: readonly Uint8Array[], pos: number): Promise<void>;
  /** Writes `bufs` (in order) at disk offset `pos`. */
  write(bufs: readonly Uint8Array[], pos: number): Promise<void>;
  /** Resolves when all completed writes are on stable storage (fsync). */
  flush(): Promise<void>;
  /** Hint that [pos, pos+len) is unused. May do nothing; reads afterwards return either old data or zeroes. */
  discard(pos: number, len: number): Promise<void>;
  /** Makes [pos, pos+len) read back as zeroes. */
  writeZeroes(pos: number, len: number): Promise<void>;
  close(): Promise<void>;
  /** Re-reads metadata another process may have changed since open (live migration; optional). */
  refresh?(): Promise<void>;
}

export class BlockBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlockBackendError";
  }
}

/** One shared 1 MiB zero buffer for write-zeroes (never written to). */
export const ZERO_CHUNK = new Uint8Array(1 << 20);
