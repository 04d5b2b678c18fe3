// Baseline for bench/dispatch: posix_spawn /bin/true N times with K processes in flight.
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000, k = argc > 2 ? atoi(argv[2]) : 2;
  char *args[] = {"/bin/true", NULL};
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int started = 0, running = 0;
  while (started < n || running > 0) {
    while (running < k && started < n) {
      pid_t pid;
      if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0) return 1;
      started++, running++;
    }
    int status;
    if (wait(&status) > 0) running--;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%.1f\n", n / s);
  return 0;
}
