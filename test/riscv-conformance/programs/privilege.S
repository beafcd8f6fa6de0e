// Privilege modes (Privileged ISA 3.1.6 mstatus, 3.3.2 mret/sret, 3.1.8 medeleg, 2.1 CSR access
// rules, 3.1.11 counter-enable): mret into S and U, sret into U, who may touch which CSR,
// delegation of exceptions to S-mode, and the trap-virtualisation bits TSR, TW and TVM.
#include "tv_test.h"
#define CSR_CYCLE 0xc00
TV_BEGIN
  la t0, tv_strap; csrw stvec, t0
  // mret into S: an M-only CSR is illegal there; the trap goes to M with MPP = S
  ENTER_MODE(PRV_S)
  TEST_ILLEGAL(2, 0x300025f3, csrr a1, mstatus)
  TEST_TRAP_STATUS(3, MSTATUS_MPP, PRV_S << 11)
  TEST_CASE(4, a0, 0, csrr a0, sstatus; li a0, 0)     // S may read sstatus
  TEST_ILLEGAL(5, 0x30200073, mret)                   // mret is M-only
  RETURN_TO_M
  // mret into U: S CSRs are illegal there too; MPP = U at the trap
  ENTER_MODE(PRV_U)
  TEST_ILLEGAL(6, 0x100025f3, csrr a1, sstatus)
  TEST_TRAP_STATUS(7, MSTATUS_MPP, 0)
  TEST_ILLEGAL(8, 0x10200073, sret)
  // counters: cycle from U needs mcounteren.CY (and scounteren.CY)
  TEST_ILLEGAL(9, 0xc00025f3, csrr a1, cycle)
  RETURN_TO_M
  csrwi mcounteren, 1
  ENTER_MODE(PRV_S)
  TEST_NO_TRAP(10, csrr a1, cycle)                    // S: mcounteren.CY suffices
  RETURN_TO_M
  ENTER_MODE(PRV_U)
  TEST_ILLEGAL(11, 0xc00025f3, csrr a1, cycle)        // U: scounteren.CY still 0
  RETURN_TO_M
  csrwi scounteren, 1
  ENTER_MODE(PRV_U)
  TEST_NO_TRAP(12, csrr a1, cycle)
  RETURN_TO_M
  csrwi mcounteren, 0
  csrwi scounteren, 0
  // a read-only CSR (top bits 11) can't be written, even in M
  TEST_ILLEGAL(13, 0xc0059073, csrw cycle, a1)
  // csrrs/csrrc with x0 (and csrrsi with 0) don't write, so they are legal on read-only CSRs
  TEST_NO_TRAP(14, csrrs a1, mhartid, zero; csrrsi a1, mvendorid, 0)
  // sstatus is a restricted view of mstatus
  TEST_CASE(15, a0, MSTATUS_SIE, csrc mstatus, MSTATUS_SIE; csrsi sstatus, MSTATUS_SIE; csrr a0, mstatus; andi a0, a0, MSTATUS_SIE; csrci sstatus, MSTATUS_SIE)
  TEST_CASE(16, a0, 0, li a1, MSTATUS_MPP; csrs sstatus, a1; csrr a0, sstatus; and a0, a0, a1)   // MPP is not visible in sstatus
  // sret from S into U (SPP = 0), with SPIE -> SIE
  ENTER_MODE(PRV_S)
  li t0, MSTATUS_SPP; csrc sstatus, t0
  li t0, MSTATUS_SPIE; csrs sstatus, t0
  la t0, 1f; csrw sepc, t0
  sret
1:TEST_ILLEGAL(17, 0x100025f3, csrr a1, sstatus)       // now in U
  RETURN_TO_M
  TEST_CASE(18, a0, MSTATUS_SIE, csrr a0, mstatus; andi a0, a0, MSTATUS_SIE)   // sret set SIE from SPIE
  csrci mstatus, MSTATUS_SIE
  // delegation: illegal instruction and breakpoint go to S when delegated and raised in S or U
  li t0, (1 << CAUSE_ILLEGAL_INSTRUCTION) | (1 << CAUSE_USER_ECALL); csrw medeleg, t0
  ENTER_MODE(PRV_U)
  TEST_TRAP_AT(19, 1, CAUSE_USER_ECALL, 0, ecall)     // taken by S, returns to U
  TEST_TRAP_STATUS(20, MSTATUS_SPP, 0)                // SPP = U
  TEST_ILLEGAL(21, 0, .word 0)                         // delegated: S handles it
  TEST_CASE(22, a0, 1, ld a0, tv_trap_mode)
  RETURN_TO_M_VIA(ebreak)                             // ebreak is not delegated
  ENTER_MODE(PRV_S)
  TEST_ILLEGAL(23, 0, .word 0)
  TEST_CASE(24, a0, 1, ld a0, tv_trap_mode)           // S -> S
  TEST_TRAP_STATUS(25, MSTATUS_SPP, MSTATUS_SPP)      // SPP = S
  TEST_TRAP_AT(26, 3, CAUSE_SUPERVISOR_ECALL, 0, ecall)   // not delegated: M
  RETURN_TO_M
  TEST_ILLEGAL(27, 0, .word 0)                         // in M delegation never applies
  TEST_CASE(28, a0, 3, ld a0, tv_trap_mode)
  csrw medeleg, zero
  // TSR: sret in S is illegal; TW: wfi in S is illegal; TVM: satp and sfence.vma in S are illegal
  li t0, MSTATUS_TSR | MSTATUS_TW | MSTATUS_TVM; csrs mstatus, t0
  ENTER_MODE(PRV_S)
  TEST_ILLEGAL(29, 0x10200073, sret)
  TEST_ILLEGAL(30, 0x10500073, wfi)
  TEST_ILLEGAL(31, 0x180025f3, csrr a1, satp)
  TEST_ILLEGAL(32, 0x12000073, sfence.vma)
  RETURN_TO_M
  li t0, MSTATUS_TSR | MSTATUS_TW | MSTATUS_TVM; csrc mstatus, t0
  ENTER_MODE(PRV_S)
  TEST_NO_TRAP(33, csrr a1, satp; sfence.vma)
  RETURN_TO_M
  // mret restores MIE from MPIE and sets MPIE (3.1.6.1)
  TEST_CASE(34, a0, MSTATUS_MPIE, li t0, MSTATUS_MPIE; csrc mstatus, t0; csrci mstatus, MSTATUS_MIE; li t0, MSTATUS_MPP; csrs mstatus, t0; la t0, 1f; csrw mepc, t0; mret; 1: csrr a0, mstatus; andi a0, a0, MSTATUS_MPIE | MSTATUS_MIE)
TV_END
