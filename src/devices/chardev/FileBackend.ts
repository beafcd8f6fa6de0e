// Guest output appended to a log file; no input. Writes are asynchronous (a WriteStream), so a
// chatty guest never blocks the vCPU on the disk.
import { createWriteStream, type WriteStream } from "node:fs";
import type { CharBackend, CharSink } from "./CharBackend.js";

export class FileBackend implements CharBackend {
  private readonly stream: WriteStream;
  private error: Error | null = null;

  constructor(readonly path: string, opts: { append?: boolean } = {}) {
    this.stream = createWriteStream(path, { flags: opts.append === false ? "w" : "a" });
    this.stream.on("error", (e) => {
      if (!this.error) process.stderr.write(`serial log ${path}: ${e.message} (guest output is being discarded; check the path and permissions)\n`);
      this.error = e;
    });
  }

  write(data: Uint8Array): void {
    if (!this.error) this.stream.write(data);
  }

  attach(_sink: CharSink): void {}
  pause(): void {}
  resume(): void {}

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
