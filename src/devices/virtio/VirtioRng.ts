// virtio-rng (entropy device), virtio 1.2 §5.4: one request queue; the device fills each
// device-writable buffer with random bytes from the host's cryptographic RNG (node:crypto, i.e.
// the OS CSPRNG), written straight into guest RAM. A token bucket limits the rate so one guest
// cannot drain host CPU time by asking for entropy in a loop; requests beyond the budget wait for a
// timer rather than being refused.

import type { GuestMemory } from "../../memory/GuestMemory.js";
import { DescChain, POP_OK } from "./VirtQueue.js";
import { InFlight, VIRTIO_ID_RNG, type VirtioContext, type VirtioDevice } from "./VirtioDevice.js";
import { gpa } from "../../memory/Address.js";

/**
 * Web Crypto's getRandomValues fills at most 65536 bytes per call and refuses views of shared memory
 * (guest RAM is a shared WebAssembly.Memory), so random bytes go through one private buffer.
 */
const scratch = new Uint8Array(65536);
function randomFill(dst: Uint8Array, off: number, n: number): void {
  while (n > 0) {
    const k = Math.min(n, scratch.length);
    crypto.getRandomValues(scratch.subarray(0, k));
    dst.set(scratch.subarray(0, k), off);
    off += k;
    n -= k;
  }
}

export interface VirtioRngOptions {
  /** Sustained rate in bytes per second (default 1 MiB/s). */
  bytesPerSecond?: number;
  /** Bucket size: bytes available at once after idling (default = one second's worth, at most 64 KiB). */
  burst?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly name = "virtio-rng";
  readonly features = 0n;
  readonly queueMaxSizes = [64];
  private ctx: VirtioContext | null = null;
  private readonly chain = new DescChain(4);
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly waiting = new InFlight();
  bytesServed = 0;

  constructor(
    private readonly memory: GuestMemory,
    opts: VirtioRngOptions = {},
  ) {
    this.rate = opts.bytesPerSecond ?? 1 << 20;
    if (!(this.rate > 0)) throw new RangeError(`virtio-rng rate ${this.rate} must be positive`);
    this.burst = opts.burst ?? Math.min(this.rate, 65536);
    this.now = opts.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.last = this.now();
  }

  configRead(): number {
    return 0;
  }
  configWrite(): void {}
  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  reset(): void {
    this.ctx = null;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.waiting.end();
    }
  }

  idle(): Promise<void> {
    return this.waiting.idle();
  }

  queueNotify(): void {
    this.serve();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  private serve(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const q = ctx.queues[0]!;
    const mem = this.memory;
    this.refill();
    let served = false;
    while (q.pending() > 0 && this.tokens >= 1) {
      if (q.pop(this.chain) !== POP_OK) break;
      const ch = this.chain;
      let budget = Math.floor(this.tokens);
      let written = 0;
      if (ch.error) {
        ctx.log(`${this.name}: request failed: ${ch.error}`);
      } else {
        for (let i = ch.firstWritable; i < ch.count && budget > 0; i++) {
          const n = Math.min(ch.len[i]!, budget);
          const off = mem.offsetOf(gpa(ch.addr[i]!), n);
          randomFill(mem.bytes, off, n);
          mem.markDirty(gpa(ch.addr[i]!), n);
          written += n;
          budget -= n;
        }
      }
      this.tokens -= written;
      this.bytesServed += written;
      // Returning fewer bytes than asked is allowed (§5.4.6: used.len says how many are valid).
      q.pushUsed(ch.head, written);
      served = true;
    }
    if (served) ctx.notifyUsed(q);
    if (q.pending() > 0 && !q.broken && this.timer === null) {
      const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
      this.waiting.begin();
      this.timer = setTimeout(
        () => {
          this.timer = null;
          this.waiting.end();
          this.serve();
        },
        Math.max(wait, 10),
      );
    }
  }
}
