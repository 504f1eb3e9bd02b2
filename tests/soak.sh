#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Soak and concurrency, on a simulated 8-GPU host (not in CI by default: GPUJAIL_SOAK=1).
#   1. GJ_SOAK_RUNS (1000) sequential `gpujail run --gpu i%8` jobs: each sees exactly its
#      GPU's node and only fds 0-2; afterwards no mount, cgroup or cgroup BPF program left.
#   2. GJ_SOAK_CONTAINERS (100) runc containers started at once, the hook registered
#      (createRuntime), container i asking for GPU i%8 by NVIDIA_VISIBLE_DEVICES and
#      holding another GPU's node without an allow rule: each sees exactly its GPU, the
#      cgroup lets it open its GPU (ENXIO) and /dev/null (the runtime's rule, kept when
#      the hook replaces the cgroup v2 program), and refuses the other GPU (EPERM).
#      Afterwards: no mount, cgroup or cgroup BPF program left.
# Prints figures (wall time per job/container, failures, leaks) and TAP.
. "$(dirname "$0")/fault/fault-lib.sh"
[ "${GPUJAIL_SOAK:-0}" = 1 ] || f_skip_all "soak test: set GPUJAIL_SOAK=1 (minutes of load)"
f_require_root
f_require_cmd python3
[ -x "$GPUJAIL" ] || f_skip_all "gpujail not built ($GPUJAIL)"
HOST=$(f_fakehost nvidia8) || f_skip_all "cannot build the simulated host"
RUNS=${GJ_SOAK_RUNS:-1000}
CONTAINERS=${GJ_SOAK_CONTAINERS:-100}
MINORS=($(python3 -c 'import json,sys; print(" ".join(str(d["minor"]) for d in json.load(open(sys.argv[1]))["devices"]))' "$HOST/hostinfo.json"))
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Machine-wide: other suites' live jobs come and go, so growth must persist to count.
progs_not_grown() { # progs_not_grown BEFORE
        local i
        for i in 1 2 3 4 5; do
                [ "$(bpf_device_progs)" -le "$1" ] && return 0
                sleep 1
        done
        f_diag "cgroup_device programs loaded: $(bpf_device_progs), before: $1"
        return 1
}
bpf_device_progs() { # loaded cgroup_device programs (machine-wide: a leak shows as growth)
        if command -v bpftool >/dev/null; then
                bpftool prog show 2>/dev/null | grep -c cgroup_device
        else
                echo 0
        fi
}

# ---- 1. sequential jobs ---------------------------------------------------------------------
W=$F_TMP/seq
mkdir -p "$W"
chmod 0777 "$W"
f_snapshot seq
progs0=$(bpf_device_progs)
t0=$(now_ms)
(cd "$W" && F_TIMEOUT=$((RUNS * 2 + 60)) f_on_host "$HOST" bash -c '
        gj=$1 runs=$2
        grep -c . /proc/self/mountinfo >mounts.before
        for i in $(seq 0 $((runs - 1))); do
                "$gj" run --gpu $((i % 8)) -- sh -c "ls /dev | grep -E \"^nvidia[0-9]+\$\" | tr \"\\n\" \" \"; echo; ls /proc/self/fd | tr \"\\n\" \" \"" \
                        >out.$i 2>err.$i </dev/null
                echo $? >rc.$i
        done
        grep -c . /proc/self/mountinfo >mounts.after' sh "$GPUJAIL" "$RUNS")
t1=$(now_ms)
fails=0 wrong=0 fdleak=0
for i in $(seq 0 $((RUNS - 1))); do
        [ "$(cat "$W/rc.$i" 2>/dev/null)" = 0 ] || { fails=$((fails + 1)); [ $fails -le 3 ] && f_diag "job $i: rc $(cat "$W/rc.$i" 2>/dev/null): $(head -2 "$W/err.$i" 2>/dev/null)"; continue; }
        [ "$(sed -n 1p "$W/out.$i")" = "nvidia${MINORS[$((i % 8))]} " ] || wrong=$((wrong + 1))
        # ls's own directory fd shows as 3
        [ "$(sed -n 2p "$W/out.$i")" = "0 1 2 3 " ] || fdleak=$((fdleak + 1))
done
if [ $fails = "$RUNS" ]; then
        f_skip "gpujail run does not work here yet ($(head -1 "$W/err.0" 2>/dev/null))" "$RUNS sequential jobs"
else
        f_diag "sequential: $RUNS jobs in $((t1 - t0)) ms: $(((t1 - t0) * 1000 / RUNS)) us per job (setup + teardown + enter-free loop)"
        f_is "$fails" 0 "$RUNS sequential jobs: all exit 0"
        f_is "$wrong" 0 "$RUNS sequential jobs: each saw exactly its own GPU node"
        f_is "$fdleak" 0 "$RUNS sequential jobs: each had only fds 0-2"
        f_is "$(cat "$W/mounts.after")" "$(cat "$W/mounts.before")" "no mount left in the launching namespace"
        f_ok "no cgroup device program left loaded" progs_not_grown "$progs0"
        f_host_unchanged seq "after $RUNS sequential jobs"
fi
f_sweep seq

# ---- 2. concurrent containers with the hook --------------------------------------------------
containers() {
        command -v runc >/dev/null || { f_skip "runc not installed" "$CONTAINERS concurrent containers"; return; }
        command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q static ||
                { f_skip "no busybox-static" "$CONTAINERS concurrent containers"; return; }
        [ -x "$GPUJAIL_HOOK" ] || { f_skip "gpujail-hook not built" "$CONTAINERS concurrent containers"; return; }
        local fakesysfs= c
        for c in "${FAKESYSFS:-}" "$FAULT_BUILD/tests/fakehost/fakesysfs.so" "$HOST/.fakesysfs.so"; do
                [ -n "$c" ] && [ -f "$c" ] && { fakesysfs=$(realpath "$c"); break; }
        done
        local C=$F_TMP/ctr
        mkdir -p "$C/rootfs/bin" "$C/rootfs/out"
        cp "$(command -v busybox)" "$C/rootfs/bin/busybox"
        for a in sh ls echo cat grep tr sleep; do ln -sf busybox "$C/rootfs/bin/$a"; done
        (cd "$C" && runc spec) || return
        local JOB='ls /dev/ | grep -E "^nvidia[0-9]+$" | tr "\n" " " >/out/nvidia
for n in /dev/nvidia[0-9]* /dev/other-gpu /dev/null; do
  [ -c "$n" ] || continue
  if (exec 3<>$n) 2>/out/err; then echo "$n OK"
  elif grep -q "not permitted" /out/err; then echo "$n EPERM"
  elif grep -q "No such device or address" /out/err; then echo "$n ENXIO"
  else echo "$n $(cat /out/err)"; fi
done >/out/open
sleep 1'
        python3 - "$C" "$CONTAINERS" "$GPUJAIL_HOOK" "$fakesysfs" "$JOB" "${MINORS[@]}" <<'EOF' || return
import json, os, sys
base, n, hook, preload, job = sys.argv[1:6]
minors = [int(m) for m in sys.argv[6:]]
spec = json.load(open(os.path.join(base, "config.json")))
for i in range(int(n)):
    b = os.path.join(base, "b%d" % i)
    os.makedirs(os.path.join(b, "out"), exist_ok=True)
    c = json.loads(json.dumps(spec))
    c["root"] = {"path": os.path.join(base, "rootfs"), "readonly": True}
    c["process"]["terminal"] = False
    c["process"]["args"] = ["/bin/sh", "-c", job]
    c["process"]["env"] = ["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=%d" % (i % 8)]
    c["mounts"].append({"destination": "/out", "type": "bind", "source": os.path.join(b, "out"),
                        "options": ["rbind", "rw"]})
    other = minors[(i + 1) % 8]
    c["linux"]["devices"] = [{"path": "/dev/other-gpu", "type": "c", "major": 195, "minor": other,
                              "fileMode": 0o666, "uid": 0, "gid": 0}]
    c["hooks"] = {"createRuntime": [{"path": hook, "args": ["gpujail-hook", "createRuntime"],
                                     "env": ["LD_PRELOAD=" + preload], "timeout": 60}]}
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
EOF
        f_snapshot ctr
        local progs0 t0 t1
        progs0=$(bpf_device_progs)
        t0=$(now_ms)
        timeout -k 5 600 "$FAULT_REPO/tests/fakehost/enter" "$HOST" -- bash -c '
                C=$1 n=$2 id=$3
                for i in $(seq 0 $((n - 1))); do
                        runc run --bundle "$C/b$i" "$id-$i" >"$C/b$i/stdout" 2>"$C/b$i/stderr" </dev/null &
                done
                wait
                for i in $(seq 0 $((n - 1))); do runc delete -f "$id-$i" >/dev/null 2>&1; done' \
                sh "$C" "$CONTAINERS" "gj-soak-$$"
        t1=$(now_ms)
        local i ok=0 wrong=0 failed=0 first=
        for i in $(seq 0 $((CONTAINERS - 1))); do
                local want="nvidia${MINORS[$((i % 8))]} " other="/dev/other-gpu EPERM"
                if [ ! -f "$C/b$i/out/open" ]; then
                        failed=$((failed + 1))
                        [ -z "$first" ] && first="container $i: $(grep -o 'stderr: .*' "$C/b$i/stderr" | head -c 300)"
                elif [ "$(cat "$C/b$i/out/nvidia")" = "$want" ] &&
                        grep -qx "/dev/nvidia${MINORS[$((i % 8))]} ENXIO" "$C/b$i/out/open" &&
                        grep -qx "$other" "$C/b$i/out/open" && grep -qx "/dev/null OK" "$C/b$i/out/open"; then
                        ok=$((ok + 1))
                else
                        wrong=$((wrong + 1))
                        [ -z "$first" ] && first="container $i: saw '$(cat "$C/b$i/out/nvidia")', $(tr '\n' ',' <"$C/b$i/out/open")"
                fi
        done
        if [ $failed = "$CONTAINERS" ]; then
                f_skip "no container started ($first)" "$CONTAINERS concurrent containers with the hook"
                return
        fi
        [ -n "$first" ] && f_diag "first problem: $first"
        f_diag "concurrent: $CONTAINERS containers started at once, all done in $((t1 - t0)) ms (each runs ~1 s)"
        f_is "$failed" 0 "$CONTAINERS concurrent containers: all started"
        f_is "$wrong" 0 "$CONTAINERS concurrent containers: each saw exactly its GPU; own GPU allowed, other GPU denied, runtime's /dev/null rule kept"
        f_ok "no cgroup device program left loaded after the containers" progs_not_grown "$progs0"
        f_host_unchanged ctr "after $CONTAINERS concurrent containers"
}
containers
f_done
