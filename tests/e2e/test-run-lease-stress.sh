#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Many concurrent `gpujail run --gpu auto[:1|:2] --wait` jobs on a simulated
# 8-GPU host (GJ_STRESS_JOBS, default 40: well under a minute on two cores).
# Each job records, from its own view, when it ran and which GPUs it had
# ($GPUJAIL_DEVICES and the GPU nodes in its /dev). Then: every job ran, each
# got what it asked for and its /dev agrees with GPUJAIL_DEVICES, no two jobs
# ever had one GPU at the same time, and afterwards every GPU is free, no
# ticket is left in the queue, and no cgroup is left behind.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"
require_cmd jq python3

N=${GJ_STRESS_JOBS:-40}
HOST=$(fakehost nvidia8)
JOBS=$TEST_TMP/jobs # bound into each job as its working directory: where it records
mkdir -p "$JOBS"
hostinfo nvidia8 '.devices[] | "\(.uuid) \(.nodes[0].path)"' >"$TEST_TMP/uuid-node"

run_snapshot before

# All N in one simulated host (one enter: its python would cost more than the jobs).
# Job i asks for auto:1 or auto:2; its record: start end uuids /dev-nodes.
cat >"$TEST_TMP/stress.sh" <<'EOF'
set -u
n=$1 gj=$2
for ((i = 0; i < n; i++)); do
        k=$((i % 3 == 0 ? 2 : 1))
        "$gj" run --gpu auto:$k --wait -- sh -c '
                s=$(date +%s%N)
                d=$(ls /dev | grep -E "^nvidia[0-9]+$" | sort | tr "\n" ",")
                sleep 0.05
                echo "$s $(date +%s%N) $GPUJAIL_DEVICES $d" > "rec.$0"' "$i" 2>"err.$i" &
done
fails=0
for pid in $(jobs -p); do wait "$pid" || fails=$((fails + 1)); done
echo "$fails"
EOF
start=$(date +%s%N)
run bash -c 'cd "$1" && exec "$2" "$3" -- bash "$4" "$5" "$6"' sh "$JOBS" "$FAKEHOST/enter" "$HOST" \
        "$TEST_TMP/stress.sh" "$N" "$GPUJAIL"
elapsed=$((($(date +%s%N) - start) / 1000000))
diag "$N jobs in $elapsed ms"
is "$stdout" 0 "$N concurrent auto[:1|:2] --wait jobs: every one exits 0" || { show; cat "$JOBS"/err.* | head -20 | diag "$(cat)"; }
is "$(ls "$JOBS" | grep -c '^rec\.')" "$N" "... every one ran and recorded what it had"

cat >"$TEST_TMP/check.py" <<'EOF'
import sys, os
jobs, n, mapfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
node_of = dict(l.split() for l in open(mapfile))
bad, spans = [], {}
for i in range(n):
    try:
        start, end, uuids, nodes = open(os.path.join(jobs, f"rec.{i}")).read().split()
    except (OSError, ValueError) as e:
        bad.append(f"job {i}: no record ({e})"); continue
    uuids = uuids.split(",")
    want = 2 if i % 3 == 0 else 1
    if len(uuids) != want:
        bad.append(f"job {i}: asked {want}, got {uuids}")
    seen = sorted(n for n in nodes.split(",") if n)
    if seen != sorted(os.path.basename(node_of[u]) for u in uuids):
        bad.append(f"job {i}: /dev has {seen}, GPUJAIL_DEVICES says {uuids}")
    for u in uuids:
        spans.setdefault(u, []).append((int(start), int(end), i))
for u, s in spans.items():
    s.sort()
    for (a0, a1, ai), (b0, b1, bi) in zip(s, s[1:]):
        if b0 <= a1:
            bad.append(f"{u}: job {ai} ({a0}-{a1}) and job {bi} ({b0}-{b1}) overlap")
print("\n".join(bad) if bad else f"{sum(len(s) for s in spans.values())} GPU uses on {len(spans)} GPUs, no overlap")
sys.exit(1 if bad else 0)
EOF
run python3 "$TEST_TMP/check.py" "$JOBS" "$N" "$TEST_TMP/uuid-node"
is "$status" 0 "each job had what it asked for (/dev agrees with GPUJAIL_DEVICES), never two jobs on one GPU at once" || show
diag "$stdout"
# The check itself, attacked: a copy of the records where job 1 claims job 0's GPUs at job 0's time.
cp -r "$JOBS" "$TEST_TMP/doctored"
read -r s0 e0 u0 d0 <"$JOBS/rec.0"
echo "$s0 $e0 ${u0%%,*} ${d0%%,*}," >"$TEST_TMP/doctored/rec.1"
run python3 "$TEST_TMP/check.py" "$TEST_TMP/doctored" "$N" "$TEST_TMP/uuid-node"
like "$stdout" "job 0 .* and job 1 .* overlap" "the overlap check sees two jobs on one GPU at once (a doctored record)"

run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" ps --json
is "$(jq -r '[.gpus[] | select(.state == "free")] | length' <<<"$stdout")" 8 "afterwards every GPU is free (ps)"

# ---- SIGKILL at random points: while queued, while taking, while holding; gpujail or the init ----
cat >"$TEST_TMP/kill.sh" <<'EOF'
set -u
gj=$1 rounds=$2 killed=0
for ((r = 0; r < rounds; r++)); do
        for j in 1 2 3 4; do "$gj" run --gpu auto:$((j % 2 + 1)) --wait -- sleep 0.1 2>/dev/null & done
        sleep "0.0$((RANDOM % 10))"
        for pid in $(jobs -p | shuf -n 2); do
                if ((RANDOM % 2)); then
                        kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))   # gpujail
                else
                        init=$(pgrep -P "$pid" | head -1)                      # the job's init, if cloned yet
                        [[ -n $init ]] && kill -9 "$init" 2>/dev/null && killed=$((killed + 1))
                fi
        done
done
wait
echo "$killed"
EOF
run bash -c 'cd "$1" && exec "$2" "$3" -- bash "$4" "$5" 15' sh "$JOBS" "$FAKEHOST/enter" "$HOST" "$TEST_TMP/kill.sh" "$GPUJAIL"
diag "SIGKILLed $stdout gpujail or init processes in 15 rounds of 4 jobs"
# (the init of a SIGKILLed gpujail dies a moment after it, by PR_SET_PDEATHSIG: give it 2 s)
for ((i = 0; i < 20; i++)); do
        run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" ps --json
        [[ $(jq -r '[.gpus[] | select(.state == "free")] | length' <<<"$stdout") == 8 ]] && break
        sleep 0.1
done
is "$(jq -r '[.gpus[] | select(.state == "free")] | length' <<<"$stdout")" 8 \
        "after SIGKILLs at random points (queued, taking, holding; gpujail or init): every GPU is free (ps)"
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu auto:8 --wait=10 -- true
is "$status" 0 "... and all 8 can be taken at once: stale tickets and records block nothing" || show
is "$(ls -A "$HOST/run-gpujail/queue" 2>/dev/null | wc -l)" 0 "... no ticket left in the queue"
run_assert_host_unchanged before "... and no cgroup or mount left behind"
done_testing
