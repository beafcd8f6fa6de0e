// A bare-metal S-mode guest for the daemon-restart test: drives the first virtio-blk device
// (virtio-mmio version 2, virtio 1.2 §4.2.2; split virtqueue §2.7, polled, no interrupts) and
// writes numbered records in a loop: record n goes to sector n % NSECT (bytes: "TVDK", n, then
// a pattern of n), and "W<n>" is printed on the 16550 UART once the device has completed it;
// every 16 records a FLUSH (§5.2.6, VIRTIO_BLK_T_FLUSH) is issued.
#include <stdint.h>

// The entry point first (the board jumps to the load address of a raw binary), with a 16 KiB stack.
__asm__(".text\n.globl _start\n_start:\n lla sp, stack_top\n call main\n1: j 1b\n"
        ".bss\n.balign 16\n.space 16384\nstack_top:\n.text\n");

#define NSECT 64
#define UART ((volatile uint8_t *)0x10000000)
#define REG(b, off) (*(volatile uint32_t *)((b) + (off)))

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct avail { uint16_t flags, idx, ring[8], used_event; };
struct used_elem { uint32_t id, len; };
struct used { uint16_t flags, idx; struct used_elem ring[8]; uint16_t avail_event; };
struct req { uint32_t type, reserved; uint64_t sector; };

static struct desc desc[8] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct req req;
static uint8_t data[512];
static volatile uint8_t status;
static uint16_t used_seen;

static void putc_(char c) { while (!(UART[5] & 0x20)) {} UART[0] = c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void putu(uint64_t v) {
  char b[21];
  int i = 20;
  b[i] = 0;
  do { b[--i] = '0' + v % 10; v /= 10; } while (v);
  puts_(b + i);
}
static void halt(const char *why) { puts_(why); for (;;) {} }

static void submit(uintptr_t base, uint32_t type, uint64_t sector) {
  req.type = type;
  req.sector = sector;
  status = 0xff;
  desc[0] = (struct desc){ (uintptr_t)&req, sizeof req, 1, 1 };
  if (type == 1) {
    desc[1] = (struct desc){ (uintptr_t)data, sizeof data, 1, 2 };
    desc[2] = (struct desc){ (uintptr_t)&status, 1, 2, 0 };
  } else {
    desc[0].next = 2;
    desc[2] = (struct desc){ (uintptr_t)&status, 1, 2, 0 };
  }
  avail.ring[avail.idx % 8] = 0;
  __sync_synchronize();
  avail.idx++;
  __sync_synchronize();
  REG(base, 0x050) = 0;
  while (*(volatile uint16_t *)&used.idx == used_seen) {}
  used_seen++;
  __sync_synchronize();
  if (status != 0) halt("IO-ERROR\n");
}

void main(void) {
  uintptr_t base = 0;
  for (int i = 0; i < 8 && !base; i++) {
    uintptr_t b = 0x10001000 + i * 0x1000;
    if (REG(b, 0x000) == 0x74726976 && REG(b, 0x008) == 2) base = b;
  }
  if (!base) halt("NO-DISK\n");
  REG(base, 0x070) = 0;
  REG(base, 0x070) = 1 | 2;
  REG(base, 0x024) = 0; REG(base, 0x020) = 1u << 9;  // VIRTIO_BLK_F_FLUSH
  REG(base, 0x024) = 1; REG(base, 0x020) = 1;        // VIRTIO_F_VERSION_1 (bit 32)
  REG(base, 0x070) = 1 | 2 | 8;
  if (!(REG(base, 0x070) & 8)) halt("FEATURES-REFUSED\n");
  REG(base, 0x030) = 0;
  if (REG(base, 0x034) < 8) halt("QUEUE-TOO-SMALL\n");
  REG(base, 0x038) = 8;
  REG(base, 0x080) = (uint32_t)(uintptr_t)desc; REG(base, 0x084) = 0;
  REG(base, 0x090) = (uint32_t)(uintptr_t)&avail; REG(base, 0x094) = 0;
  REG(base, 0x0a0) = (uint32_t)(uintptr_t)&used; REG(base, 0x0a4) = 0;
  REG(base, 0x044) = 1;
  REG(base, 0x070) = 1 | 2 | 4 | 8;
  puts_("TV-DISK-READY\n");
  for (uint64_t n = 1;; n++) {
    for (int i = 0; i < 512; i++) data[i] = (uint8_t)(n * 31 + i);
    data[0] = 'T'; data[1] = 'V'; data[2] = 'D'; data[3] = 'K';
    for (int i = 0; i < 8; i++) data[4 + i] = (uint8_t)(n >> (8 * i));
    submit(base, 1, n % NSECT);
    if (n % 16 == 0) submit(base, 4, 0);
    puts_("W"); putu(n); puts_("\n");
    for (volatile int d = 0; d < 20000; d++) {}
  }
}

