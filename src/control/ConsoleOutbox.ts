// Console output on its way from a VM process to the daemon, bounded. A guest can write far faster
// than a channel carries (SBI DBCN console_write takes up to 1 MiB per call): before this bound the
// channel's send queue grew by ~70 MB/s (issue 12, item 5).
//
// Policy: drop the OLDEST pending output and count it, rather than pausing the vCPU. A console is
// a log, not a disk: its newest bytes (a panic, a prompt) matter most, a guest must not be stalled
// by a slow or absent reader (the VM keeps running while no daemon is attached), and a serial
// console server drops the same way when its scrollback is full. The count is reported in the VM's
// stats (console.droppedBytes) and in /metrics.

/** Sends one chunk; calls done() once the channel has taken it (its memory is the channel's). */
export type ChunkSender = (data: Uint8Array, done: () => void) => boolean;

export class ConsoleOutbox {
  private chunks: Uint8Array[] = [];
  private pending = 0;
  private inFlight = 0;
  /** Bytes dropped because the channel could not keep up (oldest first). */
  droppedBytes = 0;
  private sender: ChunkSender | undefined;

  /**
   * capacity: most bytes waiting here; window: most bytes handed to the channel and not yet
   * written by it. Memory held for console output is at most capacity + window.
   */
  constructor(
    readonly capacity = 256 * 1024,
    readonly window = 256 * 1024,
    readonly chunkSize = 64 * 1024,
  ) {}

  /** Connects a channel (or none: output waits, bounded, and the oldest is dropped). */
  connect(sender: ChunkSender | undefined): void {
    this.sender = sender;
    this.inFlight = 0;
    this.flush();
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    if (data.length >= this.capacity) {
      this.droppedBytes += this.pending + data.length - this.capacity;
      this.chunks = [data.slice(data.length - this.capacity)];
      this.pending = this.capacity;
    } else {
      // Copied: the caller's buffer may be reused, and a kept subarray would pin a larger one.
      this.chunks.push(data.slice());
      this.pending += data.length;
      this.trim();
    }
    this.flush();
  }

  private trim(): void {
    while (this.pending > this.capacity) {
      const first = this.chunks[0]!;
      const over = this.pending - this.capacity;
      if (first.length <= over) {
        this.chunks.shift();
        this.pending -= first.length;
        this.droppedBytes += first.length;
      } else {
        this.chunks[0] = first.slice(over);
        this.pending -= over;
        this.droppedBytes += over;
      }
    }
  }

  /** Bytes waiting to be sent. */
  get waiting(): number {
    return this.pending;
  }

  private flush(): void {
    const sender = this.sender;
    while (sender && this.pending > 0 && this.inFlight < this.window) {
      const chunk = this.take(Math.min(this.chunkSize, this.window - this.inFlight));
      this.inFlight += chunk.length;
      const ok = sender(chunk, () => {
        if (this.sender !== sender) return;
        this.inFlight -= chunk.length;
        this.flush();
      });
      if (!ok) {
        // The channel is gone: this chunk is lost with it.
        this.droppedBytes += chunk.length;
        this.inFlight -= chunk.length;
        this.sender = undefined;
      }
    }
  }

  private take(max: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length <= max && this.chunks.length === 1) {
      this.chunks = [];
      this.pending = 0;
      return first;
    }
    const out = new Uint8Array(Math.min(max, this.pending));
    let n = 0;
    while (n < out.length) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, out.length - n);
      out.set(c.subarray(0, k), n);
      n += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.pending -= n;
    return out;
  }
}
