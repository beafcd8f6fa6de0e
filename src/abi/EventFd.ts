// An eventfd (eventfd(2)): a 64-bit counter. read() returns it and resets it (or, with
// EFD_SEMAPHORE, returns 1 and decrements it) and sleeps while it is zero; write() adds to it and
// sleeps while the sum would exceed 0xfffffffffffffffe.
import { OpenFile, O_RDWR, WaitQueue } from "./OpenFile.js";

export class EventFd extends OpenFile {
  static readonly MAX = 0xffff_ffff_ffff_fffen;
  readonly wait = new WaitQueue();
  readonly ino: number;
  private static nextIno = 30000;
  constructor(
    flags: number,
    public count: bigint,
    readonly semaphore: boolean,
  ) {
    super(O_RDWR | flags);
    this.ino = EventFd.nextIno++;
  }
  release(): void {
    this.wait.wakeAll();
  }
}
