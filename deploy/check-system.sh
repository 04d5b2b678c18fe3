#!/usr/bin/env bash
# Checks the Debian/Ubuntu packages that building and testing orch need, before a build that
# would otherwise fail minutes in (`cblas.h` not found). As root it installs the missing ones
# with apt-get; otherwise it prints the one command to run and exits 1. `make build`, `make
# release` (so `make demo`, `make test`) and `.ci/run` call it.
#
#   deploy/check-system.sh [PACKAGE...]     default: libsqlite3-dev libopenblas-dev libpcre2-dev python3
#
# Settings by environment (the tests use them to simulate a missing package and a non-root user):
#   ORCH_SYSTEM_PACKAGES   the packages, space-separated (arguments win over it)
#   ORCH_CHECK_INSTALLED   a shell command run with a package name as $1, exit 0 when it is
#                          installed (default: dpkg-query says "installed")
#   ORCH_CHECK_UID         the user id to act as (default: id -u)
#   ORCH_CHECK_APT_GET     the apt-get command used as root (default: apt-get)
set -euo pipefail

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  read -r -a packages <<<"${ORCH_SYSTEM_PACKAGES:-libsqlite3-dev libopenblas-dev libpcre2-dev python3}"
fi

# `dpkg -s` also succeeds for a removed package whose configuration files remain; the status
# word does not.
dpkg_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

custom_installed() {
  sh -c "$ORCH_CHECK_INSTALLED" check-installed "$1"
}

if [ -n "${ORCH_CHECK_INSTALLED:-}" ]; then
  check=(custom_installed)
elif command -v dpkg-query >/dev/null 2>&1; then
  check=(dpkg_installed)
else
  echo "check-system: no dpkg-query, so the system packages are not checked; the build needs: ${packages[*]} (or your system's equivalents)" >&2
  exit 0
fi

missing() {
  local p
  for p in "${packages[@]}"; do
    "${check[@]}" "$p" || printf '%s\n' "$p"
  done
}

mapfile -t absent < <(missing)
[ ${#absent[@]} -eq 0 ] && exit 0

if [ "${ORCH_CHECK_UID:-$(id -u)}" != 0 ]; then
  {
    echo "check-system: missing system package(s): ${absent[*]}. Install them, then run make again:"
    echo "  sudo apt-get install -y ${absent[*]}"
  } >&2
  exit 1
fi

read -r -a apt <<<"${ORCH_CHECK_APT_GET:-apt-get}"
echo "check-system: installing ${absent[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" update -qq >&2 || echo "check-system: apt-get update failed; installing from the current lists" >&2
if ! "${apt[@]}" install -y -qq "${absent[@]}" >&2; then
  echo "check-system: apt-get install -y ${absent[*]} failed" >&2
  exit 1
fi
mapfile -t still < <(missing)
if [ ${#still[@]} -ne 0 ]; then
  echo "check-system: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
