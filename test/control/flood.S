# A console flood for the control-plane tests (issue 12, item 5): calls SBI DBCN console_write
# (SBI v2.0 §12.1, EID 0x4442434E, FID 0) on a 1 MiB buffer in a loop, as fast as the vCPU goes.
.globl _start
_start:
  li s1, 0x80200000      # the buffer: this code and whatever RAM follows it
  li s2, 0x100000        # 1 MiB per call
1: li a7, 0x4442434E
  li a6, 0
  mv a0, s2
  mv a1, s1
  li a2, 0
  ecall
  j 1b
