// How the built-in SBI firmware hands a hart to the kernel: shared by the board's single-threaded
// run loop (VirtBoard.startHartS) and the vCPU worker threads (vcpu/VcpuWorker.ts).
import { PRIV_S, type Hart } from "../riscv/Hart.js";
import {
  CSR_MCOUNTEREN,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MSTATUS,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_SATP,
  CSR_SCOUNTEREN,
  CSR_STIMECMP,
  MIDELEG_MASK,
  MS_FS_SHIFT,
} from "../riscv/Csr.js";
import { Cause } from "../riscv/Trap.js";

/**
 * Puts `hart` in S-mode at `start` with a0 = hartid, a1 = opaque, the M-mode state prepared as
 * OpenSBI would leave it (SBI §9.2 hart_start, Linux boot.rst):
 *  - medeleg: every exception S-mode can handle (causes 0-8, 12, 13, 15): with no M-mode firmware
 *    in the guest there is nobody to emulate or redirect them, unlike OpenSBI which keeps some;
 *  - mideleg: the S-level interrupts (SSI, STI, SEI);
 *  - mcounteren: cycle/time/instret readable from S/U (Zicntr); menvcfg.STCE enables Sstc;
 *  - PMP entry 0 TOR over the whole address space with RWX, so S/U accesses are not denied.
 * ecall from S (cause 9) exits to the VMM: the hypercall path.
 */
export function enterSupervisor(hart: Hart, start: bigint, opaque: bigint): void {
  // With H also ecall from VS (10), the guest-page faults (20, 21, 23) and virtual instruction (22):
  // the guest kernel's hypervisor (KVM) handles them in HS-mode.
  hart.writeCsr(CSR_MEDELEG, hart.hyp !== undefined ? 0xf0b5ffn : 0xb1ffn);
  hart.writeCsr(CSR_MIDELEG, BigInt(MIDELEG_MASK));
  hart.writeCsr(CSR_MCOUNTEREN, 0xffffffffn);
  // scounteren CY|TM|IR: Linux only programs scounteren from its SBI PMU driver, which our SBI
  // does not offer, so without this U-mode rdtime (the vDSO's clock_gettime, used e.g. by busybox
  // ping) would be an illegal instruction and the process would die of SIGILL (Privileged ISA 4.1.5).
  hart.writeCsr(CSR_SCOUNTEREN, 0x7n);
  hart.writeCsr(CSR_MENVCFG, 1n << 63n);
  hart.writeCsr(CSR_MIE, 0n);
  hart.writeCsr(CSR_PMPADDR0, (1n << 54n) - 1n);
  hart.writeCsr(CSR_PMPCFG0, 0x0fn); // A = TOR, R|W|X
  hart.writeCsr(CSR_SATP, 0n);
  hart.writeCsr(CSR_STIMECMP, 0xffffffffffffffffn);
  // mstatus: FS = Initial (Privileged ISA 3.1.6.6) so the kernel may save/restore FP state.
  hart.writeCsr(CSR_MSTATUS, 1n << BigInt(MS_FS_SHIFT));
  hart.exitMask = 1 << Cause.EcallS;
  hart.priv = PRIV_S;
  hart.setPc(start);
  hart.setX(10, BigInt(hart.hartId));
  hart.setX(11, opaque);
}
