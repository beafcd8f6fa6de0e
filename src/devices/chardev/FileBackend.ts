// Guest output appended to a log file; no input. Writes are asynchronous (a WriteStream), so a
// chatty guest never blocks the vCPU on the disk.
import { createWriteStream, type WriteStream } from "node:fs";
import type { CharBackend, CharSink } from "./CharBackend.js";

export class FileBackend implements CharBackend {
  private readonly stream: WriteStream;
  private error: Error | null = null;

  constructor(
    readonly path: string,
    opts: { append?: boolean } = {},
  ) {
    this.stream = createWriteStream(path, { flags: opts.append === false ? "w" : "a" });
    this.stream.on("error", (e) => {
      if (!this.error)
        process.stderr.write(
          `serial log ${path}: ${e.message} (guest output is being discarded; check the path and permissions)\n`,
        );
      this.error = e;
    });
  }

  /** Bytes dropped because the disk did not keep up (bounded host memory against a flooding guest). */
  dropped = 0;

  write(data: Uint8Array): void {
    if (this.error) return;
    if (this.stream.writableLength > 16 << 20) {
      this.dropped += data.length;
      return;
    }
    this.stream.write(data);
  }

  attach(_sink: CharSink): void {}
  pause(): void {}
  resume(): void {}

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
