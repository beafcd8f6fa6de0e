// Why Hart.run returned to its caller (the VMM run loop, the ABI kernel, run-elf): the one
// definition, shared by every engine (interpreter and translator) and every caller.
export const enum ExitReason {
  /** The instruction budget ran out. */
  Budget = 0,
  /** An exception whose cause is in the hart's exitMask (trap-and-emulate: exitCause, exitTval). */
  Trap = 1,
  /** WFI with no interrupt pending. */
  Wfi = 2,
  /** requestExit() was called (the VMM wants control back, e.g. to serve an event). */
  Halt = 3,
}
