// A Unix-domain socket server: `socat - UNIX-CONNECT:PATH` (or `nc -U PATH`) attaches to the guest's
// serial line. One client at a time (a second one is told so and closed). While nobody is connected,
// the last 64 KiB of guest output are kept and replayed on connect, so a boot log is not lost.
import { createServer, type Server, type Socket } from "node:net";
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import type { CharBackend, CharSink } from "./CharBackend.js";

const BACKLOG = 64 * 1024;

export class UnixSocketBackend implements CharBackend {
  private readonly server: Server;
  private client: Socket | null = null;
  private sink: CharSink | null = null;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private paused = false;
  /** Resolves once the socket is listening. */
  readonly ready: Promise<void>;

  constructor(readonly path: string) {
    // Replace a stale socket from an earlier run, but never an ordinary file.
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket())
        throw new Error(`${path} exists and is not a socket; choose another path for the serial socket`);
      unlinkSync(path);
    }
    this.server = createServer((s) => this.accept(s));
    this.ready = new Promise((resolve, reject) => {
      this.server.once("error", (e) => reject(new Error(`cannot listen on serial socket ${path}: ${e.message}`)));
      this.server.listen(path, () => resolve());
    });
  }

  /** Output dropped because the client did not read it. */
  dropped = 0;

  get connected(): boolean {
    return this.client !== null;
  }

  private accept(s: Socket): void {
    if (this.client) {
      s.end("typevisor: serial console already in use by another client\r\n");
      return;
    }
    this.client = s;
    for (const c of this.backlog) s.write(c);
    this.backlog = [];
    this.backlogBytes = 0;
    if (this.paused) s.pause();
    s.on("data", (d: Buffer) => this.sink?.input(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    s.on("error", () => {});
    s.on("close", () => {
      if (this.client === s) this.client = null;
    });
  }

  write(data: Uint8Array): void {
    if (this.client) {
      // A client that stops reading must not make us buffer without bound: drop beyond 16 MiB.
      if (this.client.writableLength > 16 << 20) this.dropped += data.length;
      else this.client.write(data);
      return;
    }
    this.backlog.push(data);
    this.backlogBytes += data.length;
    while (this.backlogBytes > BACKLOG && this.backlog.length > 1) this.backlogBytes -= this.backlog.shift()!.length;
  }

  attach(sink: CharSink): void {
    this.sink = sink;
  }
  pause(): void {
    this.paused = true;
    this.client?.pause();
  }
  resume(): void {
    this.paused = false;
    this.client?.resume();
  }

  close(): Promise<void> {
    this.client?.destroy();
    return new Promise((resolve) =>
      this.server.close(() => {
        try {
          unlinkSync(this.path);
        } catch {
          /* already gone */
        }
        resolve();
      }),
    );
  }
}
