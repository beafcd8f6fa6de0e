// An in-memory character backend: collects guest output, injects input. For tests and for the
// control plane (console capture).
import type { CharBackend, CharSink } from "./CharBackend.js";

export class MemoryBackend implements CharBackend {
  private sink: CharSink | null = null;
  private out: Uint8Array[] = [];
  paused = false;

  write(data: Uint8Array): void {
    this.out.push(data);
  }
  attach(sink: CharSink): void {
    this.sink = sink;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  async close(): Promise<void> {}

  /** Sends host input to the guest. */
  input(data: Uint8Array | string): void {
    this.sink?.input(typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  sendBreak(): void {
    this.sink?.break?.();
  }

  /** All guest output so far. */
  output(): Uint8Array {
    const n = this.out.reduce((a, b) => a + b.length, 0);
    const r = new Uint8Array(n);
    let o = 0;
    for (const c of this.out) {
      r.set(c, o);
      o += c.length;
    }
    return r;
  }

  text(): string {
    return new TextDecoder().decode(this.output());
  }
}
