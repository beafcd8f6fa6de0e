// Initial stack and auxv, environment, poll timeouts, time, identity and terminal ioctls.
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  printf("argc=%d argv1=%s\n", argc, argc > 1 ? argv[1] : "-");
  printf("FOO=%s\n", getenv("FOO") ? getenv("FOO") : "(unset)");
  printf("pagesz=%lu\n", getauxval(AT_PAGESZ));
  unsigned long hw = getauxval(AT_HWCAP);
  printf("hwcap IMAFDC=%d\n", (hw & 0x112d) == 0x112d);
  printf("random set=%d\n", getauxval(AT_RANDOM) != 0);
  printf("execfn=%s\n", (char *)getauxval(AT_EXECFN));
  Elf64_Phdr *ph = (Elf64_Phdr *)getauxval(AT_PHDR);
  printf("phent=%lu phnum>0=%d first phdr type sane=%d\n", getauxval(AT_PHENT), getauxval(AT_PHNUM) > 0, ph[0].p_type < 0x70000000 || ph[0].p_type >= 0x60000000);
  printf("entry is main's segment=%d\n", getauxval(AT_ENTRY) != 0);
  printf("sp aligned=%d\n", ((unsigned long)__builtin_frame_address(0) & 15) == 0);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct pollfd none;
  int r = poll(&none, 0, 50);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  printf("poll timeout r=%d waited>=50ms=%d\n", r, ms >= 49);
  struct timespec req = {0, 20 * 1000000};
  printf("nanosleep=%d\n", nanosleep(&req, NULL));
  struct utsname u;
  uname(&u);
  printf("uname %s %s\n", u.sysname, u.machine);
  struct termios t;
  errno = 0;
  printf("tcgetattr on a pipe/file=%d %s\n", tcgetattr(1, &t), strerror(errno));
  char *big = mmap(0, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (long i = 0; i < (64 << 20); i += 1 << 20) big[i] = 1;
  big = mremap(big, 64 << 20, 128 << 20, MREMAP_MAYMOVE);
  printf("mremap ok=%d kept=%d\n", big != MAP_FAILED, big[1 << 20]);
  return 0;
}
