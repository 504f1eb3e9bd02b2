#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Discovery cost: `gpujail list --json` on simulated hosts of 1, 8 and 64 NVIDIA GPUs, their
# driver's modules loaded (`enter --modules`, as on a working GPU host)
# (plus the empty host: the fixed cost of udev, kmod and JSON), with `/bin/true` run the
# same way as the floor (exec + dynamic loading): the two interleaved (bench/interleave.py,
# inside one `enter` so the namespace setup is not counted). p50, p90, mean and min wall
# time per call, "above": each minus /bin/true's (what discovery itself costs), CPU time
# (user+sys) and peak RSS (/usr/bin/time -v).
#
#   sudo bench/list.sh [BUILD_DIR]        (default: build)
#
# Targets (issue 2): < 2 ms for 8 GPUs, linear in GPUs, peak RSS < 4 MiB.
# Not a test: nothing here asserts a time.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)
GPUJAIL=$BUILD/cli/gpujail
[[ -x $GPUJAIL ]] || { echo "bench/list.sh: build first ($GPUJAIL missing)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "bench/list.sh: needs root (simulated hosts)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench/list.sh: needs /usr/bin/time (Debian: time)" >&2; exit 1; }
export FAKESYSFS=${FAKESYSFS:-$BUILD/tests/fakehost/fakesysfs.so}

tmp=$(mktemp -d /tmp/gpujail-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Wall times swing with the machine's load: min and CPU time (user+sys) are the steadier figures.
measure() { # SHAPE: prints one row of the table below
        local shape=$1 h=$tmp/$1
        tests/fakehost/mkhost "$shape" "$h" >/dev/null
        tests/fakehost/enter --modules "$h" -- bash -c '
                set -e
                python3 bench/interleave.py -w 50 300 "gpujail=$1 list --json" "true=/bin/true" >"$2/hf.json"
                /usr/bin/time -v "$1" list --json 2>"$2/time.txt" >"$2/out.json"
        ' _ "$GPUJAIL" "$h"
        local n rss
        n=$(jq '.devices | length' "$h/out.json")
        rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$h/time.txt")
        jq -r --arg shape "$shape" --argjson n "$n" --argjson rss "$rss" '
                .results as [$g, $t] |
                [$shape, $n, $g.median * 1e3, $g.p90 * 1e3, $g.mean * 1e3, $g.min * 1e3,
                 ($g.median - $t.median) * 1e3, ($g.p90 - $t.p90) * 1e3, ($g.mean - $t.mean) * 1e3,
                 ($g.user + $g.sys) * 1e3, $rss, $t.median * 1e3, $t.p90 * 1e3, $t.mean * 1e3] | @tsv' "$h/hf.json" |
                awk -F'\t' '{ printf "%-9s %4d %7.3f %7.3f %7.3f %7.3f | %7.3f %7.3f %7.3f | %6.3f %6d | %7.3f %7.3f %7.3f\n",
                        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }'
}

echo "gpujail list --json on simulated hosts ($(nproc) CPUs, $(uname -r))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  (times in ms; \"above\": gpujail minus /bin/true, each"
echo "statistic apart; cpu: gpujail's user+sys, mean; the right block is /bin/true, the floor)"
printf '%-9s %4s %7s %7s %7s %7s | %-23s | %6s %6s | %-23s\n' "" "" "" "" "" "" "above /bin/true" "" "" "/bin/true"
printf '%-9s %4s %7s %7s %7s %7s | %7s %7s %7s | %6s %6s | %7s %7s %7s\n' shape gpus p50 p90 mean min p50 p90 mean cpu rssKiB p50 p90 mean
for shape in empty nvidia1 nvidia8 nvidia64; do
        measure "$shape"
done
