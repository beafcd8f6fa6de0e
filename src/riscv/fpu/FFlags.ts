// fcsr fields (Unprivileged ISA 11.2 "Floating-Point Control and Status Register").

/** fflags bits, Unprivileged ISA Table 11.2 (accrued exception flags). */
export const NX = 1; // inexact
export const UF = 2; // underflow
export const OF = 4; // overflow
export const DZ = 8; // divide by zero
export const NV = 16; // invalid operation

/** Rounding modes, Unprivileged ISA Table 11.1. 5 and 6 are reserved, 7 (DYN) selects frm. */
export const RNE = 0;
export const RTZ = 1;
export const RDN = 2;
export const RUP = 3;
export const RMM = 4;
export const DYN = 7;

/**
 * Exceptions raised by the instruction being executed. executeFp clears it, the arithmetic
 * modules OR into it, and executeFp ORs it into fcsr.fflags at the end: a single shared
 * object keeps the hot paths free of allocation and of extra return values.
 */
export const fpStatus = { flags: 0 };

/**
 * Operands and result of the arithmetic functions, passed in memory rather than as
 * arguments: V8 boxes (allocates) a double passed to or returned from a call it does not
 * inline, and which calls it inlines depends on the caller (ultimately the hart's loop).
 * Convention: operands in fpIo[0..2], result in fpIo[0]. Exported value-returning wrappers
 * exist for tests and non-hot callers.
 */
export const fpIo = new Float64Array(4);
