// The controlling terminal as the guest's console, in raw mode so every key (Ctrl-C included) goes to
// the guest. Like QEMU's -nographic mux, Ctrl-A is an escape: Ctrl-A x quits, Ctrl-A h prints help,
// Ctrl-A c asks for the monitor/control prompt, Ctrl-A b sends a break (magic SysRq), Ctrl-A Ctrl-A
// sends a literal Ctrl-A. The VMM decides what "quit" and "monitor" mean through callbacks.
import type { CharBackend, CharSink } from "./CharBackend.js";

const CTRL_A = 0x01;
/** Output buffered for a slow consumer beyond which guest output is dropped (bounded host memory). */
export const MAX_PENDING_OUTPUT = 16 << 20;

export interface TerminalOptions {
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
  /** The user pressed Ctrl-A x. */
  onQuit: () => void;
  /** The user pressed Ctrl-A c. Without a handler the key is explained as unavailable. */
  onMonitor?: () => void;
  /** Escape character (default Ctrl-A = 0x01). */
  escape?: number;
}

export const TERMINAL_HELP =
  [
    "C-a h    print this help",
    "C-a x    exit the VM",
    "C-a c    switch to the control prompt",
    "C-a b    send a break (magic SysRq)",
    "C-a C-a  send C-a to the guest",
  ].join("\r\n") + "\r\n";

export class TerminalBackend implements CharBackend {
  private readonly input: NodeJS.ReadStream;
  private readonly output: NodeJS.WriteStream;
  private readonly escape: number;
  private sink: CharSink | null = null;
  private sawEscape = false;
  private wasRaw = false;
  private closed = false;
  private readonly onData = (d: Buffer) => this.handleInput(new Uint8Array(d.buffer, d.byteOffset, d.length));
  private readonly restoreOnExit = () => this.restore();

  constructor(private readonly opts: TerminalOptions) {
    this.input = opts.input ?? process.stdin;
    this.output = opts.output ?? process.stdout;
    this.escape = opts.escape ?? CTRL_A;
    if (this.input.isTTY) {
      this.wasRaw = this.input.isRaw;
      this.input.setRawMode(true);
      // Never leave the user's terminal in raw mode, even if the VMM dies.
      process.once("exit", this.restoreOnExit);
    }
    // A closed pipe on stdout (e.g. `typevisor run | head`) must not crash the VMM.
    this.output.on("error", () => {
      this.closed = true;
    });
    // Input is read from attach() on: what is typed while the machine is being built (a restore
    // reads its snapshot meanwhile) waits in the OS's buffer instead of reaching no device.
  }

  /** Splits input into guest bytes and escape commands. Exposed for tests. */
  handleInput(data: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      if (this.sawEscape) {
        this.sawEscape = false;
        start = i + 1;
        this.command(b);
        continue;
      }
      if (b === this.escape) {
        if (i > start) this.sink?.input(data.slice(start, i));
        this.sawEscape = true;
        start = i + 1;
      }
    }
    if (start < data.length && !this.sawEscape) this.sink?.input(data.slice(start));
  }

  private command(b: number): void {
    switch (b) {
      case 0x78: // x
        this.message("typevisor: terminating on user request (C-a x)");
        this.opts.onQuit();
        break;
      case 0x68:
      case 0x3f: // h, ?
        this.output.write("\r\n" + TERMINAL_HELP);
        break;
      case 0x63: // c
        if (this.opts.onMonitor) this.opts.onMonitor();
        else this.message("typevisor: no control prompt in this mode (C-a h for help)");
        break;
      case 0x62: // b
        this.sink?.break?.();
        break;
      default:
        if (b === this.escape) this.sink?.input(Uint8Array.of(b));
      // Unknown escape: QEMU ignores it too.
    }
  }

  private message(s: string): void {
    this.output.write(`\r\n${s}\r\n`);
  }

  /** Guest output dropped because the terminal did not keep up (see MAX_PENDING_OUTPUT). */
  dropped = 0;

  write(data: Uint8Array): void {
    if (this.closed) return;
    // A guest can print far faster than a slow terminal or pipe drains; cap what we buffer for it.
    if (this.output.writableLength > MAX_PENDING_OUTPUT) {
      this.dropped += data.length;
      return;
    }
    this.output.write(data);
  }

  attach(sink: CharSink): void {
    const first = this.sink === null;
    this.sink = sink;
    if (first && !this.closed) {
      this.input.on("data", this.onData);
      this.input.resume();
    }
  }
  pause(): void {
    this.input.pause();
  }
  resume(): void {
    if (!this.closed && this.sink) this.input.resume();
  }

  private restore(): void {
    if (this.input.isTTY && !this.wasRaw) this.input.setRawMode(false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off("data", this.onData);
    this.input.pause();
    this.restore();
    process.off("exit", this.restoreOnExit);
  }
}
