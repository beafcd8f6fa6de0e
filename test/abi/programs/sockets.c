// Sockets under `typevisor exec`, compared with qemu-riscv64 (which uses the host's sockets):
// a TCP echo server and client in one program (a thread serves, main connects), UDP, AF_UNIX
// socketpair (stream and datagram), a named AF_UNIX listener with a forked client, SCM_RIGHTS,
// poll/select/epoll/eventfd across sockets and pipes, a non-blocking connect, shutdown and errors.
// Prints nothing that differs between runs (no port numbers, no pids).
// Usage: sockets DIR (a scratch directory for the AF_UNIX socket file).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x)                                                                   \
  do {                                                                             \
    if (!(x)) {                                                                    \
      printf("FAIL line %d: %s (errno %s)\n", __LINE__, #x, strerrorname_np(errno)); \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

static int tcp_listener(struct sockaddr_in *out) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(s >= 0);
  int one = 1;
  CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(s, 8) == 0);
  socklen_t len = sizeof *out;
  CHECK(getsockname(s, (struct sockaddr *)out, &len) == 0);
  CHECK(len == sizeof *out && out->sin_port != 0);
  return s;
}

static void *echo_server(void *arg) {
  int ls = *(int *)arg;
  for (int i = 0; i < 2; i++) {
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int c = accept(ls, (struct sockaddr *)&peer, &len);
    CHECK(c >= 0);
    CHECK(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    char buf[4096];
    long total = 0;
    for (;;) {
      ssize_t n = read(c, buf, sizeof buf);
      CHECK(n >= 0);
      if (n == 0) break;
      total += n;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(c, buf + off, n - off);
        CHECK(w > 0);
        off += w;
      }
    }
    close(c);
    printf("server: connection %d echoed %ld bytes\n", i, total);
  }
  return NULL;
}

static void tcp(void) {
  struct sockaddr_in addr;
  int ls = tcp_listener(&addr);
  int one;
  socklen_t ol = sizeof one;
  CHECK(getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &one, &ol) == 0);
  printf("tcp: listening, SO_ACCEPTCONN=%d\n", one);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, echo_server, &ls) == 0);

  // Client 1: blocking, a large message both ways with the write side shut down at the end.
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(c, (struct sockaddr *)&addr, sizeof addr) == 0);
  one = 1;
  CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
  struct sockaddr_in peer;
  socklen_t len = sizeof peer;
  CHECK(getpeername(c, (struct sockaddr *)&peer, &len) == 0);
  printf("tcp: connected, peer is the listener: %d\n", peer.sin_port == addr.sin_port);
  static char big[300000], back[300000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + 3);
  // Write in pieces and read the echo as it comes, so neither side's buffers fill up.
  size_t sent = 0, got = 0;
  while (got < sizeof big) {
    struct pollfd pf = {.fd = c, .events = POLLIN | (sent < sizeof big ? POLLOUT : 0)};
    CHECK(poll(&pf, 1, 10000) == 1);
    if (pf.revents & POLLOUT) {
      size_t chunk = sizeof big - sent < 8192 ? sizeof big - sent : 8192;
      ssize_t w = send(c, big + sent, chunk, MSG_NOSIGNAL);
      CHECK(w > 0);
      sent += w;
      if (sent == sizeof big) CHECK(shutdown(c, SHUT_WR) == 0);
    }
    if (pf.revents & POLLIN) {
      ssize_t n = recv(c, back + got, sizeof back - got, 0);
      CHECK(n > 0);
      got += n;
    }
  }
  char extra;
  CHECK(recv(c, &extra, 1, 0) == 0);
  printf("tcp: echo of %zu bytes intact: %d, then EOF\n", got, memcmp(big, back, sizeof big) == 0);
  close(c);

  // Client 2: non-blocking connect, completion seen by select, then SO_ERROR.
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int r = connect(c, (struct sockaddr *)&addr, sizeof addr);
  printf("tcp: non-blocking connect: %s\n", r == 0 ? "0" : strerrorname_np(errno));
  fd_set w;
  FD_ZERO(&w);
  FD_SET(c, &w);
  struct timeval tv = {5, 0};
  CHECK(select(c + 1, NULL, &w, NULL, &tv) == 1);
  int err = -1;
  socklen_t el = sizeof err;
  CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
  printf("tcp: writable after select, SO_ERROR=%d\n", err);
  char rb[16];
  r = recv(c, rb, sizeof rb, 0);
  printf("tcp: recv with nothing there: %s\n", r < 0 ? strerrorname_np(errno) : "data?");
  CHECK(send(c, "ping", 4, 0) == 4);
  struct pollfd pf = {.fd = c, .events = POLLIN};
  CHECK(poll(&pf, 1, 5000) == 1);
  r = recv(c, rb, sizeof rb, MSG_PEEK);
  int r2 = recv(c, rb, sizeof rb, 0);
  printf("tcp: peeked %d then read %d: %.*s\n", r, r2, r2, rb);
  close(c);
  CHECK(pthread_join(th, NULL) == 0);
  close(ls);

  // A port nobody listens on.
  c = socket(AF_INET, SOCK_STREAM, 0);
  r = connect(c, (struct sockaddr *)&addr, sizeof addr);
  printf("tcp: connect to a closed port: %d %s\n", r, strerrorname_np(errno));
  close(c);
}

static void udp(void) {
  int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in aa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, ba = aa;
  CHECK(bind(a, (struct sockaddr *)&aa, sizeof aa) == 0);
  CHECK(bind(b, (struct sockaddr *)&ba, sizeof ba) == 0);
  socklen_t len = sizeof aa;
  CHECK(getsockname(a, (struct sockaddr *)&aa, &len) == 0);
  len = sizeof ba;
  CHECK(getsockname(b, (struct sockaddr *)&ba, &len) == 0);
  CHECK(sendto(a, "hello", 5, 0, (struct sockaddr *)&ba, sizeof ba) == 5);
  CHECK(sendto(a, "world!", 6, 0, (struct sockaddr *)&ba, sizeof ba) == 6);
  char buf[64];
  struct sockaddr_in from;
  len = sizeof from;
  ssize_t n = recvfrom(b, buf, 3, 0, (struct sockaddr *)&from, &len);
  printf("udp: truncated datagram %zd '%.*s', from the sender: %d\n", n, (int)n, buf, from.sin_port == aa.sin_port);
  struct iovec iov = {buf, sizeof buf};
  struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
  n = recvmsg(b, &m, 0);
  printf("udp: recvmsg %zd '%.*s' namelen %u flags %d\n", n, (int)n, buf, m.msg_namelen, m.msg_flags);
  CHECK(connect(b, (struct sockaddr *)&aa, sizeof aa) == 0);
  CHECK(send(b, "reply", 5, 0) == 5);
  n = recv(a, buf, sizeof buf, 0);
  printf("udp: connected reply %zd '%.*s'\n", n, (int)n, buf);
  n = recv(a, buf, sizeof buf, MSG_DONTWAIT);
  printf("udp: empty queue: %s\n", n < 0 ? strerrorname_np(errno) : "data?");
  close(a);
  close(b);
}

static void unix_pairs(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(write(sv[0], "abc", 3) == 3);
  char buf[64];
  ssize_t n = read(sv[1], buf, sizeof buf);
  printf("socketpair stream: %zd '%.*s'\n", n, (int)n, buf);
  struct stat st;
  CHECK(fstat(sv[0], &st) == 0);
  printf("socketpair: S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
  int type;
  socklen_t tl = sizeof type;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &tl) == 0);
  printf("socketpair: SO_TYPE %d\n", type);
  // Pass a pipe's read end over the socket (SCM_RIGHTS).
  int p[2];
  CHECK(pipe(p) == 0);
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {"F", 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
  CHECK(sendmsg(sv[0], &m, 0) == 1);
  close(p[0]);
  char rc[CMSG_SPACE(sizeof(int))];
  char one;
  struct iovec riov = {&one, 1};
  struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rc, .msg_controllen = sizeof rc};
  CHECK(recvmsg(sv[1], &rm, 0) == 1);
  struct cmsghdr *rcm = CMSG_FIRSTHDR(&rm);
  CHECK(rcm && rcm->cmsg_type == SCM_RIGHTS);
  int passed;
  memcpy(&passed, CMSG_DATA(rcm), sizeof passed);
  CHECK(write(p[1], "via fd", 6) == 6);
  n = read(passed, buf, sizeof buf);
  printf("SCM_RIGHTS: got '%c', passed fd reads '%.*s'\n", one, (int)n, buf);
  close(passed);
  close(p[1]);
  CHECK(shutdown(sv[0], SHUT_WR) == 0);
  n = read(sv[1], buf, sizeof buf);
  printf("after shutdown(SHUT_WR): read %zd\n", n);
  close(sv[0]);
  n = write(sv[1], "x", 1);
  printf("write to a closed peer: %zd %s\n", n, strerrorname_np(errno));
  close(sv[1]);

  CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) == 0);
  CHECK(send(sv[0], "one", 3, 0) == 3);
  CHECK(send(sv[0], "two!", 4, 0) == 4);
  n = recv(sv[1], buf, 2, 0);
  ssize_t n2 = recv(sv[1], buf + 8, sizeof buf - 8, 0);
  ssize_t n3 = recv(sv[1], buf, sizeof buf, 0);
  printf("socketpair dgram: %zd %zd '%.*s' then %s\n", n, n2, (int)n2, buf + 8, n3 < 0 ? strerrorname_np(errno) : "?");
  close(sv[0]);
  close(sv[1]);
}

static void unix_named(const char *dir) {
  char path[200];
  snprintf(path, sizeof path, "%s/sock", dir);
  unlink(path);
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, path);
  CHECK(bind(ls, (struct sockaddr *)&a, sizeof a) == 0);
  struct stat st;
  CHECK(lstat(path, &st) == 0);
  printf("unix: bound file is a socket: %d\n", S_ISSOCK(st.st_mode));
  int r = bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, sizeof a);
  printf("unix: second bind: %d %s\n", r, strerrorname_np(errno));
  CHECK(listen(ls, 4) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(write(c, "from child", 10) == 10);
    char b[32];
    ssize_t n = read(c, b, sizeof b);
    printf("unix child: got '%.*s'\n", (int)n, b);
    fflush(stdout);
    _exit(0);
  }
  struct sockaddr_un peer;
  socklen_t len = sizeof peer;
  int c = accept(ls, (struct sockaddr *)&peer, &len);
  CHECK(c >= 0);
  printf("unix: accepted, peer address length %u\n", len);
  len = sizeof peer;
  CHECK(getsockname(c, (struct sockaddr *)&peer, &len) == 0);
  printf("unix: accepted socket's name is the path: %d\n", strcmp(peer.sun_path, path) == 0);
  char b[32];
  ssize_t n = read(c, b, sizeof b);
  printf("unix: got '%.*s'\n", (int)n, b);
  CHECK(write(c, "from parent", 11) == 11);
  int status;
  waitpid(pid, &status, 0);
  close(c);
  close(ls);
  CHECK(unlink(path) == 0);
  c = socket(AF_UNIX, SOCK_STREAM, 0);
  r = connect(c, (struct sockaddr *)&a, sizeof a);
  printf("unix: connect after unlink: %d %s\n", r, strerrorname_np(errno));
  close(c);
}

static void event_fds(void) {
  // timerfd: a one-shot timer seen by epoll, then a periodic one read after two periods.
  int ep = epoll_create1(0);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct itimerspec its = {.it_value = {0, 20 * 1000 * 1000}};
  CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0);
  struct itimerspec cur;
  CHECK(timerfd_gettime(tfd, &cur) == 0);
  printf("timerfd: armed %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0);
  uint64_t n;
  printf("timerfd: early read %s\n", read(tfd, &n, 8) < 0 ? strerrorname_np(errno) : "?");
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == 0);
  int r = epoll_wait(ep, &out, 1, 5000);
  CHECK(read(tfd, &n, 8) == 8);
  printf("timerfd: epoll %d data %u, expirations %llu\n", r, out.data.u32, (unsigned long long)n);
  its.it_interval.tv_nsec = 10 * 1000 * 1000;
  its.it_value.tv_nsec = 10 * 1000 * 1000;
  CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0);
  struct timespec ts = {0, 35 * 1000 * 1000};
  nanosleep(&ts, NULL);
  CHECK(read(tfd, &n, 8) == 8);
  printf("timerfd: periodic, at least 2 expirations: %d\n", n >= 2);
  close(tfd);
  close(ep);

  // signalfd: a blocked SIGUSR1 raised, and the SIGCHLD of a child, read instead of delivered.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGCHLD);
  CHECK(sigprocmask(SIG_BLOCK, &mask, NULL) == 0);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  CHECK(sfd >= 0);
  raise(SIGUSR1);
  struct signalfd_siginfo si;
  CHECK(read(sfd, &si, sizeof si) == sizeof si);
  printf("signalfd: signal %u\n", si.ssi_signo);
  pid_t pid = fork();
  if (pid == 0) _exit(5);
  struct pollfd pf = {.fd = sfd, .events = POLLIN};
  CHECK(poll(&pf, 1, 5000) == 1);
  CHECK(read(sfd, &si, sizeof si) == sizeof si);
  printf("signalfd: signal %u after the child exited\n", si.ssi_signo);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  close(sfd);
  CHECK(sigprocmask(SIG_UNBLOCK, &mask, NULL) == 0);
}

static void readiness(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int efd = eventfd(0, EFD_NONBLOCK);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0);
  ev.data.u32 = 2;
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0);
  struct epoll_event out[4];
  printf("epoll: nothing ready: %d\n", epoll_wait(ep, out, 4, 0));
  uint64_t v = 5;
  CHECK(write(efd, &v, 8) == 8);
  CHECK(write(sv[0], "z", 1) == 1);
  int n = epoll_wait(ep, out, 4, 1000);
  unsigned mask = 0;
  for (int i = 0; i < n; i++) mask |= out[i].data.u32;
  printf("epoll: %d ready, mask %u\n", n, mask);
  CHECK(read(efd, &v, 8) == 8);
  printf("eventfd: read %llu, then %s\n", (unsigned long long)v, read(efd, &v, 8) < 0 ? strerrorname_np(errno) : "?");
  close(sv[0]);
  struct pollfd pf = {.fd = sv[1], .events = POLLIN};
  CHECK(poll(&pf, 1, 1000) == 1);
  printf("poll after the peer closed: POLLIN %d POLLHUP %d\n", !!(pf.revents & POLLIN), !!(pf.revents & POLLHUP));
  close(sv[1]);
  close(efd);
  close(ep);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) return 2;
  tcp();
  udp();
  unix_pairs();
  unix_named(argv[1]);
  readiness();
  event_fds();
  int s = socket(AF_NETLINK, SOCK_RAW, 0);
  printf("done\n");
  (void)s;
  return 0;
}
