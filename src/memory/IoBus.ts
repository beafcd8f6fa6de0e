// The address-decoding bus between vCPUs and device models: MMIO on every engine, and a second
// instance for x86 port I/O later. A device sees an offset relative to its window and the access
// width; the bus never throws for unmapped or malformed accesses: it reports a fault to the engine
// (RISC-V: access-fault exception) and logs one line, so a misbehaving guest can't crash the VMM.

export type AccessSize = 1 | 2 | 4 | 8;

export interface BusDevice {
  readonly name: string;
  /** Reads `size` (1, 2 or 4) bytes at `offset` inside the device window; returns the unsigned value. */
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
  /** Optional native 64-bit accesses; without them an 8-byte access becomes two 4-byte ones (low first). */
  read64?(offset: number): bigint;
  write64?(offset: number, value: bigint): void;
}

interface Region {
  base: number;
  end: number;
  dev: BusDevice;
}

export class IoBus {
  private regions: Region[] = [];
  /** Result of the last successful load(): low and high 32 bits. Avoids allocating per access. */
  lo = 0;
  hi = 0;
  /** Unmapped-access log lines are rate-limited so a hostile guest can't flood the host. */
  private faultLogs = 0;
  log: (line: string) => void = (line) => console.error(line);

  constructor(readonly label = "mmio") {}

  map(base: number, size: number, dev: BusDevice): void {
    const end = base + size;
    for (const r of this.regions) {
      if (base < r.end && r.base < end) {
        throw new Error(
          `${this.label}: ${dev.name} at 0x${base.toString(16)} overlaps ${r.dev.name} at 0x${r.base.toString(16)}`,
        );
      }
    }
    this.regions.push({ base, end, dev });
    this.regions.sort((a, b) => a.base - b.base);
  }

  unmap(dev: BusDevice): void {
    this.regions = this.regions.filter((r) => r.dev !== dev);
  }

  devices(): { base: number; size: number; dev: BusDevice }[] {
    return this.regions.map((r) => ({ base: r.base, size: r.end - r.base, dev: r.dev }));
  }

  private find(addr: number, size: number): Region | undefined {
    const rs = this.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (addr >= r.base && addr + size <= r.end) return r;
    }
    return undefined;
  }

  /** Loads `size` bytes at bus address `addr` into this.lo/this.hi. Returns false on a fault. */
  load(addr: number, size: AccessSize): boolean {
    const r = this.find(addr, size);
    if (!r) return this.fault("read", addr, size);
    const off = addr - r.base;
    if (size === 8) {
      if (r.dev.read64) {
        const v = r.dev.read64(off);
        this.lo = Number(BigInt.asIntN(32, v));
        this.hi = Number(BigInt.asIntN(32, v >> 32n));
      } else {
        this.lo = r.dev.read(off, 4) | 0;
        this.hi = r.dev.read(off + 4, 4) | 0;
      }
    } else {
      this.lo = r.dev.read(off, size) | 0;
      this.hi = 0;
    }
    return true;
  }

  /** Stores the low `size` bytes of (hi:lo) at `addr`. Returns false on a fault. */
  store(addr: number, size: AccessSize, lo: number, hi: number): boolean {
    const r = this.find(addr, size);
    if (!r) return this.fault("write", addr, size);
    const off = addr - r.base;
    if (size === 8) {
      if (r.dev.write64) r.dev.write64(off, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
      else {
        r.dev.write(off, 4, lo >>> 0);
        r.dev.write(off + 4, 4, hi >>> 0);
      }
    } else {
      const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
      r.dev.write(off, size, (lo & mask) >>> 0);
    }
    return true;
  }

  private fault(kind: string, addr: number, size: number): false {
    if (this.faultLogs < 20) {
      this.faultLogs++;
      this.log(
        `${this.label}: ${kind} of ${size} byte(s) at unmapped address 0x${addr.toString(16)}` +
          (this.faultLogs === 20 ? " (further unmapped accesses not logged)" : ""),
      );
    }
    return false;
  }
}
