// The host side of a character device (16550A UART, virtio-console port): where guest output goes
// and where guest input comes from. A frontend attaches once; the backend pushes input bytes to it and
// the frontend may ask the backend to pause/resume when its own buffer is full (so pasting a megabyte
// into the terminal never overruns the guest's 16-byte FIFO nor grows memory without bound).

export interface CharBackend {
  /** Guest output. The backend may keep `data` (the frontend hands over a buffer it will not reuse). */
  write(data: Uint8Array): void;
  /** Connects the frontend's input sink; called once. */
  attach(sink: CharSink): void;
  /** Stop delivering input until resume() (best effort: a backend may deliver what is already read). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export interface CharSink {
  /** Host input for the guest. */
  input(data: Uint8Array): void;
  /** A serial "break" condition (QEMU's Ctrl-A b): Linux uses it for magic SysRq. */
  break?(): void;
}

/** Frontend-side input buffer shared by the UART and virtio-console: FIFO of host chunks with flow control. */
export class InputQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private offset = 0;
  private bytes = 0;
  private paused = false;

  constructor(
    private readonly backend: CharBackend | null,
    private readonly highWater = 64 * 1024,
  ) {}

  get length(): number {
    return this.bytes;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.bytes += data.length;
    if (this.bytes >= this.highWater && !this.paused && this.backend) {
      this.paused = true;
      this.backend.pause();
    }
  }

  /** Next byte, or -1. */
  shift(): number {
    if (this.bytes === 0) return -1;
    const c = this.chunks[this.head]!;
    const b = c[this.offset++]!;
    this.bytes--;
    if (this.offset === c.length) {
      this.offset = 0;
      this.head++;
      if (this.head === this.chunks.length) {
        this.chunks.length = 0;
        this.head = 0;
      }
    }
    if (this.paused && this.bytes < this.highWater / 2) {
      this.paused = false;
      this.backend?.resume();
    }
    return b;
  }

  /** Copies up to dst.length bytes out; returns how many. */
  take(dst: Uint8Array, max = dst.length): number {
    let n = 0;
    while (n < max && this.bytes > 0) dst[n++] = this.shift();
    return n;
  }

  clear(): void {
    this.chunks.length = 0;
    this.head = this.offset = this.bytes = 0;
    if (this.paused) {
      this.paused = false;
      this.backend?.resume();
    }
  }
}
