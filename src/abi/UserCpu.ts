// What the ABI layer needs from a hart: the trap-and-emulate subset of the Hart API contract
// (src/riscv/Hart.ts). Declared here so the kernel can be unit-tested with a scripted CPU and so the
// dependency on the hart is exactly this surface.
export interface UserCpu {
  getX(i: number): bigint;
  setX(i: number, v: bigint): void;
  getF(i: number): bigint;
  setF(i: number, v: bigint): void;
  getPc(): bigint;
  setPc(v: bigint): void;
  readCsr(n: number): bigint;
  writeCsr(n: number, v: bigint): void;
  priv: number;
  exitMask: number;
  exitCause: number;
  exitTval: bigint | number;
  run(n: number): number;
  flushTlb(): void;
  /** Drops any LR reservation (on a context switch: threads share memory, Unprivileged ISA 8.2). */
  clearReservation(): void;
}

// CSR numbers (Privileged ISA 2.2 table 2.2-2.5).
export const CSR_FCSR = 0x003;
export const CSR_SSTATUS = 0x100;
export const CSR_SATP = 0x180;
export const CSR_MSTATUS = 0x300;

/** Exception causes the kernel handles (Privileged ISA 3.1.15). */
export const CAUSE_INSN_MISALIGNED = 0;
export const CAUSE_INSN_ACCESS = 1;
export const CAUSE_ILLEGAL = 2;
export const CAUSE_BREAKPOINT = 3;
export const CAUSE_LOAD_MISALIGNED = 4;
export const CAUSE_LOAD_ACCESS = 5;
export const CAUSE_STORE_MISALIGNED = 6;
export const CAUSE_STORE_ACCESS = 7;
export const CAUSE_ECALL_U = 8;
export const CAUSE_INSN_PAGE = 12;
export const CAUSE_LOAD_PAGE = 13;
export const CAUSE_STORE_PAGE = 15;

/** ExitReason values of Hart.run (src/riscv/Hart.ts). */
export const EXIT_BUDGET = 0;
export const EXIT_TRAP = 1;
export const EXIT_WFI = 2;
export const EXIT_HALT = 3;
