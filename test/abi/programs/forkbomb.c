// A fork bomb: every process forks as fast as it can. Linux stops it at RLIMIT_NPROC with EAGAIN
// (or ENOMEM when memory runs out); the first process reports which and exits, which ends
// `typevisor exec` (and the rest of the bomb with it).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct rlimit rl;
  getrlimit(RLIMIT_NPROC, &rl);
  pid_t me = getpid();
  long forks = 0;
  for (;;) {
    pid_t c = fork();
    if (c < 0) {
      if (getpid() == me) {
        printf("fork failed after %ld: %s (RLIMIT_NPROC %llu)\n", forks, errno == EAGAIN ? "EAGAIN" : errno == ENOMEM ? "ENOMEM" : strerror(errno), (unsigned long long)rl.rlim_cur);
        return 0;
      }
      pause(); // a bomb child that cannot fork any more just sits there
    }
    if (c > 0) forks++;
  }
}
