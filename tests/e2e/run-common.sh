# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared by tests/e2e/test-run-*.sh (sourced after tests/lib.sh).
#
#   run_snapshot NAME                 move this test into a scratch cgroup, sweep, snapshot
#   run_assert_host_unchanged NAME "name"
#                                     host mounts unchanged, and no cgroup or BPF program left
#                                     in the scratch subtree (where all our jobs' cgroups go)
#   run_rootfs                        -> prints a busybox rootfs dir (built once)

# Tests run in parallel (tests/run) and other tests start gpujail, runc and
# podman too: the host-wide cgroup tree changes under us. So a test that
# checks "host unchanged" first moves itself into a scratch cgroup of its own
# (v1 devices and cgroup2: the hierarchies gpujail uses). gpujail creates its
# job cgroups below the cgroup it runs in, so every cgroup and BPF program our
# runs make is in that subtree, and nothing of anyone else's is: the check is
# exact for the subtree, and the host's mount table is checked whole.
RUN_SCRATCH=gpujail-run-test-$$

_run_scratch_dirs() {
        local v2
        v2=$(cgroup2_root)
        # Not on a pure v2 host: there mkdir would make a cgroup named "devices".
        [[ -f /sys/fs/cgroup/devices/devices.allow ]] && echo "/sys/fs/cgroup/devices/$RUN_SCRATCH"
        [[ -n $v2 ]] && echo "$v2/$RUN_SCRATCH"
}

_run_leave_scratch() {
        local d
        for d in $(_run_scratch_dirs); do
                [[ -d $d ]] || continue
                echo $$ >"${d%/*}/cgroup.procs" 2>/dev/null
                # whatever a failed test left below it, deepest first
                find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
}

run_enter_scratch_cgroup() {
        local d
        for d in $(_run_scratch_dirs); do
                mkdir -p "$d" && echo $$ >"$d/cgroup.procs" || bail_out "cannot create scratch cgroup $d"
        done
        defer _run_leave_scratch
}

_run_host_state() { # DIR
        mkdir -p "$1"
        _host_mounts >"$1/mounts"
        _host_cgroups | grep -F "/$RUN_SCRATCH" >"$1/cgroups"
        _host_bpf | grep -F "/$RUN_SCRATCH" >"$1/bpf"
}

# run_snapshot NAME: enter the scratch cgroup, sweep, then record the state.
run_snapshot() {
        run_enter_scratch_cgroup
        "$FAKEHOST/enter" "$(fakehost nvidia1)" -- "$GPUJAIL" run -- true >/dev/null 2>&1
        _run_host_state "$TEST_TMP/snap-$1"
}

run_assert_host_unchanged() { # NAME "name"
        local changes
        changes=$(_state_changes "$TEST_TMP/snap-$1" _run_host_state)
        [[ -z $changes ]]
        _tap_result $? "$2" || { diag "$changes"; return 1; }
}

run_rootfs() {
        local r=$TEST_TMP/rootfs
        if [[ ! -x $r/bin/busybox ]]; then
                mkdir -p "$r/bin" "$r/proc" "$r/dev" "$r/sys" "$r/tmp" "$r/etc"
                cp /bin/busybox "$r/bin/busybox"
                local c
                for c in sh ls cat tr grep echo sleep true id wc readlink stat; do ln -sf busybox "$r/bin/$c"; done
                echo "root:x:0:0:root:/:/bin/sh" >"$r/etc/passwd"
        fi
        echo "$r"
}

# job_pid MARKER: the pid of the job `sleep MARKER` that a backgrounded gpujail run
# started (polled for up to 5 s); empty if it never appeared.
job_pid() {
        local pid="" _
        for _ in $(seq 100); do
                pid=$(pgrep -xf "sleep $1" | head -1)
                [[ -n $pid ]] && break
                sleep 0.05
        done
        echo "$pid"
}
