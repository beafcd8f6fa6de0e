// An interrupt wire, the one abstraction devices use to signal an interrupt controller (PLIC, ACLINT).

/** An interrupt wire from a device to an interrupt controller (level-triggered). */
export interface IrqLine {
  set(level: boolean): void;
}
