// A minimal KVM user program (Linux KVM API, Documentation/virt/kvm/api.rst) for RISC-V hosts with
// the hypervisor extension. It creates a VM with one vCPU and 64 KiB of guest RAM at 0x80000000,
// loads a small guest that sums 1..a0 and writes the result a1 times to an MMIO address outside
// every memory slot (each write is a KVM_EXIT_MMIO), then shuts down with the SBI SRST call (a
// KVM_EXIT_SYSTEM_EVENT). Output lines the tests parse:
//   KVM-MMIO addr=0x10000000 len=8 value=N      (first MMIO exit)
//   KVM-SHUTDOWN type=T                          (the SBI system reset)
//   KVM-TIME run_ns=... exits=... value=N        (wall time of everything between the first KVM_RUN and the shutdown)
// Usage: kvmguest [n [writes]]   (default n = 100, writes = 1: prints value 5050)
//        kvmguest native n        runs the same summing loop here, in the outer guest's user mode:
//   NATIVE-TIME run_ns=... value=N               (the reference for bench/kvm-nested.ts)
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define GUEST_BASE 0x80000000UL
#define GUEST_SIZE 0x10000UL
#define MMIO_ADDR 0x10000000UL

// The guest: VS-mode code with vsatp = Bare, so addresses are guest-physical.
extern const unsigned char guest_start[], guest_end[];
__asm__(".pushsection .rodata\n"
        ".balign 4\n"
        ".globl guest_start\n"
        "guest_start:\n"
        "  li t0, 0\n"
        "  li t1, 1\n"
        "1: bgtu t1, a0, 2f\n"
        "  add t0, t0, t1\n"
        "  addi t1, t1, 1\n"
        "  j 1b\n"
        "2: li t3, 0x10000000\n"
        "3: sd t0, 0(t3)\n"
        "  addi a1, a1, -1\n"
        "  bgtz a1, 3b\n"
        "  li a7, 0x53525354\n" // SBI SRST extension
        "  li a6, 0\n"          // system_reset
        "  li a0, 0\n"          // shutdown
        "  li a1, 0\n"          // no reason
        "  ecall\n"
        "4: j 4b\n"
        ".globl guest_end\n"
        "guest_end:\n"
        ".popsection\n");

static void die(const char *what) {
  fprintf(stderr, "KVM-FAIL %s: %s\n", what, strerror(errno));
  exit(1);
}

static void set_reg(int vcpu, uint64_t id, uint64_t value) {
  struct kvm_one_reg reg = {.id = id, .addr = (uint64_t)(uintptr_t)&value};
  if (ioctl(vcpu, KVM_SET_ONE_REG, &reg) < 0) die("KVM_SET_ONE_REG");
}

#define CORE_REG(name) (KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CORE | KVM_REG_RISCV_CORE_REG(name))

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/** The guest's loop (same instructions), run natively in this process. */
static uint64_t native_sum(uint64_t n) {
  uint64_t sum, i;
  __asm__ volatile("  li %0, 0\n"
                   "  li %1, 1\n"
                   "1: bgtu %1, %2, 2f\n"
                   "  add %0, %0, %1\n"
                   "  addi %1, %1, 1\n"
                   "  j 1b\n"
                   "2:\n"
                   : "=&r"(sum), "=&r"(i)
                   : "r"(n));
  return sum;
}

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "native") == 0) {
    uint64_t t0 = now_ns(), v = native_sum(strtoull(argv[2], 0, 0));
    printf("NATIVE-TIME run_ns=%llu value=%llu\n", (unsigned long long)(now_ns() - t0), (unsigned long long)v);
    return 0;
  }
  uint64_t n = argc > 1 ? strtoull(argv[1], 0, 0) : 100;
  uint64_t writes = argc > 2 ? strtoull(argv[2], 0, 0) : 1;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die("KVM_GET_API_VERSION");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  unsigned char *mem = mmap(0, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap guest memory");
  memcpy(mem, guest_start, (size_t)(guest_end - guest_start));
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = GUEST_BASE, .memory_size = GUEST_SIZE, .userspace_addr = (uint64_t)(uintptr_t)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int runsz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (runsz <= 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(0, (size_t)runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  set_reg(vcpu, CORE_REG(regs.pc), GUEST_BASE);
  set_reg(vcpu, CORE_REG(regs.a0), n);
  set_reg(vcpu, CORE_REG(regs.a1), writes);
  uint64_t value = 0, exits = 0, t0 = now_ns();
  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    exits++;
    switch (run->exit_reason) {
    case KVM_EXIT_MMIO:
      if (!run->mmio.is_write || run->mmio.phys_addr != MMIO_ADDR || run->mmio.len != 8) {
        fprintf(stderr, "KVM-FAIL unexpected MMIO addr=0x%llx len=%u write=%u\n",
                (unsigned long long)run->mmio.phys_addr, run->mmio.len, run->mmio.is_write);
        return 1;
      }
      memcpy(&value, run->mmio.data, 8);
      if (exits == 1)
        printf("KVM-MMIO addr=0x%llx len=%u value=%llu\n", (unsigned long long)run->mmio.phys_addr, run->mmio.len,
               (unsigned long long)value);
      break;
    case KVM_EXIT_SYSTEM_EVENT: {
      uint64_t t = now_ns() - t0;
      printf("KVM-SHUTDOWN type=%u\n", run->system_event.type);
      printf("KVM-TIME run_ns=%llu exits=%llu value=%llu\n", (unsigned long long)t, (unsigned long long)exits,
             (unsigned long long)value);
      return run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? 0 : 1;
    }
    default:
      fprintf(stderr, "KVM-FAIL exit reason %u\n", run->exit_reason);
      return 1;
    }
  }
}
