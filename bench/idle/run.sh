#!/usr/bin/env bash
# bench/idle: CPU time an idle daemon (and its pool workers) uses over 30 s, against `sleep 30`
# as the zero baseline measured the same way. Usage: bench/idle/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-30}
OUT=$(mktemp -d /tmp/orch-bench-idle.XXXX)
export ORCH_HOME=$OUT/home
trap '.build/release/orch daemon --stop >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT
.build/release/orch daemon >/dev/null
pid=$(cat "$ORCH_HOME/daemon.lock")
ticks() {  # utime+stime of the daemon and its children that are alive (clock ticks)
  local total=0
  for p in $pid $(pgrep -P "$pid" || true); do
    total=$(( total + $(awk '{print $14 + $15}' /proc/$p/stat) ))
  done
  echo $total
}
sleep 1
a=$(ticks); sleep "$SECS"; b=$(ticks)
hz=$(getconf CLK_TCK)
python3 -c "print(f'idle daemon + workers over $SECS s: {($b-$a)/$hz:.3f} s CPU ({100*($b-$a)/$hz/$SECS:.3f}% of one core)')"
