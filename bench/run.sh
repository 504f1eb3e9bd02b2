#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/run.sh [N]: the launcher's start-up cost, side by side in one invocation,
# on a simulated 8-GPU host (tests/fakehost), as root:
#
#   gpujail   gpujail run --gpu 0 -- /bin/true
#   bwrap     bwrap doing the equivalent: --ro-bind / /, --dev /dev, --dev-bind of the
#             same four nodes (GPU 0, nvidiactl, nvidia-uvm, nvidia-uvm-tools),
#             --proc /proc, --unshare-pid (bwrap makes no device cgroup, no init,
#             no user switch: gpujail does more)
#   floor     unshare -m true
#
# Prints median, p90, mean ± stddev (ms) and the ratios of the medians gpujail/bwrap
# (target <= 0.8) and gpujail/floor (target <= 1.5), gpujail's mean/median (target
# <= 1.15), plus each command's peak RSS (KiB,
# GNU time's %M: the largest resident set among the command's processes). The three
# run interleaved, round-robin (bench/interleave.py), N runs each after 5 warm-ups:
# drift on a shared machine then hits all three alike. The medians are the figures
# to quote: a VM's idle CPUs wake slowly, which puts a long tail on every mean.
#   GPUJAIL=path/to/gpujail  (default: build/cli/gpujail)
set -euo pipefail

N=${1:-200}
SRC=$(cd "$(dirname "$0")/.." && pwd)
GPUJAIL=$(realpath "${GPUJAIL:-$SRC/build/cli/gpujail}")
[[ $(id -u) -eq 0 ]] || { echo "bench/run.sh: needs root" >&2; exit 1; }
[[ -x $GPUJAIL ]] || { echo "bench/run.sh: $GPUJAIL is not built" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "bench/run.sh: bwrap is not installed" >&2; exit 1; }

TMP=$(mktemp -d /tmp/gpujail-bench.XXXXXX)
trap 'rm -rf --one-file-system "$TMP"' EXIT
"$SRC/tests/fakehost/mkhost" nvidia8 "$TMP/host" >/dev/null
MINOR=$(jq -r '.devices[0].minor' "$TMP/host/hostinfo.json")

cat >"$TMP/inside.sh" <<EOF
set -euo pipefail
nodes="/dev/nvidia$MINOR /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools"
bw="bwrap --ro-bind / / --dev /dev"
for n in \$nodes; do bw+=" --dev-bind \$n \$n"; done
bw+=" --proc /proc --unshare-pid -- /bin/true"
gj="$GPUJAIL run --gpu 0 -- /bin/true"
floor="unshare -m true"
\$gj || { echo "bench/run.sh: gpujail run fails here" >&2; exit 1; }

python3 "$SRC/bench/interleave.py" "$N" "gpujail=\$gj" "bwrap=\$bw" "floor=\$floor" >"$TMP/h.json"

# peak RSS (GNU time %M: the largest of the command's processes), best of 5
for c in "\$gj" "\$bw" "\$floor"; do
        for _ in 1 2 3 4 5; do /usr/bin/time -f %M \$c 2>&1 >/dev/null | tail -1; done | sort -n | head -1
done >"$TMP/rss"
EOF
"$SRC/tests/fakehost/enter" "$TMP/host" -- bash "$TMP/inside.sh"

python3 - "$TMP/h.json" "$TMP/rss" "$N" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
res = {r["command"]: r for r in data["results"]}
rss = [int(x) for x in open(sys.argv[2]).read().split()]
print(f"gpujail run --gpu 0 -- /bin/true on a simulated nvidia8 host, N={sys.argv[3]} each, "
      f"interleaved (load {data['load']})")
print(f"  {'':8s} {'median':>9s} {'p90':>9s} {'mean ± stddev':>18s} {'min':>9s} {'peak RSS':>10s}")
for (name, r), kib in zip(res.items(), rss):
    print(f"  {name:8s} {r['median']*1e3:6.2f} ms {r['p90']*1e3:6.2f} ms {r['mean']*1e3:8.2f} ± {r['stddev']*1e3:5.2f} ms "
          f"{r['min']*1e3:6.2f} ms {kib:6d} KiB")
g, b, f = (res[k]["median"] for k in ("gpujail", "bwrap", "floor"))
print(f"  ratio of medians: gpujail/bwrap {g/b:.2f} (target <= 0.8)   gpujail/floor {g/f:.2f} (target <= 1.5)")
print(f"  gpujail mean/median {res['gpujail']['mean']/g:.2f} (target <= 1.15: no long tail)")
PY
