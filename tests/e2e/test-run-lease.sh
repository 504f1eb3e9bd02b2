#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# GPU leases (docs/shared-hosts.md, "Sharing GPUs"), on a simulated 8-GPU host
# whose /run/gpujail is the host dir's own (tests/fakehost/enter): --gpu
# auto[:N] picks free GPUs; an explicit GPU that another job holds is refused
# naming the holder; --share; a lease dies with its job however it is killed
# (gpujail or the job's init SIGKILLed), and a stale record never blocks.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"
require_cmd jq

HOST=$(fakehost nvidia8)
LEASES=$HOST/run-gpujail/leases
GJ_LEASE_DIR_RE=/run/gpujail/leases
JOBS=$TEST_TMP/jobs # the jobs' working directory, bound into each: where they say what they got
mkdir -p "$JOBS"
uuid() { hostinfo nvidia8 ".devices[$1].uuid"; }

gj() { "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" "$@"; }
grun() { run gj run "$@"; }

# bg NAME [run options] -- CMD: a job in the background that writes what it
# was given ($GPUJAIL_DEVICES) to $TEST_TMP/NAME.ready, then runs CMD; its
# gpujail's pid (enter execs it) in $TEST_TMP/NAME.pid. Waits until it is ready.
bg() {
        local name=$1
        shift
        local opts=()
        while [[ $1 != -- ]]; do opts+=("$1"); shift; done
        shift
        rm -f "$JOBS/$name.ready"
        (cd "$JOBS" && exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run "${opts[@]}" -- \
                sh -c 'echo "$GPUJAIL_DEVICES" > "$0"; exec "$@"' "$name.ready" "$@" >"$TEST_TMP/$name.out" 2>&1) &
        echo $! >"$TEST_TMP/$name.pid"
        local i
        for ((i = 0; i < 100; i++)); do
                [[ -s $JOBS/$name.ready ]] && return 0
                kill -0 "$(cat "$TEST_TMP/$name.pid")" 2>/dev/null || break
                sleep 0.05
        done
        diag "job $name did not start: $(cat "$TEST_TMP/$name.out")"
        return 1
}
# A lease record field of the GPU with that UUID (trusted here: the test knows it is held).
field() { grep -a "^$2=" "$LEASES/gpu-$1.lock" | head -1 | cut -d= -f2-; }
wait_gone() { # PID: until it exited (at most 5 s)
        local i
        for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
        return 1
}

run_snapshot before

# ---- an explicit GPU held by another job is refused, naming the holder ----
bg hold3 --gpu 3 -- sleep 60
is "$(cat "$JOBS/hold3.ready")" "$(uuid 3)" "a job with --gpu 3 gets GPU 3"
ok '[ -f "$LEASES/gpu-$(uuid 3).lock" ]' "its lease file is named by the GPU's UUID"
is "$(stat -c '%U %a' "$LEASES")" "root 755" "the lease dir is root's, 0755"
is "$(stat -c '%U %a' "$LEASES/gpu-$(uuid 3).lock")" "root 644" "the lease file is root's, 0644"
HOLDER=$(field "$(uuid 3)" pid)
is "$HOLDER" "$(cat "$TEST_TMP/hold3.pid")" "the record names the holding gpujail's pid"
grun --gpu 3 -- true
is "$status" 125 "--gpu 3 while another job holds it: refused with 125" || show
like "$stderr" "GPU 3 is held by root \\(uid 0\\), pid $HOLDER, since [0-9:]+, \`sh -c .*sleep 60\`" \
        "... naming who holds it, since when and the command"
grun --gpu 2,3 -- true
is "$status" 125 "--gpu 2,3 with 3 held: refused" || show
bg hold2 --gpu 2 -- sleep 60
is "$(cat "$JOBS/hold2.ready")" "$(uuid 2)" "... and took nothing: GPU 2 is still free"
grun --gpu 2,4 -- true
is "$status" 125 "--gpu 2,4 with 2 held: refused" || show
grun --gpu 4 -- true
is "$status" 0 "... and GPU 4 was not left held by the refused request" || show

# ---- auto ----
grun --gpu auto:6 -- sh -c 'echo "$GPUJAIL_DEVICES"'
is "$status" 0 "auto:6 with 2 of 8 held: runs" || show
got=$(tr ',' '\n' <<<"$stdout" | sort)
want=$(for i in 0 1 4 5 6 7; do uuid $i; done | sort)
is "$got" "$want" "... on the 6 free GPUs"
grun --gpu auto:7 -- true
is "$status" 125 "auto:7 with 2 of 8 held: refused with 125" || show
like "$stderr" "no 7 free GPU\\(s\\) for --gpu auto:7 among the 8 root may use" "... saying what it wanted"
like "$stderr" "GPU 3 is held by root \\(uid 0\\), pid $HOLDER" "... and who holds what"
like "$stderr" "GPU 0 is free" "... and what is free"
grun --gpu auto:0 -- true
is "$status" 125 "auto:0 is refused" || show
like "$stderr" "expected auto or auto:N" "... saying what is expected"
grun --gpu auto -- sh -c 'echo "$GPUJAIL_DEVICES"; ls /dev | grep -c "^nvidia[0-9]"'
is "$(head -1 <<<"$stdout")" "$(uuid 0)" "auto: the lowest free GPU" || show
is "$(tail -1 <<<"$stdout")" "1" "... and only its node in /dev"

# ---- gpujail ps: who holds what ----
run gj ps --json
is "$status" 0 "ps --json runs" || show
PS=$stdout
is "$(jq -r '.version' <<<"$PS")" 1 "ps --json: version 1"
is "$(jq -r '.gpus | length' <<<"$PS")" 8 "... one entry per GPU"
ok "jq -e '.gpus | all(has(\"index\") and has(\"uuid\") and has(\"state\") and has(\"holders\") and has(\"outside_gpujail\"))' <<<'$PS'" \
        "... each with index, uuid, state, holders, outside_gpujail"
is "$(jq -r '[.gpus[] | .state] | join(",")' <<<"$PS")" "free,free,held,held,free,free,free,free" \
        "... GPUs 2 and 3 held, the rest free"
H3=$(jq -c '.gpus[3].holders[0]' <<<"$PS")
is "$(jq -r '[.uid, .user, .pid] | join(" ")' <<<"$H3")" "0 root $(cat "$TEST_TMP/hold3.pid")" \
        "... GPU 3's holder: uid, user, gpujail's pid"
like "$(jq -r '.since' <<<"$H3")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "... since, in UTC (RFC 3339)"
like "$(jq -r '.cgroup' <<<"$H3")" '/gpujail/run-[0-9]+-[0-9a-f]+$' "... the job's cgroup"
like "$(jq -r '.command' <<<"$H3")" 'sleep 60' "... and, for root, the command"
is "$(jq -r '.uuid' <<<"$(jq -c '.gpus[3]' <<<"$PS")")" "$(uuid 3)" "... and the GPU's UUID"
run gj ps
like "$stdout" "^3 +held +root +$(cat "$TEST_TMP/hold3.pid") " "ps (text): GPU 3 held by root, with its pid"
run gj list
like "$stdout" "^3 .* held:root +ok" "list: a LEASE column (held:root)"
like "$stdout" "^0 .* free +ok" "... and free"

# A user's view (nobody): others' jobs without their command lines, only own processes scanned.
run "$FAKEHOST/enter" "$HOST" -- setpriv --reuid=65534 --regid=65534 --clear-groups -- "$GPUJAIL" ps --json
is "$status" 0 "ps --json as a user who is not root runs" || show
is "$(jq -r '.gpus[3].holders[0].user' <<<"$stdout")" "root" "... sees who holds GPU 3"
is "$(jq -r '.gpus[3].holders[0].command' <<<"$stdout")" "null" "... but not another user's command line"
is "$(jq -r '.processes_scanned' <<<"$stdout")" "own" "... and says it looked at its own processes only"

# A process with a GPU node open outside any job (O_PATH: a fake node has no driver to open).
(exec "$FAKEHOST/enter" "$HOST" -- python3 -c 'import os, time; os.open("/dev/nvidia7", os.O_PATH); open("'"$TEST_TMP"'/outside.ready", "w").close(); time.sleep(60)') &
OUTSIDE=$!
for ((i = 0; i < 100; i++)); do [[ -e $TEST_TMP/outside.ready ]] && break; sleep 0.05; done
MINOR7_GPU=$(hostinfo nvidia8 '[.devices[] | select(.nodes[0].path == "/dev/nvidia7")][0].index')
run gj ps --json
is "$(jq -r ".gpus[$MINOR7_GPU].outside_gpujail[0].pid" <<<"$stdout")" "$OUTSIDE" \
        "ps flags a process that holds a GPU node open outside gpujail"
is "$(jq -r ".gpus[$MINOR7_GPU].outside_gpujail[0].node" <<<"$stdout")" "/dev/nvidia7" "... with the node"
is "$(jq -r "[.gpus[].outside_gpujail[]] | length" <<<"$stdout")" 1 "... and nothing else (jobs' own opens are not flagged)"
run gj ps
like "$stdout" "! GPU $MINOR7_GPU: pid $OUTSIDE \(root, python3\) has /dev/nvidia7 open" "ps (text) flags it too"
kill "$OUTSIDE"
wait "$OUTSIDE" 2>/dev/null

# ---- kill tests: whatever ends the job, the lease ends with it ----
INIT=$(field "$(uuid 3)" init)
ok '[ -n "$INIT" ] && ls -l /proc/$INIT/fd | grep -q "gpu-$(uuid 3).lock"' "the job's init holds the lease fd too"
kill -9 "$INIT"
wait_gone "$(cat "$TEST_TMP/hold3.pid")"
run gj ps --json
is "$(jq -r '.gpus[3].state' <<<"$stdout")" free "init SIGKILLed: ps says GPU 3 is free"
grun --gpu 3 -- true
is "$status" 0 "... and it is: --gpu 3 runs" || show
HOLDER=$(field "$(uuid 2)" pid)
INIT=$(field "$(uuid 2)" init)
kill -9 "$HOLDER"
wait_gone "$(cat "$TEST_TMP/hold2.pid")"
wait_gone "$INIT"
ok "grep -aq '^pid=$HOLDER$' '$LEASES/gpu-$(uuid 2).lock'" "gpujail SIGKILLed: its record stays in the file, stale"
run gj ps --json
is "$(jq -r '.gpus[2].state' <<<"$stdout")" free "... ps says GPU 2 is free"
grun --gpu 2 -- true
is "$status" 0 "... and it is: a stale record never blocks" || show

# ---- --share ----
bg share1 --gpu 5 --share -- sleep 60
bg share2 --gpu 5 --share -- sleep 60
ok '[ -s "$JOBS/share2.ready" ]' "two --share jobs on one GPU both run"
grun --gpu 5 -- true
is "$status" 125 "an exclusive request for a shared GPU is refused" || show
like "$stderr" "GPU 5 is shared by root \\(uid 0\\), pid [0-9]+, .* and root \\(uid 0\\)" "... naming both holders"
run gj ps --json
is "$(jq -r '.gpus[5].state + " " + (.gpus[5].holders | length | tostring) + " " + (.gpus[5].holders[0].shared | tostring)' <<<"$stdout")" \
        "shared 2 true" "ps: GPU 5 shared by two holders"
grun --gpu auto:8 --share -- true
is "$status" 0 "auto:8 --share counts the shared GPU as free for sharing" || show
bg excl --gpu 6 -- sleep 60
grun --gpu 6 --share -- true
is "$status" 125 "--share on a GPU held exclusively is refused" || show
for n in share1 share2 excl; do
        kill -TERM "$(cat "$TEST_TMP/$n.pid")"
        wait_gone "$(cat "$TEST_TMP/$n.pid")"
done
grun --gpu auto:8 -- true
is "$status" 0 "every job gone: all 8 GPUs free again" || show

# ---- --wait: a queue, first come first served ----
bg all8 --gpu auto:8 -- sleep 60
(cd "$JOBS" && exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu auto:8 --wait -- \
        sh -c 'date +%s.%N > A.start; sleep 0.3; date +%s.%N > A.end' 2>"$TEST_TMP/A.err") &
A=$!
for ((i = 0; i < 100; i++)); do [[ $(ls "$HOST/run-gpujail/queue" 2>/dev/null | wc -l) -ge 1 ]] && break; sleep 0.05; done
(cd "$JOBS" && exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu auto --wait -- \
        sh -c 'date +%s.%N > B.start' 2>"$TEST_TMP/B.err") &
B=$!
for ((i = 0; i < 100; i++)); do [[ $(ls "$HOST/run-gpujail/queue" 2>/dev/null | wc -l) -ge 2 ]] && break; sleep 0.05; done
is "$(ls "$HOST/run-gpujail/queue" | wc -l)" 2 "--wait with every GPU held: two jobs queue (one ticket each)"
run gj ps --json
is "$(jq -r '[.queue[].pid] | join(" ")' <<<"$stdout")" "$A $B" "ps --json: the queue, first first"
run gj ps
like "$stdout" "1\\. root +pid $A " "ps: the queue, numbered"
like "$(cat "$TEST_TMP/A.err")" "waiting for 8 free GPU\\(s\\) of the 8 root may use: first in the queue" \
        "... the first says what it waits for and that it is first"
like "$(cat "$TEST_TMP/B.err")" "waiting for 1 free GPU\\(s\\) of the 8 root may use: 1 job\\(s\\) ahead in the queue" \
        "... the second, its place"
kill -TERM "$(cat "$TEST_TMP/all8.pid")"
wait "$A"
is "$?" 0 "the holder ends: the first in the queue runs" || diag "$(cat "$TEST_TMP/A.err")"
wait "$B"
is "$?" 0 "... then the second" || diag "$(cat "$TEST_TMP/B.err")"
ok "[ \"\$(cat '$JOBS/B.start')\" '>' \"\$(cat '$JOBS/A.end')\" ]" \
        "... only after the first ended: no overtaking, though one GPU would have done for it"

# A request that comes while a job waits does not overtake it either, even one that the
# free GPUs would serve (else 1-GPU jobs could keep an 8-GPU one waiting for ever):
# refused without --wait, queued behind it with --wait.
bg hold7 --gpu 7 -- sleep 60
(cd "$JOBS" && exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu auto:8 --wait -- \
        sh -c 'date +%s.%N > F.end' 2>"$TEST_TMP/F.err") &
F=$!
for ((i = 0; i < 100; i++)); do [[ $(ls "$HOST/run-gpujail/queue" 2>/dev/null | wc -l) -ge 1 ]] && break; sleep 0.05; done
grun --gpu 0 -- true
is "$status" 125 "a job waits for all 8 (7 free): a new --gpu 0 is refused, not served past it" || show
like "$stderr" "1 job\\(s\\) wait in the queue for GPUs, and they come first; --wait queues behind them" \
        "... saying why, and what to do"
grun --gpu auto:1 -- true
is "$status" 125 "... and so is --gpu auto:1" || show
(cd "$JOBS" && exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 --wait -- \
        sh -c 'date +%s.%N > G.start' 2>"$TEST_TMP/G.err") &
G=$!
for ((i = 0; i < 100; i++)); do [[ $(ls "$HOST/run-gpujail/queue" 2>/dev/null | wc -l) -ge 2 ]] && break; sleep 0.05; done
run gj ps --json
is "$(jq -r '[.queue[].pid] | join(" ")' <<<"$stdout")" "$F $G" "... with --wait it queues behind the waiting job"
kill -TERM "$(cat "$TEST_TMP/hold7.pid")"
wait "$F"
is "$?" 0 "the holder ends: the waiting job runs with all 8" || diag "$(cat "$TEST_TMP/F.err")"
wait "$G"
is "$?" 0 "... then the one that came later" || diag "$(cat "$TEST_TMP/G.err")"
ok "[ \"\$(cat '$JOBS/G.start')\" '>' \"\$(cat '$JOBS/F.end')\" ]" "... only after the first ended"

bg hold0 --gpu 0 -- sleep 60
(cd "$JOBS" && exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 --wait -- true 2>"$TEST_TMP/C.err") &
C=$!
for ((i = 0; i < 100; i++)); do [[ -n $(ls "$HOST/run-gpujail/queue" 2>/dev/null) ]] && break; sleep 0.05; done
kill -INT "$C"
wait "$C"
is "$?" 130 "Ctrl-C (SIGINT) in the queue: leaves with 130" || diag "$(cat "$TEST_TMP/C.err")"
like "$(cat "$TEST_TMP/C.err")" "left the queue" "... saying so"
is "$(ls "$HOST/run-gpujail/queue" | wc -l)" 0 "... and its ticket is gone"
grun --gpu 0 --wait=1 -- true
is "$status" 125 "--wait=1 on a held GPU: gives up after a second with 125" || show
like "$stderr" "gave up waiting for --gpu 0 \\(--wait=1\\)" "... saying so"
grun --gpu auto:9 --wait -- true
is "$status" 125 "--wait for more GPUs than the host has: refused at once, not queued forever" || show
grun --gpu 1 --wait=5x -- true
is "$status" 125 "--wait=5x is refused" || show
kill -TERM "$(cat "$TEST_TMP/hold0.pid")"
wait_gone "$(cat "$TEST_TMP/hold0.pid")"

# A waiter SIGKILLed leaves a stale ticket; it never blocks, and the next waiter removes it.
bg hold1 --gpu 1 -- sleep 60
(exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 1 --wait -- true 2>/dev/null) &
D=$!
for ((i = 0; i < 100; i++)); do [[ -n $(ls "$HOST/run-gpujail/queue" 2>/dev/null) ]] && break; sleep 0.05; done
kill -9 "$D"
wait "$D" 2>/dev/null
is "$(ls "$HOST/run-gpujail/queue" | wc -l)" 1 "a waiter SIGKILLed leaves its ticket behind"
(exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 1 --wait -- true 2>"$TEST_TMP/E.err") &
E=$!
sleep 0.5
kill -TERM "$(cat "$TEST_TMP/hold1.pid")"
wait "$E"
is "$?" 0 "... which does not block the next waiter" || diag "$(cat "$TEST_TMP/E.err")"
like "$(cat "$TEST_TMP/E.err")" "first in the queue" "... who is first in the queue"
is "$(ls "$HOST/run-gpujail/queue" | wc -l)" 0 "... and removed the stale ticket"

# ---- placement: auto:N keeps to one NUMA node (nvidia8: GPUs 0-3 on node 0, 4-7 on node 1) ----
grun --gpu auto:2 --verbose -- true
like "$stderr" "--gpu auto:2: GPUs 0,1 \\(one NUMA node\\)" "--verbose: auto:2 says which GPUs it picked and why" || show
bg numa0 --gpu 0,1,2 -- sleep 60
grun --gpu auto:2 --verbose -- sh -c 'echo "$GPUJAIL_DEVICES"'
is "$stdout" "$(uuid 4),$(uuid 5)" "auto:2 with 3 GPUs of node 0 held: two of node 1, not GPU 3 and 4" || show
run gj plan --gpu auto:2 --json
is "$(jq -c '.auto' <<<"$stdout")" '{"request":"auto:2","picked":[4,5],"reason":"one NUMA node"}' \
        "plan --gpu auto:2 --json: what run would pick now, and why" || show
is "$(ls "$HOST/run-gpujail/queue" | wc -l) $(jq -r '.gpus[4].state' <<<"$(gj ps --json)")" "0 free" "... taking nothing"
grun --gpu auto:5 --verbose -- true
like "$stderr" "GPUs 3,4,5,6,7 \\(lowest free indexes\\)" "auto:5: no node has 5 free: the lowest indexes, and says so" || show
kill -TERM "$(cat "$TEST_TMP/numa0.pid")"
wait_gone "$(cat "$TEST_TMP/numa0.pid")"

# ---- /run/gpujail is root's: what anyone else could have planted there is refused, never followed ----
AH=$(fakehost_private nvidia8 attack)
ar() { run "$FAKEHOST/enter" "$AH" -- "$GPUJAIL" run "$@"; }
mkdir -p "$AH/run-gpujail/leases"
ln -s /etc/gj-lease-target-$$ "$AH/run-gpujail/leases/gpu-$(uuid 3).lock"
ar --gpu 3 -- true
is "$status" 125 "a symlink as a GPU's lock file: refused with 125" || show
like "$stderr" "gpu-$(uuid 3).lock" "... naming the file"
nok "[ -e /etc/gj-lease-target-$$ ]" "... and its target was not created"
rm "$AH/run-gpujail/leases/gpu-$(uuid 3).lock"
chmod 0777 "$AH/run-gpujail/leases"
ar --gpu 3 -- true
is "$status" 125 "a lease dir that others may write: refused" || show
like "$stderr" "refusing $GJ_LEASE_DIR_RE: owned by uid 0, mode 0777" "... saying why"
chmod 0755 "$AH/run-gpujail/leases"
touch "$AH/run-gpujail/leases/gpu-$(uuid 3).lock"
chown 65534 "$AH/run-gpujail/leases/gpu-$(uuid 3).lock"
ar --gpu 3 -- true
is "$status" 125 "a lock file not owned by root: refused" || show
rm -rf "$AH/run-gpujail/leases"
ln -s /tmp "$AH/run-gpujail/leases"
ar --gpu 3 -- true
is "$status" 125 "a symlink as the lease dir: refused" || show
rm "$AH/run-gpujail/leases"

run_assert_host_unchanged before "no cgroup or mount left behind"
ok '[ ! -e /run/gpujail ] || [ -z "$(ls -A /run/gpujail/leases 2>/dev/null | grep -v "^\.lock$" | grep -v "^gpu-")" ]' \
        "nothing but lock files in the test's /run/gpujail, the machine's untouched"
done_testing
