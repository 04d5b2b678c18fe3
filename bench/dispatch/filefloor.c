// The filesystem's share of a job: creates what orch's worker creates per job (a run directory,
// config.json with a small body, an empty log.txt) N times under ROOT and prints jobs/s.
// Usage: filefloor ROOT N
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int n = atoi(argv[2]);
  char path[4096];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/k%d", argv[1], i);
    if (mkdir(path, 0755) != 0) return 1;
    snprintf(path, sizeof path, "%s/k%d/config.json", argv[1], i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "{\"i\":0}", 7) != 7) return 1;
    close(fd);
    snprintf(path, sizeof path, "%s/k%d/log.txt", argv[1], i);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return 1;
    close(fd);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%.1f\n", n / s);
  return 0;
}
