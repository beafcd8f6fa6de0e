// The seam between the virtio-mmio transport (VirtioMmio) and a device type (VirtioBlk,
// VirtioConsole, VirtioRng, VirtioNet). The transport owns registers, feature negotiation, the status
// state machine, queues and interrupts (virtio 1.2 §2, §4.2); the device type owns its configuration
// space and what a request means (virtio 1.2 §5). A device type never sees the bus or the engine, so
// the same model serves the RISC-V interpreter now and a KVM engine later.

import type { GuestMemory } from "../../memory/GuestMemory.js";
import type { VirtQueue } from "./VirtQueue.js";

/** Device IDs, virtio 1.2 §5 (table in §5 "Device Types"). */
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;

/** Reserved feature bits, virtio 1.2 §6. */
export const VIRTIO_F_INDIRECT_DESC = 28n;
export const VIRTIO_F_EVENT_IDX = 29n;
export const VIRTIO_F_VERSION_1 = 32n;

export const bit = (n: bigint | number): bigint => 1n << BigInt(n);

/** What the transport gives a device type once the driver has set DRIVER_OK. */
export interface VirtioContext {
  readonly memory: GuestMemory;
  /** Queues by index; a queue the driver did not enable has `ready === false`. */
  readonly queues: readonly VirtQueue[];
  /** Features both sides agreed on (virtio 1.2 §2.2). */
  readonly features: bigint;
  /** Raise a used-buffer notification for `queue` if the driver wants one (§2.7.10, event index). */
  notifyUsed(queue: VirtQueue): void;
  /** Configuration change notification (§2.5.1, §4.2.2 InterruptStatus bit 1). */
  configChanged(): void;
  /** The device hit a guest error it cannot report per request: set DEVICE_NEEDS_RESET (§2.1.2). */
  needsReset(reason: string): void;
  log(line: string): void;
}

export interface VirtioDevice {
  readonly deviceId: number;
  /** Short name for log lines, e.g. "virtio-blk". */
  readonly name: string;
  /** Device-specific feature bits offered (the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX). */
  readonly features: bigint;
  /** Maximum size of each queue; its length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Little-endian read of the device configuration space (§2.5); out-of-range reads return 0. */
  configRead(offset: number, size: 1 | 2 | 4): number;
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void;
  /** Called when the driver sets DRIVER_OK: from now on the device may use the queues. */
  activate(ctx: VirtioContext): void;
  /** The driver notified queue `index` (QueueNotify, §4.2.2) that it made buffers available. */
  queueNotify(index: number): void;
  /** Device reset (§2.4): forget everything about the driver; in-flight host I/O must not touch memory after this. */
  reset(): void;
  /** Resolves when no host I/O is in flight (tests and orderly shutdown). */
  idle(): Promise<void>;
  /**
   * Snapshots (optional; a device without them has no state beyond the transport's and its queues').
   * Called with no host I/O in flight (after idle()); restoreState() runs after activate().
   */
  saveState?(): unknown;
  restoreState?(state: unknown): void;
  /** Why this device cannot be snapshotted right now (e.g. host state a restore could not rebuild), or "". */
  snapshotBlocker?(): string;
}

/** Tracks in-flight async host operations so devices can offer idle() without polling. */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];
  get active(): number {
    return this.count;
  }
  begin(): void {
    this.count++;
  }
  end(): void {
    if (--this.count === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
