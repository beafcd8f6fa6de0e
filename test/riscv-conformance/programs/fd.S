// F and D basics (Unprivileged ISA ch. 11-13): moves between register files, loads/stores, NaN
// boxing of singles in 64-bit registers (12.2), fcsr/frm/fflags access (11.2), a few arithmetic
// results with their exception flags, and the mstatus.FS gate (Privileged ISA 3.1.6.6).
#include "tv_test.h"
TV_BEGIN
  TEST_CASE(2, a0, 0x3ff0000000000000, li a1, 0x3ff0000000000000; fmv.d.x fa0, a1; fmv.x.d a0, fa0)
  TEST_CASE(3, a0, 0xffffffffbf800000, li a1, 0xbf800000; fmv.w.x fa0, a1; fmv.x.w a0, fa0)   // fmv.x.w sign-extends
  // fmv.w.x NaN-boxes: the upper 32 bits of the f register become all ones
  TEST_CASE(4, a0, 0xffffffff3f800000, li a1, 0x3f800000; fmv.w.x fa0, a1; fmv.x.d a0, fa0)
  // flw NaN-boxes too; fsw stores only the low 32 bits
  TEST_CASE(5, a0, 0xffffffff40490fdb, la a1, fdata; flw fa0, 0(a1); fmv.x.d a0, fa0)
  TEST_CASE(6, a0, 0x40490fdb, la a1, fdata; flw fa0, 0(a1); fsw fa0, 16(a1); lwu a0, 16(a1))
  TEST_CASE(7, a0, 0x400921fb54442d18, la a1, fdata; fld fa0, 8(a1); fsd fa0, 24(a1); ld a0, 24(a1))
  // an improperly boxed single reads as the canonical NaN
  TEST_CASE(8, a0, 0xffffffff7fc00000, li a1, 0x000000003f800000; fmv.d.x fa0, a1; fadd.s fa1, fa0, fa0; fmv.x.d a0, fa1)
  TEST_CASE(9, a0, 0x7fc00000, li a1, 0x000000003f800000; fmv.d.x fa0, a1; fsgnj.s fa1, fa0, fa0; fmv.x.w a0, fa1; li a2, 0xffffffff; and a0, a0, a2)
  // fcsr: frm and fflags are views of one register
  TEST_CASE(10, a0, 0xe5, csrwi fcsr, 0; csrwi frm, 7; csrwi fflags, 5; csrr a0, fcsr)
  TEST_CASE(11, a0, 7, csrr a0, frm)
  TEST_CASE(12, a0, 5, csrr a0, fflags)
  TEST_CASE(13, a0, 0x1f, li a1, 0xffff; csrw fcsr, a1; csrr a0, fflags)
  TEST_CASE(14, a0, 0xff, csrr a0, fcsr)      // bits above 7 are read-only zero
  // arithmetic and flags
  TEST_CASE(15, a0, 0x4000000000000000, csrwi fcsr, 0; li a1, 0x3ff0000000000000; fmv.d.x fa0, a1; fadd.d fa1, fa0, fa0; fmv.x.d a0, fa1)
  TEST_CASE(16, a0, 0, csrr a0, fflags)
  TEST_CASE(17, a0, 0x7ff8000000000000, fmv.d.x fa0, zero; fdiv.d fa1, fa0, fa0; fmv.x.d a0, fa1)   // 0/0 = canonical NaN
  TEST_CASE(18, a0, 0x10, csrr a0, fflags)    // NV
  TEST_CASE(19, a0, 0x7ff0000000000000, csrwi fcsr, 0; li a1, 0x3ff0000000000000; fmv.d.x fa0, a1; fmv.d.x fa1, zero; fdiv.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(20, a0, 0x08, csrr a0, fflags)    // DZ
  TEST_CASE(21, a0, 0x3eaaaaab, csrwi fcsr, 0; li a1, 1; fcvt.s.w fa0, a1; li a1, 3; fcvt.s.w fa1, a1; fdiv.s fa2, fa0, fa1; fmv.x.w a0, fa2)
  TEST_CASE(22, a0, 0x01, csrr a0, fflags)    // NX
  // rounding modes: static and dynamic (frm)
  TEST_CASE(23, a0, 0x3eaaaaaa, fdiv.s fa2, fa0, fa1, rtz; fmv.x.w a0, fa2)
  TEST_CASE(24, a0, 0x3eaaaaaa, csrwi frm, 2; fdiv.s fa2, fa0, fa1; fmv.x.w a0, fa2)   // RDN
  TEST_CASE(25, a0, 0x3eaaaaab, csrwi frm, 3; fdiv.s fa2, fa0, fa1, dyn; fmv.x.w a0, fa2) // RUP
  TEST_CASE(26, a0, -2, csrwi frm, 0; li a1, 0xc004000000000000; fmv.d.x fa0, a1; fcvt.l.d a0, fa0)     // -2.5 RNE -> -2
  TEST_CASE(27, a0, -3, fcvt.l.d a0, fa0, rmm)
  TEST_CASE(28, a0, -3, fcvt.l.d a0, fa0, rdn)
  TEST_CASE(29, a0, -2, fcvt.l.d a0, fa0, rup)
  TEST_CASE(30, a0, 0, csrwi fcsr, 0; fcvt.lu.d a0, fa0, rtz)   // negative to unsigned: 0, NV
  TEST_CASE(31, a0, 0x10, csrr a0, fflags)
  // conversions between formats, compares, classify, min/max, sign injection
  TEST_CASE(32, a0, 0x3ff8000000000000, li a1, 0x3fc00000; fmv.w.x fa0, a1; fcvt.d.s fa1, fa0; fmv.x.d a0, fa1)
  TEST_CASE(33, a0, 0xffffffff3fc00000, fcvt.s.d fa2, fa1; fmv.x.d a0, fa2)
  TEST_CASE(34, a0, 1, flt.d a0, fa0, fa1; xori a0, a0, 1; feq.s a1, fa0, fa2; and a0, a0, a1)
  TEST_CASE(35, a0, 1 << 6, fclass.d a0, fa1)    // positive normal
  TEST_CASE(36, a0, 1 << 9, li a1, 0x7ff8000000000000; fmv.d.x fa3, a1; fclass.d a0, fa3)   // quiet NaN
  TEST_CASE(37, a0, 0x3ff8000000000000, fmin.d fa4, fa3, fa1; fmv.x.d a0, fa4)   // min(NaN, x) = x
  TEST_CASE(38, a0, 0xbff8000000000000, fsgnjn.d fa4, fa1, fa1; fmv.x.d a0, fa4)
  TEST_CASE(39, a0, 0x3ff8000000000000, fsgnjx.d fa5, fa4, fa4; fmv.x.d a0, fa5)
  TEST_CASE(40, a0, 0x400a000000000000, li a1, 0x3ff0000000000000; fmv.d.x fa0, a1; fmadd.d fa5, fa1, fa1, fa0; fmv.x.d a0, fa5)  // 1.5*1.5+1 = 3.25
  TEST_CASE(41, a0, 0x3ff8000000000000, li a1, 0x4002000000000000; fmv.d.x fa5, a1; fsqrt.d fa6, fa5; fmv.x.d a0, fa6)
  // mstatus.FS = Off: F instructions and fcsr accesses are illegal
  li a1, 3 << 13; csrc mstatus, a1
  TEST_ILLEGAL(42, 0x02b57553, fadd.d fa0, fa0, fa1)
  TEST_ILLEGAL(43, 0x003025f3, csrr a1, fcsr)
  TEST_CASE(44, a0, 1 << 13, li a1, 1 << 13; csrs mstatus, a1; fadd.d fa0, fa0, fa1; csrr a0, mstatus; srli a0, a0, 13; andi a0, a0, 3; slli a0, a0, 13; li a2, 3 << 13; beq a0, a2, 2f; j tv_fail; 2: li a0, 1 << 13)   // an FP write makes FS Dirty
  TEST_CASE(45, a0, 1, csrr a0, mstatus; srli a0, a0, 63)   // SD summarises FS == Dirty
TV_END
  .data
  .align 3
fdata: .word 0x40490fdb, 0
       .dword 0x400921fb54442d18
       .dword 0, 0
