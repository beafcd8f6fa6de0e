// Says it is ready, then waits for a signal. With an argument, SIGINT is caught and reported.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void on_int(int sig) { printf("caught %d\n", sig); fflush(stdout); _exit(9); }
int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) signal(SIGINT, on_int);
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
