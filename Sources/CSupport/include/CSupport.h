#ifndef ORCH_CSUPPORT_H
#define ORCH_CSUPPORT_H
#include <sys/types.h>

/// Pins `pid` (0 = calling thread) to the given CPUs. Returns 0 or -errno.
int orch_set_affinity(pid_t pid, const int *cpus, int count);
/// Writes up to `max` allowed CPUs of `pid` into `out`; returns their count or -errno.
int orch_get_affinity(pid_t pid, int *out, int max);
/// pidfd_open(2): a pollable descriptor that becomes readable when `pid` exits. -errno on failure.
int orch_pidfd_open(pid_t pid);
/// Spawns `argv` in a new process group with an empty signal mask and default dispositions.
/// stdin is /dev/null; `out_fd`/`err_fd` become 1/2 and `events_fd` (if >= 0) becomes 3.
/// `cwd` may be NULL. `new_session` starts a new session instead (for the detached daemon).
/// The child inherits the calling thread's CPU affinity. Returns 0 or errno.
int orch_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
               const char *cwd, int out_fd, int err_fd, int events_fd, int new_session);
/// Spawns `argv` (a path) as a job step: in the caller's process group, with an empty signal mask
/// and default dispositions; `in_fd`/`out_fd`/`err_fd` become 0/1/2 when >= 0 (else inherited).
/// `cwd` may be NULL. Returns 0 or errno.
int orch_spawn_step(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                    const char *cwd, int in_fd, int out_fd, int err_fd);
/// Blocks the signals a step's srun relays (HUP INT QUIT ALRM TERM USR1 USR2 CONT PIPE) and
/// SIGCHLD in the calling thread. Returns 0 or -errno.
int orch_step_signals_block(void);
/// Waits for one of the signals `orch_step_signals_block` blocked; returns its number (or -errno)
/// and sets `*sender` to the sending process, 0 when no process sent it (the kernel did).
int orch_step_signals_wait(int *sender);
/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and returns a signalfd that reports them.
int orch_signalfd(void);
/// Reads one signal from `fd`; returns its number or -errno.
int orch_signalfd_read(int fd);
/// Keeps SQLite from checkpointing the WAL when `db` (a sqlite3 *) closes; 0 or an SQLite error code.
int orch_sqlite_no_checkpoint_on_close(void *db);
/// memfd_create(2) with MFD_CLOEXEC: an anonymous file that lives while a descriptor refers to it.
int orch_memfd(const char *name);
/// Sends one packet on `sock` (MSG_NOSIGNAL), with descriptor `fd` attached (SCM_RIGHTS) when
/// `fd` >= 0. Returns 0 or errno.
int orch_send_packet(int sock, const void *buf, size_t len, int fd);
/// Receives one packet into `buf` (descriptors it carries get close-on-exec). Returns its length
/// (0 at end of file) or -errno; `*truncated` is 1 when the packet was longer than `cap` (its
/// tail is lost) and `*fd` is the descriptor it carried, or -1.
ssize_t orch_recv_packet(int sock, void *buf, size_t cap, int *fd, int *truncated);
#endif
