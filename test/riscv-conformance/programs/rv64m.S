// M extension (Unprivileged ISA ch. 7): products, quotients and remainders including the
// division-by-zero and overflow results of Table 7.1 (no trap, defined values).
#include "tv_test.h"
TV_BEGIN
  TEST_RR(2, mul, 0x0000000000000006, 2, 3)
  TEST_RR(3, mul, 0xfffffffffffffffa, -2, 3)
  TEST_RR(4, mul, 0x658f81c6366176f8, 0x1234567812345678, 0x9abcdef09abcdef1)
  TEST_RR(5, mulh, 0xffffffffffffffff, -1, 1)
  TEST_RR(6, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000)
  TEST_RR(7, mulhu, 0xfffffffffffffffe, -1, -1)
  TEST_RR(8, mulhu, 0x0000000000000000, 0xffffffff, 0xffffffff)
  TEST_RR(9, mulhsu, 0xffffffffffffffff, -1, 1)
  TEST_RR(10, mulhsu, 0xffffffffffffffff, -1, -1)  // signed -1 * unsigned 2^64-1
  TEST_RR(11, mulh, 0x01e6bf123114c9e0, 0x1234567812345678, 0x9abcdef09abcdef1 & 0x7fffffffffffffff)
  TEST_RR(12, mulw, 0xffffffff80000000, 0x40000000, 2)
  TEST_RR(13, mulw, 1, 0x1ffffffff, 0x1ffffffff)
  TEST_RR(14, div, -3, 7, -2)             // rounds toward zero
  TEST_RR(15, div, -1, 5, 0)              // divide by zero: all ones
  TEST_RR(16, div, 0x8000000000000000, 0x8000000000000000, -1)   // overflow: the dividend
  TEST_RR(17, divu, 0x7fffffffffffffff, -1, 2)
  TEST_RR(18, divu, -1, 5, 0)
  TEST_RR(19, rem, 1, 7, -2)              // sign of the dividend
  TEST_RR(20, rem, -1, -7, 2)
  TEST_RR(21, rem, 5, 5, 0)               // remainder by zero: the dividend
  TEST_RR(22, rem, 0, 0x8000000000000000, -1)
  TEST_RR(23, remu, 1, -1, 2)
  TEST_RR(24, remu, -3, -3, 0)
  TEST_RR(25, divw, 0xffffffff80000000, 0x80000000, -1)   // 32-bit overflow, sign-extended
  TEST_RR(26, divw, -1, 0x100000005, 0x100000000)         // 5 / 0 in 32 bits
  TEST_RR(27, divuw, 0x7fffffff, 0xfffffffe, 2)
  TEST_RR(28, divuw, -1, 5, 0)
  TEST_RR(29, remw, 0, 0x80000000, -1)
  TEST_RR(30, remw, 0xffffffff80000000, 0x80000000, 0)     // remainder by zero: dividend, sign-extended
  TEST_RR(31, remuw, 0xffffffff80000000, 0x80000000, 0)
  TEST_RR(32, remuw, 1, 0xffffffff, 2)
  TEST_RR(33, divw, 3, 0xffffffff00000007, 2)             // upper bits ignored
  TEST_RR_SAME(34, mul, 0x10000000000, 0x100000, 0x100000)
TV_END
