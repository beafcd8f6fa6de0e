// A bare-metal S-mode guest for the migration downtime bound: rewrites every 4 KiB page of a
// 16 MiB buffer over and over (each sweep stores a new value at the start of every page), and
// prints "D<n>" on the 16550 UART after sweep n. However fast a migration sends pages, the whole
// buffer has changed again by the next round.
#include <stdint.h>

__asm__(".text\n.globl _start\n_start:\n lla sp, stack_top\n call main\n1: j 1b\n"
        ".bss\n.balign 16\n.space 16384\nstack_top:\n.text\n");

#define UART ((volatile uint8_t *)0x10000000)
#define PAGES 4096

static volatile uint64_t buf[PAGES * 512] __attribute__((aligned(4096)));

static void putc_(char c) { while (!(UART[5] & 0x20)) {} UART[0] = c; }
static void putu(uint64_t v) {
  char b[21];
  int i = 20;
  b[i] = 0;
  do { b[--i] = '0' + v % 10; v /= 10; } while (v);
  for (char *s = b + i; *s; s++) putc_(*s);
}

void main(void) {
  for (uint64_t n = 1;; n++) {
    for (uint64_t p = 0; p < PAGES; p++) buf[p * 512] = n;
    putc_('D');
    putu(n);
    putc_('\n');
  }
}
