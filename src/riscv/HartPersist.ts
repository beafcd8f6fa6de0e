// The saved state of one hart (Firecracker's Persist pattern: a plain, versioned value the snapshot
// writer serialises and the restorer hands back). Everything architectural is here: x and f
// registers, pc, privilege, every CSR's storage, mstatus, the software- and device-driven mip bits,
// the timer compare values, the LR reservation, the counters and the exit mask the VMM installed.
// What is not here is derived or host-side: the fast translation caches and the MMU's TLB (rebuilt
// on demand: a restore flushes them), statistics, slice bookkeeping, the attached engine.
// test/vmm/snapshot/HartPersist.test.ts fails when a field is added to Hart without being saved or
// listed as derived, so a new piece of hart state cannot be left out of snapshots silently.

/** Hypervisor fields not held in the hart's CSR words (Privileged ISA ch. "Hypervisor Extension"). */
export interface HypervisorSavedState {
  vsstatus: number;
  hstatus: number;
  /** mstatus GVA/MPV (high word bits). */
  mstatusHi: number;
  /** vstimecmp in timer ticks; null = no deadline. */
  vstimecmp: number | null;
}

/** JSON-safe: 64-bit values as decimal strings, Infinity ("no deadline") as null. */
export interface HartSavedState {
  /** x0..x31 as lo/hi int32 pairs. */
  x: number[];
  /** f0..f31 as lo/hi int32 pairs (raw bits). */
  f: number[];
  pcLo: number;
  pcHi: number;
  priv: number;
  frm: number;
  fflags: number;
  /** CSR storage words that are not zero, as [index, value] pairs (the array has 8192 words). */
  csr: [number, number][];
  mstatus: number;
  mipSw: number;
  mipExt: number;
  /** mtimecmp / stimecmp in timer ticks; null = no deadline. */
  mtimecmp: number | null;
  stimecmp: number | null;
  cycleDelta: number;
  resValid: boolean;
  resAddr: number;
  /** The value LR read (SC compares it on SMP harts); absent in older snapshots. */
  resLo?: number;
  resHi?: number;
  /** The V bit (H extension): 1 while in VS/VU mode; absent = 0. */
  virt?: number;
  /** H-extension state kept outside the CSR words; absent when the hart has no H extension. */
  hyp?: HypervisorSavedState;
  instret: number;
  exitMask: number;
}
