// MMIO from a vCPU thread to the device models on the VMM thread: one slot of shared memory per
// vCPU. A load blocks the vCPU (Atomics.wait) until the VMM thread has run the device and written
// the value back; a store is posted: the vCPU goes on at once and only waits, before its next MMIO
// access, for the slot to be free again (so the device sees every access in program order, and a
// store can never be overtaken by a later load of the same hart). The VMM thread waits for requests
// with Atomics.waitAsync, so its event loop keeps serving the console, disks and timers meanwhile.
import type { IoBus } from "../../memory/IoBus.js";

const FREE = 0,
  LOAD = 1,
  STORE = 2,
  DONE = 3;
const ST = 0,
  ADDR_LO = 1,
  ADDR_HI = 2,
  SIZE = 3,
  V_LO = 4,
  V_HI = 5,
  OK = 6;
const SLOT_WORDS = 8;

/** Atomics.waitAsync (ES2024; Node 20 has it, the project's TypeScript lib does not declare it yet). */
type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
) => { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
/** How long a vCPU waits for the VMM thread before it looks whether the VM is stopping. */
const WAIT_MS = 200;

export function mmioChannelBuffer(harts: number): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOT_WORDS * 4 * harts);
}

/** The vCPU side of one slot. */
export class MmioClient {
  private readonly s: Int32Array;
  /** Result of load(). */
  lo = 0;
  hi = 0;
  /** Accesses made (for --stats). */
  count = 0;

  constructor(
    buffer: SharedArrayBuffer,
    hart: number,
    private readonly stopping: () => boolean,
  ) {
    this.s = new Int32Array(buffer, SLOT_WORDS * 4 * hart, SLOT_WORDS);
  }

  /** Waits until the slot is free; false if the VM stops meanwhile. */
  private acquire(): boolean {
    const s = this.s;
    for (;;) {
      const st = Atomics.load(s, ST);
      if (st === FREE) return true;
      if (this.stopping()) return false;
      Atomics.wait(s, ST, st, WAIT_MS);
    }
  }

  private post(op: number, addr: number, size: number, lo: number, hi: number): void {
    const s = this.s;
    s[ADDR_LO] = (addr % 4294967296) | 0;
    s[ADDR_HI] = Math.floor(addr / 4294967296);
    s[SIZE] = size;
    s[V_LO] = lo;
    s[V_HI] = hi;
    this.count++;
    Atomics.store(s, ST, op);
    Atomics.notify(s, ST);
  }

  /** Loads `size` bytes at bus address `addr` into lo/hi; false on a bus fault (or a stopping VM). */
  load(addr: number, size: number): boolean {
    if (!this.acquire()) return false;
    this.post(LOAD, addr, size, 0, 0);
    const s = this.s;
    for (;;) {
      const st = Atomics.load(s, ST);
      if (st === DONE) break;
      if (this.stopping()) return false;
      Atomics.wait(s, ST, st, WAIT_MS);
    }
    this.lo = s[V_LO]!;
    this.hi = s[V_HI]!;
    const ok = s[OK] === 1;
    Atomics.store(s, ST, FREE);
    return ok;
  }

  /** Waits until the VMM thread has served this hart's posted store, if any (before parking). */
  drain(): void {
    this.acquire();
  }

  /** Posts a store; false if the VM stops before the slot is free. Bus faults on stores are logged by the VMM. */
  store(addr: number, size: number, lo: number, hi: number): boolean {
    if (!this.acquire()) return false;
    this.post(STORE, addr, size, lo, hi);
    return true;
  }
}

/** The VMM side: serves every vCPU's slot on `bus` until close(). */
export class MmioServer {
  private readonly slots: Int32Array[] = [];
  private closed = false;
  private readonly loops: Promise<void>[] = [];

  constructor(
    buffer: SharedArrayBuffer,
    harts: number,
    private readonly bus: IoBus,
    /** A device model threw (a VMM bug): the VM should stop with this error. */
    private readonly onError: (e: Error) => void,
  ) {
    for (let h = 0; h < harts; h++) this.slots.push(new Int32Array(buffer, SLOT_WORDS * 4 * h, SLOT_WORDS));
    for (const s of this.slots) this.loops.push(this.serve(s));
  }

  private async serve(s: Int32Array): Promise<void> {
    const bus = this.bus;
    while (!this.closed) {
      const st = Atomics.load(s, ST);
      if (st !== LOAD && st !== STORE) {
        const w = waitAsync(s, ST, st);
        if (w.async) await w.value;
        continue;
      }
      const addr = (s[ADDR_HI]! >>> 0) * 4294967296 + (s[ADDR_LO]! >>> 0);
      const size = s[SIZE]! as 1 | 2 | 4 | 8;
      let ok = false;
      try {
        ok = st === LOAD ? bus.load(addr, size) : bus.store(addr, size, s[V_LO]!, s[V_HI]!);
      } catch (e) {
        this.onError(e as Error);
      }
      if (st === LOAD) {
        s[V_LO] = bus.lo;
        s[V_HI] = bus.hi;
        s[OK] = ok ? 1 : 0;
        Atomics.store(s, ST, DONE);
      } else Atomics.store(s, ST, FREE);
      Atomics.notify(s, ST);
    }
  }

  /** Ends the serving loops (call after the vCPU threads stopped). */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.slots) {
      // Wake a waitAsync parked on the current value.
      Atomics.store(s, ST, FREE);
      Atomics.notify(s, ST);
    }
    await Promise.all(this.loops);
  }
}
