// Synchronous exceptions (Privileged ISA 3.1.15 Table 3.6, 3.1.16 mtval): for each cause, the
// exact mcause, mepc (the faulting instruction) and mtval, and that execution resumes correctly.
// Not covered here: instruction-address-misaligned (cannot happen with C, IALIGN=16), misaligned
// loads/stores (the hart may emulate them; AMOs are in rv64a.S), page faults (vm.S).
#include "tv_test.h"
// An AMO that faults is a store/AMO access fault (7); QEMU 7.2 reports a load access fault (5).
#ifdef ORACLE_QEMU
#define AMO_ACCESS_CAUSE CAUSE_LOAD_ACCESS
#else
#define AMO_ACCESS_CAUSE CAUSE_STORE_ACCESS
#endif
TV_BEGIN
  // illegal instruction: all-zero word, all-ones word, an unknown CSR, a write to a read-only CSR
  TEST_ILLEGAL(2, 0, .word 0)
  TEST_ILLEGAL(3, 0xffffffff, .word 0xffffffff)
  TEST_ILLEGAL(4, 0x7ff02573, csrr a0, 0x7ff)
  TEST_ILLEGAL(5, 0xf1151073, csrw mvendorid, a0)    // csrrw to a read-only CSR
  TEST_ILLEGAL(6, 0x00000000, c.unimp)               // the defined-illegal 16-bit encoding 0x0000
  TEST_ILLEGAL(19, 0x0000000b, .word 0x0000000b)      // custom-0 major opcode: not implemented
  TEST_ILLEGAL(20, 0x0000002b, .word 0x0000002b)      // custom-1
  TEST_ILLEGAL(21, 0x0000107f, .word 0x0000107f)      // a >= 80-bit encoding prefix (ILEN = 32)
  // breakpoint
  TEST_TRAP_TVAL_0_OR_PC(8, 3, CAUSE_BREAKPOINT, ebreak)
  // ecall from M-mode
  TEST_TRAP_AT(9, 3, CAUSE_MACHINE_ECALL, 0, ecall)
  // access faults: nothing is mapped at 0x100 (below the CLINT, not ROM or RAM)
  li s2, 0x100
  TEST_TRAP_AT(10, 3, CAUSE_LOAD_ACCESS, 0x100, ld a0, 0(s2))
  TEST_TRAP_AT(11, 3, CAUSE_STORE_ACCESS, 0x108, sw a0, 8(s2))
  TEST_TRAP_AT(12, 3, AMO_ACCESS_CAUSE, 0x100, amoadd.w a0, a0, (s2))
  TEST_TRAP_AT(13, 3, CAUSE_LOAD_ACCESS, 0x104, lbu a0, 4(s2))
  // instruction access fault: mepc and mtval are the target address, ra was written by the jalr
test_14:
  li TESTNUM, 14
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li s2, 0x200
  jalr ra, 0(s2)
  j tv_fail
1:la t3, tv_trap_cause
  ld t4, 0(t3); li t5, CAUSE_FETCH_ACCESS; bne t4, t5, tv_fail
  ld t4, 8(t3); li t5, 0x200; bne t4, t5, tv_fail
  ld t4, 16(t3); li t5, 0x200; bne t4, t5, tv_fail
  // misaligned load/store: either performed (the value must then be right) or address-misaligned
  // with mtval = the address (Privileged ISA 3.6.3.3 lets the EEI choose)
  la s2, mis
test_22:
  li TESTNUM, 22
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li a0, 0
  ld a0, 3(s2)
1:la t3, tv_resume; sd zero, 0(t3)
  ld t4, tv_trap_count; bnez t4, 2f
  li t5, 0x0b0a090807060504; bne a0, t5, tv_fail; j 3f
2:ld t4, tv_trap_cause; li t5, CAUSE_MISALIGNED_LOAD; bne t4, t5, tv_fail
  ld t4, tv_trap_tval; addi t5, s2, 3; bne t4, t5, tv_fail
3:
test_23:
  li TESTNUM, 23
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li a0, 0x1122334455667788
  sd a0, 17(s2)
1:la t3, tv_resume; sd zero, 0(t3)
  ld t4, tv_trap_count; bnez t4, 2f
  lbu t4, 17(s2); li t5, 0x88; bne t4, t5, tv_fail
  lbu t4, 24(s2); li t5, 0x11; bne t4, t5, tv_fail; j 3f
2:ld t4, tv_trap_cause; li t5, CAUSE_MISALIGNED_STORE; bne t4, t5, tv_fail
  ld t4, tv_trap_tval; addi t5, s2, 17; bne t4, t5, tv_fail
3:
  // ecall from S and U
  ENTER_MODE(PRV_S)
  TEST_TRAP_AT(15, 3, CAUSE_SUPERVISOR_ECALL, 0, ecall)
  RETURN_TO_M
  ENTER_MODE(PRV_U)
  TEST_TRAP_AT(16, 3, CAUSE_USER_ECALL, 0, ecall)
  RETURN_TO_M
  // mret leaves MPP = U (Privileged ISA 3.1.6.1: "MPP is set to the least-privileged mode")
  TEST_CASE(17, a0, 0, csrr a0, mstatus; srli a0, a0, 11; andi a0, a0, 3)
  // mcause of a trap after RETURN_TO_M is the ecall from U
  TEST_CASE(18, a0, 8, ENTER_MODE(PRV_U); li a7, 0x4d; la t3, 2f; la t4, tv_resume; sd t3, 0(t4); ecall; 2: ld a0, tv_trap_cause)
TV_END
  .data
  .align 4
mis: .byte 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
     .skip 32
