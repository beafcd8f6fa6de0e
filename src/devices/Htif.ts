// HTIF, the Host-Target InterFace of the Spike simulator and riscv-tests: two 64-bit words in guest
// RAM, `tohost` and `fromhost`, found through the ELF symbol table. The target writes a command to
// tohost; the host handles it, clears tohost and acknowledges through fromhost.
//
// Command layout (riscv-isa-sim fesvr/htif.h, riscv-tests env/p/riscv_test.h):
//   bits 63..56 device, 55..48 command, 47..0 payload
//   device 0 (syscall proxy), payload odd:  exit with code payload >> 1 (riscv-tests RVTEST_PASS
//                                          writes 1; RVTEST_FAIL writes (TESTNUM << 1) | 1)
//   device 0, payload even, non-zero:      pointer to a "magic_mem" block of 8 u64 words:
//                                          [0] = syscall number, [1..3] = arguments; the host writes
//                                          the return value back to word 0 (riscv-tests
//                                          benchmarks/common/syscall.c). SYS_write (64) to fd 1/2
//                                          and SYS_exit (93) are served.
//   device 1 (bcd, the console), command 1: putchar(payload & 0xff)
//
// The engine polls rather than trapping stores: the target always waits for fromhost (or spins
// forever after an exit), so seeing the command a few thousand instructions late is harmless.
import type { GuestMemory } from "../memory/GuestMemory.js";
import { gpa } from "../memory/Address.js";

export const SYS_WRITE = 64;
export const SYS_EXIT = 93;

export type HtifEvent =
  | { kind: "none" }
  | { kind: "exit"; code: number }
  /** The target wrote something the host does not understand; the message says what. */
  | { kind: "error"; message: string };

export interface HtifOptions {
  memory: GuestMemory;
  tohost: number;
  fromhost: number | undefined;
  /** Console output (bcd putchar and SYS_write to fd 1 or 2). */
  write(fd: 1 | 2, data: Uint8Array): void;
}

const NONE: HtifEvent = { kind: "none" };

export class Htif {
  private readonly memory: GuestMemory;
  readonly tohost: number;
  readonly fromhost: number | undefined;
  private readonly out: HtifOptions["write"];
  private readonly one = new Uint8Array(1);

  constructor(opts: HtifOptions) {
    this.memory = opts.memory;
    this.tohost = opts.tohost;
    this.fromhost = opts.fromhost;
    this.out = opts.write;
    if (!this.memory.contains(gpa(opts.tohost), 8)) {
      throw new RangeError(`tohost at 0x${opts.tohost.toString(16)} is outside guest RAM`);
    }
    if (opts.fromhost !== undefined && !this.memory.contains(gpa(opts.fromhost), 8)) {
      throw new RangeError(`fromhost at 0x${opts.fromhost.toString(16)} is outside guest RAM`);
    }
  }

  /** Handles a pending tohost command, if any. Cheap when tohost is zero (one 64-bit read). */
  poll(): HtifEvent {
    const cmd = this.memory.readU64(gpa(this.tohost));
    if (cmd === 0n) return NONE;
    this.memory.writeU64(gpa(this.tohost), 0n);
    const device = Number(cmd >> 56n);
    const command = Number((cmd >> 48n) & 0xffn);
    const payload = cmd & 0xffff_ffff_ffffn;
    if (device === 0 && command === 0) {
      if (payload & 1n) return { kind: "exit", code: Number(payload >> 1n) };
      return this.syscall(Number(payload));
    }
    if (device === 1 && command === 1) {
      this.one[0] = Number(payload & 0xffn);
      this.out(1, this.one);
      this.ack((1n << 56n) | (1n << 48n) | 0x100n | (payload & 0xffn));
      return NONE;
    }
    if (device === 1 && command === 0) {
      // bcd getchar: no console input in a bare run; answer "no character" as Spike does.
      this.ack(1n << 56n);
      return NONE;
    }
    return {
      kind: "error",
      message: `unknown HTIF command 0x${cmd.toString(16)} (device ${device}, command ${command})`,
    };
  }

  private ack(value: bigint): void {
    if (this.fromhost !== undefined) this.memory.writeU64(gpa(this.fromhost), value);
  }

  private syscall(block: number): HtifEvent {
    const m = this.memory;
    if (!m.contains(gpa(block), 64)) {
      return { kind: "error", message: `HTIF syscall block at 0x${block.toString(16)} is outside guest RAM` };
    }
    const which = Number(m.readU64(gpa(block)));
    const a0 = m.readU64(gpa(block + 8));
    const a1 = m.readU64(gpa(block + 16));
    const a2 = m.readU64(gpa(block + 24));
    let ret: bigint;
    switch (which) {
      case SYS_EXIT:
        return { kind: "exit", code: Number(BigInt.asUintN(32, a0)) };
      case SYS_WRITE: {
        const fd = Number(a0);
        const addr = Number(a1);
        const len = Number(a2 > 0x1000_0000n ? 0x1000_0000n : a2);
        if (fd !== 1 && fd !== 2)
          ret = -9n; // EBADF
        else if (!m.contains(gpa(addr), len))
          ret = -14n; // EFAULT
        else {
          this.out(fd, m.read(gpa(addr), len));
          ret = BigInt(len);
        }
        break;
      }
      default:
        return { kind: "error", message: `HTIF syscall ${which} is not supported (only write=64 and exit=93)` };
    }
    m.writeU64(gpa(block), BigInt.asUintN(64, ret));
    this.ack(1n);
    return NONE;
  }
}
