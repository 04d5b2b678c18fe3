#!/usr/bin/env bash
# The kill campaign at a larger size: ChaosTests with JOBS jobs and KILLS random kill -9s (daemon,
# pool workers, jobs), ROUNDS times; prints each round's figures line. Usage:
#   bench/chaos/run.sh [JOBS=300] [KILLS=150] [ROUNDS=3]
# ORCH_BIN_DIR=DIR runs it against other binaries (e.g. an older build) with the same test.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${1:-300}
KILLS=${2:-150}
ROUNDS=${3:-3}
swift build --build-tests >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  out=$(ORCH_CHAOS_JOBS=$JOBS ORCH_CHAOS_KILLS=$KILLS swift test --skip-build --filter ChaosTests 2>&1 || true)
  line=$(grep -m1 '^chaos:' <<<"$out" || echo "chaos: no figures")
  verdict=$(grep -qE "error:|failed \(" <<<"$out" && echo FAILED || echo passed)
  echo "round $round: $line; $verdict"
  grep -E "error:" <<<"$out" | head -5 || true
done
