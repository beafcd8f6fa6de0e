// A memory-dirtying load for live migration (docs/SNAPSHOTS.md, docs/BENCHMARKS.md): rewrites a
// buffer over and over in 8-byte stores at a set rate, and checks every word before rewriting it.
//
// Pass n (1, 2, ...) stores (n << 32) | i into word i, after checking that the word holds what pass
// n - 1 stored there (0 before pass 1). After each pass it prints "P<n> <ms>" (ms: monotonic time
// since the start); a word that does not hold the value expected prints "BAD pass <n> word <i>" and
// stops. A migration that lost a page, or sent an old copy of one, is caught by the next pass over
// it; the pass numbers printed on the source and then on the destination go on without a gap.
//
// Stores are paced: after every 64 KiB the program sleeps until (bytes stored) / rate has elapsed
// (rate 0: as fast as it can). Lateness of up to 250 ms is caught up with (a host that did not run
// the VM for a moment), more is forgiven (its first pass, where the kernel faults the buffer in; a
// migration's downtime): the rate over any second stays near the one asked for, bursts above it
// last at most as long as it takes to make up 250 ms. Two builds of this one file:
// - Linux (static, riscv64-linux-gnu-gcc -static -O2): `dirtier MIB RATE_MB_PER_S`; clock_gettime
//   and clock_nanosleep (CLOCK_MONOTONIC), output on stdout;
// - bare metal (-DBARE -DBUF_MIB=.. -DRATE=..; test/control/guest.ts buildCGuest): an S-mode guest
//   of the virt board with the built-in SBI: time from the `time` CSR (10 MHz), sleeps with the
//   SBI timer and WFI (interrupts stay disabled globally: WFI wakes on the pending STIP), output on
//   the 16550 UART.
#include <stdint.h>

#define CHUNK_WORDS 8192 /* 64 KiB */

#ifdef BARE
__asm__(".text\n.globl _start\n_start:\n lla sp, stack_top\n call main\n1: j 1b\n"
        ".bss\n.balign 16\n.space 16384\nstack_top:\n.text\n");

#define UART ((volatile uint8_t *)0x10000000)
#define TIMEBASE 10000000ull
#define WORDS ((uint64_t)BUF_MIB * 131072)
static volatile uint64_t buf[WORDS] __attribute__((aligned(4096)));

static void out(const char *s, int n) {
  for (int k = 0; k < n; k++) {
    while (!(UART[5] & 0x20)) {}
    UART[0] = s[k];
  }
}
static uint64_t now_ns(void) {
  uint64_t t;
  __asm__ volatile("rdtime %0" : "=r"(t));
  return t * (1000000000ull / TIMEBASE);
}
static void sleep_until(uint64_t ns) {
  // SBI TIME extension (EID 0x54494D45, set_timer) with STIE enabled and SIE off: WFI returns once
  // the timer is pending, without taking the interrupt.
  register uint64_t a0 __asm__("a0") = ns / (1000000000ull / TIMEBASE);
  register uint64_t a6 __asm__("a6") = 0;
  register uint64_t a7 __asm__("a7") = 0x54494D45;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a6), "r"(a7) : "a1", "memory");
  __asm__ volatile("csrs sie, %0" ::"r"(1 << 5));
  while (now_ns() < ns) __asm__ volatile("wfi");
}
static void halt(void) {
  for (;;) __asm__ volatile("wfi");
}
#else
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t WORDS;
static volatile uint64_t *buf;

static void out(const char *s, int n) {
  while (n > 0) {
    long w = write(1, s, n);
    if (w <= 0) return;
    s += w;
    n -= w;
  }
}
static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}
static void sleep_until(uint64_t ns) {
  struct timespec t = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, 0) != 0) {}
}
static void halt(void) { exit(1); }
#endif

static int fmt_u(char *b, uint64_t v) {
  char t[21];
  int n = 0, k = 0;
  do t[n++] = '0' + v % 10; while ((v /= 10) != 0);
  while (n > 0) b[k++] = t[--n];
  return k;
}

static void run(uint64_t rate_mb) {
  const uint64_t t0 = now_ns();
  uint64_t origin = t0; /* when the schedule began, moved on by the time forgiven */
  uint64_t stored = 0;  /* bytes since t0 */
  char line[80];
  for (uint64_t pass = 1;; pass++) {
    const uint64_t want = (pass - 1) << 32, next = pass << 32;
    for (uint64_t i = 0; i < WORDS; i += CHUNK_WORDS) {
      uint64_t end = i + CHUNK_WORDS < WORDS ? i + CHUNK_WORDS : WORDS;
      for (uint64_t j = i; j < end; j++) {
        if (buf[j] != (pass == 1 ? 0 : (want | j))) {
          int n = 0;
          const char *m = "BAD pass ";
          while (*m) line[n++] = *m++;
          n += fmt_u(line + n, pass);
          m = " word ";
          while (*m) line[n++] = *m++;
          n += fmt_u(line + n, j);
          line[n++] = '\n';
          out(line, n);
          halt();
        }
        buf[j] = next | j;
      }
      stored += (end - i) * 8;
      // bytes * 1000 / (MB/s) = nanoseconds: sleep until the store count is on schedule.
      if (rate_mb != 0) {
        uint64_t due = origin + stored * 1000 / rate_mb, now = now_ns();
        if (now < due) sleep_until(due);
        else if (now - due > 250000000) origin += now - due - 250000000;
      }
    }
    int n = 0;
    line[n++] = 'P';
    n += fmt_u(line + n, pass);
    line[n++] = ' ';
    n += fmt_u(line + n, (now_ns() - t0) / 1000000);
    line[n++] = '\n';
    out(line, n);
  }
}

#ifdef BARE
void main(void) { run(RATE); }
#else
static uint64_t arg(const char *s) {
  uint64_t v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
  return v;
}
int main(int argc, char **argv) {
  if (argc != 3) {
    out("usage: dirtier MIB RATE_MB_PER_S (0: unpaced)\n", 46);
    return 2;
  }
  WORDS = arg(argv[1]) * 131072;
  buf = calloc(WORDS, 8);
  if (!buf) {
    out("dirtier: out of memory\n", 23);
    return 1;
  }
  run(arg(argv[2]));
  return 0;
}
#endif
