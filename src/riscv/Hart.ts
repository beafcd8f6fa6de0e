// A RISC-V RV64GC hart (Unprivileged ISA 20191213, Privileged ISA 20211203 = 1.12).
//
// PUBLIC API CONTRACT (other parts of Typevisor code against this; keep it stable):
//
//   const hart = new Hart({ memory, bus, hartId: 0, timer });
//   hart.setPc(0x8000_0000n); hart.priv = PRIV_M;
//   const reason = hart.run(1_000_000);   // executes up to N instructions, returns an ExitReason
//
// - Registers: getX(i)/setX(i, v) and getF(i)/setF(i, v) take/return bigint (64-bit, as raw bits);
//   getPc()/setPc(v) likewise. Hot code inside the engine uses the int32 views directly.
// - CSRs from the host side (no privilege checks, no side effects on illegal): readCsr(n)/writeCsr(n, v).
// - priv: 0 = U, 1 = S, 3 = M.
// - exitMask: a bitmask over exception causes 0..31. An exception whose cause bit is set does NOT
//   enter the guest's trap handler: run() returns ExitReason.Trap with exitCause/exitTval set and the
//   pc left at the faulting instruction (for ecall: the ecall itself; the host advances pc by 4).
//   This is the trap-and-emulate hook: built-in SBI firmware sets bit 9 (ecall from S-mode);
//   the user-mode ABI layer (typevisor exec) sets all causes.
// - Interrupts: setInterruptPending(bit, level) sets/clears an mip bit from outside (MEIP/SEIP from
//   the PLIC, MSIP from the CLINT). The machine timer (MTIP) comes from comparing timer.now() with
//   hart.mtimecmp, and STIP with stimecmp when Sstc is enabled (menvcfg.STCE).
// - run() also returns ExitReason.Wfi when the hart executes wfi with no interrupt pending and
//   the host should idle until the next timer deadline (nextTimerDeadline()) or an external event;
//   ExitReason.Budget when N instructions were retired; ExitReason.Halt when requestExit() was called
//   (e.g. by a device: HTIF tohost, poweroff) during the run.
// - flushTlb(): the host changed guest page tables or memory mappings behind the hart's back.
// - instret: instructions retired since reset (a number; exact up to 2^53).
import type { GuestMemory } from "../vmm/GuestMemory.js";
import type { IoBus } from "../vmm/IoBus.js";

export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

export const enum ExitReason {
  Budget = 0,
  Trap = 1,
  Wfi = 2,
  Halt = 3,
}

/** The machine timer as the board provides it (ACLINT MTIMER, Privileged ISA 3.2.1). */
export interface MachineTimer {
  /** Current mtime in ticks of `frequency` Hz. */
  now(): number;
  readonly frequency: number;
}

export interface HartOptions {
  memory: GuestMemory;
  bus: IoBus;
  hartId?: number;
  timer?: MachineTimer;
}

export class Hart {
  constructor(_opts: HartOptions) {
    throw new Error("Hart: not implemented yet");
  }
}
