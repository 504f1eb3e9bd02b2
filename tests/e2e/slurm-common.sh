# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# A one-node Slurm for tests (sourced after tests/lib.sh): Debian's slurm-wlm 22.05
# (slurmd slurmctld slurm-client munge, .ci/packages.txt) started by hand on a
# simulated GPU host, with the configuration files of examples/slurm/.
#
#   slurm_require                    skip_all (with the reason) unless Slurm can run here
#   slurm_require_plugin             the same, and unless spank_gpujail.so can be loaded
#   slurm_start HOSTDIR GRES PLUGSTACK
#                                    write the configuration into $SLURM_DIR (gres.conf
#                                    from the file GRES, plugstack.conf from PLUGSTACK, ""
#                                    for none; cgroup.conf from $SLURM_CGROUP_CONF if
#                                    set; oci.conf from $SLURM_OCI_CONF if set), start munged, slurmctld, and slurmd inside
#                                    the simulated host; wait until the node is idle
#   slurm_stop                       stop every daemon and step we started, by pid; remove
#                                    the cgroups Slurm made; deferred by slurm_start, so it
#                                    runs even when a test fails half-way (safe twice)
#   slurm_assert_clean "name"        no daemon, step, cgroup, mount or BPF program of the
#                                    run is left (call after slurm_stop)
#   srun ...                         Slurm's srun, pointed at $SLURM_CONF
#   $SLURM_GPUJAIL                   "env LD_PRELOAD=fakesysfs.so gpujail": gpujail as a job
#                                    runs it (srun passes the test's environment, which
#                                    lacks the simulated host's preload that slurmd has)
#
# Nothing runs under systemd here: the daemons are children of the test, each pid kept.
# munged uses the package's key and socket (/run/munge): srun and the daemons find it
# there without configuration. slurmstepd daemonizes: the steps of our slurmd are the
# slurmstepd processes that appear while it runs, and are stopped by pid too.

SLURM_DIR=$TEST_TMP/slurm
SLURM_CONF=$SLURM_DIR/slurm.conf
export SLURM_CONF
SLURM_NODE=$(hostname -s)
SLURM_GPUJAIL="env LD_PRELOAD=${FAKESYSFS:-$GPUJAIL_BUILD/tests/fakehost/fakesysfs.so} $GPUJAIL"
_slurm_pids=()
_slurm_made_run_munge=""
_slurm_stepds_before=""

slurm_require_plugin() {
        # A sanitizer-built spank_gpujail.so cannot be loaded into Debian's slurmstepd (no
        # ASan runtime there): the step dies and srun waits.
        build_is_sanitized && skip_all "spank_gpujail.so runs in Debian's uninstrumented slurmstepd: tested in the plain build's run"
        slurm_require
}

slurm_require() {
        require_root
        require_cmd slurmd slurmctld srun sinfo scontrol munged setpriv
        [[ -r /etc/munge/munge.key ]] || skip_all "no /etc/munge/munge.key (the munge package makes one)"
        require_cgroup_v1_devices
        # Slurm 22.05's cgroup/v1 plugin needs the v1 hierarchies it uses mounted.
        local c
        for c in freezer devices cpuset memory; do
                [[ -d /sys/fs/cgroup/$c ]] || skip_all "no cgroup v1 $c hierarchy (Slurm's cgroup/v1 needs it)"
        done
        if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
                skip_all "a slurmctld or slurmd already runs on this machine"
        fi
        [[ -n $(_slurm_cgroups) ]] && skip_all "Slurm cgroups already exist: $(_slurm_cgroups | head -1)"
        return 0
}

srun() { command srun "$@"; }

# The cgroup directories Slurm makes (cgroup/v1: <hierarchy>/slurm_<node>/...).
_slurm_cgroups() { find /sys/fs/cgroup -maxdepth 3 -type d -name 'slurm*' 2>/dev/null; }

_slurm_stepd_pids() { pgrep -x slurmstepd | sort; }

# _slurm_wait_file FILE SECONDS: wait until FILE exists.
_slurm_wait_file() {
        local i
        for ((i = 0; i < $2 * 10; i++)); do
                [[ -e $1 ]] && return 0
                sleep 0.1
        done
        return 1
}

_slurm_write_conf() { # HOSTDIR GRES PLUGSTACK
        local ngpus
        ngpus=$(grep -c '^[^#]*Name=gpu' "$2")
        mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool"
        sed -e "s,@DIR@,$SLURM_DIR,g" -e "s,@NODE@,$SLURM_NODE,g" -e "s,@CPUS@,$(nproc),g" \
                -e "s,@NGPUS@,$ngpus,g" "$GPUJAIL_SRC/examples/slurm/slurm.conf" >"$SLURM_CONF"
        cp "${SLURM_CGROUP_CONF:-$GPUJAIL_SRC/examples/slurm/cgroup.conf}" "$SLURM_DIR/cgroup.conf"
        cp "$2" "$SLURM_DIR/gres.conf"
        if [[ -n $3 ]]; then cp "$3" "$SLURM_DIR/plugstack.conf"; else : >"$SLURM_DIR/plugstack.conf"; fi
        rm -f "$SLURM_DIR/oci.conf"
        [[ -n ${SLURM_OCI_CONF:-} ]] && sed -e "s,@DIR@,$SLURM_DIR,g" -e "s,/usr/local/bin/gpujail,$SLURM_GPUJAIL,g" \
                "$SLURM_OCI_CONF" >"$SLURM_DIR/oci.conf"
        return 0
}

_slurm_start_munged() {
        if [[ ! -d /run/munge ]]; then
                mkdir -p /run/munge
                _slurm_made_run_munge=1
        fi
        chown munge:munge /run/munge
        if [[ -S /run/munge/munge.socket.2 ]] && munge -n </dev/null >/dev/null 2>&1; then
                return 0 # someone's munged answers: use it, it is not ours to stop
        fi
        setpriv --reuid munge --regid munge --init-groups /usr/sbin/munged -F \
                >"$SLURM_DIR/munged.out" 2>&1 &
        _slurm_pids+=($!)
        local i
        for ((i = 0; i < 50; i++)); do
                munge -n </dev/null >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        diag "munged did not start: $(cat "$SLURM_DIR/munged.out")"
        return 1
}

# slurm_node_state: the node's state as sinfo shows it ("idle", "mix", "down*", ...).
slurm_node_state() { sinfo -h -n "$SLURM_NODE" -o %t 2>/dev/null; }

slurm_start() { # HOSTDIR GRES PLUGSTACK
        defer slurm_stop
        _slurm_stepds_before=$(_slurm_stepd_pids)
        _slurm_write_conf "$@"
        _slurm_start_munged || return 1
        # In $SLURM_DIR: a daemon's core file (slurmstepd's, in a step Slurm refuses) lands
        # there, not in the caller's directory. exec: $! is the daemon itself.
        (cd "$SLURM_DIR" && exec slurmctld -D -f "$SLURM_CONF") >"$SLURM_DIR/slurmctld.out" 2>&1 &
        _slurm_pids+=($!)
        # enter execs CMD: $! is slurmd itself, in the simulated host's mount namespace.
        (cd "$SLURM_DIR" && exec "$FAKEHOST/enter" "$1" -- slurmd -D -f "$SLURM_CONF") >"$SLURM_DIR/slurmd.out" 2>&1 &
        _slurm_pids+=($!)
        local i state
        for ((i = 0; i < 150; i++)); do
                state=$(slurm_node_state)
                [[ $state == idle ]] && return 0
                sleep 0.1
        done
        diag "the node is not idle after 15 s (state: '${state:-none}')"
        diag "$(tail -5 "$SLURM_DIR/slurmctld.log" "$SLURM_DIR/slurmd.log" "$SLURM_DIR"/*.out 2>&1)"
        return 1
}

# _slurm_kill_wait PID...: SIGTERM, then SIGKILL after 5 s, each pid.
_slurm_kill_wait() {
        local p i
        for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
        for p in "$@"; do
                for ((i = 0; i < 50; i++)); do
                        kill -0 "$p" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        return 0
}

slurm_stop() {
        local stepds p d
        # Steps first (they belong to the slurmd we started: new since slurm_start).
        stepds=$(comm -13 <(echo "$_slurm_stepds_before") <(_slurm_stepd_pids))
        # slurmd before slurmctld (it reports to it), munged last.
        for ((p = ${#_slurm_pids[@]} - 1; p >= 0; p--)); do
                _slurm_kill_wait "${_slurm_pids[$p]}"
        done
        _slurm_pids=()
        # shellcheck disable=SC2086
        [[ -n $stepds ]] && _slurm_kill_wait $stepds
        # Slurm's cgroup/v1 leaves its (empty) cgroups: remove them, deepest first.
        for d in $(_slurm_cgroups); do
                find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        if [[ -n $_slurm_made_run_munge ]]; then
                rm -rf /run/munge
                _slurm_made_run_munge=""
        fi
        return 0
}

slurm_assert_clean() { # "name"
        local left=""
        for p in slurmctld slurmd slurmstepd; do
                pgrep -x "$p" >/dev/null && left+="$p still runs; "
        done
        [[ -n $(_slurm_cgroups) ]] && left+="cgroups: $(_slurm_cgroups | tr '\n' ' '); "
        grep -q " $SLURM_DIR" /proc/self/mountinfo && left+="mounts under $SLURM_DIR; "
        [[ -z $left ]]
        _tap_result $? "${1:-Slurm left nothing behind}" || { diag "$left"; return 1; }
}

# gpu_verdicts GPU-INDEXES ("0,3" or ""): open-probe's verdicts for the simulated
# nvidia8 host's 8 GPUs when exactly those are allocated: ENXIO allowed, EPERM denied.
gpu_verdicts() {
        local i out=""
        for i in 0 1 2 3 4 5 6 7; do
                if [[ ,$1, == *,$i,* ]]; then out+="ENXIO "; else out+="EPERM "; fi
        done
        echo "${out% }"
}
