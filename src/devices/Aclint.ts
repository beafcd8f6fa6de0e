// The core-local interruptor as QEMU's virt board and SiFive's CLINT lay it out, which the RISC-V
// ACLINT specification (1.0) keeps compatible: an MSWI device (msip per hart, ACLINT §3) at offset
// 0 and an MTIMER device (mtimecmp per hart, mtime) at 0x4000 (ACLINT §2):
//
//   0x0000 + 4*h   msip[h]       bit 0 drives hart h's mip.MSIP (Privileged ISA 3.1.9)
//   0x4000 + 8*h   mtimecmp[h]   hart h sees mip.MTIP while mtime >= mtimecmp (Privileged ISA 3.2.1)
//   0xbff8         mtime         ticks of the timebase (10 MHz on virt)
//
// The comparison itself happens in the hart (it reads the board's MachineTimer); this device only
// gives M-mode software (e.g. OpenSBI) MMIO access to the values.
import type { BusDevice } from "../memory/IoBus.js";
import type { MachineTimer } from "../riscv/Hart.js";

export const CLINT_SIZE = 0x10000;
const MSIP_BASE = 0x0;
const MTIMECMP_BASE = 0x4000;
const MTIME = 0xbff8;

/** What the CLINT needs from one hart. */
export interface AclintHartPort {
  setMsip(level: boolean): void;
  getMtimecmp(): bigint;
  setMtimecmp(value: bigint): void;
}

export class Aclint implements BusDevice {
  readonly name = "clint";
  private readonly msip: Uint8Array;

  /**
   * @param msip the msip registers (one byte per hart); vCPU threads pass one view of shared memory
   *   so every thread's instance reads what any thread wrote (src/vmm/vcpu).
   */
  constructor(
    private readonly timer: MachineTimer,
    private readonly harts: AclintHartPort[],
    msip?: Uint8Array,
  ) {
    this.msip = msip ?? new Uint8Array(harts.length);
  }

  /** Snapshot state: the MSIP bits (mtimecmp lives in each hart, mtime in the board's timer). */
  saveState(): { msip: number[] } {
    return { msip: Array.from(this.msip) };
  }

  restoreState(s: { msip: number[] }): void {
    if (s.msip.length !== this.msip.length)
      throw new RangeError(`ACLINT state: ${s.msip.length} harts, not ${this.msip.length}`);
    this.msip.set(s.msip);
  }

  private mtime(): bigint {
    return BigInt(Math.floor(this.timer.now()));
  }

  read64(offset: number): bigint {
    if (offset === MTIME) return this.mtime();
    if (offset >= MTIMECMP_BASE && offset < MTIMECMP_BASE + 8 * this.harts.length && (offset & 7) === 0) {
      return this.harts[(offset - MTIMECMP_BASE) >>> 3]!.getMtimecmp();
    }
    return BigInt(this.read(offset, 4) >>> 0) | (BigInt(this.read(offset + 4, 4) >>> 0) << 32n);
  }

  write64(offset: number, value: bigint): void {
    if (offset >= MTIMECMP_BASE && offset < MTIMECMP_BASE + 8 * this.harts.length && (offset & 7) === 0) {
      this.harts[(offset - MTIMECMP_BASE) >>> 3]!.setMtimecmp(BigInt.asUintN(64, value));
      return;
    }
    this.write(offset, 4, Number(value & 0xffffffffn));
    this.write(offset + 4, 4, Number((value >> 32n) & 0xffffffffn));
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (size !== 4 || (offset & 3) !== 0) return 0;
    if (offset < MSIP_BASE + 4 * this.harts.length) return this.msip[offset >>> 2]!;
    if (offset >= MTIMECMP_BASE && offset < MTIMECMP_BASE + 8 * this.harts.length) {
      const h = (offset - MTIMECMP_BASE) >>> 3;
      const v = this.harts[h]!.getMtimecmp();
      return Number((offset & 4 ? v >> 32n : v) & 0xffffffffn);
    }
    if (offset === MTIME || offset === MTIME + 4) {
      const v = this.mtime();
      return Number((offset === MTIME ? v : v >> 32n) & 0xffffffffn);
    }
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    if (offset < MSIP_BASE + 4 * this.harts.length) {
      const h = offset >>> 2;
      this.msip[h] = value & 1; // only bit 0 is writable (ACLINT §3.2)
      this.harts[h]!.setMsip((value & 1) === 1);
      return;
    }
    if (offset >= MTIMECMP_BASE && offset < MTIMECMP_BASE + 8 * this.harts.length) {
      // 32-bit halves, as RV32 firmware and some RV64 code write them (Privileged ISA 3.2.1).
      const port = this.harts[(offset - MTIMECMP_BASE) >>> 3]!;
      const old = port.getMtimecmp();
      const v = BigInt(value >>> 0);
      port.setMtimecmp(offset & 4 ? (old & 0xffffffffn) | (v << 32n) : (old & 0xffffffff00000000n) | v);
    }
    // mtime is read-only here: the board's clock is the host's monotonic clock.
  }
}
