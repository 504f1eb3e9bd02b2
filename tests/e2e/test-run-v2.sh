#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run on a pure cgroup v2 host (v2-common.sh): the job's device cgroup
# is gpujail's own program alone, no v1 controller to fall back on.
#
# While a job sleeps, a probe joins the job's cgroup2 cgroup (the probe's v1
# devices cgroup allows everything, so the program alone decides) and opens a
# matrix of mknod'ed nodes: all GPUs and NVIDIA control nodes, the usual
# defaults, tun, and devices nobody allows; EPERM = denied, anything else =
# allowed. A job without --gpu is the baseline: exactly gpujail's defaults
# (null, zero, full, random, urandom, tty, ptmx, the pts). Against it, --gpu 0
# and --gpu all gain exactly the planned nodes. One device program on the job's
# cgroup, gpujail's; the job is in no v1 cgroup of gpujail's. After each job:
# its cgroups gone; at the end nothing left (cgroups, programs, mounts) and the
# cgroup2 root's subtree_control as found.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
. "$(dirname "$0")/v2-common.sh"
require_root
require_cmd jq bpftool unshare
require_built "$GPUJAIL" "$HELPERS/open-probe" "$HELPERS/cgexec"
require_cgroup_v2

shape=nvidia8
HOST=$(fakehost $shape)
v2_setup
v2_matrix $shape
mkdir "$TEST_TMP/m"
while read -r name type major minor; do
        mknod "$TEST_TMP/m/$name" "$type" "$major" "$minor"
done <"$V2_MATRIX"
run_snapshot run-before
snapshot_host before

# job_matrix NAME [RUN-OPTION...]: gpujail run OPTIONS -- sleep, in the v2
# namespace; the probe from its cgroup2 cgroup. Sets $output (the probe's
# lines, as a container's), $JOB_V2 (the job's cgroup2 dir on the host), $JOB_V1
# (its v1 devices cgroup), $JOB_PROGS ("id name,..." on $JOB_V2), $JOB_STATUS.
job_matrix() {
        local marker=30$RANDOM.5 pid="" bg
        "$FAKEHOST/enter" "$HOST" -- "$V2NS" "$GPUJAIL" run "${@:2}" -- sleep "$marker" >"$TEST_TMP/job.out" 2>&1 &
        bg=$!
        pid=$(job_pid "$marker")
        if [[ -z $pid ]]; then
                wait "$bg"
                JOB_STATUS=$?
                output="" JOB_V2="" JOB_V1="" JOB_PROGS=""
                diag "$1: the job did not start: $(cat "$TEST_TMP/job.out")"
                return
        fi
        JOB_V2=$V2$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
        JOB_V1=$(awk -F: '$2 == "devices" { print $3 }' "/proc/$pid/cgroup")
        JOB_PROGS=$(bpftool -j cgroup show "$JOB_V2" |
                jq -r '[.[] | select(.attach_type == "cgroup_device") | "\(.id) \(.name)"] | join(",")')
        output=$("$HELPERS/cgexec" "$JOB_V2" -- "$HELPERS/open-probe" "$TEST_TMP"/m/* | sed "s|^$TEST_TMP/m/|/dev/m/|")
        kill -TERM "$pid"
        wait "$bg"
        JOB_STATUS=$?
}

# job_checks NAME: the job ran in v2 alone, under one program of gpujail's, and left nothing.
job_checks() {
        like "$JOB_V2" '/gpujail/run-[0-9]+-[0-9a-f]+$' "$1: the job is in a cgroup2 cgroup of gpujail's"
        unlike "$JOB_V1" '/gpujail/' "$1: and in no v1 devices cgroup of gpujail's ($JOB_V1)"
        like "$JOB_PROGS" '^[0-9]+ gpujail_dev$' "$1: one device program on the job's cgroup, gpujail's ($JOB_PROGS)"
        is "$JOB_STATUS" 143 "$1: SIGTERM of the job: gpujail exits 128+15" || diag "$(cat "$TEST_TMP/job.out")"
        nok '[ -d "$JOB_V2" ]' "$1: the job's cgroup is gone"
}

job_matrix "no --gpu"
job_checks "no --gpu"
V2_ALONE=$(v2_verdicts "$output")
is "$(wc -l <<<"$V2_ALONE")" "$(wc -l <"$V2_MATRIX")" "no --gpu: every node of the matrix probed"
is "$(awk '$2 == "allow" { print $1 }' <<<"$V2_ALONE" | xargs)" "full null ptmx pts250 random tty urandom zero" \
        "no --gpu: exactly gpujail's defaults allowed"

for sel in 0 all; do
        job_matrix "--gpu $sel" --gpu $sel
        job_checks "--gpu $sel"
        v2_is_gained "--gpu $sel" $shape $sel
done

run_assert_host_unchanged run-before "host unchanged: mounts; no cgroup or BPF program left below the test's cgroup"
v2_check_nothing_left
done_testing
