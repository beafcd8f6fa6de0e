// The shared-memory block between the VMM thread (devices, event loop, console) and the vCPU worker
// threads (one per hart): interrupt-pending bits, the SBI hart states, the ACLINT's mtimecmp and msip,
// cross-hart requests (IPIs, remote fences, hart start) and per-vCPU statistics. Everything a
// thread must see from another lives here; each side reads and writes it with Atomics and wakes the
// other with Atomics.notify on the target's attention word.
//
// Int32 words (`ctl`): words 0..GLOBAL_WORDS-1 are global, then HART_WORDS per hart:
//   ATTN   attention bits (A_*): set by any thread, taken (exchanged with 0) by the hart's thread;
//          the hart's run() returns when it is non-zero (Hart.attention) and a sleeping hart waits on it
//   IRQ    device-driven mip bits (MSIP 3, SEIP 9, MEIP 11), the levels of the CLINT and PLIC lines
//   STATE  SBI HSM state (HartState of Sbi.ts)
//   FENCE_REQ / FENCE_DONE  remote-fence tickets: a requester takes a ticket (FENCE_REQ + 1) and
//          waits until FENCE_DONE reaches it; the hart reads FENCE_REQ before it flushes and stores
//          that value in FENCE_DONE after, so a ticket is done only by a flush that began after it
//   MTIMECMP (two words, as a BigInt64 at word index MTIMECMP) and START/OPAQUE for hart_start.
//   PARKED the pause epoch (G_EPOCH) this thread has parked for: it stopped between two instructions,
//          outside any SBI call, with its posted MMIO stores served, and runs no guest code before it
//          reads G_RUN again (VcpuSet.park waits for every hart's PARKED to reach the epoch)
// The msip registers are bytes after the words (MSIP_BYTE + hart).

export const MAX_VCPUS = 32;

/** Global word: what the vCPU threads should do (RUN_*). */
export const G_RUN = 0;
/** Global word: incremented by every pause, before G_RUN becomes RUN_PAUSE (see PARKED). */
export const G_EPOCH = 1;
export const RUN_GO = 0,
  RUN_PAUSE = 1,
  RUN_STOP = 2;
const GLOBAL_WORDS = 16;
const HART_WORDS = 16;

export const ATTN = 0,
  IRQ = 1,
  STATE = 2,
  FENCE_REQ = 3,
  MTIMECMP = 4, // 4..5
  START = 6, // 6..7
  OPAQUE = 8, // 8..9
  FENCE_DONE = 10,
  PARKED = 11;

/** Attention bits. */
export const A_IRQ = 1,
  A_START = 2,
  A_TLB = 4,
  A_FENCE_I = 8,
  A_SSIP_SET = 16,
  A_SSIP_CLEAR = 32,
  A_MTIMECMP = 64,
  A_CONTROL = 128,
  /** Parked: send the hart's saved state (a snapshot or migration gathers it, VcpuSet.gather). */
  A_SAVE = 256,
  /**
   * Drop the hart's fast caches and the translator's mirrors filled from them (Hart.flushFast), as
   * a remote fence's ticket: the start of a dirty-tracking round (vmm/DirtyRound.ts).
   */
  A_STORES = 512;

/** Float64 statistics per hart (`stats`), written by the hart's thread after every run slice. */
export const S_INSTRET = 0,
  S_RUN_MS = 1,
  S_WAIT_MS = 2,
  S_HYPERCALL = 3,
  S_WFI = 4,
  S_BUDGET = 5,
  S_HALT = 6,
  S_MMIO = 7;
export const STAT_WORDS = 8;

export class VcpuShared {
  readonly ctl: Int32Array;
  readonly ctl64: BigInt64Array;
  readonly msip: Uint8Array;
  readonly stats: Float64Array;

  constructor(
    readonly harts: number,
    readonly ctlBuffer: SharedArrayBuffer = new SharedArrayBuffer((GLOBAL_WORDS + HART_WORDS * harts) * 4 + harts),
    readonly statsBuffer: SharedArrayBuffer = new SharedArrayBuffer(STAT_WORDS * 8 * harts),
  ) {
    const words = GLOBAL_WORDS + HART_WORDS * harts;
    this.ctl = new Int32Array(ctlBuffer, 0, words);
    this.ctl64 = new BigInt64Array(ctlBuffer, 0, words >>> 1);
    this.msip = new Uint8Array(ctlBuffer, words * 4, harts);
    this.stats = new Float64Array(statsBuffer);
  }

  /** Index of hart h's word `w` (ATTN, IRQ, ...) in ctl. */
  w(h: number, w: number): number {
    return GLOBAL_WORDS + HART_WORDS * h + w;
  }

  /** Index of hart h's 64-bit field at word `w` (MTIMECMP, START, OPAQUE) in ctl64. */
  d(h: number, w: number): number {
    return (GLOBAL_WORDS + HART_WORDS * h + w) >>> 1;
  }

  /** Sets attention bits on hart h and wakes its thread if it sleeps. */
  poke(h: number, bits: number): void {
    const i = this.w(h, ATTN);
    Atomics.or(this.ctl, i, bits);
    Atomics.notify(this.ctl, i);
  }

  /** Sets or clears a device-driven mip bit of hart h (PLIC context output, CLINT msip). */
  setIrq(h: number, bit: number, level: boolean): void {
    const i = this.w(h, IRQ);
    if (level) Atomics.or(this.ctl, i, 1 << bit);
    else Atomics.and(this.ctl, i, ~(1 << bit));
    this.poke(h, A_IRQ);
  }

  /** Tells every vCPU thread to go on, pause or stop. */
  control(run: number): void {
    if (run === RUN_PAUSE) Atomics.add(this.ctl, G_EPOCH, 1);
    Atomics.store(this.ctl, G_RUN, run);
    for (let h = 0; h < this.harts; h++) this.poke(h, A_CONTROL);
  }

  run(): number {
    return Atomics.load(this.ctl, G_RUN);
  }
}

// The clock every thread shares lives in the host file ThreadClock.ts (the page's build swaps it).
export { clockFrom, clockOrigin } from "./ThreadClock.js";
