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
  /**
   * Starts recording which blocks of the backend's own file are written (live migration's pre-copy
   * of a disk that is not on shared storage; optional): the file's pieces are read and sent while
   * the guest writes, and written ones are sent again.
   */
  logWrites?(): FileWriteLog;
}

/** Blocks of a file written since the last take() (BlockBackend.logWrites). */
export interface FileWriteLog {
  /** Bytes per block. */
  readonly blockSize: number;
  /** The file's size in bytes. */
  readonly fileSize: number;
  /**
   * Indices of the blocks written since the last take (or since the log began), ascending, and
   * clears them. A block is recorded once its write has reached the file (a reader that read it
   * before that sees it again at the next take).
   */
  take(): number[];
  /** Stops recording. */
  close(): void;
}

export class BlockBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlockBackendError";
  }
}

/** One shared 1 MiB zero buffer for write-zeroes (never written to). */
export const ZERO_CHUNK = new Uint8Array(1 << 20);
