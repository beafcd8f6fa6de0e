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
  /** Environment call from VS-mode (Privileged ISA 8.6.1, table 8.6). */
  EcallVS = 10,
  EcallM = 11,
  InsnPageFault = 12,
  LoadPageFault = 13,
  StorePageFault = 15,
  // Hypervisor extension (8.6.1): guest-page faults and the virtual-instruction exception.
  InsnGuestPageFault = 20,
  LoadGuestPageFault = 21,
  VirtualInsn = 22,
  StoreGuestPageFault = 23,
}

/** Interrupt numbers = bit positions in mip/mie/mideleg (Privileged ISA 3.1.9): use `1 << Irq.X`, not literals. */
export const enum Irq {
  SSI = 1,
  MSI = 3,
  STI = 5,
  MTI = 7,
  SEI = 9,
  MEI = 11,
  // Hypervisor extension (8.2.4): VS-level software/timer/external and supervisor guest external.
  VSSI = 2,
  VSTI = 6,
  VSEI = 10,
  SGEI = 12,
}

/** Memory access kinds, which select the fault causes (Privileged ISA 4.3.2 step 10, 3.7). */
export const enum Access {
  Fetch = 0,
  Load = 1,
  Store = 2,
}

export const PAGE_FAULT: readonly number[] = [Cause.InsnPageFault, Cause.LoadPageFault, Cause.StorePageFault];
export const GUEST_PAGE_FAULT: readonly number[] = [
  Cause.InsnGuestPageFault,
  Cause.LoadGuestPageFault,
  Cause.StoreGuestPageFault,
];
export const ACCESS_FAULT: readonly number[] = [Cause.InsnAccessFault, Cause.LoadAccessFault, Cause.StoreAccessFault];
