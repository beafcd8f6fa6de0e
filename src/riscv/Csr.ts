// CSR addresses (Privileged ISA 20211203, 2.2 tables 2.2-2.5) and the mstatus bit layout (3.1.6).
// The one definition of CSR numbers: the hart, the board, the ABI kernel and tests import them here.
// The top bits of a CSR number encode access: [11:10] = 3 read-only, [9:8] = lowest privilege (2.1).

import { Irq } from "./Trap.js";

export const CSR_FFLAGS = 0x001,
  CSR_FRM = 0x002,
  CSR_FCSR = 0x003;
export const CSR_CYCLE = 0xc00,
  CSR_TIME = 0xc01,
  CSR_INSTRET = 0xc02,
  CSR_HPMCOUNTER3 = 0xc03,
  CSR_HPMCOUNTER31 = 0xc1f;
export const CSR_SSTATUS = 0x100,
  CSR_SIE = 0x104,
  CSR_STVEC = 0x105,
  CSR_SCOUNTEREN = 0x106,
  CSR_SENVCFG = 0x10a;
export const CSR_SSCRATCH = 0x140,
  CSR_SEPC = 0x141,
  CSR_SCAUSE = 0x142,
  CSR_STVAL = 0x143,
  CSR_SIP = 0x144;
export const CSR_STIMECMP = 0x14d,
  CSR_SATP = 0x180;
export const CSR_MVENDORID = 0xf11,
  CSR_MARCHID = 0xf12,
  CSR_MIMPID = 0xf13,
  CSR_MHARTID = 0xf14,
  CSR_MCONFIGPTR = 0xf15;
export const CSR_MSTATUS = 0x300,
  CSR_MISA = 0x301,
  CSR_MEDELEG = 0x302,
  CSR_MIDELEG = 0x303,
  CSR_MIE = 0x304;
export const CSR_MTVEC = 0x305,
  CSR_MCOUNTEREN = 0x306,
  CSR_MENVCFG = 0x30a,
  CSR_MCOUNTINHIBIT = 0x320;
export const CSR_MHPMEVENT3 = 0x323,
  CSR_MHPMEVENT31 = 0x33f;
export const CSR_MSCRATCH = 0x340,
  CSR_MEPC = 0x341,
  CSR_MCAUSE = 0x342,
  CSR_MTVAL = 0x343,
  CSR_MIP = 0x344;
export const CSR_PMPCFG0 = 0x3a0,
  CSR_PMPCFG15 = 0x3af,
  CSR_PMPADDR0 = 0x3b0,
  CSR_PMPADDR63 = 0x3ef;
export const CSR_MSECCFG = 0x747;
export const CSR_MCYCLE = 0xb00,
  CSR_MINSTRET = 0xb02,
  CSR_MHPMCOUNTER3 = 0xb03,
  CSR_MHPMCOUNTER31 = 0xb1f;

// mstatus, low 32 bits (3.1.6). The high half is UXL=2, SXL=2 (read-only: XLEN fixed at 64) and SD.
export const MS_SIE = 1 << 1,
  MS_MIE = 1 << 3,
  MS_SPIE = 1 << 5,
  MS_MPIE = 1 << 7,
  MS_SPP = 1 << 8;
export const MS_MPP_SHIFT = 11,
  MS_MPP = 3 << 11,
  MS_FS_SHIFT = 13,
  MS_FS = 3 << 13;
export const MS_MPRV = 1 << 17,
  MS_SUM = 1 << 18,
  MS_MXR = 1 << 19,
  MS_TVM = 1 << 20,
  MS_TW = 1 << 21,
  MS_TSR = 1 << 22;
/** UXL = SXL = 2 (64-bit), bits 32-35. */
export const MSTATUS_HI = 0xa;
/** Writable low bits of mstatus (no V extension, no big-endian: VS, XS, UBE/SBE/MBE are read-only 0). */
export const MSTATUS_WMASK =
  MS_SIE | MS_MIE | MS_SPIE | MS_MPIE | MS_SPP | MS_MPP | MS_FS | MS_MPRV | MS_SUM | MS_MXR | MS_TVM | MS_TW | MS_TSR;
/** sstatus is a view of mstatus (4.1.1): SIE SPIE UBE SPP VS FS XS SUM MXR (+ UXL, SD in the high half). */
export const SSTATUS_MASK = MS_SIE | MS_SPIE | (1 << 6) | MS_SPP | (3 << 9) | MS_FS | (3 << 15) | MS_SUM | MS_MXR;
export const SSTATUS_WMASK = MS_SIE | MS_SPIE | MS_SPP | MS_FS | MS_SUM | MS_MXR;

/** misa: MXL = 2 (bits 63:62), extensions A C D F I M S U. */
export const MISA_LO = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
export const MISA_HI = 0x80000000 | 0;

/** medeleg: every exception except ecall from M (bit 11, read-only 0 per 3.1.8) and the reserved ones. */
export const MEDELEG_MASK = 0xb3ff;
/** mideleg: the S-level interrupts SSIP, STIP, SEIP (3.1.8). */
export const MIDELEG_MASK = (1 << Irq.SSI) | (1 << Irq.STI) | (1 << Irq.SEI);
/** mie: SSIE MSIE STIE MTIE SEIE MEIE. */
export const MIE_MASK =
  (1 << Irq.SSI) | (1 << Irq.MSI) | (1 << Irq.STI) | (1 << Irq.MTI) | (1 << Irq.SEI) | (1 << Irq.MEI);
/** Bits of mip that M-mode software may write (3.1.9): SSIP, STIP, SEIP. MTIP/MSIP/MEIP come from devices. */
export const MIP_WMASK = (1 << Irq.SSI) | (1 << Irq.STI) | (1 << Irq.SEI);

/** menvcfg.STCE (Sstc) is bit 63; FIOM bit 0 (3.1.18). */
export const MENVCFG_STCE_HI = 1 << 31;

// Hypervisor extension CSRs (Privileged ISA 20211203, ch. 8 "Hypervisor Extension", table 2.3/2.4).
export const CSR_VSSTATUS = 0x200,
  CSR_VSIE = 0x204,
  CSR_VSTVEC = 0x205,
  CSR_VSSCRATCH = 0x240,
  CSR_VSEPC = 0x241,
  CSR_VSCAUSE = 0x242,
  CSR_VSTVAL = 0x243,
  CSR_VSIP = 0x244,
  CSR_VSTIMECMP = 0x24d,
  CSR_VSATP = 0x280;
export const CSR_HSTATUS = 0x600,
  CSR_HEDELEG = 0x602,
  CSR_HIDELEG = 0x603,
  CSR_HIE = 0x604,
  CSR_HTIMEDELTA = 0x605,
  CSR_HCOUNTEREN = 0x606,
  CSR_HGEIE = 0x607,
  CSR_HENVCFG = 0x60a,
  CSR_HTVAL = 0x643,
  CSR_HIP = 0x644,
  CSR_HVIP = 0x645,
  CSR_HTINST = 0x64a,
  CSR_HGATP = 0x680,
  CSR_HCONTEXT = 0x6a8,
  CSR_HGEIP = 0xe12;
export const CSR_MTINST = 0x34a,
  CSR_MTVAL2 = 0x34b;
// Sdtrig (RISC-V Debug Specification 1.0, 5.7): trigger module CSRs, M-mode.
export const CSR_TSELECT = 0x7a0,
  CSR_TDATA1 = 0x7a1,
  CSR_TDATA2 = 0x7a2,
  CSR_TDATA3 = 0x7a3,
  CSR_TINFO = 0x7a4,
  CSR_TCONTROL = 0x7a5,
  CSR_MCONTEXT = 0x7a8;

/** hstatus fields (8.2.1): GVA 6, SPV 7, SPVP 8, HU 9, VTVM 20, VTW 21, VTSR 22; VSXL = 2 in bits 33:32. */
export const HS_GVA = 1 << 6,
  HS_SPV = 1 << 7,
  HS_SPVP = 1 << 8,
  HS_HU = 1 << 9,
  HS_VTVM = 1 << 20,
  HS_VTW = 1 << 21,
  HS_VTSR = 1 << 22;
export const HSTATUS_WMASK = HS_GVA | HS_SPV | HS_SPVP | HS_HU | HS_VTVM | HS_VTW | HS_VTSR;
/** mstatus high word with H (8.2.1 / 3.1.6): GVA is bit 38, MPV bit 39. */
export const MSH_GVA = 1 << 6,
  MSH_MPV = 1 << 7;
/** misa.H (bit 7). */
export const MISA_H = 1 << 7;
/** VS-level interrupt bits (8.2.4): VSSI 2, VSTI 6, VSEI 10, and SGEI 12. */
export const VS_IRQS = (1 << 2) | (1 << 6) | (1 << 10);
export const HIE_MASK = VS_IRQS | (1 << 12);
/** mideleg bits that are read-only one when H is implemented (8.4.1). */
export const MIDELEG_H_RO1 = HIE_MASK;
/** hedeleg: delegable to VS (8.2.2); ecalls from HS/VS/M (9-11) and guest-page faults/virtual instruction (20-23) are read-only 0. */
export const HEDELEG_MASK = 0xb1ff;
/** medeleg with H adds ecall from VS (10), guest-page faults (20, 21, 23) and virtual instruction (22). */
export const MEDELEG_MASK_H = MEDELEG_MASK | (1 << 10) | (0xf << 20);
