// fork, pipes, wait4, execve, exit statuses and signals.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int got;
static void on_usr1(int sig, siginfo_t *si, void *uc) { (void)uc; got = sig + si->si_signo * 100; }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    printf("exec'd child argv[2]=%s\n", argv[2]);
    return 42;
  }
  int p[2];
  if (pipe(p)) return 1;
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    for (int i = 0; i < 1000; i++) write(p[1], "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 128);
    _exit(7);
  }
  close(p[1]);
  long total = 0;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) total += n;
  int st;
  pid_t w = waitpid(c, &st, 0);
  printf("pipe total=%ld waited right child=%d exited=%d code=%d\n", total, w == c, WIFEXITED(st), WEXITSTATUS(st));
  printf("wait again: %d errno=%s\n", (int)waitpid(-1, &st, 0), strerrorname_np(errno));

  c = fork();
  if (c == 0) {
    char *args[] = {argv[0], "child", "xyz", NULL};
    execv(argv[0], args);
    _exit(99);
  }
  waitpid(c, &st, 0);
  printf("exec child exit=%d\n", WEXITSTATUS(st));

  c = fork();
  if (c == 0) { volatile int *bad = (int *)16; *bad = 1; _exit(0); }
  waitpid(c, &st, 0);
  printf("segv child signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));

  c = fork();
  if (c == 0) { pause(); _exit(0); }
  kill(c, SIGTERM);
  waitpid(c, &st, 0);
  printf("killed child sig=%d\n", WTERMSIG(st));

  struct sigaction sa = {0};
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("handler ran: got=%d\n", got);

  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  got = 0;
  kill(getpid(), SIGUSR1);
  printf("blocked: got=%d\n", got);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked: got=%d\n", got);

  signal(SIGPIPE, SIG_IGN);
  int q[2];
  pipe(q);
  close(q[0]);
  errno = 0;
  printf("write to closed pipe: %d errno=%s\n", (int)write(q[1], "x", 1), strerrorname_np(errno));
  printf("getppid>0: %d, getpid!=child: %d\n", getppid() > 0, getpid() != c);
  return 0;
}
