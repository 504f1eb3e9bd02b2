#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/compare.sh OLD NEW [N]: two gpujail binaries side by side in one invocation,
# interleaved in shuffled rounds (bench/interleave.py), on a simulated 8-GPU host with
# its driver's modules loaded, as root: `run --gpu 0 -- /bin/true` and `list --json`
# of each, with bwrap (the same kind of view) and `unshare -m true` (the floor) for
# scale. Prints median, p90 and mean (ms) and the ratios NEW/OLD of the medians.
# For "nothing got slower": build OLD from the commit before a change.
set -euo pipefail
OLD=$(realpath "${1:?usage: bench/compare.sh OLD-GPUJAIL NEW-GPUJAIL [N]}")
NEW=$(realpath "${2:?usage: bench/compare.sh OLD-GPUJAIL NEW-GPUJAIL [N]}")
N=${3:-200}
SRC=$(cd "$(dirname "$0")/.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "bench/compare.sh: needs root" >&2; exit 1; }
TMP=$(mktemp -d /tmp/gpujail-bench.XXXXXX)
trap 'rm -rf --one-file-system "$TMP"' EXIT
"$SRC/tests/fakehost/mkhost" nvidia8 "$TMP/host" >/dev/null
cd /tmp # a working directory every binary may bind
"$SRC/tests/fakehost/enter" --modules "$TMP/host" -- python3 "$SRC/bench/interleave.py" "$N" \
        "run-old=$OLD run --gpu 0 -- /bin/true" "run-new=$NEW run --gpu 0 -- /bin/true" \
        "list-old=$OLD list --json" "list-new=$NEW list --json" \
        "bwrap=bwrap --ro-bind / / --dev /dev --proc /proc --unshare-pid -- /bin/true" \
        "floor=unshare -m true" >"$TMP/h.json"
python3 - "$TMP/h.json" "$N" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
r = {x["command"]: x for x in d["results"]}
print(f"simulated nvidia8, N={sys.argv[2]} each, shuffled rounds (load {d['load']})")
for k, v in r.items():
    print(f"  {k:9s} median {v['median']*1e3:6.2f} ms   p90 {v['p90']*1e3:6.2f} ms   mean {v['mean']*1e3:6.2f} ms")
m = {k: v["median"] for k, v in r.items()}
print(f"  new/old: run {m['run-new']/m['run-old']:.3f}   list {m['list-new']/m['list-old']:.3f} (medians); "
      f"run p90 {r['run-new']['p90']/r['run-old']['p90']:.3f}, mean {r['run-new']['mean']/r['run-old']['mean']:.3f}")
print(f"  run-new/bwrap {m['run-new']/m['bwrap']:.2f}   run-new/floor {m['run-new']/m['floor']:.2f}")
PY
