// Branded address types (issue "Structure"): a guest-physical address and an offset into the host
// buffer behind guest RAM are both plain numbers at run time, but mixing them up is a classic VMM bug
// (a DMA that forgets to subtract the RAM base reads the wrong page). The brand costs nothing at run
// time and makes every conversion visible to the compiler: a number becomes a `Gpa` only through
// `gpa()` (where it enters from the guest: a descriptor, a register, a page-table entry) and a
// `HostOffset` only through `GuestMemory.offsetOf()`/`hostOffset()`.

declare const gpaBrand: unique symbol;
declare const hostOffsetBrand: unique symbol;

/** A guest-physical address (RISC-V: what the hart puts on the bus after translation). */
export type Gpa = number & { readonly [gpaBrand]: true };
/** A byte offset into the host buffer that backs guest RAM (`GuestMemory.buffer`). */
export type HostOffset = number & { readonly [hostOffsetBrand]: true };

/** Marks a number taken from the guest (a descriptor field, a register) as a guest-physical address. */
export function gpa(n: number): Gpa {
  return n as Gpa;
}

/** Marks a number as a host offset; only memory-layer code (and the engines' fixed layout) should need it. */
export function hostOffset(n: number): HostOffset {
  return n as HostOffset;
}
