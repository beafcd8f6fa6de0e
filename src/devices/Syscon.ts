// The SiFive "test" device (compatible "sifive,test1", "sifive,test0", "syscon") that QEMU's virt
// board has at 0x100000 and that Linux drives through the generic syscon-poweroff/syscon-reboot
// drivers (values 0x5555 and 0x7777 at offset 0) and OpenSBI through its "sifive,test" reset driver:
//
//   write32(0, 0x5555)              power off, success
//   write32(0, (code << 16) | 0x3333)  power off, failure with exit code `code`
//   write32(0, 0x7777)              reset (reboot)
import type { BusDevice } from "../memory/IoBus.js";

export const SYSCON_SIZE = 0x1000;
export const SYSCON_PASS = 0x5555;
export const SYSCON_FAIL = 0x3333;
export const SYSCON_RESET = 0x7777;

export interface SysconActions {
  powerOff(exitCode: number): void;
  reset(): void;
}

export class Syscon implements BusDevice {
  readonly name = "syscon";

  constructor(private readonly actions: SysconActions) {}

  read(): number {
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset !== 0 || size < 2) return;
    switch (value & 0xffff) {
      case SYSCON_PASS:
        this.actions.powerOff(0);
        break;
      case SYSCON_FAIL:
        this.actions.powerOff(value >>> 16 || 1);
        break;
      case SYSCON_RESET:
        this.actions.reset();
        break;
    }
  }
}
