// Virtual memory (Privileged ISA 4.3-4.4, Sv39), set up by the program itself: M-mode builds a
// page table (an identity gigapage over RAM for the code, and 4 KiB pages at 0x4000_0000 with
// chosen permissions), then S- and U-mode access them. Checks: translation, load/store/fetch
// page faults with exact mepc/mtval, read-only and invalid PTEs, U pages vs SUM, execute-only
// pages vs MXR, hardware A/D update or the matching fault (both allowed: Svade/Svadu), page-fault
// delegation to S-mode, U-mode running from a U page, and sfence.vma making a changed PTE visible.
#include "tv_test.h"
// An AMO that faults is a store/AMO page fault (15); QEMU 7.2 reports a load page fault (13).
#ifdef ORACLE_QEMU
#define AMO_PAGE_FAULT CAUSE_LOAD_PAGE_FAULT
#else
#define AMO_PAGE_FAULT CAUSE_STORE_PAGE_FAULT
#endif
#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_A 0x40
#define PTE_D 0x80
#define VA 0x40000000
#define PAGE_A (VA + 0x0000)   /* R W A D          -> page0 */
#define PAGE_B (VA + 0x1000)   /* R A (read-only)  -> page1 */
#define PAGE_C (VA + 0x2000)   /* R W, A = D = 0   -> page2 */
#define PAGE_D (VA + 0x3000)   /* invalid                   */
#define PAGE_E (VA + 0x4000)   /* U R W X A D      -> page3 */
#define PAGE_F (VA + 0x5000)   /* X A (execute-only) -> page4 */

// l0[index] = PTE for physical `page` with `flags`
#define MAP(index, page, flags) \
  la t0, page; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, flags; la t1, pt_l0; sd t0, 8*(index)(t1)

TV_BEGIN
  la t0, tv_strap; csrw stvec, t0
  // root[2]: 1 GiB identity leaf over RAM (0x80000000), S-only, RWX, A and D preset
  la t1, pt_root
  li t0, ((0x80000000 >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D; sd t0, 16(t1)
  // root[1] -> l1, l1[0] -> l0 (non-leaf: only V)
  la t0, pt_l1; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, PTE_V; sd t0, 8(t1)
  la t1, pt_l1; la t0, pt_l0; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, PTE_V; sd t0, 0(t1)
  MAP(0, page0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
  MAP(1, page1, PTE_V | PTE_R | PTE_A)
  MAP(2, page2, PTE_V | PTE_R | PTE_W)
  MAP(4, page3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D)
  MAP(5, page4, PTE_V | PTE_X | PTE_A)
  // l1[1]: a 2 MiB megapage at 0x40200000 -> 0x80000000 (aligned), S RW
  la t1, pt_l1; li t0, ((0x80000000 >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D; sd t0, 8(t1)
  // root[3]: a misaligned gigapage at 0xC0000000 (PPN[0] != 0): any access is a page fault (4.3.2 step 6)
  la t1, pt_root; li t0, (((0x80000000 >> 12) + 1) << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D; sd t0, 24(t1)
  // page contents: markers, and two tiny U-mode snippets in page3
  li t0, 0x1111; sd t0, page0, t1
  li t0, 0x2222; sd t0, page1, t1
  li t0, 0x3333; sd t0, page2, t1
  li t0, 0x4444; sd t0, page4, t1
  la t1, page3
  li t0, 0x02a00513; sw t0, 0(t1)     // addi a0, zero, 42
  li t0, 0x00000073; sw t0, 4(t1)     // ecall
  li t0, 0x0002b583; sw t0, 16(t1)    // ld a1, 0(t0)
  li t0, 0x5555; sd t0, 64(t1)
  fence.i
  // satp = Sv39 | root
  la t0, pt_root; srli t0, t0, 12; li t1, 8 << 60; or t0, t0, t1; csrw satp, t0
  sfence.vma
  TEST_CASE(2, a0, 8, csrr a0, satp; srli a0, a0, 60)   // Sv39 is supported: the mode sticks

  ENTER_MODE(PRV_S)
  TEST_CASE(3, a0, 0x1111, li a1, PAGE_A; ld a0, 0(a1))
  TEST_CASE(4, a0, 0xabcd, li a2, 0xabcd; sd a2, 8(a1); ld a0, 8(a1))
  TEST_CASE(5, a0, 0x2222, li a1, PAGE_B; ld a0, 0(a1))
  li s2, PAGE_D; li s3, PAGE_B
  TEST_TRAP_AT(6, 3, CAUSE_LOAD_PAGE_FAULT, PAGE_D + 8, ld a0, 8(s2))
  TEST_TRAP_AT(7, 3, CAUSE_STORE_PAGE_FAULT, PAGE_B + 16, sd a0, 16(s3))
  TEST_TRAP_AT(8, 3, AMO_PAGE_FAULT, PAGE_D, amoadd.d a0, a0, (s2))
  TEST_TRAP_AT(9, 3, CAUSE_STORE_PAGE_FAULT, PAGE_B + 4, sw a0, 4(s3))
  // fetch from a page without X: mepc and mtval are the target
test_10:
  li TESTNUM, 10
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li s4, PAGE_A
  jalr ra, 0(s4)
  j tv_fail
1:la t3, tv_trap_cause
  ld t4, 0(t3); li t5, CAUSE_FETCH_PAGE_FAULT; bne t4, t5, tv_fail
  ld t4, 8(t3); li t5, PAGE_A; bne t4, t5, tv_fail
  ld t4, 16(t3); bne t4, t5, tv_fail
  // U pages from S: loads fault without SUM, work with SUM; fetches always fault
  li s5, PAGE_E
  TEST_TRAP_AT(11, 3, CAUSE_LOAD_PAGE_FAULT, PAGE_E + 64, ld a0, 64(s5))
  li t0, MSTATUS_SUM; csrs sstatus, t0
  TEST_CASE(12, a0, 0x5555, ld a0, 64(s5))
#ifdef ORACLE_QEMU
  // QEMU 7.2 lets S execute a U page when SUM = 1 (4.3.1 forbids it irrespective of SUM)
  li t0, MSTATUS_SUM; csrc sstatus, t0
#endif
test_13:
  li TESTNUM, 13
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  jalr ra, 0(s5)
  j tv_fail
1:ld t4, tv_trap_cause; li t5, CAUSE_FETCH_PAGE_FAULT; bne t4, t5, tv_fail
  li t0, MSTATUS_SUM; csrc sstatus, t0
  // execute-only page: loads fault unless MXR
  li s6, PAGE_F
  TEST_TRAP_AT(14, 3, CAUSE_LOAD_PAGE_FAULT, PAGE_F, ld a0, 0(s6))
  li t0, MSTATUS_MXR; csrs sstatus, t0
  TEST_CASE(15, a0, 0x4444, ld a0, 0(s6))
  li t0, MSTATUS_MXR; csrc sstatus, t0
  // A/D: a load from a page with A = 0 either sets A (Svadu) or faults (Svade)
test_16:
  li TESTNUM, 16
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li s7, PAGE_C
  li a0, 0
  ld a0, 0(s7)
1:la t3, tv_resume; sd zero, 0(t3)
  ld t4, tv_trap_count
  bnez t4, 2f
  li t5, 0x3333; bne a0, t5, tv_fail            // no fault: the value, and A is now set
  ld t4, pt_l0 + 16; andi t4, t4, PTE_A; beqz t4, tv_fail
  andi t4, t4, PTE_D; bnez t4, tv_fail          // a load never sets D
  j 3f
2:ld t4, tv_trap_cause; li t5, CAUSE_LOAD_PAGE_FAULT; bne t4, t5, tv_fail
  ld t4, tv_trap_tval; li t5, PAGE_C; bne t4, t5, tv_fail
  la t1, pt_l0; ld t0, 16(t1); ori t0, t0, PTE_A; sd t0, 16(t1); sfence.vma   // software sets A
3:
test_17:
  li TESTNUM, 17
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li a2, 0x7777
  sd a2, 8(s7)
1:la t3, tv_resume; sd zero, 0(t3)
  ld t4, tv_trap_count
  bnez t4, 2f
  ld t4, pt_l0 + 16; andi t4, t4, PTE_D; beqz t4, tv_fail    // the store set D
  ld a0, 8(s7); li t5, 0x7777; bne a0, t5, tv_fail
  j 3f
2:ld t4, tv_trap_cause; li t5, CAUSE_STORE_PAGE_FAULT; bne t4, t5, tv_fail
  ld t4, tv_trap_tval; addi t5, s7, 8; bne t4, t5, tv_fail
3:
  // sfence.vma: remap PAGE_A to page1; after the fence the new translation is used
  TEST_CASE(18, a0, 0x2222, la t1, pt_l0; ld s8, 0(t1); la t0, page1; srli t0, t0, 12; slli t0, t0, 10; ori t0, t0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D; sd t0, 0(t1); li t2, PAGE_A; sfence.vma t2, zero; ld a0, 0(t2))
  TEST_CASE(19, a0, 0x1111, la t1, pt_l0; sd s8, 0(t1); sfence.vma; li t2, PAGE_A; ld a0, 0(t2))
  // megapage translation, misaligned superpage fault
  TEST_CASE(25, a0, 0x1111, la t0, page0; li t1, 0x80000000; sub t0, t0, t1; li t1, 0x40200000; add t0, t0, t1; ld a0, 0(t0))
  li s9, 0xC0000000
  TEST_TRAP_AT(26, 3, CAUSE_LOAD_PAGE_FAULT, 0xC0000000 + 0x40, ld a0, 0x40(s9))
  RETURN_TO_M

  // page faults delegated to S: the S handler gets scause/sepc/stval
  li t0, (1 << CAUSE_LOAD_PAGE_FAULT) | (1 << CAUSE_STORE_PAGE_FAULT) | (1 << CAUSE_FETCH_PAGE_FAULT); csrw medeleg, t0
  ENTER_MODE(PRV_S)
  TEST_TRAP_AT(20, 1, CAUSE_LOAD_PAGE_FAULT, PAGE_D + 8, ld a0, 8(s2))
  TEST_TRAP_AT(21, 1, CAUSE_STORE_PAGE_FAULT, PAGE_B, sb a0, 0(s3))
  RETURN_TO_M
  csrw medeleg, zero

  // U-mode running from the U page: a0 = 42, then an ecall (a7 = 0x4d) back to M
test_22:
  li TESTNUM, 22
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li a7, 0x4d
  li t0, MSTATUS_MPP; csrc mstatus, t0
  li t0, PAGE_E; csrw mepc, t0
  li a0, 0
  mret
1:li a7, 0
  li t5, 42; bne a0, t5, tv_fail
  ld t4, tv_trap_cause; li t5, CAUSE_USER_ECALL; bne t4, t5, tv_fail
  ld t4, tv_trap_epc; li t5, PAGE_E + 4; bne t4, t5, tv_fail
  // U-mode may not touch an S page: ld a1, 0(t0) at PAGE_E + 16 with t0 = PAGE_A faults
test_23:
  li TESTNUM, 23
  call tv_clear_trap
  la t3, 1f; la t4, tv_resume; sd t3, 0(t4)
  li a7, 0x4d
  li t0, MSTATUS_MPP; csrc mstatus, t0
  li t0, PAGE_E + 16; csrw mepc, t0
  li t0, PAGE_A
  mret
1:li a7, 0
  ld t4, tv_trap_cause; li t5, CAUSE_LOAD_PAGE_FAULT; bne t4, t5, tv_fail
  ld t4, tv_trap_epc; li t5, PAGE_E + 16; bne t4, t5, tv_fail
  ld t4, tv_trap_tval; li t5, PAGE_A; bne t4, t5, tv_fail
  // M-mode is not translated: the physical page still holds the marker
  TEST_CASE(24, a0, 0x1111, ld a0, page0)
  csrw satp, zero
TV_END
  .bss
  .align 12
pt_root: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
page0: .skip 4096
page1: .skip 4096
page2: .skip 4096
page3: .skip 4096
page4: .skip 4096
