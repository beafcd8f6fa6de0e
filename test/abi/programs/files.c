// File and directory system calls: results printed so qemu-riscv64 and typevisor can be compared.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHECK(e) printf("%-40s -> %ld errno=%s\n", #e, (long)(e), errno ? strerrorname_np(errno) : "0"), errno = 0

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  errno = 0;
  CHECK(chdir(argv[1]));
  CHECK(mkdir("d", 0755));
  CHECK(mkdir("d", 0755));
  int fd = open("d/f.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK(fd >= 3);
  CHECK(write(fd, "hello world\n", 12));
  CHECK(lseek(fd, 0, SEEK_CUR));
  CHECK(lseek(fd, 6, SEEK_SET));
  char buf[64] = {0};
  CHECK(read(fd, buf, sizeof buf));
  printf("read back: %s", buf);
  CHECK(pwrite(fd, "HELLO", 5, 0));
  memset(buf, 0, sizeof buf);
  CHECK(pread(fd, buf, 5, 0));
  printf("pread: %s\n", buf);
  struct iovec iov[2] = {{"ab", 2}, {"cd\n", 3}};
  CHECK(lseek(fd, 0, SEEK_END));
  CHECK(writev(fd, iov, 2));
  struct stat st;
  CHECK(fstat(fd, &st));
  printf("size=%ld mode=%o nlink=%ld isreg=%d\n", (long)st.st_size, st.st_mode & 07777, (long)st.st_nlink, S_ISREG(st.st_mode));
  CHECK(ftruncate(fd, 4));
  CHECK(fstat(fd, &st));
  printf("size after truncate=%ld\n", (long)st.st_size);
  CHECK(close(fd));
  CHECK(close(fd));
  CHECK(stat("d/nope", &st));
  CHECK(symlink("f.txt", "d/link"));
  CHECK(lstat("d/link", &st));
  printf("link is symlink=%d size=%ld\n", S_ISLNK(st.st_mode), (long)st.st_size);
  CHECK(stat("d/link", &st));
  printf("target size=%ld\n", (long)st.st_size);
  char lb[64] = {0};
  CHECK(readlink("d/link", lb, sizeof lb));
  printf("readlink=%s\n", lb);
  CHECK(rename("d/f.txt", "d/g.txt"));
  CHECK(access("d/g.txt", R_OK | W_OK));
  CHECK(access("d/f.txt", F_OK));
  CHECK(chmod("d/g.txt", 0600));
  CHECK(stat("d/g.txt", &st));
  printf("mode now %o\n", st.st_mode & 07777);
  CHECK(mkdir("d/sub", 0700));
  CHECK(rmdir("d"));
  DIR *dir = opendir("d");
  char *names[16];
  int n = 0;
  struct dirent *de;
  while ((de = readdir(dir)) && n < 16) names[n++] = strdup(de->d_name);
  closedir(dir);
  qsort(names, n, sizeof *names, cmp);
  for (int i = 0; i < n; i++) printf("entry %s\n", names[i]);
  CHECK(unlink("d/link"));
  CHECK(unlink("d/g.txt"));
  CHECK(unlink("d/sub"));
  CHECK(rmdir("d/sub"));
  CHECK(rmdir("d"));
  char cwd[256];
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK(open("/nonexistent/x", O_RDONLY));
  CHECK(open(argv[1], O_WRONLY));
  CHECK(dup2(1, 10));
  CHECK(fcntl(10, F_GETFD));
  CHECK(fcntl(10, F_SETFD, FD_CLOEXEC));
  CHECK(fcntl(10, F_GETFD));
  CHECK(dup(99));
  CHECK(umask(077));
  CHECK(umask(022));
  return 0;
}
