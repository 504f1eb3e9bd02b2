#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install what is missing, build, then run a job with
# `gpujail run --gpu 0` — on this machine's NVIDIA GPU when it has one, else on a
# simulated 8-GPU host (tests/fakehost) — and show what the job sees.
#
#   sudo examples/demo.sh            # real GPU if present, else simulated
#   sudo examples/demo.sh --simulated
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "demo.sh: run as root (sudo examples/demo.sh)" >&2; exit 125; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "dependencies (.ci/packages.txt)"
mapfile -t want < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' .ci/packages.txt)
missing=$(for p in "${want[@]}"; do dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null |
        grep -qx installed || echo "$p"; done)
if [[ -n $missing ]]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "all installed"

step "build"
[[ -d build ]] || meson setup build >/dev/null
ninja -C build >/dev/null
GJ=$PWD/build/cli/gpujail
PROBE=$PWD/build/tests/helpers/open-probe
echo "$GJ"

if [[ ${1:-} != --simulated ]] && ls /proc/driver/nvidia/gpus/* >/dev/null 2>&1; then
        step "this host's accelerators: gpujail list"
        "$GJ" list
        step "sudo gpujail run --gpu 0 -- nvidia-smi -L   (exactly one GPU inside)"
        "$GJ" run --gpu 0 -- nvidia-smi -L
        step "what the job's /dev holds"
        "$GJ" run --gpu 0 -- ls /dev
        exit 0
fi

step "no NVIDIA GPU here: a simulated host (8 H100s, 2 NUMA nodes, minors not in PCI order)"
host=$(mktemp -d /tmp/gpujail-demo.XXXXXX)
trap 'rm -rf "$host"' EXIT
tests/fakehost/mkhost nvidia8 "$host" >/dev/null
on_host() { tests/fakehost/enter --modules "$host" -- "$@"; } # its driver loaded, as on a GPU host

step "gpujail list   (real libudev discovery of the simulated sysfs)"
on_host "$GJ" list

step "gpujail run --gpu 0 -- ...   (the job's view)"
on_host "$GJ" run --gpu 0 -- sh -c '
        echo "GPUJAIL_DEVICES=$GPUJAIL_DEVICES"
        echo "/dev holds:"; ls /dev | sed "s/^/    /"
        echo "opening its GPU node: no driver behind a simulated node, so ENXIO means the"
        echo "device cgroup ALLOWED it (EPERM would mean denied):"
        for n in /dev/nvidia[0-9]*; do echo "    $('"$PROBE"' "$n")"; done'

step "the device cgroup refuses every other GPU (a probe joins the job's cgroups)"
on_host sh -c '
        "$1" run --gpu 0 -- sleep 7.31 &
        sleep 1
        job=$(pgrep -n -f "^sleep 7.31$")
        v1=$(sed -n "s/^[0-9]*:devices://p" /proc/$job/cgroup)
        "'"$PWD"'/build/tests/helpers/cgexec" /sys/fs/cgroup/devices$v1 -- "$2" /dev/nvidia0 /dev/nvidia2 /dev/nvidia5
        kill %1 2>/dev/null; wait' _ "$GJ" "$PROBE" || true

step "an unknown selector is an error, never 'all'"
on_host "$GJ" run --gpu 9 -- true || echo "(exit status $?)"
