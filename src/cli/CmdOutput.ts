// `typevisor start --cmd`: of the guest's console, only what the command printed reaches the user.
// The images' init frames the command's output with TYPEVISOR-CMD-BEGIN and TYPEVISOR-CMD-END rc=N
// lines (src/images/Init.ts); this console filter passes through what lies between them, remembers
// N as the exit status, and keeps a bounded tail of everything else to show if the guest never got
// as far as the command (a kernel panic, a missing device).
import type { CharBackend, CharSink } from "../devices/chardev/CharBackend.js";

const BEGIN = "TYPEVISOR-CMD-BEGIN";
const END = "TYPEVISOR-CMD-END rc=";
const TAIL_BYTES = 16 * 1024;

export class CmdOutputFilter implements CharBackend {
  private state: "boot" | "cmd" | "done" = "boot";
  /** The incomplete last line while looking for a marker. */
  private line = "";
  private tail = "";
  /** The command's exit status, once its end marker was seen. */
  status: number | undefined;

  constructor(private readonly inner: CharBackend) {}

  write(data: Uint8Array): void {
    if (this.state === "done") return;
    let text = this.line + Buffer.from(data).toString("latin1");
    this.line = "";
    for (;;) {
      const nl = text.indexOf("\n");
      if (nl < 0) break;
      this.onLine(text.slice(0, nl + 1));
      text = text.slice(nl + 1);
    }
    if (text.length === 0) return;
    // A partial line: pass it through at once (prompts, progress) unless it may become a marker.
    if (this.state === "cmd" && !END.startsWith(text) && !text.startsWith(END)) this.emit(text);
    else if (text.length > TAIL_BYTES)
      this.onLine(text); // no marker is that long: bounded memory
    else this.line = text;
  }

  private onLine(l: string): void {
    if (this.state === "boot") {
      if (l.replace(/\r?\n$/, "") === BEGIN) this.state = "cmd";
      else this.tail = (this.tail + l).slice(-TAIL_BYTES);
      return;
    }
    if (this.state === "cmd" && l.startsWith(END)) {
      this.status = Number.parseInt(l.slice(END.length), 10);
      this.state = "done";
      return;
    }
    this.emit(l);
  }

  private emit(s: string): void {
    this.inner.write(Buffer.from(s, "latin1"));
  }

  /** The console output from before the command started (for error reports). */
  bootLog(): string {
    return this.tail + (this.state === "boot" ? this.line : "");
  }

  attach(sink: CharSink): void {
    this.inner.attach(sink);
  }
  pause(): void {
    this.inner.pause();
  }
  resume(): void {
    this.inner.resume();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
