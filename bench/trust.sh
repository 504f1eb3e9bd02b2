#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/trust.sh BASELINE [N]: what the shared-host trust model costs `gpujail
# run --gpu 0 -- /bin/true` (issue: < 0.3 ms), against BASELINE, a gpujail built
# from before it, in the same invocation, interleaved (bench/interleave.py), on
# a simulated 8-GPU host, as root. Four commands:
#   base-root / new-root   root itself (the new binary only identifies the caller)
#   base-sudo / new-sudo   for a sudo caller (SUDO_UID=65534, nobody): the new one
#                          also reads the policy (none: the built-in defaults),
#                          opens the cwd as the user and checks the GPUs
# Prints medians and p90 (ms) and the differences of the medians.
#   GPUJAIL=path/to/gpujail (default: build/cli/gpujail)
set -euo pipefail

BASE=$(realpath "${1:?usage: bench/trust.sh BASELINE-GPUJAIL [N]}")
N=${2:-200}
SRC=$(cd "$(dirname "$0")/.." && pwd)
GPUJAIL=$(realpath "${GPUJAIL:-$SRC/build/cli/gpujail}")
[[ $(id -u) -eq 0 ]] || { echo "bench/trust.sh: needs root" >&2; exit 1; }

TMP=$(mktemp -d /tmp/gpujail-bench.XXXXXX)
trap 'rm -rf --one-file-system "$TMP"' EXIT
"$SRC/tests/fakehost/mkhost" nvidia8 "$TMP/host" >/dev/null
sudo_env="env SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody"
root_env="env GPUJAIL_BENCH=root" # the same extra exec of env(1) on both sides
cd /tmp # a working directory that nobody can enter too
"$SRC/tests/fakehost/enter" "$TMP/host" -- python3 "$SRC/bench/interleave.py" "$N" \
        "base-root=$root_env $BASE run --gpu 0 -- /bin/true" \
        "new-root=$root_env $GPUJAIL run --gpu 0 -- /bin/true" \
        "base-sudo=$sudo_env $BASE run --gpu 0 -- /bin/true" \
        "new-sudo=$sudo_env $GPUJAIL run --gpu 0 -- /bin/true" >"$TMP/h.json"

python3 - "$TMP/h.json" "$N" <<'PY'
import json, statistics, sys
data = json.load(open(sys.argv[1]))
res = {r["command"]: r for r in data["results"]}
def p90(r):
    return statistics.quantiles(r["times"], n=10)[-1]
print(f"gpujail run --gpu 0 -- /bin/true, simulated nvidia8, N={sys.argv[2]} each, interleaved (load {data['load']})")
for name, r in res.items():
    print(f"  {name:9s} median {r['median']*1e3:6.2f} ms   p90 {p90(r)*1e3:6.2f} ms   mean {r['mean']*1e3:6.2f} ms")
for who in ("root", "sudo"):
    d = (res[f"new-{who}"]["median"] - res[f"base-{who}"]["median"]) * 1e3
    print(f"  {who}: new - base = {d:+.2f} ms (medians; target < 0.3 ms)")
PY
