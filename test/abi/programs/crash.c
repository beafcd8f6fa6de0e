// Writes through a null pointer unless given an argument.
#include <stdio.h>
int main(int argc, char **argv) {
  (void)argv;
  printf("before\n");
  fflush(stdout);
  if (argc > 1) { printf("no crash requested\n"); return 0; }
  *(volatile int *)0 = 1;
  return 0;
}
