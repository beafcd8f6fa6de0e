// C extension (Unprivileged ISA ch. 16): every RV64C instruction written with its explicit c.*
// mnemonic, so the assembler must emit the 16-bit encoding; results are checked like the base ISA.
#include "tv_test.h"
TV_BEGIN
  .option rvc
  TEST_CASE(2, a0, 0x21, li a0, 0x20; c.addi a0, 1)
  TEST_CASE(3, a0, -32, li a0, 0; c.addi a0, -32)
  TEST_CASE(4, a0, 0xffffffff80000000, li a0, 0x7fffffff; c.addiw a0, 1)
  TEST_CASE(5, a0, 31, c.li a0, 31)
  TEST_CASE(6, a0, 0xfffffffffffe0000, c.lui a0, 0xfffe0)
  TEST_CASE(7, a0, 0x1f000, c.lui a0, 0x1f)
  TEST_CASE(8, a0, 0, mv s2, sp; c.addi16sp sp, -64; sub a0, s2, sp; addi a0, a0, -64; c.addi16sp sp, 64)
  TEST_CASE(9, a0, 0, c.addi4spn a0, sp, 1020; sub a0, a0, sp; addi a0, a0, -1020)
  TEST_CASE(10, a0, 0x40, li a0, 1; c.slli a0, 6)
  TEST_CASE(11, a0, 1, li a0, 0x8000000000000000; c.srli a0, 63)
  TEST_CASE(12, a0, -1, li a0, 0x8000000000000000; c.srai a0, 63)
  TEST_CASE(13, a0, 0x0f, li a0, 0xff; c.andi a0, 0xf)
  TEST_CASE(14, a0, 5, li a1, 5; c.mv a0, a1)
  TEST_CASE(15, a0, 9, li a0, 4; li a1, 5; c.add a0, a1)
  TEST_CASE(16, a0, 0x0ff0, li a0, 0x0ff0; li a1, 0xffff; c.and a0, a1)
  TEST_CASE(17, a0, 0xfff0, li a0, 0x0ff0; li a1, 0xf000; c.or a0, a1)
  TEST_CASE(18, a0, 0xf0f0, li a0, 0x0ff0; li a1, 0xff00; c.xor a0, a1)
  TEST_CASE(19, a0, -1, li a0, 4; li a1, 5; c.sub a0, a1)
  TEST_CASE(20, a0, 0xffffffff80000000, li a0, 0x7fffffff; li a1, 1; c.addw a0, a1)
  TEST_CASE(21, a0, 0x7fffffff, li a0, 0x80000000; li a1, 1; c.subw a0, a1)
  // loads/stores, register-based and stack-pointer-based
  TEST_CASE(22, a0, 0x1122334455667788, la a1, buf; li a2, 0x1122334455667788; c.sd a2, 8(a1); c.ld a0, 8(a1))
  TEST_CASE(23, a0, 0x55667788, c.lw a0, 8(a1))
  TEST_CASE(24, a0, 0xffffffff99aabbcc, li a2, 0x99aabbcc; c.sw a2, 16(a1); c.lw a0, 16(a1))
  TEST_CASE(25, a0, 0xdeadbeefcafef00d, mv s2, sp; mv sp, a1; li a2, 0xdeadbeefcafef00d; c.sdsp a2, 24(sp); c.ldsp a0, 24(sp); mv sp, s2)
  TEST_CASE(26, a0, 0xffffffffcafef00d, mv s2, sp; mv sp, a1; c.lwsp a0, 24(sp); mv sp, s2)
  TEST_CASE(27, a0, 0x12345678, mv s2, sp; mv sp, a1; li a2, 0x12345678; c.swsp a2, 32(sp); lwu a0, 32(sp); mv sp, s2)
  // FP loads/stores (C.FLD/C.FSD/C.FLDSP/C.FSDSP)
  TEST_CASE(28, a0, 0x400921fb54442d18, li a2, 0x400921fb54442d18; sd a2, 40(a1); c.fld fa0, 40(a1); c.fsd fa0, 48(a1); ld a0, 48(a1))
  TEST_CASE(29, a0, 0x400921fb54442d18, mv s2, sp; mv sp, a1; c.fldsp fa1, 48(sp); c.fsdsp fa1, 56(sp); ld a0, 56(sp); mv sp, s2)
  // control flow
  TEST_CASE(30, a0, 3, li a0, 0; c.j 1f; li a0, 1; 1: addi a0, a0, 3)
  TEST_CASE(31, a0, 1, li a1, 0; li a0, 0; c.beqz a1, 1f; j tv_fail; 1: c.bnez a1, tv_fail; li a0, 1)
  TEST_CASE(32, a0, 0, la a1, 1f; c.jr a1; j tv_fail; 1: li a0, 0)
  TEST_CASE(33, a0, 2, mv s3, ra; la a1, 1f; c.jalr a1; 2: j 3f; 1: la a2, 2b; sub a0, ra, a2; addi a0, a0, 2; c.jr ra; 3: mv ra, s3)
  // c.nop and c.ebreak (trap, mepc = the 16-bit instruction, cause 3)
  TEST_CASE(34, a0, 7, li a0, 7; c.nop)
  TEST_TRAP_TVAL_0_OR_PC(35, 3, CAUSE_BREAKPOINT, c.ebreak)
  // a 32-bit instruction at a 2-byte aligned address (IALIGN=16)
  TEST_CASE(36, a0, 0x77, c.nop; li a0, 0x77; .align 1; c.nop; addi a0, a0, 0)
  .option norvc
TV_END
  .data
  .align 4
buf: .skip 128
