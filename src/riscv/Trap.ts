// Exception and interrupt causes (Privileged ISA 20211203, 3.1.15 table 3.6 "mcause values").

export const enum Cause {
  InsnMisaligned = 0,
  InsnAccessFault = 1,
  IllegalInsn = 2,
  Breakpoint = 3,
  LoadMisaligned = 4,
  LoadAccessFault = 5,
  StoreMisaligned = 6,
  StoreAccessFault = 7,
  EcallU = 8,
  EcallS = 9,
  EcallM = 11,
  InsnPageFault = 12,
  LoadPageFault = 13,
  StorePageFault = 15,
}

/** Interrupt numbers = bit positions in mip/mie/mideleg (Privileged ISA 3.1.9): use `1 << Irq.X`, not literals. */
export const enum Irq {
  SSI = 1,
  MSI = 3,
  STI = 5,
  MTI = 7,
  SEI = 9,
  MEI = 11,
}

/** Memory access kinds, which select the fault causes (Privileged ISA 4.3.2 step 10, 3.7). */
export const enum Access {
  Fetch = 0,
  Load = 1,
  Store = 2,
}

export const PAGE_FAULT: readonly number[] = [Cause.InsnPageFault, Cause.LoadPageFault, Cause.StorePageFault];
export const ACCESS_FAULT: readonly number[] = [Cause.InsnAccessFault, Cause.LoadAccessFault, Cause.StoreAccessFault];
