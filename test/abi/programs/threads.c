// POSIX threads (issue 15): 8 threads with a mutex, a condition variable, a barrier and
// thread-local storage, pthread_join, a thread that signals itself (tgkill), and exit codes. The
// output is deterministic and must match qemu-riscv64's.
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 8
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t barrier;
static __thread long tls_counter = 100;
static long shared_sum;
static int turn;
static int order[N];
static int order_len;
static volatile sig_atomic_t got_usr1;
static long tids_distinct = 1;

static void on_usr1(int sig) { (void)sig; got_usr1++; }

static void *worker(void *arg) {
  long id = (long)arg;
  // TLS: every thread has its own copy, starting from the initializer.
  for (int i = 0; i < 1000; i++) tls_counter++;
  long mine = tls_counter;
  // Mutex: a shared sum under contention.
  for (int i = 0; i < 20000; i++) {
    pthread_mutex_lock(&lock);
    shared_sum += id + 1;
    pthread_mutex_unlock(&lock);
  }
  if (syscall(SYS_gettid) == getpid()) tids_distinct = 0;
  // Barrier: nobody goes on before all have counted.
  int serial = pthread_barrier_wait(&barrier);
  // Condition variable: the threads take turns in id order.
  pthread_mutex_lock(&lock);
  while (turn != id) pthread_cond_wait(&turn_cv, &lock);
  order[order_len++] = (int)id;
  turn++;
  pthread_cond_broadcast(&turn_cv);
  pthread_mutex_unlock(&lock);
  return (void *)(mine * 10 + (serial == PTHREAD_BARRIER_SERIAL_THREAD ? 1 : 0));
}

static pid_t forked;
static void *forker(void *arg) {
  forked = fork();
  if (forked == 0) _exit(getppid() == (pid_t)(long)arg ? 9 : 1);
  return NULL;
}
static void *sleeper(void *arg) {
  (void)arg;
  usleep(30000);
  return NULL;
}
static volatile sig_atomic_t got_usr2;
static void on_usr2(int sig) { (void)sig; got_usr2++; }

static void *crasher(void *arg) {
  (void)arg;
  usleep(10000);
  *(volatile int *)16 = 1; // SIGSEGV in a thread ends the whole process
  return NULL;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "crash") == 0) {
    pthread_t c;
    pthread_create(&c, NULL, crasher, NULL);
    pthread_join(c, NULL);
    printf("not reached\n");
    return 0;
  }
  pthread_t t[N];
  pthread_barrier_init(&barrier, NULL, N);
  for (long i = 0; i < N; i++) {
    int r = pthread_create(&t[i], NULL, worker, (void *)i);
    if (r) { printf("pthread_create: %d\n", r); return 1; }
  }
  long serials = 0, tls_ok = 1;
  for (int i = 0; i < N; i++) {
    void *ret;
    pthread_join(t[i], &ret);
    long v = (long)ret;
    serials += v % 10;
    if (v / 10 != 1100) tls_ok = 0;
  }
  printf("sum=%ld (expected %ld)\n", shared_sum, 20000L * N * (N + 1) / 2);
  printf("tls per thread ok=%ld, main tls=%ld\n", tls_ok, tls_counter);
  printf("barrier serial threads=%ld\n", serials);
  printf("turn order:");
  for (int i = 0; i < order_len; i++) printf(" %d", order[i]);
  printf("\n");
  printf("tids distinct from pid: %ld\n", tids_distinct);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 20000000;
  if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
  pthread_mutex_lock(&lock);
  int tr = pthread_cond_timedwait(&turn_cv, &lock, &ts);
  pthread_mutex_unlock(&lock);
  printf("cond_timedwait: %s\n", tr == ETIMEDOUT ? "ETIMEDOUT" : "woken");
  // A child forked by a thread belongs to the process: main reaps it, and its parent is our pid.
  pthread_t f;
  pthread_create(&f, NULL, forker, (void *)(long)getpid());
  pthread_join(f, NULL);
  int st;
  printf("main reaped a thread's child: %d, status %d\n", waitpid(forked, &st, 0) == forked, WEXITSTATUS(st));
  // A process-directed signal that every thread blocks waits until one unblocks it.
  signal(SIGUSR2, on_usr2);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t sl;
  pthread_create(&sl, NULL, sleeper, NULL); // inherits the mask
  kill(getpid(), SIGUSR2);
  usleep(5000);
  printf("blocked in every thread: got=%d\n", (int)got_usr2);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  printf("unblocked in main: got=%d\n", (int)got_usr2);
  pthread_join(sl, NULL);
  signal(SIGUSR1, on_usr1);
  pthread_kill(pthread_self(), SIGUSR1);
  printf("pthread_kill self: got=%d\n", (int)got_usr1);
  // A detached thread and exit() from main while it waits: the process ends with main's code.
  pthread_t d;
  pthread_create(&d, NULL, (void *(*)(void *))pause, NULL);
  pthread_detach(d);
  exit(7);
}
