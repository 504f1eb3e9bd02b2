#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run: the job's device cgroup, for real, with the oracle of design.md.
# While the job sleeps, a probe joins the job's cgroup (v1 devices alone, then
# cgroup2 alone, then both) and opens mknod'ed 195:N nodes: the selected GPU's
# minor gives ENXIO (allowed, no driver), another GPU's EPERM (denied).
# Then: the host is unchanged (mounts, cgroup dirs, cgroup BPF programs) after
# a normal run, a SIGKILLed job, a SIGKILLed gpujail (its empty cgroup is
# removed by the next run: the stale sweep) and a setup failing half-way.
# Last, each way the init gets into its cgroups (gpujail/cgroup.h), on the hybrid
# host and in a pure cgroup v2 mount namespace: born in the cgroup2 one (clone3
# CLONE_INTO_CGROUP) and joining v1 itself, or, where clone3 is refused (kernels
# < 5.7, seccomp profiles, valgrind: strace's fault injection here), joining both
# itself: the job's first command already runs there, and the oracle holds.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL" "$HELPERS/open-probe" "$HELPERS/cgexec"
require_cmd strace
require_cgroup_v1_devices
require_cgroup_v2
write_v2ns

HOST=$(fakehost nvidia8)
SEL_MINOR=$(hostinfo nvidia8 '.devices[0].minor')
OTHER_MINOR=$(hostinfo nvidia8 '.devices[1].minor')
V2=$(cgroup2_root)

mknod "$TEST_TMP/sel" c 195 "$SEL_MINOR"
mknod "$TEST_TMP/other" c 195 "$OTHER_MINOR"
mknod "$TEST_TMP/ctl" c 195 255
mknod "$TEST_TMP/null" c 1 3
"$HELPERS/open-probe" "$TEST_TMP/sel" | grep -q ENXIO ||
        skip_all "a 195:N node outside any job does not give ENXIO here"

run_snapshot before

# start_job MARKER [opts]: gpujail run --gpu 0 -- sleep MARKER, in the background.
start_job() {
        local marker=$1
        shift
        "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 "$@" -- sleep "$marker" \
                >"$TEST_TMP/job.out" 2>&1 &
        JOB_BG=$!
        JOB_PID=$(job_pid "$marker")
        GJ_PID=$(pgrep -f "gpujail run --gpu 0 .*sleep $marker" | head -1)
}

# job_cgroup_dirs PID: the v1 devices dir and the cgroup2 dir the pid is in.
job_cgroup_dirs() {
        V1_DIR=/sys/fs/cgroup/devices$(awk -F: '$2 == "devices" { print $3 }' "/proc/$1/cgroup")
        V2_DIR=$V2$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")
}

probe() { "$HELPERS/cgexec" "$@" -- "$HELPERS/open-probe" "$TEST_TMP/sel" "$TEST_TMP/other" \
        "$TEST_TMP/ctl" "$TEST_TMP/null" | awk '{ print $2 }' | tr '\n' ' '; }

start_job 301.1
ok '[ -n "$JOB_PID" ] && [ -e "/proc/$JOB_PID/cgroup" ]' "the job is running" ||
        { diag "$(cat "$TEST_TMP/job.out")"; ps -ef | grep -v grep | grep "sleep 301.1" | diag "$(cat)"; bail_out "job did not start"; }
job_cgroup_dirs "$JOB_PID"
like "$V1_DIR" '/gpujail/run-[0-9]+-[0-9a-f]+$' "the job is in a v1 devices cgroup of gpujail's: $V1_DIR"
like "$V2_DIR" '/gpujail/run-[0-9]+-[0-9a-f]+$' "the job is in a cgroup2 cgroup of gpujail's: $V2_DIR"
# The init builds the job's root outside the cgroup while gpujail fills it in; it must be
# inside before pivot_root, so before the job: the init (the job's parent) is there too.
INIT_PID=$(ps -o ppid= -p "$JOB_PID" | tr -d ' ')
is "$(awk -F: '$2 == "devices" || $1 == "0" { print $3 }' "/proc/$INIT_PID/cgroup" | sort -u)" \
        "$(awk -F: '$2 == "devices" || $1 == "0" { print $3 }' "/proc/$JOB_PID/cgroup" | sort -u)" \
        "the job's init (pid $INIT_PID on the host) is in the same v1 and cgroup2 cgroups"
want=$( (printf '%s\n' "c 195:$SEL_MINOR rw" 'c 1:3 rw' 'c 1:5 rw' 'c 1:7 rw' 'c 1:8 rw' 'c 1:9 rw' \
        'c 5:0 rw' 'c 5:2 rw' 'c 136:* rw'
        hostinfo nvidia8 '.controls | to_entries[] | select(.key != "nvidia-modeset") | .value |
                "c \(.major):\(.minor) rw"') | sort)
is "$(sort "$V1_DIR/devices.list")" "$want" \
        "v1 devices.list: exactly the nodes in /dev (defaults, pts, GPU 0, nvidiactl, uvm, uvm-tools)"
is "$(probe "$V1_DIR")" "ENXIO EPERM ENXIO OK " "v1 alone: selected GPU ENXIO, other GPU EPERM, nvidiactl ENXIO, null OK"
is "$(probe "$V2_DIR")" "ENXIO EPERM ENXIO OK " "cgroup2 (eBPF) alone: the same"
is "$(probe "$V1_DIR" "$V2_DIR")" "ENXIO EPERM ENXIO OK " "both: the same"
"$HELPERS/cgexec" "$V1_DIR" -- sh -c "mknod $TEST_TMP/made c 195 $SEL_MINOR" 2>/dev/null
nok '[ -e "$TEST_TMP/made" ]' "v1: mknod is not allowed without --allow-mknod"

# ---- SIGKILL of the job: gpujail reports 137 and cleans up ----
kill -KILL "$JOB_PID"
wait "$JOB_BG"
is "$?" 137 "SIGKILL of the job: gpujail exits 128+9"
nok '[ -d "$V1_DIR" ] || [ -d "$V2_DIR" ]' "the job cgroups are gone"
run_assert_host_unchanged before "host unchanged after a SIGKILLed job"

# ---- SIGKILL of gpujail itself: init dies with it; the next run sweeps the cgroup ----
start_job 302.2
job_cgroup_dirs "$JOB_PID"
kill -KILL "$GJ_PID"
wait "$JOB_BG" 2>/dev/null
for _ in $(seq 50); do kill -0 "$JOB_PID" 2>/dev/null || break; sleep 0.05; done
nok kill -0 "$JOB_PID" "SIGKILL of gpujail: the job dies with it (PR_SET_PDEATHSIG on init)"
"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run -- true >/dev/null 2>&1
nok '[ -d "$V1_DIR" ] || [ -d "$V2_DIR" ]' "the next run removed the killed gpujail's empty cgroups"
run_assert_host_unchanged before "host unchanged after a SIGKILLed gpujail and one more run"

# ---- setup failing half-way: a bind of a missing source fails in the init while
# gpujail discovers, plans and makes the cgroup ----
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 --bind /nonexistent/src:/data -- true
is "$status" 125 "a --bind of a missing source fails with 125"
like "$stderr" 'gpujail: cannot bind /nonexistent/src: No such file' "... naming the path"
run_assert_host_unchanged before "host unchanged after a setup that failed half-way"

# ---- a normal run ----
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 --dev-minimal -- true
is "$status" 0 "a normal run exits 0"
run_assert_host_unchanged before "host unchanged after a normal run"
# ---- how the init gets into its cgroups, each way (no move by pid) ----
# (LeakSanitizer cannot run under ptrace: the sanitizer build's gpujail aborts there without this.)
NOCLONE3=(env "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0"
        strace -f -qq -o /dev/null -e trace=clone3 -e inject=clone3:error=ENOSYS)

# check_join hybrid|v2 WAY [PREFIX...]: gpujail run started as PREFIX... gpujail.
check_join() {
        local kind=$1 way=$2 marker=$((400 + RANDOM % 500)).$RANDOM pre=()
        shift 2
        local what="$kind, $way"
        [[ $kind == v2 ]] && pre=("$V2NS")
        run env GPUJAIL_DEBUG=1 "$FAKEHOST/enter" "$HOST" -- "${pre[@]}" "$@" "$GPUJAIL" run --gpu 0 -- \
                cat /proc/self/cgroup
        is "$status" 0 "$what: gpujail run exits 0"
        if [[ $way == *refused* ]]; then
                unlike "$stderr" 'init born in cgroup2' "$what: the init was not born in its cgroup (plain clone)"
        else
                like "$stderr" 'init born in cgroup2' "$what: the init was born in its cgroup2 cgroup"
        fi
        like "$(awk -F: '$1 == "0" { print $3 }' <<<"$stdout")" '/gpujail/run-[0-9]+-[0-9a-f]+$' \
                "$what: the job's first command runs in gpujail's cgroup2 cgroup"
        [[ $kind == hybrid ]] &&
                like "$(awk -F: '$2 == "devices" { print $3 }' <<<"$stdout")" '/gpujail/run-[0-9]+-[0-9a-f]+$' \
                        "$what: ... and in its v1 devices cgroup"

        "$FAKEHOST/enter" "$HOST" -- "${pre[@]}" "$@" "$GPUJAIL" run --gpu 0 -- sleep "$marker" \
                >"$TEST_TMP/job.out" 2>&1 &
        local bg=$! pid
        pid=$(job_pid "$marker")
        ok '[ -n "$pid" ]' "$what: the job is running" || diag "$(cat "$TEST_TMP/job.out")"
        job_cgroup_dirs "$pid"
        is "$(probe "$V2_DIR")" "ENXIO EPERM ENXIO OK " "$what: cgroup2: selected GPU ENXIO, other GPU EPERM"
        [[ $kind == hybrid ]] &&
                is "$(probe "$V1_DIR")" "ENXIO EPERM ENXIO OK " "$what: v1 devices: the same"
        kill -KILL "$pid"
        wait "$bg"
        run_assert_host_unchanged before "$what: host unchanged"
}

# In a cgroup namespace /proc/self/cgroup says "/" for the scratch cgroup, while
# /sys/fs/cgroup/devices is still the host's root: gpujail must not take that path
# for its own cgroup (kernel/cgroup-paths.c takes the usual mount points only in the
# initial cgroup namespace); mountinfo then says it is not reachable here.
run "$FAKEHOST/enter" "$HOST" -- unshare -C "$GPUJAIL" run --gpu 0 -- true
is "$status" 125 "in a cgroup namespace with the host's hierarchies mounted: refused"
like "$stderr" 'cgroup / of pid [0-9]+ is not below /sys/fs/cgroup' "... saying the cgroup is not below the mount"
run_assert_host_unchanged before "host unchanged after a run refused in a cgroup namespace"

check_join hybrid "born in cgroup2 (clone3), joins v1 itself"
check_join hybrid "clone3 refused: joins both itself" "${NOCLONE3[@]}"
check_join v2 "born in cgroup2 (clone3)"
check_join v2 "clone3 refused: joins cgroup2 itself" "${NOCLONE3[@]}"
done_testing
