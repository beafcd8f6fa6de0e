// A dynamically linked program for `exec -L`: its interpreter and libc come from the sysroot, its
// input file from the working directory, which stays the user's (as under qemu-riscv64 -L).
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char cwd[512];
  getcwd(cwd, sizeof cwd);
  printf("hello from %s, cwd %s\n", argv[0], cwd);
  FILE *f = fopen("input.txt", "r");
  char line[64] = "";
  if (f && fgets(line, sizeof line, f)) printf("read %s", line);
  return 3;
}
