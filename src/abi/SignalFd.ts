// A signalfd (signalfd(2)): reading it takes pending signals of its mask from the reading thread
// (or its process) instead of delivering them; the program blocks them with sigprocmask first.
// Readiness is the creating thread's view, which is the common use (one event loop thread).
import { OpenFile, O_RDONLY, type WaitQueue } from "./OpenFile.js";
import type { Process } from "./Process.js";

export class SignalFd extends OpenFile {
  readonly ino: number;
  private static nextIno = 50000;
  constructor(
    flags: number,
    public mask: bigint,
    readonly owner: Process,
    /** The kernel's queue, woken whenever a signal is queued. */
    readonly wait: WaitQueue,
  ) {
    super(O_RDONLY | flags);
    this.ino = SignalFd.nextIno++;
  }
  /** Signals of the mask pending for p (or its process). */
  pendingFor(p: Process): bigint {
    return (p.pending | p.groupPending.bits) & this.mask;
  }
  release(): void {}
}
