// Memory exhaustion: mappings that no memory could back fail with ENOMEM (mmap and brk), and a
// child that touches more memory than there is is killed (SIGKILL, Linux's OOM killer) while the
// parent goes on.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  size_t huge = (size_t)64 << 30; // 64 GiB: more than the memory of the test's machine
  void *m = mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap 64 GiB: %s\n", m == MAP_FAILED ? (errno == ENOMEM ? "ENOMEM" : strerror(errno)) : "mapped");
  void *b0 = sbrk(0);
  void *b1 = (void *)-1;
  errno = 0;
  b1 = sbrk((intptr_t)huge);
  printf("sbrk 64 GiB: %s\n", b1 == (void *)-1 ? (errno == ENOMEM ? "ENOMEM" : strerror(errno)) : "grew");
  printf("brk unchanged: %d\n", sbrk(0) == b0);
  // Reserving address space without touching it is fine (Linux overcommits too).
  size_t chunk = (size_t)atol(argc > 1 ? argv[1] : "16") << 20;
  int n = 0;
  while (n < 64 && mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) n++;
  printf("untouched %zu MiB mappings: %d\n", chunk >> 20, n);
  pid_t c = fork();
  if (c == 0) {
    for (;;) {
      char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) { printf("child: mmap failed first: %s\n", strerror(errno)); _exit(3); }
      memset(p, 1, chunk);
    }
  }
  int st;
  waitpid(c, &st, 0);
  printf("child: %s %d\n", WIFSIGNALED(st) ? "killed by signal" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  char *again = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(again, 2, chunk);
  printf("parent touched %zu MiB after the child died: %d\n", chunk >> 20, again[chunk - 1]);
  return 0;
}
