#!/usr/bin/env bash
# Install Debian's slurm-wlm and munge for the SLURM sweep test (tests/test_sweep_slurm.py).
# Idempotent: does nothing when the binaries are there. Starts no daemon: the test's own
# fixture starts munged, slurmctld and slurmd with a throw-away configuration and stops them.
set -euo pipefail
needed=(munged mungekey slurmctld slurmd sbatch squeue sinfo scancel)
missing=()
for tool in "${needed[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup_slurm: slurm-wlm and munge are installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "setup_slurm: not root, cannot install slurm-wlm and munge (missing: ${missing[*]});" \
        "the SLURM sweep test will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# The packages' maintainer scripts try to start the services; in a container without an
# init system that only prints a warning.
apt-get install -y -q --no-install-recommends slurm-wlm munge
for tool in "${needed[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "setup_slurm: $tool still missing" >&2; exit 1; }
done
echo "setup_slurm: installed slurm-wlm and munge"
