// A timerfd (timerfd_create(2)): a timer whose expirations are read as a 64-bit count. The count is
// computed from the clock when it is looked at (read, poll), so a periodic timer costs nothing
// while nobody looks; a host timer only wakes sleepers at the next expiry.
import { OpenFile, O_RDONLY, WaitQueue } from "./OpenFile.js";

export class TimerFd extends OpenFile {
  readonly wait = new WaitQueue();
  /** Next expiry (performance.now() ms), 0 = disarmed. */
  due = 0;
  /** Period in ms, 0 = one-shot. */
  interval = 0;
  /** Expirations not yet read. */
  expired = 0n;
  private timer: ReturnType<typeof setTimeout> | undefined;
  readonly ino: number;
  private static nextIno = 40000;

  constructor(
    flags: number,
    readonly clock: number,
  ) {
    super(O_RDONLY | flags);
    this.ino = TimerFd.nextIno++;
  }

  /** Folds the expiries that have passed into `expired`. */
  update(now = performance.now()): void {
    if (this.due === 0 || now < this.due) return;
    if (this.interval > 0) {
      const n = Math.floor((now - this.due) / this.interval) + 1;
      this.expired += BigInt(n);
      this.due += n * this.interval;
    } else {
      this.expired += 1n;
      this.due = 0;
    }
  }

  /** Arms (valueMs > 0) or disarms the timer. */
  set(valueMs: number, intervalMs: number): void {
    this.expired = 0n;
    this.interval = intervalMs;
    this.due = valueMs > 0 ? performance.now() + valueMs : 0;
    this.schedule();
  }

  /** A host timer for the next expiry, to wake whoever sleeps on this timer. */
  schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.due === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.update();
        this.wait.wakeAll();
      },
      Math.max(0, this.due - performance.now()),
    );
    this.timer.unref();
  }

  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.due = 0;
  }
}
