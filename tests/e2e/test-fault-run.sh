#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# `gpujail run` with every step failing in turn (tests/fault/faultinject.so), on a
# simulated 8-GPU host. For each system call the launcher makes (mount, umount2, openat2,
# bpf, cgroup writes, fork, clone, clone3, execve, setns, the new mount API, unshare,
# pivot_root) and each occurrence N of it (up to GJ_FAULT_MAX_N, default 4; all with
# GJ_FAULT_MAX_N=0), one run where exactly that call fails. Each run must either
#   - fail: non-zero status, a clear "gpujail: ..." line on stderr, and the job not run, or
#   - tolerate the fault (a cleanup step, a fallback): status 0, and the job saw exactly
#     the GPU it asked for in /dev and its device cgroup still refuses another GPU;
# and in both cases leave the host as it was (mounts, gpujail cgroups, cgroup BPF programs).
# Then: a kernel without openat2 (every openat2 -> ENOSYS) runs the fallback path, ENOSPC
# on the cgroup, and gpujail SIGKILLed at random points (20 tries) leaves nothing that the
# next run does not sweep.
. "$(dirname "$0")/../fault/fault-lib.sh"
f_require_root
f_require_shim
f_require_cmd python3
[ -x "$GPUJAIL" ] || f_skip_all "gpujail not built ($GPUJAIL)"
HOST=$(f_fakehost nvidia8) || f_skip_all "cannot build the simulated host (tests/fakehost/mkhost)"

# GPU 0 of nvidia8 and the minors of the others, from the shape's description.
read -r SEL_MINOR OTHER_MINOR < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["devices"]
print(d[0]["minor"], d[1]["minor"])' "$HOST/hostinfo.json")

CASE=$F_TMP/case
mkdir -p "$CASE"
chmod 0777 "$CASE"
# The job leaves what it saw in the (bind-mounted, read-write) current directory.
# Absolute paths: with --rootfs the job's working directory is not $CASE.
JOB="ls /dev >$CASE/job-dev.txt 2>&1; ls /dev/nvidia* >$CASE/job-nvidia.txt 2>&1; echo ran >$CASE/job-ran"

run_case() { # run_case GJ_FAULT [gpujail run options...]: sets RC, ERR, FIRED
        local spec=$1
        shift
        rm -f "$CASE"/job-* "$CASE/fault.log" "$CASE/stderr"
        (cd "$CASE" && GJ_FAULT=$spec GJ_FAULT_LOG=$CASE/fault.log \
                f_on_host "$HOST" "$GPUJAIL" run --gpu 0 "$@" -- sh -c "$JOB" >/dev/null 2>"$CASE/stderr")
        RC=$?
        ERR=$(grep -v '^faultinject:' "$CASE/stderr" | head -5)
        FIRED=$(cat "$CASE/fault.log" 2>/dev/null | head -1)
}
# What the job saw: exactly GPU 0's node (plus control nodes), no other GPU.
job_devices_ok() {
        [ -f "$CASE/job-ran" ] || return 0 # did not run: nothing to see
        local gpus
        gpus=$(grep -E '^/dev/nvidia[0-9]+$' "$CASE/job-nvidia.txt" | tr '\n' ' ')
        [ "$gpus" = "/dev/nvidia$SEL_MINOR " ]
}
# The job's cgroup, while the job runs, with the same fault injected: selected GPU
# allowed (ENXIO), another GPU denied (EPERM).
job_cgroup_ok() { # job_cgroup_ok GJ_FAULT [options]
        local spec=$1 marker=$((RANDOM % 100 + 500)).$$ pid= i res
        shift
        (cd "$CASE" && GJ_FAULT=$spec f_on_host "$HOST" "$GPUJAIL" run --gpu 0 "$@" -- sleep "$marker" >/dev/null 2>&1) &
        local bg=$!
        for i in $(seq 100); do
                pid=$(pgrep -x -f "sleep $marker" | head -1)
                [ -n "$pid" ] && break
                kill -0 $bg 2>/dev/null || break
                sleep 0.05
        done
        [ -n "$pid" ] || { wait $bg; return 1; }
        res=$(f_cgroup_probe "$pid" "195:$SEL_MINOR" "195:$OTHER_MINOR" | tr '\n' ' ')
        kill "$pid" 2>/dev/null
        wait $bg
        f_diag "cgroup oracle under $spec: $res"
        [ "$res" = "195:$SEL_MINOR ENXIO 195:$OTHER_MINOR EPERM " ]
}

# ---- can the launcher run at all? --------------------------------------------------------
run_case ""
if [ $RC != 0 ] || [ ! -f "$CASE/job-ran" ]; then
        f_skip_all "gpujail run is not functional yet on a simulated host (rc $RC: $(head -1 <<<"$ERR"))"
fi
f_ok "baseline: gpujail run --gpu 0 works under the shim, job sees only /dev/nvidia$SEL_MINOR" job_devices_ok

# ---- how many calls of each kind does a run make? ----------------------------------------
rm -f "$F_TMP/count"
(cd "$CASE" && GJ_FAULT_COUNT=$F_TMP/count f_on_host "$HOST" "$GPUJAIL" run --gpu 0 -- sh -c "$JOB" >/dev/null 2>&1)
COUNTS=$(f_count_max "$F_TMP/count" 2>/dev/null)
f_diag "system calls of one run (name, count):" "$COUNTS"

MAX_N=${GJ_FAULT_MAX_N:-4}
f_snapshot all
for call in mount umount2 openat2 bpf write fork clone clone3 execve setns open_tree move_mount \
        mount_setattr fsopen fsmount unshare pivot_root pidfd_open mknod; do
        n_calls=$(awk -v c="$call" '$1 == c { print $2 }' <<<"$COUNTS")
        [ -n "$n_calls" ] || continue
        [ "$MAX_N" -gt 0 ] && [ "$n_calls" -gt "$MAX_N" ] && n_calls=$MAX_N
        for n in $(seq "$n_calls"); do
                spec=$call:$n
                [ "$call" = write ] && spec=write:cgroup:$n
                f_snapshot one
                run_case "$spec"
                if [ -z "$FIRED" ]; then
                        f_skip "this run made fewer $call calls" "$spec: fault not reached"
                        continue
                fi
                if [ $RC != 0 ]; then
                        f_ok "$spec: fails closed (rc $RC), says why: $(head -1 <<<"$ERR")" \
                                bash -c '[ -n "$1" ] && grep -q "gpujail" <<<"$1" && [ ! -f "$2/job-ran" ]' sh "$ERR" "$CASE"
                        [ -f "$CASE/job-ran" ] && f_diag "the job ran although gpujail failed with $RC"
                else
                        f_ok "$spec: tolerated (rc 0), the job saw only its GPU" job_devices_ok
                        f_ok "$spec: tolerated, the job's device cgroup still refuses another GPU" job_cgroup_ok "$spec"
                fi
                f_ok "$spec: exit status is gpujail's own (125) or the job's" \
                        bash -c '[ "$1" = 0 ] || [ "$1" = 125 ] || [ "$1" = 126 ] || [ "$1" = 127 ]' sh "$RC"
                f_host_unchanged one "$spec"
                f_sweep one
        done
done

# ---- a kernel without openat2: every openat2 is ENOSYS; the O_NOFOLLOW walk must do ------
ROOTFS=$F_TMP/rootfs
if command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q static; then
        mkdir -p "$ROOTFS/bin" "$ROOTFS/dev" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/tmp" "$ROOTFS$CASE"
        cp "$(command -v busybox)" "$ROOTFS/bin/busybox"
        for a in sh ls echo cat sleep; do ln -sf busybox "$ROOTFS/bin/$a"; done
        for opts in "" "--rootfs $ROOTFS"; do
                f_snapshot one
                # shellcheck disable=SC2086
                run_case "openat2:1+:ENOSYS" $opts --bind "$CASE:$CASE"
                label="no openat2 (ENOSYS)${opts:+, --rootfs}"
                if [ -z "$FIRED" ]; then
                        f_skip "gpujail made no openat2 call here" "$label"
                else
                        f_ok "$label: the fallback runs the job (rc $RC: $(head -1 <<<"$ERR"))" [ $RC = 0 -a -f "$CASE/job-ran" ]
                        f_ok "$label: the job saw only its GPU" job_devices_ok
                fi
                f_host_unchanged one "$label"
                f_sweep one
        done
else
        f_skip "needs busybox-static for a rootfs" "no openat2, --rootfs"
fi

# ---- a kernel without the new mount API (< 5.2; also valgrind 3.19): ENOSYS on every call --
# Either a fallback runs the job with exactly its GPU, or gpujail refuses, saying why.
f_snapshot one
run_case "open_tree:1+:ENOSYS,move_mount:1+:ENOSYS,fsopen:1+:ENOSYS,fsmount:1+:ENOSYS,mount_setattr:1+:ENOSYS"
if [ -z "$FIRED" ]; then
        f_skip "gpujail used none of the new mount API here" "no new mount API (ENOSYS)"
elif [ $RC = 0 ]; then
        f_ok "no new mount API (ENOSYS): a fallback ran the job, which saw only its GPU" job_devices_ok
else
        f_ok "no new mount API (ENOSYS): refused (rc $RC), says why: $(head -1 <<<"$ERR")" \
                bash -c '[ -n "$1" ] && [ ! -f "$2/job-ran" ]' sh "$ERR" "$CASE"
fi
f_host_unchanged one "no new mount API"
f_sweep one

# ---- ENOSPC on the cgroup (every cgroup write) -------------------------------------------
f_snapshot one
run_case "write:cgroup:1+:ENOSPC"
if [ -z "$FIRED" ]; then
        f_skip "no cgroup write seen" "ENOSPC on every cgroup write"
else
        f_ok "ENOSPC on every cgroup write: fails closed (rc $RC): $(head -1 <<<"$ERR")" \
                bash -c '[ "$1" != 0 ] && [ ! -f "$2/job-ran" ]' sh "$RC" "$CASE"
fi
f_host_unchanged one "ENOSPC on the cgroup"
f_sweep one

# ---- gpujail SIGKILLed at random points ---------------------------------------------------
KILLS=${GJ_FAULT_KILLS:-20}
f_snapshot kill
for i in $(seq "$KILLS"); do
        delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", r % 300 / 1000 }')
        (cd "$CASE" && "$FAULT_REPO/tests/fakehost/enter" "$HOST" -- \
                sh -c '"$1" run --gpu 0 -- sleep 1 & echo $! >"$2"; wait' sh "$GPUJAIL" "$CASE/gj.pid" \
                >/dev/null 2>&1) &
        bg=$!
        for _ in $(seq 100); do [ -s "$CASE/gj.pid" ] && break; sleep 0.01; done
        sleep "$delay"
        kill -9 "$(cat "$CASE/gj.pid" 2>/dev/null)" 2>/dev/null
        wait $bg 2>/dev/null
        rm -f "$CASE/gj.pid"
done
sleep 1.5 # a job that outlived gpujail ends by itself (sleep 1)
run_case ""
f_ok "after $KILLS SIGKILLs at random points, the next run works (rc $RC: $(head -1 <<<"$ERR"))" [ $RC = 0 ]
f_host_unchanged kill "after $KILLS SIGKILLs and one more run"
f_sweep kill
f_host_unchanged all "the whole fault test"
f_done
