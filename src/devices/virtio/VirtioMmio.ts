// virtio over MMIO, version 2 ("modern"), virtio 1.2 §4.2. One window of 0x200 bytes (the board maps
// 0x1000) per device: the registers of §4.2.2 below 0x100, the device configuration space from 0x100.
// This class owns everything transport-generic: feature negotiation (§2.2, §3.1.1), the device
// status state machine including FAILED and DEVICE_NEEDS_RESET (§2.1), configuration generation
// (§2.5.1), queue setup (§4.2.3.2), interrupt status/ack (§4.2.2) and reset (§2.4). The device type
// behind it (VirtioDevice) sees only its queues and memory.

import type { BusDevice } from "../../memory/IoBus.js";
import type { IrqLine } from "../../memory/IrqLine.js";
import type { GuestMemory } from "../../memory/GuestMemory.js";
import { VirtQueue, type VirtQueueSavedState } from "./VirtQueue.js";
import {
  type VirtioContext,
  type VirtioDevice,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  bit,
} from "./VirtioDevice.js";

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
/** Vendor ID reported by our devices: "TYPV". Linux does not care about the value. */
export const VIRTIO_MMIO_VENDOR = 0x56505954;

// Register offsets, virtio 1.2 §4.2.2 table 4.1.
export const REG = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

// Device status bits, virtio 1.2 §2.1.
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

/** Features the transport itself implements for every device type. */
const TRANSPORT_FEATURES = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_INDIRECT_DESC) | bit(VIRTIO_F_EVENT_IDX);

/** A virtio-mmio slot's state for snapshots (64-bit feature words as decimal strings). */
export interface VirtioMmioSavedState {
  deviceId: number;
  status: number;
  interruptStatus: number;
  configGeneration: number;
  features: string;
  driverFeatures: string;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  queueSel: number;
  lastError: string;
  queues: VirtQueueSavedState[];
  device: unknown;
}

export class VirtioMmio implements BusDevice, VirtioContext {
  readonly name: string;
  status = 0;
  interruptStatus = 0;
  configGeneration = 0;
  features = 0n;
  readonly queues: VirtQueue[];
  /** Last DEVICE_NEEDS_RESET / rejected-setup reason, for tests and `vm info`. */
  lastError = "";
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private readonly offered: bigint;
  private logCount = 0;
  private resetLogs = 0;
  log: (line: string) => void = (line) => console.error(line);

  /**
   * @param device the device type, or null for an empty slot (DeviceID 0, §4.2.3.1.1: the driver skips it)
   */
  constructor(
    readonly memory: GuestMemory,
    private readonly irq: IrqLine,
    readonly device: VirtioDevice | null,
  ) {
    this.name = device ? device.name : "virtio-mmio (empty)";
    this.offered = device ? device.features | TRANSPORT_FEATURES : 0n;
    this.queues = device ? device.queueMaxSizes.map((m, i) => new VirtQueue(i, m)) : [];
  }

  // ---- BusDevice ----

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset >= REG.Config) {
      // §4.2.2.2: the device configuration space may be accessed with any width that fits its fields.
      return this.device ? this.device.configRead(offset - REG.Config, size) >>> 0 : 0;
    }
    if (size !== 4)
      return this.warn(`${size}-byte read of register 0x${offset.toString(16)} (registers are 32-bit, §4.2.2.2)`, 0);
    const d = this.device;
    switch (offset) {
      case REG.MagicValue:
        return VIRTIO_MMIO_MAGIC;
      case REG.Version:
        return 2;
      case REG.DeviceID:
        return d ? d.deviceId : 0;
      case REG.VendorID:
        return VIRTIO_MMIO_VENDOR;
      case REG.DeviceFeatures: {
        if (this.deviceFeaturesSel > 1) return 0;
        return Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
      }
      case REG.QueueNumMax: {
        const q = this.queues[this.queueSel];
        return q ? q.maxSize : 0;
      }
      case REG.QueueNum: {
        const q = this.queues[this.queueSel];
        return q ? q.size : 0;
      }
      case REG.QueueReady: {
        const q = this.queues[this.queueSel];
        return q && q.ready ? 1 : 0;
      }
      case REG.InterruptStatus:
        return this.interruptStatus;
      case REG.Status:
        return this.status;
      case REG.QueueDescLow:
        return this.qaddr((q) => q.descAddr, false);
      case REG.QueueDescHigh:
        return this.qaddr((q) => q.descAddr, true);
      case REG.QueueDriverLow:
        return this.qaddr((q) => q.availAddr, false);
      case REG.QueueDriverHigh:
        return this.qaddr((q) => q.availAddr, true);
      case REG.QueueDeviceLow:
        return this.qaddr((q) => q.usedAddr, false);
      case REG.QueueDeviceHigh:
        return this.qaddr((q) => q.usedAddr, true);
      // No shared memory regions: length all-ones means "does not exist" (§4.2.2).
      case REG.SHMLenLow:
      case REG.SHMLenHigh:
      case REG.SHMBaseLow:
      case REG.SHMBaseHigh:
        return 0xffffffff;
      case REG.ConfigGeneration:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset >= REG.Config) {
      if (this.device) this.device.configWrite(offset - REG.Config, size, value);
      return;
    }
    if (size !== 4) {
      this.warn(`${size}-byte write of register 0x${offset.toString(16)} ignored (registers are 32-bit)`, 0);
      return;
    }
    value >>>= 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case REG.DeviceFeaturesSel:
        this.deviceFeaturesSel = value;
        return;
      case REG.DriverFeaturesSel:
        this.driverFeaturesSel = value;
        return;
      case REG.DriverFeatures: {
        // §3.1.1: features are written before FEATURES_OK; later writes are a driver bug, ignore them.
        if (this.status & STATUS_FEATURES_OK || this.driverFeaturesSel > 1) return;
        const shift = BigInt(32 * this.driverFeaturesSel);
        this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value) << shift);
        return;
      }
      case REG.QueueSel:
        this.queueSel = value;
        return;
      case REG.QueueNum:
        if (q && !q.ready) q.size = value;
        return;
      case REG.QueueReady:
        this.setQueueReady(q, value);
        return;
      case REG.QueueNotify:
        this.notify(value);
        return;
      case REG.InterruptACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case REG.Status:
        this.setStatus(value & 0xff);
        return;
      case REG.QueueDescLow:
      case REG.QueueDescHigh:
        if (q && !q.ready) q.descAddr = setHalf(q.descAddr, value, offset === REG.QueueDescHigh);
        return;
      case REG.QueueDriverLow:
      case REG.QueueDriverHigh:
        if (q && !q.ready) q.availAddr = setHalf(q.availAddr, value, offset === REG.QueueDriverHigh);
        return;
      case REG.QueueDeviceLow:
      case REG.QueueDeviceHigh:
        if (q && !q.ready) q.usedAddr = setHalf(q.usedAddr, value, offset === REG.QueueDeviceHigh);
        return;
      default:
        this.warn(`write to read-only or unknown register 0x${offset.toString(16)} ignored`, 0);
    }
  }

  // ---- state machine ----

  private setStatus(v: number): void {
    if (v === 0) {
      this.reset();
      return;
    }
    const old = this.status;
    // §2.1.1: the driver MUST NOT clear a status bit; treat it as a driver bug and keep the old bits.
    if ((old & ~v & ~STATUS_DEVICE_NEEDS_RESET) !== 0)
      this.warn(`driver tried to clear status bits 0x${(old & ~v).toString(16)}; write 0 to reset`, 0);
    let next = old | (v & ~STATUS_DEVICE_NEEDS_RESET);
    if (v & STATUS_FEATURES_OK && !(old & STATUS_FEATURES_OK)) {
      const why = this.checkFeatures();
      if (why) {
        // §3.1.1 step 6: leaving FEATURES_OK clear tells the driver the subset is unusable.
        next &= ~STATUS_FEATURES_OK;
        this.lastError = why;
        this.warn(why, 0);
      } else {
        this.features = this.driverFeatures;
      }
    }
    if (v & STATUS_DRIVER_OK && !(old & STATUS_DRIVER_OK)) {
      if (!(next & STATUS_FEATURES_OK)) {
        next &= ~STATUS_DRIVER_OK;
        this.warn("DRIVER_OK without FEATURES_OK ignored (§3.1.1)", 0);
      }
    }
    this.status = next;
    if (next & STATUS_DRIVER_OK && !(old & STATUS_DRIVER_OK) && this.device) {
      try {
        this.device.activate(this);
      } catch (e) {
        this.needsReset(`internal error while activating: ${(e as Error).message}`);
      }
    }
  }

  private checkFeatures(): string {
    const f = this.driverFeatures;
    if ((f & ~this.offered) !== 0n)
      return `${this.name}: driver accepted features 0x${(f & ~this.offered).toString(16)} the device never offered`;
    if ((f & bit(VIRTIO_F_VERSION_1)) === 0n)
      return `${this.name}: driver did not accept VIRTIO_F_VERSION_1; this is a modern-only (virtio-mmio version 2) device`;
    return "";
  }

  /**
   * Snapshot state of the transport, its queues and the device type. Take it with no host I/O in
   * flight (await idle() first): every request a device popped is then completed in the used ring,
   * so nothing is in flight in the saved state and nothing is lost or done twice on restore.
   */
  saveState(): VirtioMmioSavedState {
    return {
      deviceId: this.device ? this.device.deviceId : 0,
      status: this.status,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      features: this.features.toString(),
      driverFeatures: this.driverFeatures.toString(),
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      queueSel: this.queueSel,
      lastError: this.lastError,
      queues: this.queues.map((q) => q.saveState()),
      device: this.device?.saveState?.() ?? null,
    };
  }

  /** Puts back a saveState() value (the guest RAM must already hold the restored rings). */
  restoreState(s: VirtioMmioSavedState): void {
    const id = this.device ? this.device.deviceId : 0;
    if (s.deviceId !== id)
      throw new Error(`${this.name}: the snapshot has device ID ${s.deviceId} in this slot, the machine ${id}`);
    if (s.queues.length !== this.queues.length)
      throw new Error(`${this.name}: the snapshot has ${s.queues.length} queues, the device ${this.queues.length}`);
    this.reset();
    this.status = s.status;
    this.configGeneration = s.configGeneration;
    this.features = BigInt(s.features);
    this.driverFeatures = BigInt(s.driverFeatures);
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.queueSel = s.queueSel;
    this.lastError = s.lastError;
    this.queues.forEach((q, i) => {
      const why = q.restoreState(this.memory, s.queues[i]!);
      if (why) throw new Error(`${this.name}: ${why}`);
    });
    if (this.device && this.status & STATUS_DRIVER_OK) {
      this.device.activate(this);
      this.device.restoreState?.(s.device);
    }
    this.interruptStatus = s.interruptStatus;
  }

  /**
   * After a restore: serve buffers the driver made available that the device had not taken yet
   * (a device throttled at snapshot time would otherwise wait for a completion that never comes).
   */
  kickQueues(): void {
    this.queues.forEach((q, i) => {
      if (q.ready && q.pending() > 0) this.notify(i);
    });
  }

  /** Device reset, §2.4 / §4.2.3.1: everything back to the power-on state; the interrupt drops. */
  reset(): void {
    this.status = 0;
    this.features = 0n;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    for (const q of this.queues) q.reset();
    this.device?.reset();
    this.interruptStatus = 0;
    this.updateIrq();
  }

  private setQueueReady(q: VirtQueue | undefined, value: number): void {
    if (!q) {
      this.warn(`QueueReady for queue ${this.queueSel}, which does not exist`, 0);
      return;
    }
    if (value === 0) {
      q.ready = false;
      return;
    }
    if (q.ready) return;
    const why = q.enable(
      this.memory,
      (this.features & bit(VIRTIO_F_EVENT_IDX)) !== 0n,
      (this.features & bit(VIRTIO_F_INDIRECT_DESC)) !== 0n,
    );
    if (why) this.needsReset(why);
  }

  private notify(index: number): void {
    // §2.1: after FAILED the driver has given up on the device; after DEVICE_NEEDS_RESET we have.
    if (!(this.status & STATUS_DRIVER_OK) || this.status & (STATUS_DEVICE_NEEDS_RESET | STATUS_FAILED)) return;
    const q = this.queues[index];
    if (!q || !q.ready) {
      this.warn(`notify for queue ${index}, which is not set up`, 0);
      return;
    }
    try {
      this.device!.queueNotify(index);
    } catch (e) {
      // A device bug must not take the VMM down with it: park the device instead (§2.1.2).
      this.needsReset(`internal error while processing queue ${index}: ${(e as Error).message}`);
      return;
    }
    if (q.broken) this.needsReset(q.broken);
  }

  // ---- VirtioContext ----

  notifyUsed(q: VirtQueue): void {
    if (q.broken) {
      this.needsReset(q.broken);
      return;
    }
    if (!q.needInterrupt()) return;
    this.interruptStatus |= INT_USED_BUFFER;
    this.updateIrq();
  }

  configChanged(): void {
    // §2.5.1: the generation changes whenever the config may have changed, so multi-read fields are consistent.
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (!(this.status & STATUS_DRIVER_OK)) return;
    this.interruptStatus |= INT_CONFIG_CHANGE;
    this.updateIrq();
  }

  needsReset(reason: string): void {
    if (this.status & STATUS_DEVICE_NEEDS_RESET) return;
    this.lastError = reason;
    // Rate-limited like warn(): a guest looping on reset + break must not flood the host's log.
    if (this.resetLogs < 20) {
      this.resetLogs++;
      this.log(
        `${this.name}: guest error, device needs reset: ${reason}${this.resetLogs === 20 ? " (further guest errors of this device not logged)" : ""}`,
      );
    }
    // §2.1.2 / §4.2.3.3: set DEVICE_NEEDS_RESET and send a configuration change notification.
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    for (const q of this.queues) q.ready = false;
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & STATUS_DRIVER_OK) {
      this.interruptStatus |= INT_CONFIG_CHANGE;
      this.updateIrq();
    }
  }

  idle(): Promise<void> {
    return this.device ? this.device.idle() : Promise.resolve();
  }

  private updateIrq(): void {
    this.irq.set(this.interruptStatus !== 0);
  }

  private qaddr(get: (q: VirtQueue) => number, high: boolean): number {
    const q = this.queues[this.queueSel];
    if (!q) return 0;
    const a = get(q);
    return high ? Math.floor(a / 0x1_0000_0000) >>> 0 : a >>> 0;
  }

  private warn(line: string, ret: number): number {
    if (this.logCount < 20) {
      this.logCount++;
      this.log(`${this.name}: ${line}`);
    }
    return ret;
  }
}

function setHalf(cur: number, v: number, high: boolean): number {
  const lo = cur % 0x1_0000_0000;
  const hi = Math.floor(cur / 0x1_0000_0000);
  return high ? v * 0x1_0000_0000 + lo : hi * 0x1_0000_0000 + v;
}
