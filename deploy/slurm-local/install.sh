#!/usr/bin/env bash
# Installs a single-node SLURM (Debian/Ubuntu packages slurmctld, slurmd, slurm-client, munge).
# Idempotent: does nothing when the packages are already installed. Needs root (or sudo).
# The packages' systemd units are not used: start.sh runs the daemons by hand.
set -euo pipefail
packages=(slurmctld slurmd slurm-client munge)
if dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  echo "slurm-local: ${packages[*]} already installed (slurm $(dpkg-query -W -f '${Version}' slurm-client))"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# policy-rc.d 101: the packages' postinst must not try to start services (no systemd here, or
# not wanted): start.sh owns the daemons.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "slurm-local: installed slurm $(dpkg-query -W -f '${Version}' slurm-client)"
