// Ethernet frames over a byte stream in QEMU's "stream" netdev format: each frame is preceded by its
// length as a 4-byte big-endian integer (QEMU net/stream.c; passt's tap.c speaks the same for its
// "qemu" mode). Used for passt's UNIX socket and for the sockets between `run` processes that share
// a virtual switch.
//
// Both directions are bounded: frames to the stream are dropped (and counted) once the socket holds
// more than `maxQueuedBytes` unsent bytes, and a peer announcing a frame longer than any Ethernet
// frame we accept is a protocol error that ends the stream (it would otherwise make us buffer
// without bound while waiting for the rest).
import { connect, type Socket } from "node:net";
import { ETH_MAX_FRAME } from "./NetBackend.js";

/** Frames longer than this cannot be a frame we would pass on: passt's MTU is set to 1500. */
const MAX_STREAM_FRAME = 65535 + 14;

export interface FrameStreamStats {
  txFrames: number;
  rxFrames: number;
  /** Frames to the peer dropped because the socket's send queue was full. */
  txDropped: number;
  /** Frames from the peer that the receiver refused (too large for the NIC, or its queue full). */
  rxDropped: number;
}

export class FrameStream {
  readonly stats: FrameStreamStats = { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0 };
  private pending: Buffer = Buffer.alloc(0);
  private closed = false;

  /**
   * @param onFrame called with each frame from the peer (a view valid only during the call); returns
   *   false if the frame was dropped
   * @param onEnd called once when the stream ends or fails (with the reason)
   */
  constructor(
    private readonly socket: Socket,
    private readonly onFrame: (frame: Uint8Array) => boolean,
    onEnd: (reason: string) => void,
    private readonly maxQueuedBytes = 1 << 20,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      this.closed = true;
      onEnd(reason);
    };
    socket.on("error", (e) => end(e.message));
    socket.on("close", () => end("the peer closed the connection"));
  }

  private onData(d: Buffer): void {
    let b = this.pending.length > 0 ? Buffer.concat([this.pending, d]) : d;
    let off = 0;
    while (b.length - off >= 4) {
      const n = b.readUInt32BE(off);
      if (n > MAX_STREAM_FRAME) {
        this.socket.destroy(new Error(`the peer sent a ${n}-byte frame (protocol error)`));
        this.pending = Buffer.alloc(0);
        return;
      }
      if (b.length - off < 4 + n) break;
      this.stats.rxFrames++;
      const frame = b.subarray(off + 4, off + 4 + n);
      if (n > ETH_MAX_FRAME || !this.onFrame(frame)) this.stats.rxDropped++;
      off += 4 + n;
    }
    // Keep only the incomplete tail (copied: `d` belongs to the socket).
    this.pending = off === b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(off));
    if (b !== d && off === 0) this.pending = b;
  }

  /** Queues one frame for the peer; drops it (counted) when the send queue is full. */
  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.socket.writableLength > this.maxQueuedBytes) {
      this.stats.txDropped++;
      return false;
    }
    const m = Buffer.allocUnsafe(4 + frame.length);
    m.writeUInt32BE(frame.length, 0);
    m.set(frame, 4);
    this.socket.write(m);
    this.stats.txFrames++;
    return true;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** Connects to a UNIX socket; resolves with the socket, or with the error code if nobody listens. */
export function connectUnix(path: string): Promise<{ socket?: Socket; code?: string }> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.removeAllListeners("error");
      resolve({ socket: s });
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      s.destroy();
      resolve({ code: e.code ?? e.message });
    });
  });
}
