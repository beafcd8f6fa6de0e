// The Goldfish real-time clock (Android emulator's "goldfish-rtc", which QEMU's virt board uses at
// 0x101000, irq 11; Linux driver drivers/rtc/rtc-goldfish.c). Registers, all 32-bit:
//
//   0x00 TIME_LOW      nanoseconds since the Unix epoch, low half; reading it latches TIME_HIGH
//   0x04 TIME_HIGH     high half latched by the last TIME_LOW read
//   0x08 ALARM_LOW     writing it arms the alarm at (ALARM_HIGH << 32 | value)
//   0x0c ALARM_HIGH
//   0x10 IRQ_ENABLED
//   0x14 CLEAR_ALARM
//   0x18 ALARM_STATUS  1 while an alarm is armed
//   0x1c CLEAR_INTERRUPT
//
// Setting the time (writing TIME_LOW/HIGH) keeps an offset from the host clock, so the guest can
// set its clock without changing the host's.
import type { BusDevice } from "../memory/IoBus.js";
import type { IrqLine } from "../memory/IrqLine.js";

export const GOLDFISH_RTC_SIZE = 0x1000;

/** The RTC's registers for snapshots (64-bit values as decimal strings). */
export interface GoldfishRtcSavedState {
  offsetNs: string;
  latchedHigh: number;
  writeHigh: number;
  alarmHigh: number;
  alarmNs: string;
  irqEnabled: boolean;
  irqPending: boolean;
}

export class GoldfishRtc implements BusDevice {
  readonly name = "goldfish-rtc";
  private offsetNs = 0n;
  private latchedHigh = 0;
  private writeHigh = 0;
  private alarmHigh = 0;
  private alarmNs = -1n;
  private irqEnabled = false;
  private irqPending = false;

  /** @param nowNs host time in nanoseconds since the epoch (injectable for tests). */
  constructor(
    private readonly irq: IrqLine,
    private readonly nowNs: () => bigint = () => BigInt(Date.now()) * 1_000_000n,
  ) {}

  /**
   * Snapshot state. The guest's clock is saved as its offset from host wall time, so a restored
   * guest's wall clock keeps following real time (as after a suspend), not the time of the snapshot.
   */
  saveState(): GoldfishRtcSavedState {
    return {
      offsetNs: this.offsetNs.toString(),
      latchedHigh: this.latchedHigh,
      writeHigh: this.writeHigh,
      alarmHigh: this.alarmHigh,
      alarmNs: this.alarmNs.toString(),
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
    };
  }

  restoreState(s: GoldfishRtcSavedState): void {
    this.offsetNs = BigInt(s.offsetNs);
    this.latchedHigh = s.latchedHigh;
    this.writeHigh = s.writeHigh;
    this.alarmHigh = s.alarmHigh;
    this.alarmNs = BigInt(s.alarmNs);
    this.irqEnabled = s.irqEnabled;
    this.irqPending = s.irqPending;
  }

  private time(): bigint {
    return this.nowNs() + this.offsetNs;
  }

  /** Fires a due alarm; the board calls this from its event loop. */
  poll(): void {
    if (this.alarmNs >= 0n && this.time() >= this.alarmNs) {
      this.alarmNs = -1n;
      this.irqPending = true;
      if (this.irqEnabled) this.irq.set(true);
    }
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (size !== 4) return 0;
    switch (offset) {
      case 0x00: {
        const t = this.time();
        this.latchedHigh = Number((t >> 32n) & 0xffffffffn);
        return Number(t & 0xffffffffn);
      }
      case 0x04:
        return this.latchedHigh;
      case 0x08:
        return this.alarmNs < 0n ? 0 : Number(this.alarmNs & 0xffffffffn);
      case 0x0c:
        return this.alarmHigh;
      case 0x10:
        return this.irqEnabled ? 1 : 0;
      case 0x18:
        return this.alarmNs >= 0n ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4) return;
    value >>>= 0;
    switch (offset) {
      case 0x00: {
        const want = (BigInt(this.writeHigh) << 32n) | BigInt(value);
        this.offsetNs = want - this.nowNs();
        break;
      }
      case 0x04:
        this.writeHigh = value;
        break;
      case 0x08:
        this.alarmNs = (BigInt(this.alarmHigh) << 32n) | BigInt(value);
        this.poll();
        break;
      case 0x0c:
        this.alarmHigh = value;
        break;
      case 0x10:
        this.irqEnabled = (value & 1) === 1;
        this.irq.set(this.irqEnabled && this.irqPending);
        break;
      case 0x14:
        this.alarmNs = -1n;
        break;
      case 0x1c:
        this.irqPending = false;
        this.irq.set(false);
        break;
    }
  }
}
