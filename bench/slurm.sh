#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/slurm.sh [N]: what spank_gpujail.so adds to a Slurm task's start.
#
# `srun true` on the one-node Slurm of tests/e2e/slurm-common.sh (Debian's slurm-wlm,
# simulated 8-GPU host, gres.conf from `gpujail slurm gres-conf`), N runs per variant
# (default 30), interleaved by bench/interleave.py so that drift hits every variant
# alike. slurmstepd reads plugstack.conf afresh for every step, so each run first
# copies the variant's plugstack.conf in place (the same cp on every side):
#   off       plugstack.conf empty               srun true
#   on        spank_gpujail.so, no GPU asked     srun true
#   off-gpu1  empty                              srun --gres=gpu:1 true
#   on-gpu1   spank_gpujail.so                   srun --gres=gpu:1 true
#   dev-gpu1  spank_gpujail.so dev=curated       srun --gres=gpu:1 true
# Prints interleave.py's JSON, the median each plugin variant adds, and the plugin's
# own time per task from its slurmd.log lines (srun's ~90 ms varies by more than that).
# Target (issue 14): < 5 ms. Needs root and what tests/e2e/test-slurm-spank.sh needs.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-${N:-30}}
. "$here/tests/lib.sh"
. "$here/tests/e2e/slurm-common.sh"
_tap_planned=1 # not a test: no TAP plan at exit
SPANK=$GPUJAIL_BUILD/slurm/spank_gpujail.so
[[ -f $SPANK ]] || { echo "bench/slurm.sh: no $SPANK: build first" >&2; exit 1; }
slurm_require
HOST=$(fakehost nvidia8)
"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" slurm gres-conf >"$TEST_TMP/gres.conf"
echo "required $SPANK" >"$TEST_TMP/on"
echo "required $SPANK dev=curated" >"$TEST_TMP/dev"
: >"$TEST_TMP/off"
slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/off" || { echo "Slurm did not start" >&2; exit 1; }

variant() { # NAME PLUGSTACK SRUN-ARGS
        echo "$1=sh -c 'cp $TEST_TMP/$2 $SLURM_DIR/plugstack.conf && srun $3 true'"
}
python3 "$here/bench/interleave.py" -w 3 "$n" "$(variant off off "")" "$(variant on on "")" \
        "$(variant off-gpu1 off --gres=gpu:1)" "$(variant on-gpu1 on --gres=gpu:1)" \
        "$(variant dev-gpu1 dev --gres=gpu:1)" >"$TEST_TMP/result.json" ||
        exit 1
cat "$TEST_TMP/result.json"
echo
jq -r '.results | map({(.command): .median}) | add as $m |
        "median srun true: off \($m.off * 1000 | floor) ms, on \($m.on * 1000 | floor) ms: plugin adds \(($m.on - $m.off) * 1000 * 100 | round / 100) ms (no GPU)",
        "median srun --gres=gpu:1 true: off \($m["off-gpu1"] * 1000 | floor) ms, on \($m["on-gpu1"] * 1000 | floor) ms: plugin adds \(($m["on-gpu1"] - $m["off-gpu1"]) * 1000 * 100 | round / 100) ms (1 GPU)",
        "median srun --gres=gpu:1 true with dev=curated: \($m["dev-gpu1"] * 1000 | floor) ms: plugin adds \(($m["dev-gpu1"] - $m["off-gpu1"]) * 1000 * 100 | round / 100) ms"' \
        "$TEST_TMP/result.json"
# The plugin's own time (its log lines), apart from srun's noise: per task in slurmstepd
# (the cgroup), without and with a GPU; per step (the plan); per task in the task (/dev).
for g in none 0; do
        grep -o "default-deny, GPUs $g ([0-9.]* ms)" "$SLURM_DIR/slurmd.log" | grep -o '[0-9.]* ms' | sort -n |
                awk -v g="$g" '{ t[NR] = $1 } END { if (NR) printf "per task, the cgroup, GPUs %s: %d tasks, median %.2f ms, max %.2f ms\n", g, NR, t[int((NR + 1) / 2)], t[NR] }'
done
grep -o "step planned: GPUs 0 ([0-9.]* ms)" "$SLURM_DIR/slurmd.log" | grep -o '[0-9.]* ms' | sort -n |
        awk '{ t[NR] = $1 } END { if (NR) printf "once per step, the plan (inventory): %d steps, median %.2f ms, max %.2f ms\n", NR, t[int((NR + 1) / 2)], t[NR] }'
grep -o "gpujail's /dev, GPUs 0 ([0-9.]* ms)" "$SLURM_DIR/slurmd.log" | grep -o '[0-9.]* ms' | sort -n |
        awk '{ t[NR] = $1 } END { if (NR) printf "per task, dev=curated /dev: %d tasks, median %.2f ms, max %.2f ms\n", NR, t[int((NR + 1) / 2)], t[NR] }'
slurm_stop
