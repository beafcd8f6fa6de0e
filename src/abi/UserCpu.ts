// What the ABI layer needs from a hart: the trap-and-emulate subset of the Hart API contract
// (src/riscv/Hart.ts). Declared here so the kernel can be unit-tested with a scripted CPU and so the
// dependency on the hart is exactly this surface. CSR numbers, exception causes and run() results
// are the hart's own definitions (src/riscv/Csr.ts, Trap.ts, ExitReason.ts).
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
