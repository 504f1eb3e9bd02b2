#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# `gpujail-hook` under real runc, with every step of the hook failing in turn
# (tests/fault/faultinject.so, preloaded through the hook's own env in config.json), on a
# simulated 8-GPU host. The container asks for GPU 0 (annotation gpujail.io/gpus=0); the test
# also puts another GPU's node into linux.devices WITHOUT a cgroup allow rule. Each run must
#   - fail: runc refuses the container (non-zero), the hook said why ("gpujail-hook: ..."),
#     and the container's process never ran; or
#   - tolerate the fault: the container saw GPU 0's node and no other GPU node, opening its
#     GPU gives ENXIO (allowed, no driver) and the other node EPERM (denied);
# and leave the host as it was (mounts, cgroups, cgroup BPF programs).
# Stages: GJ_FAULT_STAGES (default createRuntime; prestart runs the same code in the same
# namespaces: "createRuntime prestart" for both). Occurrences per call: GJ_FAULT_MAX_N
# (default 3, 0 = all), to keep within the runner's per-test timeout.
# Then, the hook SIGKILLed at random points and at each of its steps (see "SIGKILLed"
# below): test-fault-hook-kill.sh runs that part (GJ_HOOK_PARTS=kill), to have a per-test
# timeout of its own. GJ_HOOK_PARTS: "faults" (default), "kill", or "faults kill".
. "$(dirname "$0")/../fault/fault-lib.sh"
PARTS=${GJ_HOOK_PARTS:-faults}
[[ $PARTS == *faults* ]] || GJ_FAULT_STAGES=
f_require_root
f_require_shim
f_require_cmd runc
f_require_cmd python3
f_require_cmd busybox
file -L "$(command -v busybox)" | grep -q static || f_skip_all "busybox is not static (busybox-static)"
[ -x "$GPUJAIL_HOOK" ] || f_skip_all "gpujail-hook not built ($GPUJAIL_HOOK)"
HOST=$(f_fakehost nvidia8) || f_skip_all "cannot build the simulated host (tests/fakehost/mkhost)"
read -r SEL_MINOR OTHER_MINOR < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["devices"]
print(d[0]["minor"], d[1]["minor"])' "$HOST/hostinfo.json")

# fakesysfs.so for the hook's env (runc gives a hook only the env config.json names).
"$FAULT_REPO/tests/fakehost/enter" "$HOST" -- true >/dev/null 2>&1
FAKESYSFS=${FAKESYSFS:-}
for c in "$FAKESYSFS" "$FAULT_BUILD/tests/fakehost/fakesysfs.so" "$HOST/.fakesysfs.so"; do
        [ -n "$c" ] && [ -f "$c" ] && { FAKESYSFS=$(realpath "$c"); break; }
done
[ -n "$FAKESYSFS" ] || f_skip_all "fakesysfs.so not found"

BUNDLE=$F_TMP/bundle
OUTD=$F_TMP/out
mkdir -p "$BUNDLE/rootfs/bin" "$BUNDLE/rootfs/out" "$OUTD"
cp "$(command -v busybox)" "$BUNDLE/rootfs/bin/busybox"
for a in sh ls echo cat; do ln -sf busybox "$BUNDLE/rootfs/bin/$a"; done
(cd "$BUNDLE" && runc spec) || f_skip_all "runc spec failed"
CID=gj-fault-$$
f_cleanup_hooks+=("runc delete -f $CID >/dev/null 2>&1")

# What the container does: list its GPU nodes, try to open each, say it ran.
JOB='ls /dev/ | grep -E "^nvidia[0-9]+$" >/out/nvidia.txt
for n in /dev/nvidia[0-9]* /dev/other-gpu; do
  [ -c "$n" ] || continue
  if (exec 3<>$n) 2>/out/err; then echo "$n OK"
  elif grep -q "not permitted" /out/err; then echo "$n EPERM"
  elif grep -q "No such device or address" /out/err; then echo "$n ENXIO"
  else echo "$n $(cat /out/err)"; fi
done >/out/open.txt
grep -c " /dev/nvidia" /proc/self/mountinfo >/out/binds
echo ran >/out/ran'

# write_config STAGE GJ_FAULT [WRAPPER ARG...]: with a wrapper, the hook entry runs
# WRAPPER ARG... HOOK STAGE (the kill tests: kill-after, strace) with the hook's env.
# HOOK_ASAN_EXTRA: more ASAN_OPTIONS for the hook (detect_leaks=0 under ptrace).
# KILL_PRE_HOOK: a prestart hook to run first.
write_config() {
        python3 - "$BUNDLE/config.json" "$1" "$2" "$GPUJAIL_HOOK" "$FAKESYSFS:$FAULTINJECT" \
                "$OUTD" "$OTHER_MINOR" "$JOB" "$F_TMP/fault.log" "${HOOK_ASAN_EXTRA:-}" "${@:3}" <<'EOF'
import json, os, sys
p, stage, fault, hook, preload, outd, other, job, log, asan_extra = sys.argv[1:11]
wrapper = sys.argv[11:]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", job]
c["process"]["env"] = ["PATH=/bin"]
c["annotations"] = {"gpujail.io/gpus": "0"}
c["root"]["readonly"] = False
c["mounts"].append({"destination": "/out", "type": "bind", "source": outd, "options": ["rbind", "rw"]})
# another GPU's node, placed by the runtime, with no allow rule: must stay denied
c["linux"]["devices"] = [{"path": "/dev/other-gpu", "type": "c", "major": 195, "minor": int(other),
                          "fileMode": 0o666, "uid": 0, "gid": 0}]
env = ["LD_PRELOAD=" + preload, "GJ_FAULT_LOG=" + log, "ASAN_OPTIONS=verify_asan_link_order=0" + asan_extra]
if fault:
    env.append("GJ_FAULT=" + fault)
if fault.startswith("COUNT="):
    env = env[:-1] + ["GJ_FAULT_COUNT=" + fault[6:]]
entry = {"path": hook, "args": ["gpujail-hook", stage]}
if wrapper:
    entry = {"path": wrapper[0], "args": [os.path.basename(wrapper[0])] + wrapper[1:] + [hook, stage]}
c["hooks"] = {stage: [dict(entry, env=env, timeout=30)]}
# KILL_PRE_HOOK: a prestart hook ahead of ours (the stand-in for a pure cgroup v2 runtime)
if os.environ.get("KILL_PRE_HOOK"):
    c["hooks"].setdefault("prestart", []).insert(0, {"path": os.environ["KILL_PRE_HOOK"],
                                                     "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]})
json.dump(c, open(p, "w"), indent=1)
EOF
}
run_case() { # run_case STAGE GJ_FAULT: sets RC, ERR, FIRED
        write_config "$1" "$2"
        rm -f "$OUTD"/* "$F_TMP/fault.log"
        timeout -k 5 60 "$FAULT_REPO/tests/fakehost/enter" "$HOST" -- \
                runc run --bundle "$BUNDLE" "$CID" >/dev/null 2>"$F_TMP/stderr" </dev/null
        RC=$?
        runc delete -f "$CID" >/dev/null 2>&1
        ERR=$(grep -v '^faultinject:' "$F_TMP/stderr" | head -3 | tr '\n' ' ')
        FIRED=$(head -1 "$F_TMP/fault.log" 2>/dev/null)
}
container_ok() { # exactly GPU 0's node; it opens (ENXIO), the other GPU is EPERM
        [ "$(cat "$OUTD/nvidia.txt" 2>/dev/null | tr '\n' ' ')" = "nvidia$SEL_MINOR " ] &&
                grep -qx "/dev/nvidia$SEL_MINOR ENXIO" "$OUTD/open.txt" &&
                grep -qx "/dev/other-gpu EPERM" "$OUTD/open.txt"
}

for stage in ${GJ_FAULT_STAGES-createRuntime}; do
        run_case "$stage" ""
        if [ $RC != 0 ] || [ ! -f "$OUTD/ran" ]; then
                f_skip "the hook is not functional yet at $stage (rc $RC: $ERR)" "$stage: fault injection"
                continue
        fi
        f_ok "$stage baseline: the container saw exactly GPU 0, other GPU denied" container_ok
        run_case "$stage" "COUNT=$F_TMP/count.$stage"
        COUNTS=$(f_count_max "$F_TMP/count.$stage" 2>/dev/null)
        f_diag "$stage: system calls of one hook run:" "$COUNTS"
        MAX_N=${GJ_FAULT_MAX_N:-3}
        for call in mount umount2 openat2 bpf write fork clone clone3 execve setns open_tree move_mount \
                mount_setattr fsopen fsmount unshare pidfd_open mknod; do
                n_calls=$(awk -v c="$call" '$1 == c { print $2 }' <<<"$COUNTS")
                [ -n "$n_calls" ] || continue
                [ "$MAX_N" -gt 0 ] && [ "$n_calls" -gt "$MAX_N" ] && n_calls=$MAX_N
                for n in $(seq "$n_calls"); do
                        spec=$call:$n
                        [ "$call" = write ] && spec=write:cgroup:$n
                        f_snapshot one
                        run_case "$stage" "$spec"
                        if [ -z "$FIRED" ]; then
                                f_skip "fault not reached" "$stage $spec"
                                continue
                        fi
                        if [ $RC != 0 ]; then
                                f_ok "$stage $spec: container refused (rc $RC), hook says why: $ERR" \
                                        bash -c 'grep -q "gpujail-hook" <<<"$1" && [ ! -f "$2/ran" ]' sh "$ERR" "$OUTD"
                        else
                                f_ok "$stage $spec: tolerated; container saw exactly GPU 0, other GPU denied" container_ok
                        fi
                        f_host_unchanged one "$stage $spec"
                        f_sweep one
                done
        done
        # ENOSPC on every cgroup write, and a kernel without openat2.
        for spec in "write:cgroup:1+:ENOSPC" "openat2:1+:ENOSYS"; do
                f_snapshot one
                run_case "$stage" "$spec"
                if [ -z "$FIRED" ] && [ "$spec" = "openat2:1+:ENOSYS" ]; then
                        # gj_mkdir_p_in_root and the /dev targets walk the rootfs one O_NOFOLLOW
                        # component at a time (kernel/safepath.c): no openat2, so nothing to fall back from
                        f_skip "the hook calls no openat2 at $stage (its rootfs paths are walked with O_NOFOLLOW)" "$stage $spec"
                elif [ -z "$FIRED" ]; then
                        f_skip "fault not reached" "$stage $spec"
                elif [ "$spec" = "openat2:1+:ENOSYS" ]; then
                        f_ok "$stage without openat2: the fallback injects (rc $RC: $ERR)" [ $RC = 0 ]
                        f_ok "$stage without openat2: exactly GPU 0, other GPU denied" container_ok
                else
                        f_ok "$stage ENOSPC on the cgroup: container refused (rc $RC: $ERR)" \
                                bash -c '[ "$1" != 0 ] && [ ! -f "$2/ran" ]' sh "$RC" "$OUTD"
                fi
                f_host_unchanged one "$stage $spec"
                f_sweep one
        done
done

[[ $PARTS == *kill* ]] || f_done

# ---- gpujail-hook SIGKILLed at random points --------------------------------------------
# A hook can die at any moment (the OOM killer, the runtime's hook timeout, an admin): runc
# must then refuse the container, and nothing may be left - in the host's mount table, in
# runc's own mount namespace (the host's, on a real machine; here the simulated host's),
# in the cgroup trees - nor may a container start with a half-made /dev. Two ways in, both
# under the real runc:
#  - random: kill-after, registered as the hook's path, forks a timer that SIGKILLs its
#    own pid, then execs the hook: runc sees its hook die of the signal. Where each kill
#    landed is read from the fault shim's counting log (GJ_FAULT_COUNT: a line per call,
#    written before the call is made). Delays are uniform in (0, the hook's run time,
#    measured at that stage]. Most of that time is exec, inventory and exit: its
#    state-changing calls take well under a millisecond. So every other kill is of a hook
#    in slow motion (strace holds it 1.5 ms after each of those calls; nothing else
#    changes), for kills that land between them.
#  - sweep: strace kills the hook on entering each of its state-changing calls in turn
#    (cgroup writes, bpf, pidfd_open, setns, open_tree/mount_setattr/move_mount of each
#    node, the audit line) and at exit_group: every point, deterministically.
# Each case: refused and never ran, or ran with all it asked for (4 binds: GPU 0 and the
# control nodes) and the other GPU denied; runc's mount table as before; no cgroup dir,
# BPF program or host mount of the container (tests/lib.sh's view of the host). Each
# series: the host as before it (fault-lib's snapshot).
# Knobs: GJ_KILL_RANDOM (kills, default 24), GJ_KILL_STAGES (stages the random kills
# cycle through, default "createRuntime prestart createContainer"), GJ_KILL_SWEEP_STAGES
# (default createRuntime; "" = no sweep).
KILL_AFTER=$F_TMP/kill-after
cat >"$KILL_AFTER" <<'EOF'
#!/bin/bash
# kill-after DELAY OUT HOOK ARG...: exec HOOK, and SIGKILL it (our own pid) DELAY s later;
# OUT gets "sent" when the signal found the process. The timer is bash's own `read -t`
# on a fifo (OUT.fifo, opened read-write: never ready): no exec between fork and kill.
# kill-after time OUT HOOK ARG...: run HOOK, append its run time (us, fork to exit) to OUT.
d=$1 out=$2 me=$$
shift 2
if [[ $d == time ]]; then
        s=${EPOCHREALTIME/./}
        "$@"
        r=$?
        echo $((${EPOCHREALTIME/./} - s)) >>"$out"
        exit $r
fi
(read -r -t "$d" <>"$out.fifo"; kill -KILL "$me" 2>/dev/null && echo sent >>"$out") </dev/null >/dev/null 2>&1 &
exec "$@"
EOF
chmod 0755 "$KILL_AFTER"
mkfifo -m 0600 "$F_TMP/ksent.fifo"
KCID=gj-hookkill-$$
f_cleanup_hooks+=("runc delete -f $KCID >/dev/null 2>&1")

# tests/lib.sh's view of the host (mounts, cgroup dirs, cgroup BPF programs), in a
# subshell: lib.sh has TAP and an exit trap of its own.
lib_host_state() {
        (
                . "$FAULT_REPO/tests/lib.sh" >/dev/null
                trap - EXIT
                rm -rf "$TEST_TMP"
                _host_mounts | sed 's/^/mount /'
                _host_cgroups | sed 's/^/cgroup /'
                _host_bpf | sed 's/^/bpf /'
        )
}

# run_kill STAGE WRAPPER ARG...: runc run with the hook behind WRAPPER, inside the
# simulated host, recording runc's own mount table before the run and after `runc delete
# -f`. Sets RC, ERR, PROGRESS (the last call the hook began: the shim counts calls unless
# KILL_FAULT says otherwise), KSENT.
run_kill() {
        local stage=$1
        shift
        write_config "$stage" "${KILL_FAULT-COUNT=$F_TMP/progress}" "$@"
        rm -f "$OUTD"/* "$F_TMP/progress" "$F_TMP/fault.log" "$F_TMP/ksent" "$F_TMP"/runc-mounts.*
        timeout -k 5 60 "$FAULT_REPO/tests/fakehost/enter" "$HOST" -- sh -c '
                mt() { awk "{ for (i = 7; \$i != \"-\"; i++); print \$5, \$(i + 1), \$(i + 2) }" /proc/self/mountinfo | sort; }
                mt >"$1.before"
                runc run --bundle "$2" "$3" >/dev/null 2>"$4" </dev/null
                rc=$?
                runc delete -f "$3" >/dev/null 2>&1
                mt >"$1.after"
                exit $rc' sh "$F_TMP/runc-mounts" "$BUNDLE" "$KCID" "$F_TMP/stderr"
        RC=$?
        runc delete -f "$KCID" >/dev/null 2>&1
        ERR=$(grep -v '^faultinject:' "$F_TMP/stderr" | head -3 | tr '\n' ' ')
        PROGRESS=$(tail -1 "$F_TMP/progress" 2>/dev/null)
        KSENT=$(cat "$F_TMP/ksent" 2>/dev/null)
}

# A container that started has all it asked for, bound: GPU 0 and the three control
# nodes (4 bind mounts on /dev/nvidia*), the other GPU denied; never a half-made /dev.
fully_bound() { container_ok && [ "$(cat "$OUTD/binds" 2>/dev/null)" = 4 ]; }
# Refused because its hook died of the signal, not for some other reason; never ran.
refused_unrun() { [ ! -f "$OUTD/ran" ] && grep -q "error running hook.*signal: killed" <<<"$ERR"; }
# What of the container is left: its cgroup dirs (named after it, in every hierarchy)
# and BPF programs, host mounts of its bundle. Cheap enough for every case.
container_leftovers() {
        find /sys/fs/cgroup -maxdepth 4 -name "$KCID*" 2>/dev/null
        grep -F -e "$KCID" -e "$F_TMP" /proc/1/mountinfo
}

# k_ok NAME DIAG CMD...: f_ok, showing DIAG when CMD fails.
k_ok() {
        local name=$1 d=$2
        shift 2
        if "$@"; then f_ok "$name" true; else f_ok "$name" false; f_diag "$d"; fi
}

# kill_checks LABEL: the container was refused and never ran, or it ran with exactly
# what it asked for; nothing of it is left. Sets OUTCOME (refused, started).
kill_checks() {
        local label=$1 left
        if [ "$RC" != 0 ]; then
                OUTCOME=refused
                k_ok "$label: runc refused the container (rc $RC: hook killed), its process never ran" "$ERR" refused_unrun
        else
                OUTCOME=started
                k_ok "$label: the container started with all of GPU 0 and its control nodes (4 binds), other GPU denied" \
                        "$(cd "$OUTD" && head nvidia.txt open.txt binds 2>&1)" fully_bound
        fi
        left=$(diff "$F_TMP/runc-mounts.before" "$F_TMP/runc-mounts.after"; container_leftovers)
        k_ok "$label: nothing left (runc's mount table, the container's cgroups, host mounts)" "$left" [ -z "$left" ]
}

# A series of cases: fault-lib's snapshot of the host (mounts, gpujail cgroups, BPF on
# the cgroup2 root) and lib.sh's (every non-systemd cgroup dir and BPF program). Other
# suites may run on this host meanwhile: of lib.sh's differences, only those naming this
# container or its bundle fail; the others are shown.
series_begin() { f_snapshot "$1"; lib_host_state >"$F_TMP/lib.$1"; }
series_end() { # series_end NAME LABEL
        local changes mine
        f_host_unchanged "$1" "$2"
        f_sweep "$1"
        changes=$(diff "$F_TMP/lib.$1" <(lib_host_state) | grep '^[<>]')
        mine=$(grep -F -e "$KCID" -e "$F_TMP" <<<"$changes")
        [ -n "$changes" ] && [ -z "$mine" ] &&
                f_diag "host changes not of this test (another suite?): $(wc -l <<<"$changes"), first:" "$(head -3 <<<"$changes")"
        k_ok "$2: no cgroup dir, BPF program or mount of the container left (tests/lib.sh's view)" "$mine" [ -z "$mine" ]
}

# Where a kill landed: the last call the hook began (the shim logs it before making it).
kill_point() {
        if [ "$OUTCOME" = started ]; then
                if [ -n "$KSENT" ]; then echo "missed (hook exited, not yet reaped)"; else echo "missed (hook done)"; fi
        elif [ -z "$PROGRESS" ]; then echo "before the first call (exec, config, inventory, plan)"
        else echo "at/after ${PROGRESS% *} #${PROGRESS#* }"; fi
}

read -ra KILL_STAGES <<<"${GJ_KILL_STAGES-createRuntime prestart createContainer}"
# Slow motion: strace holds the hook 1.5 ms after each state-changing call.
SLOW_CALLS=write,bpf,pidfd_open,setns,open_tree,mount_setattr,move_mount
STRACE=$(command -v strace || echo strace-not-installed)
SLOW=("$STRACE" -f -qq -o /dev/null -e "trace=$SLOW_CALLS" -e "inject=$SLOW_CALLS:delay_exit=1500")
declare -A T_US
MODES=()
for stage in "${KILL_STAGES[@]}"; do
        for speed in plain slow; do
                [ $speed = slow ] && [ ! -x "$STRACE" ] && continue
                rm -f "$F_TMP/times"
                # LeakSanitizer does not run under ptrace: no leak check in a traced hook.
                w=() asan=
                [ $speed = slow ] && w=("${SLOW[@]}") asan=:detect_leaks=0
                HOOK_ASAN_EXTRA=$asan run_kill "$stage" "${w[@]}" "$KILL_AFTER" time "$F_TMP/times"
                if [ "$RC" != 0 ]; then
                        f_skip "the hook is not functional at $stage ($speed) under kill-after (rc $RC: $ERR)" "$stage $speed: SIGKILL"
                        continue
                fi
                f_ok "$stage baseline ($speed) under kill-after: all of GPU 0 (4 binds), other GPU denied" fully_bound
                MODES+=("$stage/$speed")
                T_US[$stage/$speed]=$(cat "$F_TMP/times")
                f_diag "$stage ($speed): the hook runs in $(awk -v t="${T_US[$stage/$speed]}" 'BEGIN { printf "%.1f", t / 1e3 }') ms, fork to exit; its calls: $(
                        awk '{ print $1 }' "$F_TMP/progress" | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')"
        done
done

KILLS=${GJ_KILL_RANDOM:-24}
if [ "${#MODES[@]}" -gt 0 ] && [ "$KILLS" -gt 0 ]; then
        series_begin kill
        TABLE=
        for i in $(seq "$KILLS"); do
                mode=${MODES[$(((i - 1) % ${#MODES[@]}))]}
                stage=${mode%/*} speed=${mode#*/}
                # uniform in (0, T]: T varies from run to run, so some kills come too late
                delay=$(awk -v r="$(od -An -N4 -tu4 /dev/urandom)" -v t="${T_US[$mode]}" \
                        'BEGIN { printf "%.6f", (r % 1000000 + 1) / 1000000 * t / 1e6 }')
                w=() asan=
                [ $speed = slow ] && w=("${SLOW[@]}") asan=:detect_leaks=0
                HOOK_ASAN_EXTRA=$asan run_kill "$stage" "${w[@]}" "$KILL_AFTER" "$delay" "$F_TMP/ksent"
                kill_checks "kill #$i ($stage, $speed, after ${delay}s)"
                TABLE+=$(printf '%-15s %-5s %6.2f ms  %-7s  %-8s  %s' "$stage" "$speed" \
                        "$(awk -v d="$delay" 'BEGIN { print d * 1000 }')" "$OUTCOME" "${KSENT:-not-sent}" "$(kill_point)")$'\n'
        done
        f_diag "random kills: stage, speed, delay, outcome, signal sent, where it landed:" "$TABLE"
        f_diag "random kills by point:" "$(awk 'NF { for (i = 1; i <= 6; i++) $i = ""; sub(/^ +/, ""); print }' <<<"$TABLE" |
                sort | uniq -c | sort -rn)"
        f_diag "random kills by outcome: $(awk 'NF { print $5 }' <<<"$TABLE" | sort | uniq -c | xargs)"
        series_end kill "after $KILLS random SIGKILLs"
fi

# ---- the sweep: SIGKILL on entering each state-changing call, in turn ---------------------
SWEEP_CALLS=write,bpf,pidfd_open,setns,open_tree,mount_setattr,move_mount,mount,umount2,openat2,unshare,mknodat,exit_group
SWEEP_STAGES=${GJ_KILL_SWEEP_STAGES-createRuntime}
if [ -n "$SWEEP_STAGES" ] && ! command -v strace >/dev/null 2>&1; then
        f_skip "strace not installed" "SIGKILL sweep"
        SWEEP_STAGES=
fi
for stage in $SWEEP_STAGES; do
        # The hook's calls, in order, from one traced run. (LeakSanitizer refuses to run
        # under ptrace: no leak check in a traced hook.)
        rm -f "$F_TMP/strace.log"
        KILL_FAULT='' HOOK_ASAN_EXTRA=:detect_leaks=0 run_kill "$stage" "$(command -v strace)" \
                -qq -o "$F_TMP/strace.log" -e "trace=$SWEEP_CALLS"
        if [ "$RC" != 0 ]; then
                f_skip "the hook does not run under strace at $stage (rc $RC: $ERR)" "$stage: SIGKILL sweep"
                continue
        fi
        mapfile -t POINTS < <(sed -nE 's/^([a-z_0-9]+)\((.{0,36}).*/\1 \2/p' "$F_TMP/strace.log" |
                awk '{ n[$1]++; $1 = $1 " #" n[$1]; print }')
        f_diag "$stage sweep: ${#POINTS[@]} points (call, occurrence, its first arguments):" "${POINTS[@]}"
        series_begin sweep
        SWEEP_TABLE=
        for pt in "${POINTS[@]}"; do
                read -r call nth _ <<<"$pt"
                KILL_FAULT='' HOOK_ASAN_EXTRA=:detect_leaks=0 run_kill "$stage" "$(command -v strace)" -qq -o /dev/null \
                        -e "trace=$call" -e "inject=$call:signal=KILL:when=${nth#\#}"
                kill_checks "$stage: killed entering $call $nth"
                SWEEP_TABLE+="$OUTCOME: $call $nth"$'\n'
        done
        f_diag "$stage sweep outcomes: $(awk -F: 'NF { print $1 }' <<<"$SWEEP_TABLE" | sort | uniq -c | xargs)"
        grep -q '^started' <<<"$SWEEP_TABLE" && f_diag "started:" "$(grep '^started' <<<"$SWEEP_TABLE")"
        series_end sweep "after the $stage SIGKILL sweep"
done

# ---- the same, where cgroup v2 polices: SIGKILL on entering each bpf call -----------------
# On this hybrid host runc attaches no cgroup2 program (v1 polices): as in test-hook-v2.sh,
# a prestart hook ahead of ours plays a pure-v2 runtime and attaches a device program (the
# OCI defaults) to the container's cgroup2 dir; the hook then loads its own and replaces
# the runtime's (bpf calls: query, load, attach). Killed entering each, and at exit_group
# (ours attached): refused, and the runtime's program is freed with the container's
# cgroup (none left attached anywhere). GJ_KILL_V2_SWEEP=0: not this part.
prog_gone() { [ -n "$1" ] && ! bpftool prog show id "$1" >/dev/null 2>&1; }
v2_sweep() {
        local why=
        command -v strace >/dev/null 2>&1 || why="strace not installed"
        command -v bpftool >/dev/null 2>&1 || why="bpftool not installed"
        command -v clang >/dev/null 2>&1 || why="clang not installed"
        [ -n "$(f_cg2)" ] || why="no cgroup2 mount"
        [ -f /usr/include/linux/bpf.h ] || why="no linux/bpf.h (linux-libc-dev)"
        if [ -n "$why" ]; then
                f_skip "$why" "cgroup v2 SIGKILL sweep"
                return
        fi
        # The pure-v2 runtime's device program (the one test-hook-v2.sh plays too).
        if ! clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -c "$FAULT_REPO/tests/helpers/runtime-devices.bpf.c" \
                -o "$F_TMP/runtime-prog.o" 2>"$F_TMP/clang.err"; then
                f_skip "clang cannot build a BPF object here: $(head -1 "$F_TMP/clang.err")" "cgroup v2 SIGKILL sweep"
                return
        fi
        # Attach it to the container's cgroup2 dir (bpffs in a private mount namespace, gone
        # with it: the program lives as long as the attachment); note its id.
        cat >"$F_TMP/attach-runtime-prog" <<EOF
#!/bin/bash
set -e
pid=\$(jq -r .pid)
cg=\$(awk '\$3 == "cgroup2" { print \$2; exit }' /proc/self/mounts)\$(awk -F: '\$1 == "0" { print \$3 }' /proc/\$pid/cgroup)
unshare -m --propagation private bash -c '
        mkdir -p "$F_TMP/bpffs"
        mount -t bpf bpf "$F_TMP/bpffs"
        bpftool prog load "$F_TMP/runtime-prog.o" "$F_TMP/bpffs/rt" type cgroup/dev
        bpftool cgroup attach "\$1" device pinned "$F_TMP/bpffs/rt" multi
        bpftool -j prog show pinned "$F_TMP/bpffs/rt" | jq .id >"$F_TMP/rt-prog-id"' _ "\$cg"
EOF
        chmod 0755 "$F_TMP/attach-runtime-prog"
        export KILL_PRE_HOOK=$F_TMP/attach-runtime-prog
        rm -f "$F_TMP/strace.log"
        KILL_FAULT='' HOOK_ASAN_EXTRA=:detect_leaks=0 run_kill prestart "$(command -v strace)" \
                -qq -o "$F_TMP/strace.log" -e trace=bpf,exit_group
        if [ "$RC" != 0 ]; then
                f_skip "the hook does not run under strace on cgroup v2 (rc $RC: $ERR)" "cgroup v2 SIGKILL sweep"
                unset KILL_PRE_HOOK
                return
        fi
        # GPU 0 ENXIO: the runtime's program alone would deny it (EPERM), so ours replaced it.
        f_ok "cgroup v2 baseline under strace: exactly GPU 0 (the hook's program replaced the runtime's), other GPU denied" \
                fully_bound
        mapfile -t POINTS < <(sed -nE 's/^(bpf|exit_group)\(([A-Z_]*).*/\1 \2/p' "$F_TMP/strace.log" |
                awk '{ n[$1]++; print $1, "#" n[$1], $2 }')
        f_diag "cgroup v2 sweep: ${#POINTS[@]} points:" "${POINTS[@]}"
        series_begin v2
        local pt call nth id i SWEEP_TABLE=
        for pt in "${POINTS[@]}"; do
                read -r call nth _ <<<"$pt"
                rm -f "$F_TMP/rt-prog-id"
                KILL_FAULT='' HOOK_ASAN_EXTRA=:detect_leaks=0 run_kill prestart "$(command -v strace)" -qq -o /dev/null \
                        -e "trace=$call" -e "inject=$call:signal=KILL:when=${nth#\#}"
                kill_checks "cgroup v2: killed entering $pt"
                SWEEP_TABLE+="$OUTCOME: $pt"$'\n'
                # The cgroup's programs are detached and freed once it is released (async).
                id=$(cat "$F_TMP/rt-prog-id" 2>/dev/null)
                for i in $(seq 20); do
                        [ -z "$id" ] || prog_gone "$id" && break
                        sleep 0.1
                done
                f_ok "cgroup v2: killed entering $pt: the runtime's program (id ${id:-?}) is gone with the cgroup" \
                        prog_gone "$id"
        done
        f_diag "cgroup v2 sweep outcomes: $(awk -F: 'NF { print $1 }' <<<"$SWEEP_TABLE" | sort | uniq -c | xargs)"
        series_end v2 "after the cgroup v2 SIGKILL sweep"
        unset KILL_PRE_HOOK
}
[ "${GJ_KILL_V2_SWEEP:-1}" = 1 ] && v2_sweep
f_done
