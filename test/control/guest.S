# A tiny S-mode guest for the control-plane tests: prints a ready line on the 16550 UART, then
# echoes every received byte; 'p' powers the machine off through the syscon test device
# (QEMU virt's sifive,test1 at 0x100000: 0x5555 = pass/poweroff).
.globl _start
_start:
  li s0, 0x10000000
  lla a1, msg
1: lbu a2, 0(a1)
  beqz a2, loop
  call putc
  addi a1, a1, 1
  j 1b
loop:
  lbu t0, 5(s0)          # LSR
  andi t0, t0, 1         # data ready
  beqz t0, loop
  lbu a2, 0(s0)          # RBR
  li t1, 'p'
  beq a2, t1, off
  call putc
  j loop
off:
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
  j off
putc:
  lbu t0, 5(s0)
  andi t0, t0, 0x20      # THR empty
  beqz t0, putc
  sb a2, 0(s0)
  ret
msg: .asciz "TV-GUEST-READY\n"
