#!/usr/bin/env bash
# Starts a single-node SLURM on loopback without systemd or cgroups: munged, slurmctld and slurmd
# run in the background with every file they use (slurm.conf, munge key, state, spool, logs, PID
# files) under one state directory, $SLURM_LOCAL_DIR (default /tmp/orch-slurm-local). Waits until
# the node is idle; fails loudly with the logs' tails otherwise. Needs root and install.sh.
#
# Clients need the configuration:  export SLURM_CONF=$SLURM_LOCAL_DIR/slurm.conf
# (or `. $SLURM_LOCAL_DIR/env.sh`). stop.sh stops exactly the processes this script started.
#
# Settings (environment): SLURM_LOCAL_DIR, SLURM_LOCAL_CTLD_PORT (6817), SLURM_LOCAL_SLURMD_PORT
# (6818), SLURM_LOCAL_MAX_ARRAY_SIZE (10001), SLURM_LOCAL_MIN_JOB_AGE (seconds a finished job stays
# visible to squeue/scontrol, 3600), SLURM_LOCAL_KILL_WAIT (seconds from SIGTERM to SIGKILL at a
# time limit, 30 as SLURM's default), SLURM_LOCAL_TIMEOUT (seconds to wait for the node, 60).
set -euo pipefail

dir=${SLURM_LOCAL_DIR:-/tmp/orch-slurm-local}
ctld_port=${SLURM_LOCAL_CTLD_PORT:-6817}
slurmd_port=${SLURM_LOCAL_SLURMD_PORT:-6818}
max_array=${SLURM_LOCAL_MAX_ARRAY_SIZE:-10001}
min_job_age=${SLURM_LOCAL_MIN_JOB_AGE:-3600}
kill_wait=${SLURM_LOCAL_KILL_WAIT:-30}
timeout=${SLURM_LOCAL_TIMEOUT:-60}
node=localhost

die() {
  echo "slurm-local: error: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || die "start.sh must run as root (slurmd starts jobs as their users)"
for cmd in munged slurmctld slurmd scontrol sinfo setpriv; do
  command -v "$cmd" >/dev/null || die "$cmd not found: run $(dirname "$0")/install.sh first"
done
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac

alive() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }
export SLURM_CONF="$dir/slurm.conf"

if alive munged && alive slurmctld && alive slurmd && scontrol ping >/dev/null 2>&1; then
  echo "slurm-local: already running in $dir (export SLURM_CONF=$SLURM_CONF)"
  exit 0
fi
if alive munged || alive slurmctld || alive slurmd; then
  die "a partial slurm-local runs from $dir: run $(dirname "$0")/stop.sh first"
fi

# A fresh cluster each start: no jobs, ids from FirstJobId, empty logs (the munge key is kept).
rm -rf "$dir/state" "$dir/spool" "$dir/log"
mkdir -p "$dir"/{log,state,spool,munge}
chmod 755 "$dir" "$dir/log"
chmod 700 "$dir/state" "$dir/spool"
rm -f "$dir"/*.pid

# munge: a fresh key, and munged as the munge user (it refuses group/world-writable paths and
# keys not owned by its user).
chown munge:munge "$dir/munge"
chmod 755 "$dir/munge"
if [ ! -s "$dir/munge/munge.key" ]; then
  (umask 077 && head -c 1024 /dev/urandom >"$dir/munge/munge.key")
fi
chown munge:munge "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
touch "$dir/log/munged.log" && chown munge:munge "$dir/log/munged.log"

# The node as this machine has it: CPUs from nproc, memory from /proc/meminfo (slightly below
# MemTotal: more than slurmd finds would drain the node as "Low RealMemory").
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.98 }' /proc/meminfo)
# Sockets, cores and threads as slurmd finds them, when they add up to those CPUs (task/affinity
# binds by them); CPUs alone otherwise.
topology=""
hw=$(slurmd -C 2>/dev/null | head -n 1)
if [ "$(echo "$hw" | sed -n 's/.* CPUs=\([0-9]*\) .*/\1/p')" = "$cpus" ]; then
  topology=$(echo "$hw" | grep -o -E '(Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' | tr '\n' ' ')
fi

cat >"$dir/slurm.conf" <<CONF
# Written by deploy/slurm-local/start.sh: one node on loopback, no systemd, no cgroups.
ClusterName=orchlocal
SlurmctldHost=$node
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/state/slurmctld.pid
SlurmdPidFile=$dir/spool/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: processes are tracked by parent pid, tasks are pinned with sched_setaffinity.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
# CPUs (hardware threads) are the consumable, as orch allocates them; memory is not (a job
# without --mem would otherwise take the whole node).
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Schedule at once instead of in batches: ~40-50 no-op array tasks/s instead of under 1/s.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
Epilog=/bin/true
MaxArraySize=$max_array
# Job ids from 1000: never mistaken for array indices in outputs (tests mask ids).
FirstJobId=1000
# Reject at submission what this node can never run (-c above its CPUs), as sbatch does on
# most clusters, instead of leaving it PENDING (PartitionConfig) forever.
EnforcePartLimits=ALL
MaxJobCount=200000
# Finished jobs stay visible to squeue -t all / scontrol show job (state, exit code, reason).
MinJobAge=$min_job_age
KillWait=$kill_wait
InactiveLimit=0
SlurmctldTimeout=120
SlurmdTimeout=300
# No slurmdbd: sacct has no data. Final states and exit codes of every job go to a job-completion
# log (one line per job: JobId, JobState, ExitCode, ArrayJobId/ArrayTaskId, times).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
JobAcctGatherType=jobacct_gather/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus ${topology}RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" >"$dir/env.sh"

started=()
cleanup_on_failure() {
  echo "slurm-local: start failed; last lines of the logs in $dir/log:" >&2
  for f in "$dir"/log/*.log; do
    [ -f "$f" ] || continue
    echo "==> $f <==" >&2
    tail -n 25 "$f" >&2
  done
  for name in "${started[@]}"; do
    pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  rm -f "$dir"/*.pid
}
trap 'cleanup_on_failure' ERR

# Each daemon runs in the foreground of a background job, so $! is its own PID.
launch() {
  local name=$1
  shift
  nohup "$@" </dev/null >>"$dir/log/$name.out" 2>&1 &
  echo $! >"$dir/$name.pid"
  started+=("$name")
}

launch munged setpriv --reuid=munge --regid=munge --init-groups -- munged --foreground \
  --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket.2" \
  --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" --log-file="$dir/log/munged.log"
waited=0
until [ -S "$dir/munge/munge.socket.2" ]; do
  alive munged || { echo "slurm-local: munged exited" >&2; false; }
  sleep 0.2
  waited=$((waited + 1))
  [ "$waited" -lt 100 ] || { echo "slurm-local: munged made no socket in 20 s" >&2; false; }
done

# -c: a clean state (job ids restart at 1); -i: ignore unreadable state.
launch slurmctld slurmctld -D -c -i -f "$SLURM_CONF"
launch slurmd slurmd -D -N "$node" -f "$SLURM_CONF"

deadline=$((SECONDS + timeout))
state=""
while [ "$SECONDS" -lt "$deadline" ]; do
  for name in munged slurmctld slurmd; do
    alive "$name" || { echo "slurm-local: $name exited" >&2; false; }
  done
  if scontrol ping 2>/dev/null | grep -q 'is UP'; then
    state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)
    [ "$state" = idle ] && break
  fi
  sleep 0.5
done
[ "$state" = idle ] || { echo "slurm-local: node $node not idle after ${timeout}s (state '${state:-none}')" >&2; false; }
trap - ERR
echo "slurm-local: $(sinfo -h -N -o '%N %T %c CPUs %m MB') — slurm $(scontrol --version | cut -d' ' -f2)"
echo "slurm-local: state in $dir; clients need: export SLURM_CONF=$SLURM_CONF"
