#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# `gpujail-hook` under real runc, with every step of the hook failing in turn
# (tests/fault/faultinject.so, preloaded through the hook's own env in config.json), on a
# simulated 8-GPU host. The container asks for GPU 0 (NVIDIA_VISIBLE_DEVICES=0); the test
# also puts another GPU's node into linux.devices WITHOUT a cgroup allow rule. Each run must
#   - fail: runc refuses the container (non-zero), the hook said why ("gpujail-hook: ..."),
#     and the container's process never ran; or
#   - tolerate the fault: the container saw GPU 0's node and no other GPU node, opening its
#     GPU gives ENXIO (allowed, no driver) and the other node EPERM (denied);
# and leave the host as it was (mounts, cgroups, cgroup BPF programs).
# Stages: GJ_FAULT_STAGES (default createRuntime; prestart runs the same code in the same
# namespaces: "createRuntime prestart" for both). Occurrences per call: GJ_FAULT_MAX_N
# (default 3, 0 = all), to keep within the runner's per-test timeout.
. "$(dirname "$0")/../fault/fault-lib.sh"
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
echo ran >/out/ran'

write_config() { # write_config STAGE GJ_FAULT
        python3 - "$BUNDLE/config.json" "$1" "$2" "$GPUJAIL_HOOK" "$FAKESYSFS:$FAULTINJECT" \
                "$OUTD" "$OTHER_MINOR" "$JOB" "$F_TMP/fault.log" <<'EOF'
import json, sys
p, stage, fault, hook, preload, outd, other, job, log = sys.argv[1:]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", job]
c["process"]["env"] = ["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=0"]
c["root"]["readonly"] = False
c["mounts"].append({"destination": "/out", "type": "bind", "source": outd, "options": ["rbind", "rw"]})
# another GPU's node, placed by the runtime, with no allow rule: must stay denied
c["linux"]["devices"] = [{"path": "/dev/other-gpu", "type": "c", "major": 195, "minor": int(other),
                          "fileMode": 0o666, "uid": 0, "gid": 0}]
env = ["LD_PRELOAD=" + preload, "GJ_FAULT_LOG=" + log, "ASAN_OPTIONS=verify_asan_link_order=0"]
if fault:
    env.append("GJ_FAULT=" + fault)
if fault.startswith("COUNT="):
    env = env[:-1] + ["GJ_FAULT_COUNT=" + fault[6:]]
c["hooks"] = {stage: [{"path": hook, "args": ["gpujail-hook", stage], "env": env, "timeout": 30}]}
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

for stage in ${GJ_FAULT_STAGES:-createRuntime}; do
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
                if [ -z "$FIRED" ]; then
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
f_done
