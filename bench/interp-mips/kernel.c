/* CPU-bound integer kernel for the interpreter MIPS benchmark (bench/interp-mips/run.ts).
 * Built with riscv64-linux-gnu-gcc -O2 -static -nostdlib: no libc, only the write and exit system
 * calls, so the same ELF runs under qemu-riscv64 (user mode) and Typevisor's harness.
 * Work per round: fill a buffer from an xorshift generator, CRC-32 it (table-driven), insertion-sort
 * a slice, and fold everything into a checksum that both runs must print identically. */
typedef unsigned long u64;
typedef unsigned int u32;

#ifndef ROUNDS
#define ROUNDS 1500
#endif
#define N 4096
#define SORT_N 192

static u32 table[256];
static u32 buf[N];

static long sys3(long n, long a, long b, long c) {
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  register long a7 __asm__("a7") = n;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
  return a0;
}

static void crc_init(void) {
  for (u32 i = 0; i < 256; i++) {
    u32 c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
}

static u32 crc32(const unsigned char *p, u64 n, u32 crc) {
  crc = ~crc;
  for (u64 i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static void isort(u32 *a, int n) {
  for (int i = 1; i < n; i++) {
    u32 v = a[i];
    int j = i - 1;
    while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
    a[j + 1] = v;
  }
}

void __attribute__((noreturn)) _start(void) {
  crc_init();
  u64 x = 0x9e3779b97f4a7c15ul, sum = 0;
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < N; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      buf[i] = (u32)(x >> 16);
    }
    u32 c = crc32((const unsigned char *)buf, sizeof buf, (u32)r);
    isort(buf + (r & 63) * 16, SORT_N);
    sum = sum * 31 + c + buf[(r & 63) * 16] + buf[(r & 63) * 16 + SORT_N - 1];
  }
  char out[32] = "checksum ";
  for (int i = 0; i < 16; i++) out[9 + i] = "0123456789abcdef"[(sum >> (60 - 4 * i)) & 15];
  out[25] = '\n';
  sys3(64, 1, (long)out, 26);
  sys3(93, 0, 0, 0);
  for (;;) {}
}
