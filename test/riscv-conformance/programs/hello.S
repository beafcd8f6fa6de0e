// Console output through both HTIF forms (for run-elf's own tests): bcd putchar of "hi\n", then a
// riscv-tests style syscall block: write(1, "syscall\n", 8) and exit(0).
#include "tv_test.h"
TV_BEGIN
  li a0, 'h'; call putchar
  li a0, 'i'; call putchar
  li a0, '\n'; call putchar
  la a1, block
  li a2, 64; sd a2, 0(a1)          // SYS_write
  li a2, 1; sd a2, 8(a1)           // fd 1
  la a2, msg; sd a2, 16(a1)
  li a2, 8; sd a2, 24(a1)
  call syscall
  ld a0, block                     // the return value replaces word 0
  li a2, 8; bne a0, a2, tv_fail
  la a1, block
  li a2, 93; sd a2, 0(a1)          // SYS_exit(0)
  sd zero, 8(a1)
  call syscall
  j tv_fail
putchar:                           // tohost = device 1, command 1, payload = the byte
  li a1, 0x0101000000000000
  or a0, a0, a1
  la a1, tohost; sd a0, 0(a1)
  la a1, fromhost
1:ld a2, 0(a1); beqz a2, 1b
  sd zero, 0(a1)
  ret
syscall:                           // tohost = address of the block (device 0, command 0)
  fence
  la a1, block; la a2, tohost; sd a1, 0(a2)
  la a1, fromhost
1:ld a2, 0(a1); beqz a2, 1b
  sd zero, 0(a1)
  fence
  ret
TV_END
  .data
  .align 6
block: .dword 0, 0, 0, 0, 0, 0, 0, 0
msg: .ascii "syscall\n"
