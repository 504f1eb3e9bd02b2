# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared by tests/e2e/test-run-*.sh (sourced after tests/lib.sh).
#
#   run_snapshot NAME                 snapshot_host, after a run that sweeps stale job cgroups
#   run_assert_host_unchanged NAME "name"
#                                     assert_host_unchanged, ignoring the live job cgroups of
#                                     gpujail processes that other tests run at the same time
#   run_rootfs                        -> prints a busybox rootfs dir (built once)

# A run sweeps the job cgroups that SIGKILLed gpujails left behind (see
# include/gpujail/launcher.h); after it, the host's state is the baseline.
run_snapshot() {
        "$FAKEHOST/enter" "$(fakehost nvidia1)" -- "$GPUJAIL" run -- true >/dev/null 2>&1
        snapshot_host "$1"
}

# Other tests (tests/run runs them in parallel) and other users run gpujail
# too: a gpujail/run-<pid>-* cgroup whose gpujail is alive is theirs, in use,
# and not a trace we left. Everything else must be as it was.
_run_filter_live_jobs() {
        local line
        while IFS= read -r line; do
                if [[ $line =~ /gpujail/run-([0-9]+)- ]] && kill -0 "${BASH_REMATCH[1]}" 2>/dev/null; then
                        continue
                fi
                [[ $line =~ /gpujail$ ]] && continue # the shared parent of live jobs
                [[ $line =~ /gpujail-test-[0-9]+- ]] && continue # other tests' scratch cgroups
                echo "$line"
        done
}

_run_host_state() { # DIR
        mkdir -p "$1"
        _host_mounts >"$1/mounts"
        _host_cgroups | _run_filter_live_jobs >"$1/cgroups"
        _host_bpf | _run_filter_live_jobs >"$1/bpf"
}

run_assert_host_unchanged() { # NAME "name"
        local snap=$TEST_TMP/snap-$1 base=$TEST_TMP/snap-$1.base now=$TEST_TMP/snap-$1.now what diffs try
        mkdir -p "$base"
        cp "$snap/mounts" "$base/mounts"
        _run_filter_live_jobs <"$snap/cgroups" >"$base/cgroups"
        _run_filter_live_jobs <"$snap/bpf" >"$base/bpf"
        for try in 1 2 3; do # a concurrent job may end between listing and checking its pid
                _run_host_state "$now"
                diffs=""
                for what in mounts cgroups bpf; do
                        cmp -s "$base/$what" "$now/$what" ||
                                diffs+="$what changed:"$'\n'"$(diff "$base/$what" "$now/$what" | grep '^[<>]')"$'\n'
                done
                [[ -z $diffs ]] && break
                sleep 0.5
        done
        rm -rf "$now" "$base"
        if [[ -z $diffs ]]; then
                _tap_result 0 "$2"
        else
                _tap_result 1 "$2"
                diag "$diffs"
                return 1
        fi
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
