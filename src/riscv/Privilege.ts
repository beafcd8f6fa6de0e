// Privilege levels as the ISA encodes them (Privileged ISA 20211203, 1.2 table 1.1: U = 0, S = 1,
// M = 3), the values of mstatus.MPP/SPP and of Hart.priv. Their own module so the hart and the MMU
// share one definition without importing each other.
export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;
