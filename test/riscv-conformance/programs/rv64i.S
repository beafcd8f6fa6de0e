// RV64I base integer instructions (Unprivileged ISA ch. 2 and 5): every instruction class,
// including the sign-extension rules of the *W forms and the edge cases of shifts and compares.
#include "tv_test.h"
TV_BEGIN
  // register-register
  TEST_RR(2, add, 0x100000000, 0xffffffff, 1)
  TEST_RR(3, add, 0, -1, 1)
  TEST_RR(4, sub, 0xffffffffffffffff, 0, 1)
  TEST_RR(5, sub, 0x8000000000000000, 0x7fffffffffffffff, -1)
  TEST_RR(6, sll, 0x8000000000000000, 1, 63)
  TEST_RR(7, sll, 2, 1, 65)            // only the low 6 bits of rs2 count
  TEST_RR(8, srl, 1, 0x8000000000000000, 63)
  TEST_RR(9, sra, -1, 0x8000000000000000, 63)
  TEST_RR(10, slt, 1, -1, 0)
  TEST_RR(11, sltu, 0, -1, 0)
  TEST_RR(12, xor, 0xff00ff00, 0x0ff00ff0, 0xf0f0f0f0)
  TEST_RR(13, or, 0xfff0fff0, 0x0ff00ff0, 0xf0f0f0f0)
  TEST_RR(14, and, 0x00f000f0, 0x0ff00ff0, 0xf0f0f0f0)
  // register-immediate
  TEST_RI(15, addi, -2048, 0, -2048)
  TEST_RI(16, addi, 0x800, 1, 0x7ff)
  TEST_RI(17, slti, 1, -5, -4)
  TEST_RI(18, sltiu, 1, 5, -1)          // the immediate is sign-extended, then compared unsigned
  TEST_RI(19, xori, ~0x123, 0x123, -1)
  TEST_RI(20, ori, -1, 0, -1)
  TEST_RI(21, andi, 0x70f, 0xffff0f0f, 0x7ff)
  TEST_RI(22, slli, 0x8000000000000000, 1, 63)
  TEST_RI(23, srli, 0x7fffffff, 0xfffffffe, 1)
  TEST_RI(24, srai, 0xfffffffff0000000, 0x8000000000000000, 35)
  // 32-bit (W) forms: operate on the low 32 bits and sign-extend the result
  TEST_RR(25, addw, 0xffffffff80000000, 0x7fffffff, 1)
  TEST_RR(26, subw, 0x7fffffff, 0x80000000, 1)
  TEST_RR(27, sllw, 0xffffffff80000000, 1, 31)
  TEST_RR(28, sllw, 2, 1, 33)           // only the low 5 bits count
  TEST_RR(29, srlw, 1, 0xffffffff80000000, 31)
  TEST_RR(30, sraw, -1, 0x80000000, 31)
  TEST_RI(31, addiw, 0xffffffff80000000, 0x7fffffff, 1)
  TEST_RI(32, slliw, 0xffffffff80000000, 0x12345671, 31)
  TEST_RI(33, srliw, 0x7fffffff, -1, 1)
  TEST_RI(34, sraiw, 0xffffffffffffffff, 0x80000000, 31)
  TEST_R(35, sext.w, 0xffffffff87654321, 0x1234567887654321)
  // upper immediates
  TEST_CASE(36, a0, 0xfffffffffffff000, lui a0, 0xfffff)
  TEST_CASE(37, a0, 0x000000007ffff000, lui a0, 0x7ffff)
  TEST_CASE(38, a0, 0, 1: auipc a0, 0; la a1, 1b; sub a0, a0, a1)
  TEST_CASE(39, a0, 0x1000, 1: auipc a0, 1; la a1, 1b; sub a0, a0, a1)
  // loads and stores of every width, sign and zero extension
  TEST_CASE(40, a0, 0xffffffffffffff88, la a1, data; ld a2, 0(a1); lb a0, 0(a1))
  TEST_CASE(41, a0, 0x88, la a1, data; lbu a0, 0(a1))
  TEST_CASE(42, a0, 0xffffffffffff8788, la a1, data; lh a0, 0(a1))
  TEST_CASE(43, a0, 0x8788, la a1, data; lhu a0, 0(a1))
  TEST_CASE(44, a0, 0xffffffff85868788, la a1, data; lw a0, 0(a1))
  TEST_CASE(45, a0, 0x85868788, la a1, data; lwu a0, 0(a1))
  TEST_CASE(46, a0, 0x8182838485868788, la a1, data; ld a0, 0(a1))
  TEST_CASE(47, a0, 0x0102030405060708, la a1, data; ld a0, 8(a1))
  TEST_CASE(48, a0, 0x81820000858687aa, la a1, scratch; ld a2, data; sd a2, 0(a1); li a3, 0x05060708aa; sb a3, 0(a1); sh zero, 4(a1); sw zero, 8(a1); ld a0, 0(a1))
  TEST_CASE(49, a0, 0x11223344, la a1, scratch; li a2, 0x1122334455667788; sw a2, -4+16(a1); lwu a0, 12(a1); li a3, 0x55667788; bne a0, a3, tv_fail; srli a2, a2, 32; sw a2, 12(a1); lwu a0, 12(a1))
  TEST_CASE(50, a0, 0xbeef, la a1, scratch; li a2, 0xdeadbeef; sh a2, 2047(a1); lhu a0, 2047(a1))   // unaligned halfword in RAM: allowed (or emulated) in M-mode
  // branches, taken and not taken, signed vs unsigned
  TEST_CASE(51, a0, 0b111111, li a0, 0; li a1, -1; li a2, 1; \
    beq a1, a1, 1f; j tv_fail; 1: ori a0, a0, 1; \
    bne a1, a2, 1f; j tv_fail; 1: ori a0, a0, 2; \
    blt a1, a2, 1f; j tv_fail; 1: ori a0, a0, 4; \
    bge a2, a1, 1f; j tv_fail; 1: ori a0, a0, 8; \
    bltu a2, a1, 1f; j tv_fail; 1: ori a0, a0, 16; \
    bgeu a1, a2, 1f; j tv_fail; 1: ori a0, a0, 32; \
    beq a1, a2, tv_fail; bne a1, a1, tv_fail; blt a2, a1, tv_fail; bge a1, a2, tv_fail; bltu a1, a2, tv_fail; bgeu a2, a1, tv_fail)
  // jal/jalr: link value, target computed before rd is written, low bit of jalr target cleared
  TEST_CASE(52, a0, 0, jal a1, 1f; 2: j tv_fail; 1: la a2, 2b; sub a0, a1, a2)
  TEST_CASE(53, a0, 0, la a1, 1f; addi a1, a1, 1; jalr a1, 0(a1); 2: j tv_fail; 1: la a2, 2b; sub a0, a1, a2)
  TEST_CASE(54, a0, 7, li a0, 0; la t0, 1f; jalr t0, -4+4(t0); 1: addi a0, a0, 7)
  // x0 is hard-wired
  TEST_CASE(55, a0, 0, li a1, 5; add x0, a1, a1; addi x0, x0, 3; mv a0, x0)
  // fence, fence.i and ecall-free no-ops
  TEST_CASE(56, a0, 9, li a0, 9; fence; fence rw, rw; fence.i; nop)
  // self-modifying code made visible with fence.i (Zifencei)
  TEST_CASE(57, a0, 42, la a1, smc; li a2, 0x02a00513; sw a2, 0(a1); fence.i; jal ra, smc)
  j tv_pass
smc:
  li a0, 1
  ret
TV_END
  .data
  .align 3
data: .dword 0x8182838485868788, 0x0102030405060708
  .align 12
scratch: .skip 4096
