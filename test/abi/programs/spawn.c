// vfork and posix_spawn: the child runs in the parent's memory until it execs, so posix_spawn
// sees an exec failure (reported through that shared memory) as Linux makes it.
#include <stdio.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/wait.h>
extern char **environ;
int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) { printf("spawned child %s\n", argv[1]); return 5; }
  pid_t c = vfork();
  if (c == 0) { execl(argv[0], argv[0], "via-vfork", (char *)0); _exit(127); }
  int st; waitpid(c, &st, 0); printf("vfork child exit %d\n", WEXITSTATUS(st));
  char *a[] = {argv[0], "via-posix_spawn", NULL};
  int r = posix_spawn(&c, argv[0], NULL, NULL, a, environ);
  waitpid(c, &st, 0); printf("posix_spawn r=%d exit %d\n", r, WEXITSTATUS(st));
  char *b[] = {"/nonexistent", NULL};
  r = posix_spawn(&c, "/nonexistent", NULL, NULL, b, environ);
  printf("posix_spawn of missing file r=%d\n", r);
  return 0;
}
