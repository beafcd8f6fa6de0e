// Interrupts (Privileged ISA 3.1.9 mip/mie, 3.1.8 mideleg, 3.1.7 mtvec modes, 3.3.3 wfi,
// 3.2.1 mtime/mtimecmp, Sstc 1.0 stimecmp): software interrupts through the CLINT's msip and
// through mip.SSIP, delegation of SSIP to S-mode, the machine timer and the Sstc supervisor
// timer, vectored mtvec, and wfi waking with interrupts globally disabled.
#include "tv_test.h"
#define MIP_SSIP (1 << 1)
#define MIP_MSIP (1 << 3)
#define MIP_STIP (1 << 5)
#define MIP_MTIP (1 << 7)
#define CSR_STIMECMP 0x14d
#define CSR_MENVCFG 0x30a
TV_BEGIN
  la t0, tv_strap; csrw stvec, t0
  // machine software interrupt from the CLINT
  li s2, CLINT_MSIP
  li t0, MIP_MSIP; csrs mie, t0
  TEST_INTERRUPT(2, 3, 3, li t0, 1; sw t0, 0(s2); csrsi mstatus, MSTATUS_MIE; 1: ld t4, tv_trap_count; beqz t4, 1b; csrci mstatus, MSTATUS_MIE)
  TEST_CASE(3, a0, MIP_MSIP, csrr a0, mip; andi a0, a0, MIP_MSIP)     // still pending: msip is level
  TEST_CASE(4, a0, 0, sw zero, 0(s2); csrr a0, mip; andi a0, a0, MIP_MSIP)
  TEST_CASE(5, a0, 0, csrr a0, mie; andi a0, a0, MIP_MSIP)             // the handler masked it
  // supervisor software interrupt written into mip, not delegated: M takes it
  li t0, MIP_SSIP; csrs mie, t0
  TEST_INTERRUPT(6, 3, 1, csrsi mip, MIP_SSIP; csrsi mstatus, MSTATUS_MIE; nop; nop; csrci mstatus, MSTATUS_MIE)
  csrci mip, MIP_SSIP
  // delegated SSIP: not taken in M even with MIE = 1, taken by S as soon as S runs with SIE = 1
  li t0, MIP_SSIP; csrw mideleg, t0; csrs mie, t0
  TEST_NO_TRAP(7, csrsi mip, MIP_SSIP; csrsi mstatus, MSTATUS_MIE; nop; nop; csrci mstatus, MSTATUS_MIE)
  csrsi mstatus, MSTATUS_SIE
  TEST_INTERRUPT(8, 1, 1, ENTER_MODE(PRV_S); nop; nop)
  TEST_CASE(9, a0, MIP_SSIP, csrr a0, sip; andi a0, a0, MIP_SSIP)       // S sees its pending bit
  TEST_CASE(10, a0, 0, csrci sip, MIP_SSIP; csrr a0, sip; andi a0, a0, MIP_SSIP)   // and may clear it
  RETURN_TO_M
  csrci mstatus, MSTATUS_SIE
  csrw mideleg, zero
  // machine timer: mtimecmp a little in the future, then wait for it with wfi
  li s3, CLINT_MTIMECMP; li s4, CLINT_MTIME
  li t0, -1; sd t0, 0(s3)            // mtimecmp resets to an unspecified value: park it first
  li t0, MIP_MTIP; csrs mie, t0
  TEST_INTERRUPT(11, 3, 7, ld t0, 0(s4); addi t0, t0, 500; sd t0, 0(s3); csrsi mstatus, MSTATUS_MIE; 1: wfi; ld t4, tv_trap_count; beqz t4, 1b; csrci mstatus, MSTATUS_MIE)
  TEST_CASE(12, a0, MIP_MTIP, csrr a0, mip; andi a0, a0, MIP_MTIP)      // pending until mtimecmp moves
  TEST_CASE(13, a0, 0, li t0, -1; sd t0, 0(s3); csrr a0, mip; andi a0, a0, MIP_MTIP)
  // wfi with the interrupt enabled in mie but MIE = 0: wakes up, no trap (3.3.3)
  li t0, MIP_MSIP; csrs mie, t0
  TEST_NO_TRAP(14, li t0, 1; sw t0, 0(s2); wfi; sw zero, 0(s2))
  li t0, MIP_MSIP; csrc mie, t0
  // vectored mtvec: interrupt k goes to base + 4k, exceptions still to base
  la t0, vectors; ori t0, t0, 1; csrw mtvec, t0
  li t0, MIP_MSIP; csrs mie, t0
  TEST_INTERRUPT(15, 3, 3, li t0, 1; sw t0, 0(s2); csrsi mstatus, MSTATUS_MIE; 1: ld t4, tv_trap_count; beqz t4, 1b; csrci mstatus, MSTATUS_MIE; sw zero, 0(s2))
  TEST_CASE(16, a0, 1, ld a0, hit3; snez a0, a0)
  TEST_TRAP_AT(17, 3, CAUSE_MACHINE_ECALL, 0, ecall)
  TEST_CASE(18, a0, 0, ld a0, hit1; ld a1, hit7; or a0, a0, a1)        // nothing else went through a vector
  la t0, tv_mtrap; csrw mtvec, t0
  // priority (3.1.9): MSI before MTI when both are pending; the handler masks each in turn, so
  // two traps happen and the last one recorded is the timer
test_21:
  li TESTNUM, 21
  call tv_clear_trap
  li t3, -1; la t4, tv_resume; sd t3, 0(t4)
  sd zero, 0(s3)                       // mtimecmp = 0: MTIP pending
  li t0, 1; sw t0, 0(s2)               // MSIP pending
  li t0, MIP_MSIP | MIP_MTIP; csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  nop; nop; nop
  csrci mstatus, MSTATUS_MIE
  li t0, -1; sd t0, 0(s3); sw zero, 0(s2)
  la t4, tv_resume; sd zero, 0(t4)
  ld t4, tv_trap_count; li t5, 2; bne t4, t5, tv_fail
  ld t4, tv_trap_cause; li t5, INTR | 7; bne t4, t5, tv_fail
  // Sstc: S-mode programs stimecmp; STIP delegated to S. QEMU's spike board has no time CSR
  // (its CLINT does not provide rdtime), so neither time nor Sstc exist there: Typevisor only.
#ifndef ORACLE_QEMU
  li t0, 1; slli t0, t0, 63; csrs CSR_MENVCFG, t0                      // menvcfg.STCE
  csrwi mcounteren, 2                                                   // S may read time
  li t0, MIP_STIP; csrw mideleg, t0; csrs mie, t0
  ENTER_MODE(PRV_S)
  TEST_INTERRUPT(19, 1, 5, rdtime t0; addi t0, t0, 500; csrw CSR_STIMECMP, t0; csrsi sstatus, MSTATUS_SIE; 1: ld t4, tv_trap_count; beqz t4, 1b; csrci sstatus, MSTATUS_SIE)
  TEST_CASE(20, a0, 0, li t0, -1; csrw CSR_STIMECMP, t0; csrr a0, sip; andi a0, a0, MIP_STIP)
  RETURN_TO_M
  csrw mideleg, zero
#endif
TV_END
  .text
  .align 8
  .option push
  .option norvc        // each vector entry must be one 4-byte instruction
vectors:
  j tv_mtrap          // 0: exceptions
  j vec1
  j tv_mtrap
  j vec3
  j tv_mtrap
  j tv_mtrap
  j tv_mtrap
  j vec7
  .option pop
vec1: csrw mscratch, t0; la t0, hit1; sd t0, 0(t0); csrr t0, mscratch; j tv_mtrap
vec3: csrw mscratch, t0; la t0, hit3; sd t0, 0(t0); csrr t0, mscratch; j tv_mtrap
vec7: csrw mscratch, t0; la t0, hit7; sd t0, 0(t0); csrr t0, mscratch; j tv_mtrap
  .data
  .align 3
hit1: .dword 0
hit3: .dword 0
hit7: .dword 0
