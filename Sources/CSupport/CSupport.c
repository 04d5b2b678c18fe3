#define _GNU_SOURCE
#include "CSupport.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int orch_set_affinity(pid_t pid, const int *cpus, int count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < count; i++) {
    if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return -EINVAL;
    CPU_SET(cpus[i], &set);
  }
  return sched_setaffinity(pid, sizeof(set), &set) == 0 ? 0 : -errno;
}

int orch_get_affinity(pid_t pid, int *out, int max) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(pid, sizeof(set), &set) != 0) return -errno;
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < max; c++)
    if (CPU_ISSET(c, &set)) out[n++] = c;
  return n;
}

int orch_pidfd_open(pid_t pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : (int)fd;
}

// Moves a descriptor above 3 so the dup2 into 0..3 below cannot clobber another source.
static int high_fd(int fd, int *tmp, int *ntmp) {
  if (fd < 0 || fd > 3) return fd;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (copy >= 0) tmp[(*ntmp)++] = copy;
  return copy;
}

int orch_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
               const char *cwd, int out_fd, int err_fd, int events_fd, int new_session) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int tmp[3], ntmp = 0, rc;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);

  out_fd = high_fd(out_fd, tmp, &ntmp);
  err_fd = high_fd(err_fd, tmp, &ntmp);
  events_fd = high_fd(events_fd, tmp, &ntmp);

  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (events_fd >= 0) posix_spawn_file_actions_adddup2(&fa, events_fd, 3);
  else posix_spawn_file_actions_addclose(&fa, 3);
  if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
  // Descriptors a caller leaked without O_CLOEXEC must not reach jobs.
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);

  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK;
  if (new_session) {
    flags |= POSIX_SPAWN_SETSID;
  } else {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);

  if (strchr(path, '/'))
    rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
  else
    rc = posix_spawnp(pid, path, &fa, &attr, argv, envp);

  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for (int i = 0; i < ntmp; i++) close(tmp[i]);
  return rc;
}

int orch_spawn_step(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                    const char *cwd, int in_fd, int out_fd, int err_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int tmp[3], ntmp = 0, rc;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  in_fd = high_fd(in_fd, tmp, &ntmp);
  out_fd = high_fd(out_fd, tmp, &ntmp);
  err_fd = high_fd(err_fd, tmp, &ntmp);
  if (in_fd >= 0) posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
  rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for (int i = 0; i < ntmp; i++) close(tmp[i]);
  return rc;
}

static void step_signal_set(sigset_t *set) {
  static const int relayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGALRM, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT, SIGPIPE, SIGCHLD};
  sigemptyset(set);
  for (size_t i = 0; i < sizeof(relayed) / sizeof(relayed[0]); i++) sigaddset(set, relayed[i]);
}

int orch_step_signals_block(void) {
  sigset_t set;
  step_signal_set(&set);
  return sigprocmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -errno;
}

int orch_step_signals_wait(int *sender) {
  sigset_t set;
  siginfo_t info;
  step_signal_set(&set);
  for (;;) {
    int signo = sigwaitinfo(&set, &info);
    if (signo < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int by_process = info.si_code == SI_USER || info.si_code == SI_QUEUE || info.si_code == SI_TKILL;
    *sender = by_process ? (int)info.si_pid : 0;
    return signo;
  }
}

int orch_signalfd(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -errno;
  int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  return fd < 0 ? -errno : fd;
}

int orch_signalfd_read(int fd) {
  struct signalfd_siginfo info;
  ssize_t n = read(fd, &info, sizeof(info));
  if (n != (ssize_t)sizeof(info)) return n < 0 ? -errno : -EIO;
  return (int)info.ssi_signo;
}

int orch_sqlite_no_checkpoint_on_close(void *db) {
  return sqlite3_db_config((sqlite3 *)db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}

int orch_memfd(const char *name) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int orch_send_packet(int sock, const void *buf, size_t len, int fd) {
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&control, 0, sizeof(control));
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return n == (ssize_t)len ? 0 : EMSGSIZE;
    if (errno != EINTR) return errno;
  }
}

ssize_t orch_recv_packet(int sock, void *buf, size_t cap, int *fd, int *truncated) {
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(4 * sizeof(int))];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes,
                       .msg_controllen = sizeof(control.bytes)};
  *fd = -1;
  *truncated = 0;
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int received;
      memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      // One descriptor per packet is the protocol; any other is closed, not leaked.
      if (*fd < 0) *fd = received; else close(received);
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) *truncated = 1;
  return n;
}
