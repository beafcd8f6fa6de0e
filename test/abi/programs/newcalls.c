// close_range, copy_file_range, waitid, epoll over pipes (and a regular file, which epoll refuses),
// and interval timers that deliver SIGALRM while the process computes and while it sleeps
// (issue 15). Output must match qemu-riscv64's. argv[1] is a scratch directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "ok";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case EPERM: return "EPERM";
    case ECHILD: return "ECHILD";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    default: { static char b[32]; snprintf(b, sizeof b, "errno %d", e); return b; }
  }
}
#define R(what, expr) do { errno = 0; long r_ = (long)(expr); printf("%s = %ld %s\n", what, r_, r_ < 0 ? en(errno) : ""); } while (0)

static volatile int alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char path[512], path2[512];
  snprintf(path, sizeof path, "%s/src", argc > 1 ? argv[1] : "/tmp");
  snprintf(path2, sizeof path2, "%s/dst", argc > 1 ? argv[1] : "/tmp");

  // close_range
  for (int i = 0; i < 4; i++) dup2(1, 10 + i);
  R("close_range(11, 12, 0)", syscall(SYS_close_range, 11, 12, 0));
  printf("fcntl 10/11/12/13: %d %d %d %d\n", fcntl(10, F_GETFD) >= 0, fcntl(11, F_GETFD) >= 0, fcntl(12, F_GETFD) >= 0, fcntl(13, F_GETFD) >= 0);
  R("close_range(10, 13, CLOEXEC)", syscall(SYS_close_range, 10, 13, 4));
  printf("cloexec 10/13: %d %d\n", fcntl(10, F_GETFD), fcntl(13, F_GETFD));
  R("close_range(5, 4, 0)", syscall(SYS_close_range, 5, 4, 0));
  R("close_range(10, ~0, 0)", syscall(SYS_close_range, 10, ~0U, 0));
  printf("fcntl 10 after: %d\n", fcntl(10, F_GETFD) >= 0);
  R("close_range bad flag", syscall(SYS_close_range, 10, 20, 0x100));

  // copy_file_range
  int in = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  write(in, "0123456789abcdefghij", 20);
  int out = open(path2, O_RDWR | O_CREAT | O_TRUNC, 0644);
  loff_t oi = 5, oo = 2;
  R("copy_file_range(in@5, out@2, 8)", copy_file_range(in, &oi, out, &oo, 8, 0));
  printf("offsets now %lld %lld, file pos in=%ld out=%ld\n", (long long)oi, (long long)oo, (long)lseek(in, 0, SEEK_CUR), (long)lseek(out, 0, SEEK_CUR));
  lseek(in, 15, SEEK_SET);
  R("copy_file_range(in, out, 100) at file offsets", copy_file_range(in, NULL, out, NULL, 100, 0));
  printf("file pos in=%ld out=%ld\n", (long)lseek(in, 0, SEEK_CUR), (long)lseek(out, 0, SEEK_CUR));
  R("copy_file_range at EOF", copy_file_range(in, NULL, out, NULL, 100, 0));
  char buf[64] = {0};
  pread(out, buf, sizeof buf - 1, 0);
  printf("dst: ");
  for (int i = 0; i < 12; i++) putchar(buf[i] ? buf[i] : '.');
  putchar('\n');
  R("copy_file_range flags=1", copy_file_range(in, NULL, out, NULL, 1, 1));
  R("copy_file_range bad fd", copy_file_range(99, NULL, out, NULL, 1, 0));
  int ro = open(path, O_RDONLY);
  R("copy_file_range to read-only", copy_file_range(in, NULL, ro, NULL, 1, 0));
  close(ro);

  // waitid
  pid_t c = fork();
  if (c == 0) _exit(7);
  siginfo_t si;
  memset(&si, 0xff, sizeof si);
  R("waitid(P_PID, WEXITED|WNOWAIT)", waitid(P_PID, c, &si, WEXITED | WNOWAIT));
  printf("  signo=%d code=%d pid_ok=%d status=%d\n", si.si_signo, si.si_code, si.si_pid == c, si.si_status);
  memset(&si, 0xff, sizeof si);
  R("waitid(P_ALL, WEXITED)", waitid(P_ALL, 0, &si, WEXITED));
  printf("  signo=%d code=%d pid_ok=%d status=%d\n", si.si_signo, si.si_code, si.si_pid == c, si.si_status);
  R("waitid again", waitid(P_ALL, 0, &si, WEXITED));
  c = fork();
  if (c == 0) { pause(); _exit(0); }
  memset(&si, 0xff, sizeof si);
  R("waitid WNOHANG running child", waitid(P_PID, c, &si, WEXITED | WNOHANG));
  printf("  signo=%d pid=%d\n", si.si_signo, si.si_pid);
  kill(c, SIGKILL);
  R("waitid killed child", waitid(P_PID, c, &si, WEXITED));
  printf("  signo=%d code=%d status=%d\n", si.si_signo, si.si_code, si.si_status);
  R("waitid no flags", waitid(P_ALL, 0, &si, 0));

  // epoll over pipes
  int ep = epoll_create1(EPOLL_CLOEXEC);
  printf("epoll cloexec: %d\n", fcntl(ep, F_GETFD));
  int p1[2], p2[2];
  pipe(p1);
  pipe(p2);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1111};
  R("epoll_ctl ADD p1[0]", epoll_ctl(ep, EPOLL_CTL_ADD, p1[0], &ev));
  R("epoll_ctl ADD p1[0] again", epoll_ctl(ep, EPOLL_CTL_ADD, p1[0], &ev));
  ev.events = EPOLLOUT; ev.data.u64 = 0x2222;
  R("epoll_ctl ADD p2[1]", epoll_ctl(ep, EPOLL_CTL_ADD, p2[1], &ev));
  R("epoll_ctl MOD missing", epoll_ctl(ep, EPOLL_CTL_MOD, p2[0], &ev));
  R("epoll_ctl ADD regular file", epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev));
  R("epoll_ctl ADD itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
  R("epoll_ctl on a pipe", epoll_ctl(p1[0], EPOLL_CTL_ADD, p2[0], &ev));
  struct epoll_event got[4];
  int n = epoll_wait(ep, got, 4, 0);
  printf("epoll_wait: %d", n);
  for (int i = 0; i < n; i++) printf(" [%#llx %#x]", (unsigned long long)got[i].data.u64, got[i].events);
  printf("\n");
  ev.events = EPOLLIN; ev.data.u64 = 0x2222;
  R("epoll_ctl MOD p2[1] to IN", epoll_ctl(ep, EPOLL_CTL_MOD, p2[1], &ev));
  R("epoll_wait timeout 30ms", epoll_wait(ep, got, 4, 30));
  pid_t w = fork();
  if (w == 0) { usleep(50000); write(p1[1], "x", 1); _exit(0); }
  n = epoll_wait(ep, got, 4, -1);
  printf("epoll_wait blocking: %d [%#llx %#x]\n", n, (unsigned long long)got[0].data.u64, got[0].events);
  waitpid(w, NULL, 0);
  close(p1[1]);
  n = epoll_wait(ep, got, 4, 0);
  printf("after writer closed: %d [%#llx %#x]\n", n, (unsigned long long)got[0].data.u64, got[0].events);
  R("epoll_ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, p1[0], NULL));
  R("epoll_wait empty", epoll_wait(ep, got, 4, 0));
  R("epoll_wait maxevents 0", epoll_wait(ep, got, 0, 0));
  close(ep);

  // interval timers: SIGALRM while computing and while blocked
  signal(SIGALRM, on_alarm);
  struct itimerval it = {.it_interval = {0, 20000}, .it_value = {0, 20000}};
  R("setitimer(ITIMER_REAL, 20ms periodic)", setitimer(ITIMER_REAL, &it, NULL));
  volatile unsigned long spin = 0;
  while (alarms < 3) spin++;
  printf("3 alarms while computing\n");
  struct itimerval cur;
  getitimer(ITIMER_REAL, &cur);
  printf("getitimer: interval=%ld armed=%d\n", (long)cur.it_interval.tv_usec, cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 20000);
  struct itimerval zero = {0};
  setitimer(ITIMER_REAL, &zero, &cur);
  printf("disarmed, old interval=%ld\n", (long)cur.it_interval.tv_usec);
  alarms = 0;
  alarm(1);
  R("alarm(5) returns the seconds left", alarm(5) );
  alarm(0);
  it.it_interval.tv_usec = 0; it.it_value.tv_usec = 30000;
  setitimer(ITIMER_REAL, &it, NULL);
  R("pause() until SIGALRM", pause());
  printf("alarms=%d\n", alarms);
  it.it_value.tv_usec = 30000;
  setitimer(ITIMER_REAL, &it, NULL);
  struct timespec ts = {5, 0};
  R("nanosleep(5s) cut by SIGALRM", nanosleep(&ts, NULL));
  printf("alarms=%d\n", alarms);
  // Default action: SIGALRM terminates.
  c = fork();
  if (c == 0) { signal(SIGALRM, SIG_DFL); alarm(1); for (;;) pause(); }
  int st;
  waitpid(c, &st, 0);
  printf("child with default SIGALRM: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
  unlink(path);
  unlink(path2);
  // POSIX timers (timer_create: coreutils' timeout uses them): a one-shot SIGUSR2 caught in
  // pause(), a periodic SIGALRM counted while computing, timer_gettime, timer_delete.
  {
    static struct sigaction sa2;
    sa2.sa_handler = on_alarm;
    sigaction(SIGUSR2, &sa2, NULL);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
    timer_t tid;
    R("timer_create", timer_create(CLOCK_MONOTONIC, &sev, &tid));
    struct itimerspec its = {.it_value = {0, 20 * 1000 * 1000}}, cur;
    R("timer_settime one-shot", timer_settime(tid, 0, &its, NULL));
    timer_gettime(tid, &cur);
    printf("timer armed: %d\n", cur.it_value.tv_nsec > 0 || cur.it_value.tv_sec > 0);
    alarms = 0;
    pause();
    printf("timer fired: %d\n", alarms);
    timer_gettime(tid, &cur);
    printf("timer disarmed after: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
    R("timer_delete", timer_delete(tid));
    R("timer_delete again", timer_delete(tid));
    timer_t t2;
    R("timer_create(NULL sevp)", timer_create(CLOCK_REALTIME, NULL, &t2));
    its.it_interval.tv_nsec = its.it_value.tv_nsec = 10 * 1000 * 1000;
    alarms = 0;
    timer_settime(t2, 0, &its, NULL);
    volatile unsigned long spin = 0;
    while (alarms < 3) spin++;
    printf("3 periodic SIGALRMs while computing\n");
    timer_delete(t2);
  }
  // Extended attributes: none to read (ENODATA, or EOPNOTSUPP where the file system has none),
  // and a missing file is still ENOENT.
  {
    char v[16];
    ssize_t r = getxattr("/", "user.typevisor", v, sizeof v);
    printf("getxattr: %zd %s\n", r, r < 0 && (errno == ENODATA || errno == EOPNOTSUPP) ? "none" : strerror(errno));
    r = llistxattr("/nonexistent/x", v, sizeof v);
    printf("llistxattr missing: %zd %s\n", r, strerror(errno));
  }
  return 0;
}
