// Attempts to leave a chroot-like root (issue 12, item 1). Run inside a root that holds a symlink
// "/l" to a directory outside it (argv[1] is that directory's host path, to plant host-absolute
// symlinks). The same source is built for riscv64 (under `typevisor exec --root`) and for the host
// (under chroot(8), the real kernel's answer): both must print the same lines.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EEXIST: return "EEXIST";
    case ELOOP: return "ELOOP";
    case EACCES: return "EACCES";
    case EISDIR: return "EISDIR";
    case EXDEV: return "EXDEV";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ENOTEMPTY: return "ENOTEMPTY";
    default: { static char b[32]; snprintf(b, sizeof b, "errno %d", e); return b; }
  }
}

static void rep(const char *what, int r) { printf("%s: %s\n", what, r < 0 ? en(errno) : "ok"); }

static void readfile(const char *what, int dirfd, const char *path) {
  int fd = openat(dirfd, path, O_RDONLY);
  if (fd < 0) { printf("%s: %s\n", what, en(errno)); return; }
  char b[64] = {0};
  ssize_t n = read(fd, b, sizeof b - 1);
  printf("%s: read %zd \"%s\"\n", what, n, n > 0 ? b : "");
  close(fd);
}

static int entries(int fd) {
  char buf[4096];
  int count = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) return n < 0 ? -1 : count;
    for (long o = 0; o < n;) {
      unsigned short reclen = *(unsigned short *)(buf + o + 16);
      const char *name = buf + o + 19;
      if (strcmp(name, ".") && strcmp(name, "..")) count++;
      o += reclen;
    }
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "child") == 0) { printf("ESCAPED: a host program ran\n"); return 42; }
  const char *outside = argc > 1 ? argv[1] : "/nonexistent";
  struct stat st;

  // A missing component followed by "..": Linux stops at the missing one (ENOENT).
  readfile("open /x/../l/secret", AT_FDCWD, "/x/../l/secret");
  rep("creat /x/../l/pwned", open("/x/../l/pwned", O_WRONLY | O_CREAT, 0644));
  rep("rename /inside -> /x/../l/inside", rename("/inside", "/x/../l/inside"));
  rep("rename /x/../l/secret -> /stolen", rename("/x/../l/secret", "/stolen"));
  rep("symlink /x/../l/sym", symlink("anything", "/x/../l/sym"));
  rep("link /inside -> /x/../l/hard", link("/inside", "/x/../l/hard"));
  rep("link /x/../l/secret -> /hard", link("/x/../l/secret", "/hard"));
  rep("mkdir /x/../l/newdir", mkdir("/x/../l/newdir", 0755));
  rep("stat /x/../l/secret", stat("/x/../l/secret", &st));
  rep("lstat /x/../l/secret", lstat("/x/../l/secret", &st));
  rep("access /x/../l/secret", access("/x/../l/secret", R_OK));
  rep("truncate /x/../l/secret", truncate("/x/../l/secret", 0));
  rep("chmod /x/../l/secret", chmod("/x/../l/secret", 0777));
  rep("unlink /x/../l/secret", unlink("/x/../l/secret"));
  char lb[256];
  rep("readlink /x/../l/alink", (int)readlink("/x/../l/alink", lb, sizeof lb));
  rep("chdir /x/../l", chdir("/x/../l"));
  int root = open("/", O_RDONLY | O_DIRECTORY);
  readfile("openat(/, x/../l/secret)", root, "x/../l/secret");
  rep("mkdirat(/, x/../l/d2)", mkdirat(root, "x/../l/d2", 0755));
  rep("renameat(/, inside, /, x/../l/i2)", renameat(root, "inside", root, "x/../l/i2"));
  rep("symlinkat(/, x/../l/s2)", symlinkat("t", root, "x/../l/s2"));
  rep("fstatat(/, x/../l/secret)", fstatat(root, "x/../l/secret", &st, 0));
  // A regular file is not a directory, even when ".." follows it.
  rep("stat /inside/../l/secret", stat("/inside/../l/secret", &st));
  // Symlinks whose text uses the same trick, or names the outside directory by its host path.
  rep("symlink /s1 -> /x/../l/secret", symlink("/x/../l/secret", "/s1"));
  readfile("open /s1", AT_FDCWD, "/s1");
  rep("creat through /dang -> /x/../l/created", open("/dang", O_WRONLY | O_CREAT, 0644));
  char hostabs[512];
  snprintf(hostabs, sizeof hostabs, "%s/created2", outside);
  rep("symlink /dang2 -> OUTSIDE/created2", symlink(hostabs, "/dang2"));
  rep("creat through /dang2", open("/dang2", O_WRONLY | O_CREAT, 0644));
  rep("symlink /ol -> OUTSIDE", symlink(outside, "/ol"));
  readfile("open /ol/secret", AT_FDCWD, "/ol/secret");
  // The working directory and a directory descriptor replaced by a symlink to the outside.
  rep("mkdir /d", mkdir("/d", 0755));
  rep("chdir /d", chdir("/d"));
  rep("rmdir /d", rmdir("/d"));
  rep("symlink /d -> OUTSIDE", symlink(outside, "/d"));
  readfile("open secret (cwd /d replaced)", AT_FDCWD, "secret");
  rep("creat pwned2 (cwd /d replaced)", open("pwned2", O_WRONLY | O_CREAT, 0644));
  rep("chdir /", chdir("/"));
  rep("mkdir /e", mkdir("/e", 0755));
  int e = open("/e", O_RDONLY | O_DIRECTORY);
  rep("rmdir /e", rmdir("/e"));
  rep("symlink /e -> OUTSIDE", symlink(outside, "/e"));
  printf("getdents(fd of removed /e): %d entries\n", entries(e));
  readfile("openat(fd of removed /e, secret)", e, "secret");
  rep("mkdirat(fd of removed /e, d3)", mkdirat(e, "d3", 0755));
  // Executing a program outside the root.
  pid_t c = fork();
  if (c == 0) {
    char *a[] = {"/x/../l/hostprog", "child", NULL};
    execv(a[0], a);
    printf("execv /x/../l/hostprog: %s\n", en(errno));
    _exit(1);
  }
  int ws;
  waitpid(c, &ws, 0);
  printf("child exit %d\n", WEXITSTATUS(ws));
  // A FIFO is not a program: execve refuses it without blocking on the open.
  char *f[] = {"/fifo", NULL};
  execv(f[0], f);
  printf("execv /fifo: %s\n", en(errno));
  return 0;
}
