// A extension (Unprivileged ISA ch. 8): LR/SC reservations and every AMO in .W and .D forms,
// including sign extension of .W results and the address-misaligned exceptions.
#include "tv_test.h"
// Privileged ISA 3.7 / Table 3.6: a misaligned AMO or SC raises store/AMO address misaligned (6).
// QEMU 7.2 reports load address misaligned (4) instead; the QEMU oracle build defines ORACLE_QEMU.
#ifdef ORACLE_QEMU
#define AMO_MISALIGNED_CAUSE CAUSE_MISALIGNED_LOAD
#else
#define AMO_MISALIGNED_CAUSE CAUSE_MISALIGNED_STORE
#endif
#define AMO(n, op, expect_old, expect_mem, init, operand)                  \
  TEST_CASE(n, a0, expect_old, la a1, word; li a2, init; sd a2, 0(a1); li a3, operand; op a0, a3, (a1)) \
  TEST_CASE(n##00, a4, expect_mem, ld a4, 0(a1))
TV_BEGIN
  AMO(2, amoadd.d, 5, 12, 5, 7)
  AMO(3, amoswap.d, 5, -1, 5, -1)
  AMO(4, amoand.d, 0xff, 0x0f, 0xff, 0x0f)
  AMO(5, amoor.d, 0xf0, 0xff, 0xf0, 0x0f)
  AMO(6, amoxor.d, 0xff, 0xf0, 0xff, 0x0f)
  AMO(7, amomax.d, -5, 3, -5, 3)
  AMO(8, amomin.d, -5, -5, -5, 3)
  AMO(9, amomaxu.d, -5, -5, -5, 3)
  AMO(11, amominu.d, -5, 3, -5, 3)
  // .W forms touch 32 bits and sign-extend the old value
  AMO(12, amoadd.w, 0xffffffff80000000, 0x7fffffff80000001, 0x7fffffff80000000, 1)
  AMO(13, amoswap.w, 0x7fffffff, 0x12345678ffffffff, 0x123456787fffffff, -1)
  AMO(14, amomax.w, 0xffffffff80000000, 0x0000000000000001, 0x80000000, 1)
  AMO(15, amomaxu.w, 0xffffffff80000000, 0x0000000080000000, 0x80000000, 1)
  AMO(16, amomin.w, 0xffffffff80000000, 0x0000000080000000, 0x80000000, 1)
  AMO(17, amominu.w, 0xffffffff80000000, 0x0000000000000001, 0x80000000, 1)
  AMO(18, amoand.w, 0xfffffffff0f0f0f0, 0xfffffffff0000000, 0xfffffffff0f0f0f0, 0xff000000)
  AMO(19, amoor.w, 0x0f, 0xffffffff0000ffff, 0xffffffff0000000f, 0xfff0)
  AMO(21, amoxor.w, 1, 0x80000000, 1, 0x80000001)
  AMO(22, amoadd.d.aqrl, 1, 3, 1, 2)
  // LR/SC: a successful pair writes 0 to rd and stores; a second SC without LR fails (nonzero)
  TEST_CASE(23, a0, 0, la a1, word; li a2, 10; sd a2, 0(a1); lr.d a3, (a1); addi a3, a3, 1; sc.d a0, a3, (a1))
  TEST_CASE(24, a0, 11, ld a0, 0(a1))
  TEST_CASE(25, a0, 1, li a3, 99; sc.d a0, a3, (a1); snez a0, a0)
  TEST_CASE(26, a0, 11, ld a0, 0(a1))
  TEST_CASE(27, a0, 0xffffffff80000000, li a2, 0x80000000; sw a2, 0(a1); lr.w a0, (a1))
  TEST_CASE(28, a0, 0, li a3, 5; sc.w a0, a3, (a1))
  TEST_CASE(29, a0, 5, lwu a0, 0(a1))
  // an intervening store to the reserved address may kill the reservation; an SC to another address fails
  TEST_CASE(30, a0, 1, lr.d a3, (a1); addi a4, a1, 8; sc.d a0, a3, (a4); snez a0, a0)
  // a loop that increments with LR/SC converges
  TEST_CASE(31, a0, 105, sd zero, 0(a1); li a5, 105; 1: lr.w.aq a3, (a1); addi a3, a3, 1; sc.w.rl a4, a3, (a1); bnez a4, 1b; addi a5, a5, -1; bnez a5, 1b; lw a0, 0(a1))
  // misaligned AMO and LR: exception, never split (store/AMO address misaligned = 6; LR: load misaligned 4)
  lla a1, word+4
  TEST_TRAP_TVAL_LABEL(32, 3, AMO_MISALIGNED_CAUSE, word+4, amoadd.d a0, a2, (a1))
  TEST_TRAP_TVAL_LABEL(34, 3, CAUSE_MISALIGNED_LOAD, word+4, lr.d a0, (a1))
  lla a1, word+2
  TEST_TRAP_TVAL_LABEL(35, 3, AMO_MISALIGNED_CAUSE, word+2, amoswap.w a0, a2, (a1))
TV_END
  .data
  .align 4
word: .dword 0, 0
