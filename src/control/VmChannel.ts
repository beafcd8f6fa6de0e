// The channel between the daemon and one VM process: a Unix socket the VM process owns in the
// state directory (vms/ID/vm.sock), so that the VM outlives the daemon and a restarted daemon can
// reconnect (the Firecracker / containerd-shim model). Messages are length-prefixed (4 bytes, big
// endian) structured-clone records (node:v8 serialize), so console bytes and Ethernet frames
// travel as Uint8Array without base64.
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import { deserialize, serialize } from "node:v8";

/** Largest message accepted: a console chunk or a frame is far smaller; stats are a few KiB. */
const MAX_MESSAGE = 4 * 1024 * 1024;
/** Most bytes queued on the socket for a peer that does not read, past which droppable messages
 *  (Ethernet frames, console input, stats) are dropped: a hung daemon or VM process cannot make the
 *  other side buffer without bound. */
export const MAX_BACKLOG = 1024 * 1024;

export class VmChannel<In, Out> extends EventEmitter<{ message: [In]; close: [] }> {
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  /** Droppable messages dropped because the peer did not read (see MAX_BACKLOG). */
  dropped = 0;
  /** Messages received before start(): none is lost while the owner is still setting up. */
  private held: In[] | undefined = [];
  private waiter: ((m: In) => void) | undefined;

  constructor(readonly socket: Socket) {
    super();
    socket.on("data", (d: Buffer) => this.receive(d));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      this.closed = true;
      this.emit("close");
    });
  }

  private receive(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (n > MAX_MESSAGE) {
        this.socket.destroy();
        return;
      }
      if (this.buf.length < 4 + n) return;
      const body = this.buf.subarray(4, 4 + n);
      this.buf = this.buf.subarray(4 + n);
      let m: In;
      try {
        m = deserialize(body) as In;
      } catch {
        this.socket.destroy();
        return;
      }
      this.deliver(m);
    }
  }

  private deliver(m: In): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(m);
    } else if (this.held) this.held.push(m);
    else this.emit("message", m);
  }

  /** The next message received (while held, before start()), or undefined after timeoutMs. */
  next(timeoutMs: number): Promise<In | undefined> {
    const m = this.held?.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (x) => {
        clearTimeout(t);
        resolve(x);
      };
    });
  }

  /** Starts emitting 'message', first the messages held so far. */
  start(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const m of held) this.emit("message", m);
  }

  get open(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  /** Sends; done() runs once the socket has written it. False when the channel is closed. */
  send(m: Out, done?: () => void): boolean {
    if (!this.open) return false;
    const body = serialize(m);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    this.socket.write(head);
    this.socket.write(body, done ? () => done() : undefined);
    return true;
  }

  /** Sends unless the peer has MAX_BACKLOG bytes unread; then drops the message and counts it. */
  sendDroppable(m: Out): boolean {
    if (this.socket.writableLength > MAX_BACKLOG) {
      this.dropped++;
      return false;
    }
    return this.send(m);
  }

  close(): void {
    this.socket.end();
  }
}

/** Connects to a VM process's socket; rejects when nothing listens there. */
export function connectChannel<In, Out>(path: string, timeoutMs = 2000): Promise<VmChannel<In, Out>> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.removeAllListeners("error");
      resolve(new VmChannel<In, Out>(s));
    });
    s.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}
