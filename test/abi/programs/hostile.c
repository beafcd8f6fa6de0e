// A hostile program: wild pointers and absurd lengths to system calls. Each call must fail with
// Linux's errno (never crash the host, never touch memory outside the guest).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define T(e) do { errno = 0; long r_ = (long)(e); printf("%-60s -> %ld %s\n", #e, r_, errno ? strerrorname_np(errno) : ""); } while (0)

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  printf("SIGSEGV handler: sig=%d addr=%p code=%d\n", sig, si->si_addr, si->si_code);
  _exit(3);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char ok[16];
  T(syscall(SYS_write, 1, (void *)0x10, 5));
  T(syscall(SYS_write, 1, (void *)0xffffffffffff0000UL, 5));
  T(syscall(SYS_write, 1, (void *)0x7fffffffffffffffUL, 5));
  T(syscall(SYS_read, 0, (void *)0x1000, 100));
  T(syscall(SYS_read, -1, ok, 4));
  T(syscall(SYS_write, 1, ok, -1L));
  T(syscall(SYS_openat, AT_FDCWD, (void *)0x20, O_RDONLY));
  T(syscall(SYS_openat, AT_FDCWD, (void *)-1L, O_RDONLY));
  T(syscall(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  T(syscall(SYS_mmap, 0, -4096L, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  T(syscall(SYS_mmap, 0x1001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  T(syscall(SYS_munmap, 0x1001, 4096));
  T(syscall(SYS_mprotect, 0x7000000000UL, 4096, PROT_READ));
  T(syscall(SYS_getcwd, (void *)0x30, 100));
  T(syscall(SYS_getcwd, ok, 1));
  T(syscall(SYS_pipe2, (void *)0x40, 0));
  T(syscall(SYS_clock_gettime, 0, (void *)0x50));
  T(syscall(SYS_clock_gettime, 12345, ok));
  T(syscall(SYS_uname, (void *)0x60));
  T(syscall(SYS_readv, 1, (void *)0x70, 2));
  T(syscall(SYS_writev, 1, ok, 100000));
  T(syscall(SYS_execve, (void *)0x80, 0, 0));
  T(syscall(SYS_rt_sigaction, 9, ok, 0, 8));
  T(syscall(SYS_rt_sigaction, 10, 0, 0, 3));
  T(syscall(SYS_getdents64, 1, ok, sizeof ok));
  T(syscall(SYS_lseek, 1, 0, 99));
  T(syscall(SYS_wait4, -1, 0, 0, 0));
  T(syscall(SYS_kill, 999999, 0));
  T(syscall(SYS_fstat, 555, ok));
  T(syscall(SYS_dup3, 1, 1, 0));
  T(syscall(SYS_close, 4096));
  T(syscall(9999));
  char *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  m[0] = 'A';
  T(munmap(m + 4096, 4096));
  T(syscall(SYS_write, 1, m + 4090, 10));
  T(mprotect(m, 4096, PROT_READ));
  T(syscall(SYS_read, 0, m, 1));
  pid_t c = fork();
  if (c == 0) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    *(volatile int *)0x1234 = 5;
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child with SIGSEGV handler exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));
  c = fork();
  if (c == 0) { *(volatile char *)m = 'B'; _exit(0); }
  waitpid(c, &st, 0);
  printf("store to read-only page: signaled=%d sig=%d core=%d\n", WIFSIGNALED(st), WTERMSIG(st), WCOREDUMP(st) != 0);
  printf("survived\n");
  return 0;
}
