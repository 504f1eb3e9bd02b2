#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/mount-ns.sh [N]: what the launcher's way of building the job's root costs per
# mount of the host (bench/mount-ns.c: the floor, today's clone-and-pivot, and a root
# built in place), on this host's own mounts and inside a simulated nvidia8 host, without
# and with --modules (which binds every host module's /sys/module entry back: ~80 mounts
# more, as bench/run.sh and bench/compare.sh enter it). N rounds each (default 300).
# Needs root and cc.
# Not a test: nothing here asserts a time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
[[ $(id -u) -eq 0 ]] || { echo "bench/mount-ns.sh: needs root" >&2; exit 1; }
W=$(mktemp -d /tmp/gpujail-bench-mountns.XXXXXX)
trap 'rm -rf --one-file-system "$W"' EXIT
cc -O2 -Wall -o "$W/mount-ns" bench/mount-ns.c
tests/fakehost/mkhost nvidia8 "$W/host" >/dev/null
echo "unshare(CLONE_NEWNS) in a forked child, then exit; N=$N each, interleaved (load $(cut -d' ' -f1 /proc/loadavg))"
echo "this host: $(wc -l </proc/self/mountinfo) mounts"
"$W/mount-ns" "$N"
for modules in "" --modules; do
        enter=(tests/fakehost/enter --no-preload $modules "$W/host" --)
        echo "simulated nvidia8 host${modules:+ $modules}: $("${enter[@]}" sh -c 'wc -l </proc/self/mountinfo') mounts"
        "${enter[@]}" "$W/mount-ns" "$N"
done
