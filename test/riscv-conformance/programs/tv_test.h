/* Typevisor conformance test header: a minimal bare-metal test environment in the style of
 * riscv-tests (written for Typevisor). A program is:
 *
 *     #include "tv_test.h"
 *     TV_BEGIN
 *       TEST_RR(2, add, 3, 1, 2)
 *       ...
 *     TV_END
 *
 * Register conventions: gp (x3) holds the current test number (TESTNUM); a failing check jumps to
 * tv_fail, which reports (TESTNUM << 1) | 1 through HTIF tohost; tv_pass reports 1.
 * Test cases use a0..a5, t0..t2, s2..s11 freely; t3..t6 belong to the macros and trap handlers.
 *
 * Traps: the M-mode handler (and the S-mode handler, when a program delegates) records cause, epc,
 * tval and the handling privilege in tv_trap_* and resumes at tv_resume. A trap while tv_resume is
 * 0 is unexpected and fails the current test. Interrupts resume where they hit (tv_resume = -1) and
 * the handler masks the interrupt's enable bit in mie/sie so it does not fire again.
 */
#define TESTNUM gp

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_USER_ECALL 8
#define CAUSE_SUPERVISOR_ECALL 9
#define CAUSE_MACHINE_ECALL 11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15
#define INTR (1 << 63)

#define MSTATUS_SIE (1 << 1)
#define MSTATUS_MIE (1 << 3)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP (1 << 8)
#define MSTATUS_MPP (3 << 11)
#define MSTATUS_FS (3 << 13)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM (1 << 18)
#define MSTATUS_MXR (1 << 19)
#define MSTATUS_TVM (1 << 20)
#define MSTATUS_TW (1 << 21)
#define MSTATUS_TSR (1 << 22)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define CLINT_MSIP 0x2000000
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME 0x200bff8

/* --- program frame ------------------------------------------------------------------------ */
#define TV_BEGIN                                                        \
  .section .text.init;                                                  \
  .globl _start;                                                        \
_start:                                                                 \
  la t0, tv_mtrap; csrw mtvec, t0;                                      \
  la sp, tv_stack_top;                                                  \
  li TESTNUM, 0;                                                        \
  /* FPU on (mstatus.FS = Initial) so F/D tests can run */              \
  li t0, (1 << 13); csrs mstatus, t0;                                   \
  csrwi fcsr, 0;                                                        \
  /* open all of physical memory to S/U-mode: PMP entry 0 = NAPOT all */ \
  la t0, 1f; csrw mtvec, t0;                                            \
  li t0, -1; csrw pmpaddr0, t0;                                         \
  li t0, 0x1f; csrw pmpcfg0, t0;                                        \
1:la t0, tv_mtrap; csrw mtvec, t0;                                      \
  call tv_clear_trap;                                                   \
  j tv_main;                                                            \
  TV_TRAP_HANDLERS;                                                     \
  .text;                                                                \
tv_main:

#define TV_END                                                          \
  j tv_pass;                                                            \
tv_fail:                                                                \
  fence;                                                                \
  beqz TESTNUM, 1f; /* test 0 is never a valid failure number */        \
  slli a0, TESTNUM, 1; ori a0, a0, 1; j 2f;                             \
1:li a0, (0x7ff << 1) | 1;                                              \
2:la t0, tohost; sd a0, 0(t0);                                          \
3:j 3b;                                                                 \
tv_pass:                                                                \
  fence;                                                                \
  li a0, 1; la t0, tohost; sd a0, 0(t0);                                \
4:j 4b;                                                                 \
  .section .tohost, "aw", @progbits;                                    \
  .align 6; .globl tohost; tohost: .dword 0; .size tohost, 8;                          \
  .align 6; .globl fromhost; fromhost: .dword 0; .size fromhost, 8;                      \
  .data;                                                                \
  .align 3;                                                             \
  .globl tv_trap_cause;                                                 \
tv_trap_cause: .dword 0;                                                \
tv_trap_epc: .dword 0;                                                  \
tv_trap_tval: .dword 0;                                                 \
tv_trap_mode: .dword 0; /* privilege that handled it: 3 M, 1 S */       \
tv_trap_count: .dword 0;                                                \
tv_resume: .dword 0;                                                    \
tv_trap_status: .dword 0; /* mstatus (M handler) or sstatus (S handler) at the trap */ \
tv_save: .dword 0, 0, 0, 0;                                             \
  .bss;                                                                 \
  .align 12;                                                            \
tv_stack: .skip 4096;                                                   \
tv_stack_top:

/* The trap handlers. They only use t3..t6 (saved in tv_save) and the scratch CSR. An ecall with
 * a7 == 0x4d ("M") from any mode returns to M-mode at tv_resume (RETURN_TO_M). */
#define TV_TRAP_HANDLERS                                                \
  .align 6;                                                             \
tv_mtrap:                                                               \
  csrw mscratch, t3;                                                    \
  la t3, tv_save; sd t4, 0(t3); sd t5, 8(t3); sd t6, 16(t3);            \
  la t3, tv_resume; ld t4, 0(t3);                                       \
  beqz t4, tv_fail; /* unexpected trap: fail the current test */        \
  la t3, tv_trap_cause;                                                 \
  csrr t5, mcause; sd t5, 0(t3);                                        \
  csrr t6, mepc; sd t6, 8(t3);                                          \
  csrr t6, mtval; sd t6, 16(t3);                                        \
  li t6, 3; sd t6, 24(t3);                                              \
  csrr t6, mstatus; sd t6, 48(t3);                                      \
  ld t6, 32(t3); addi t6, t6, 1; sd t6, 32(t3);                         \
  bltz t5, 1f;                                                          \
  /* exception: resume at tv_resume, once */                            \
  csrw mepc, t4; sd zero, 40(t3);                                       \
  li t5, 0x4d; bne a7, t5, 2f;                                          \
  li t5, MSTATUS_MPP; csrs mstatus, t5; /* RETURN_TO_M, with MIE = 0 */ \
  li t5, MSTATUS_MPIE; csrc mstatus, t5;                                \
  j 2f;                                                                 \
1:/* interrupt: disable its source in mie and return where it hit */    \
  li t6, 1; sll t6, t6, t5; csrc mie, t6;                               \
  li t6, -1; beq t4, t6, 2f; /* resume -1: stay armed for more */      \
  csrw mepc, t4; sd zero, 40(t3);                                       \
2:la t3, tv_save; ld t4, 0(t3); ld t5, 8(t3); ld t6, 16(t3);           \
  csrr t3, mscratch;                                                    \
  mret;                                                                 \
  .align 6;                                                             \
tv_strap:                                                               \
  csrw sscratch, t3;                                                    \
  la t3, tv_save; sd t4, 0(t3); sd t5, 8(t3); sd t6, 16(t3);            \
  la t3, tv_resume; ld t4, 0(t3);                                       \
  beqz t4, tv_fail;                                                     \
  la t3, tv_trap_cause;                                                 \
  csrr t5, scause; sd t5, 0(t3);                                        \
  csrr t6, sepc; sd t6, 8(t3);                                          \
  csrr t6, stval; sd t6, 16(t3);                                        \
  li t6, 1; sd t6, 24(t3);                                              \
  csrr t6, sstatus; sd t6, 48(t3);                                      \
  ld t6, 32(t3); addi t6, t6, 1; sd t6, 32(t3);                         \
  bltz t5, 1f;                                                          \
  csrw sepc, t4; sd zero, 40(t3); j 2f;                                 \
1:li t6, 1; sll t6, t6, t5; csrc sie, t6;                               \
  li t6, -1; beq t4, t6, 2f;                                            \
  csrw sepc, t4; sd zero, 40(t3);                                       \
2:la t3, tv_save; ld t4, 0(t3); ld t5, 8(t3); ld t6, 16(t3);           \
  csrr t3, sscratch;                                                    \
  sret;                                                                 \
tv_clear_trap:                                                          \
  la t3, tv_trap_cause;                                                 \
  sd zero, 0(t3); sd zero, 8(t3); sd zero, 16(t3); sd zero, 24(t3);     \
  sd zero, 32(t3); sd zero, 40(t3); sd zero, 48(t3);                    \
  ret

/* --- checks ------------------------------------------------------------------------------- */
/* Run `code`, then compare register `reg` with the constant `expect`. */
#define TEST_CASE(n, reg, expect, code...)                              \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  code;                                                                 \
  li t6, expect;                                                        \
  bne reg, t6, tv_fail;

#define TEST_RR(n, inst, expect, v1, v2)                                \
  TEST_CASE(n, a0, expect, li a1, v1; li a2, v2; inst a0, a1, a2)
#define TEST_RI(n, inst, expect, v1, imm)                               \
  TEST_CASE(n, a0, expect, li a1, v1; inst a0, a1, imm)
#define TEST_R(n, inst, expect, v1)                                     \
  TEST_CASE(n, a0, expect, li a1, v1; inst a0, a1)
/* Destination = first source (rd == rs1), as compilers emit it. */
#define TEST_RR_SAME(n, inst, expect, v1, v2)                           \
  TEST_CASE(n, a1, expect, li a1, v1; li a2, v2; inst a1, a1, a2)

/* Expect the instruction(s) at label tv_f<n> to trap with `cause`; mepc/sepc must be that label
 * and the trap value `tval`. Execution continues after `code`. MODE: 3 if M-mode must take it,
 * 1 if S-mode must. */
#define TEST_TRAP_AT(n, mode, cause, tval, code...)                     \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  call tv_clear_trap;                                                   \
  la t3, tv_cont_##n; la t4, tv_resume; sd t3, 0(t4);                   \
tv_f##n:                                                                \
  code;                                                                 \
  j tv_fail; /* no trap */                                              \
tv_cont_##n:                                                            \
  la t3, tv_trap_cause;                                                 \
  ld t4, 0(t3); li t5, cause; bne t4, t5, tv_fail;                      \
  ld t4, 8(t3); la t5, tv_f##n; bne t4, t5, tv_fail;                    \
  ld t4, 16(t3); li t5, tval; bne t4, t5, tv_fail;                      \
  ld t4, 24(t3); li t5, mode; bne t4, t5, tv_fail;                      \
  ld t4, 32(t3); li t5, 1; bne t4, t5, tv_fail;

/* The same, with a trap value computed at run time: the address of label `lab`. */
#define TEST_TRAP_TVAL_LABEL(n, mode, cause, lab, code...)              \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  call tv_clear_trap;                                                   \
  la t3, tv_cont_##n; la t4, tv_resume; sd t3, 0(t4);                   \
tv_f##n:                                                                \
  code;                                                                 \
  j tv_fail;                                                            \
tv_cont_##n:                                                            \
  la t3, tv_trap_cause;                                                 \
  ld t4, 0(t3); li t5, cause; bne t4, t5, tv_fail;                      \
  ld t4, 8(t3); la t5, tv_f##n; bne t4, t5, tv_fail;                    \
  ld t4, 16(t3); lla t5, lab; bne t4, t5, tv_fail;                       \
  ld t4, 24(t3); li t5, mode; bne t4, t5, tv_fail;

/* The trap value of an illegal instruction is either 0 or the instruction bits (Privileged ISA
 * 3.1.16: "mtval is either set to zero or written with the faulting instruction"): accept both. */
#define TEST_ILLEGAL(n, bits, code...)                                  \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  call tv_clear_trap;                                                   \
  la t3, tv_cont_##n; la t4, tv_resume; sd t3, 0(t4);                   \
tv_f##n:                                                                \
  code;                                                                 \
  j tv_fail;                                                            \
tv_cont_##n:                                                            \
  la t3, tv_trap_cause;                                                 \
  ld t4, 0(t3); li t5, CAUSE_ILLEGAL_INSTRUCTION; bne t4, t5, tv_fail;  \
  ld t4, 8(t3); la t5, tv_f##n; bne t4, t5, tv_fail;                    \
  ld t4, 16(t3); beqz t4, 1f; li t5, bits; bne t4, t5, tv_fail; 1:;

/* No trap at all may happen while running `code`. */
#define TEST_NO_TRAP(n, code...)                                        \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  call tv_clear_trap;                                                   \
  code;                                                                 \
  la t3, tv_trap_count; ld t4, 0(t3); bnez t4, tv_fail;

/* Switch to privilege `prv` (PRV_S or PRV_U) via mret, continuing at the next instruction. */
#define ENTER_MODE(prv)                                                 \
  li t3, MSTATUS_MPP; csrc mstatus, t3;                                 \
  li t3, (prv) << 11; csrs mstatus, t3;                                 \
  la t3, 1f; csrw mepc, t3;                                             \
  mret;                                                                 \
1:

/* Back to M-mode from S/U: an exception taken by M with a7 = 0x4d, which the M handler turns
 * into a return to M-mode (the exception cause must not be delegated). Clobbers a7, t3, t4. */
#define RETURN_TO_M_VIA(insn)                                           \
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4);                            \
  li a7, 0x4d;                                                          \
  insn;                                                                 \
1:li a7, 0; call tv_clear_trap
#define RETURN_TO_M RETURN_TO_M_VIA(ecall)

/* Expect an interrupt to be taken by `mode` while `code` runs (it may loop, e.g. wfi). */
#define TEST_INTERRUPT(n, mode, cause, code...)                         \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  call tv_clear_trap;                                                   \
  li t3, -1; la t4, tv_resume; sd t3, 0(t4);                            \
  code;                                                                 \
  la t4, tv_resume; sd zero, 0(t4);                                     \
  la t3, tv_trap_cause;                                                 \
  ld t4, 0(t3); li t5, INTR | (cause); bne t4, t5, tv_fail;             \
  ld t4, 24(t3); li t5, mode; bne t4, t5, tv_fail;                      \
  ld t4, 32(t3); li t5, 1; bne t4, t5, tv_fail;

/* Breakpoint (and other) traps where the trap value may be 0 or the faulting pc (Privileged ISA
 * 3.1.16 leaves the choice to the implementation for ebreak). */
#define TEST_TRAP_TVAL_0_OR_PC(n, mode, cause, code...)                 \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  call tv_clear_trap;                                                   \
  la t3, tv_cont_##n; la t4, tv_resume; sd t3, 0(t4);                   \
tv_f##n:                                                                \
  code;                                                                 \
  j tv_fail;                                                            \
tv_cont_##n:                                                            \
  la t3, tv_trap_cause;                                                 \
  ld t4, 0(t3); li t5, cause; bne t4, t5, tv_fail;                      \
  ld t4, 8(t3); la t5, tv_f##n; bne t4, t5, tv_fail;                    \
  ld t4, 16(t3); beqz t4, 1f; bne t4, t5, tv_fail; 1:;                  \
  ld t4, 24(t3); li t5, mode; bne t4, t5, tv_fail;

/* The status register the last trap handler saw, masked, must equal `expect`. */
#define TEST_TRAP_STATUS(n, mask, expect)                               \
test_##n:                                                               \
  li TESTNUM, n;                                                        \
  la t3, tv_trap_status; ld t4, 0(t3);                                  \
  li t5, mask; and t4, t4, t5;                                          \
  li t5, expect; bne t4, t5, tv_fail;
