// A bare-metal S-mode guest on two harts (built-in SBI) for snapshots of vCPU threads: each hart
// counts on its own and prints "A<n>" (hart 0) or "B<n>" (hart 1) on the 16550 UART, a line at a
// time under a spinlock made of LR/SC. Hart 0 counts busily, adding to a shared counter with AMOs;
// hart 1 sleeps between counts in wfi until its SBI timer (stimecmp) fires, so a restored machine
// must carry on the timers too. Hart 0 starts hart 1 through SBI HSM hart_start. Before each count
// a hart checks that every page of its own 1 MiB region holds its previous count and writes the new
// one there: a page a snapshot or migration lost (the dirty log missing a store) prints "X<hart>"
// and stops the hart. Hart 0 also pings hart 1 with an IPI and a remote fence after every count
// (see ping below).
#include <stdint.h>

// Both harts enter at _start: hart 0 from the board (a0 = 0), hart 1 from hart_start (a0 = 1).
__asm__(".text\n.globl _start\n_start:\n bnez a0, 2f\n lla sp, stack0_top\n call main0\n1: j 1b\n"
        "2: lla sp, stack1_top\n call main1\n j 1b\n"
        ".bss\n.balign 16\n.space 8192\nstack0_top:\n.space 8192\nstack1_top:\n.text\n");

#define UART ((volatile uint8_t *)0x10000000)

static long sbi4(long ext, long fid, long a0, long a1, long a2, long a3) {
  register long r0 __asm__("a0") = a0;
  register long r1 __asm__("a1") = a1;
  register long r2 __asm__("a2") = a2;
  register long r3 __asm__("a3") = a3;
  register long r6 __asm__("a6") = fid;
  register long r7 __asm__("a7") = ext;
  __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r3), "r"(r6), "r"(r7) : "memory");
  return r0;
}
static long sbi(long ext, long fid, long a0, long a1, long a2) { return sbi4(ext, fid, a0, a1, a2, 0); }

// Ping-pong: hart 0 stores its count in ping, sends hart 1 an IPI and a remote sfence.vma, and waits
// until hart 1, woken by the IPI (SSIP), copied ping to ack. An IPI or fence a snapshot lost would
// stop both counts.
static uint64_t ping, ack;

#define REGION_PAGES 256
static uint64_t region[2][REGION_PAGES * 512] __attribute__((aligned(4096)));

/** Count n: every page of hart h's region must hold n - 1 (first word, and one that moves). */
static int touch(int h, uint64_t n) {
  for (int p = 0; p < REGION_PAGES; p++) {
    uint64_t *w = &region[h][p * 512];
    uint64_t *m = &w[(n * 7 + p) % 511 + 1];
    if (w[0] != n - 1) return 0;
    w[0] = n;
    *m = n;
  }
  return 1;
}

static uint32_t lock;
static uint64_t shared;

static void take(void) {
  uint32_t old, tmp;
  __asm__ volatile("1: lr.w.aq %0, (%2)\n bnez %0, 1b\n li %1, 1\n sc.w.rl %1, %1, (%2)\n bnez %1, 1b"
                   : "=&r"(old), "=&r"(tmp)
                   : "r"(&lock)
                   : "memory");
}
static void give(void) { __atomic_store_n(&lock, 0, __ATOMIC_RELEASE); }

static void putc_(char c) { while (!(UART[5] & 0x20)) {} UART[0] = c; }
static void line(char tag, uint64_t v) {
  char b[24];
  int i = 23;
  b[i] = 0;
  b[--i] = '\n';
  do { b[--i] = '0' + v % 10; v /= 10; } while (v);
  b[--i] = tag;
  take();
  for (const char *s = b + i; *s; s++) putc_(*s);
  give();
}

static uint64_t now(void) {
  uint64_t t;
  __asm__ volatile("rdtime %0" : "=r"(t));
  return t;
}

void main1(void) {
  __asm__ volatile("csrs sie, %0" ::"r"((1 << 5) | (1 << 1)));  // STIE, SSIE: wfi wakes (SIE stays 0)
  for (uint64_t n = 1;; n++) {
    sbi(0x54494D45, 0, now() + 20000, 0, 0);  // TIME set_timer: 2 ms at 10 MHz
    for (;;) {
      uint64_t sip;
      __asm__ volatile("csrr %0, sip" : "=r"(sip));
      if (sip & (1 << 1)) {
        __asm__ volatile("csrc sip, %0" ::"r"(1 << 1));
        __atomic_store_n(&ack, __atomic_load_n(&ping, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
      }
      if (sip & (1 << 5)) break;
      __asm__ volatile("wfi");
    }
    if (!touch(1, n)) {
      line('X', 1);
      for (;;) {}
    }
    line('B', n);
  }
}

void main0(void) {
  if (sbi(0x48534D, 0, 1, 0x80200000, 0) != 0) line('E', 1);  // HSM hart_start(1, _start)
  for (uint64_t n = 1;; n++) {
    for (int i = 0; i < 100000; i++) __atomic_fetch_add(&shared, 1, __ATOMIC_RELAXED);
    if (!touch(0, n)) {
      line('X', 0);
      for (;;) {}
    }
    line('A', n);
    __atomic_store_n(&ping, n, __ATOMIC_RELEASE);
    if (sbi(0x735049, 0, 2, 0, 0) != 0) line('E', 2);                  // IPI send_ipi(hart 1)
    if (sbi4(0x52464E43, 1, 2, 0, 0, -1) != 0) line('E', 3);           // RFENCE remote_sfence_vma(hart 1, all)
    while (__atomic_load_n(&ack, __ATOMIC_ACQUIRE) != n) {}
  }
}
