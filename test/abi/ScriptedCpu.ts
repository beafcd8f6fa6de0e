// A scripted CPU for unit tests of the ABI kernel (src/abi/UserCpu.ts is the whole surface the kernel
// needs from a hart). Registers are plain arrays; run() plays a script of system calls, each as an
// `ecall` exit (cause 8) with a7 and a0..a5 set, and records what the kernel left in a0.
import type { UserCpu } from "../../src/abi/UserCpu.js";
import { Cause } from "../../src/riscv/Trap.js";
import { ExitReason } from "../../src/riscv/ExitReason.js";
import { sysno } from "../../src/abi/SyscallTable.js";

export interface ScriptedCall {
  name: string;
  args: (number | bigint)[];
}

export class ScriptedCpu implements UserCpu {
  readonly x = new BigUint64Array(32);
  readonly fr = new BigUint64Array(32);
  pc = 0x10000n;
  priv = 0;
  exitMask = 0;
  exitCause = 0;
  exitTval: bigint | number = 0;
  private readonly csrs = new Map<number, bigint>();
  /** Calls still to make (run() pops them) and a0 after each one made. */
  readonly script: ScriptedCall[] = [];
  readonly results: bigint[] = [];
  private pending = false;

  getX(i: number): bigint {
    return i === 0 ? 0n : this.x[i]!;
  }
  setX(i: number, v: bigint): void {
    if (i !== 0) this.x[i] = BigInt.asUintN(64, v);
  }
  getF(i: number): bigint {
    return this.fr[i]!;
  }
  setF(i: number, v: bigint): void {
    this.fr[i] = BigInt.asUintN(64, v);
  }
  getPc(): bigint {
    return this.pc;
  }
  setPc(v: bigint): void {
    this.pc = v;
  }
  readCsr(n: number): bigint {
    return this.csrs.get(n) ?? 0n;
  }
  writeCsr(n: number, v: bigint): void {
    this.csrs.set(n, v);
  }
  flushTlb(): void {}
  /** How many times the kernel dropped the LR reservation (it must at every task switch). */
  reservationClears = 0;
  clearReservation(): void {
    this.reservationClears++;
  }

  /** Sets a7 and a0..a5 as the riscv64 syscall ABI does for `name(args...)`. */
  load(name: string, args: (number | bigint)[]): void {
    this.setX(17, BigInt(sysno(name)));
    for (let i = 0; i < 6; i++) this.setX(10 + i, BigInt(args[i] ?? 0));
  }

  /** a0 as a signed result (-errno for errors). */
  get a0(): bigint {
    return BigInt.asIntN(64, this.x[10]!);
  }

  run(_budget: number): number {
    // The kernel resumes after an ecall at pc + 4; its a0 is the previous call's result.
    if (this.pending) this.results.push(this.a0);
    const next = this.script.shift();
    if (!next) throw new Error("script exhausted without exit");
    this.load(next.name, next.args);
    this.pending = true;
    this.exitCause = Cause.EcallU;
    this.exitTval = 0;
    return ExitReason.Trap;
  }
}
