#!/usr/bin/env bash
# Stops the single-node SLURM that start.sh started: cancels its jobs (so no job outlives the
# daemons), then sends SIGTERM to exactly the PIDs start.sh recorded in $SLURM_LOCAL_DIR (slurmd,
# slurmctld, munged), waits for them, and SIGKILLs one that is still there after 20 s. A PID is
# signalled only while it still runs the program recorded for it. The state directory is kept
# (logs, job-completion log); start.sh starts afresh from it.
set -uo pipefail
dir=${SLURM_LOCAL_DIR:-/tmp/orch-slurm-local}
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
export SLURM_CONF="$dir/slurm.conf"

# The PID in $dir/NAME.pid, if that process is alive and still the program NAME.
pid_of() {
  local name=$1 pid
  [ -f "$dir/$name.pid" ] || return 1
  pid=$(cat "$dir/$name.pid")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
  [ "$(cat "/proc/$pid/comm")" = "$name" ] || return 1
  echo "$pid"
}

if pid_of slurmctld >/dev/null && command -v scancel >/dev/null; then
  ids=$(squeue -h -o '%A' -t PD,R,S,CG 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${ids// /}" ]; then
    # shellcheck disable=SC2086
    scancel $ids 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -z "$(squeue -h -t R,CG -o '%A' 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
fi

status=0
for name in slurmd slurmctld munged; do
  if pid=$(pid_of "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm-local: $name (pid $pid) ignored SIGTERM for 20 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      status=1
    fi
    echo "slurm-local: stopped $name (pid $pid)"
  elif [ -f "$dir/$name.pid" ]; then
    echo "slurm-local: $name (pid $(cat "$dir/$name.pid")) was not running"
  fi
  rm -f "$dir/$name.pid"
done
exit "$status"
