#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# srun --container=BUNDLE (Slurm 22.05, oci.conf from examples/slurm/, runc) on a node
# where spank_gpujail.so confines each task, on a simulated 8-GPU host. Inside the
# container Slurm passes neither CUDA_VISIBLE_DEVICES nor SLURM_STEP_GPUS: the allocation
# holds because runc puts the container in a child of the task's default-deny device
# cgroup. The kernel judges from inside the container (ENXIO allowed, EPERM denied), with
# every GPU's node made in the container's /dev by linux.devices: its GPUs open, the others
# are denied; gpujail runtime puts the task's GPUs into config.json (and /dev). Without --rootless=true runc refuses to start (its "c *:* m" rule is refused
# under the task's cgroup): kept on record. No container, cgroup, mount or BPF program is
# left afterwards.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slurm-common.sh"
. "$(dirname "$0")/hook-common.sh"
SPANK=$GPUJAIL_BUILD/slurm/spank_gpujail.so
require_built "$GPUJAIL" "$SPANK"
require_cmd runc jq busybox cc
slurm_require_plugin
HOST=$(fakehost nvidia8)
snapshot_host before

"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" slurm gres-conf >"$TEST_TMP/gres.conf"
echo "required $SPANK" >"$TEST_TMP/plugstack.conf"

# The bundle: busybox and a static open-probe; every GPU's node in linux.devices (runc
# makes them all in /dev, with no allow rule: the cgroup alone decides), nvidiactl too.
GPUS=$(hostinfo nvidia8 '[.devices[] | "/dev/nvidia\(.minor)"] | join(" ")')
BUNDLE=$TEST_TMP/bundle
mkdir -p "$BUNDLE"
cp -a "$(hook_rootfs)" "$BUNDLE/rootfs"
(cd "$BUNDLE" && runc spec) || bail_out "runc spec failed"
DEVS=$(hostinfo nvidia8 '[.devices[] | {path: "/dev/nvidia\(.minor)", type: "c", major: 195, minor: .minor, fileMode: 438, uid: 0, gid: 0}]
        + [{path: "/dev/nvidiactl", type: "c", major: 195, minor: 255, fileMode: 438, uid: 0, gid: 0}]')
jq --argjson d "$DEVS" '.process.terminal = false | .root.path = "rootfs" | .annotations["gpujail.io/capabilities"] = "none" | .linux.devices += $d' \
        "$BUNDLE/config.json" >"$BUNDLE/config.json.new" && mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"

want() { # GPU-INDEXES: the verdicts for the 8 GPUs, then nvidiactl
        echo "$(gpu_verdicts "$1") $([[ -n $1 ]] && echo ENXIO || echo EPERM)"
}
verdicts() { awk '/^\/dev\/nvidia/ { print $2 }' <<<"$stdout" | tr '\n' ' ' | sed 's/ $//'; }
# SLURM_CONTAINER_BENCH=N: also time N runs of `srun --container --gres=gpu:1 /bin/true`
# (median ms, in a diag line), with and without gpujail runtime.
bench() { # LABEL
        local n=${SLURM_CONTAINER_BENCH:-0} i t0 times=()
        ((n > 0)) || return 0
        for ((i = 0; i < n; i++)); do
                t0=$(date +%s%N)
                srun --container="$BUNDLE" --gres=gpu:1 /bin/true >/dev/null 2>&1
                times+=($((($(date +%s%N) - t0) / 1000000)))
        done
        diag "bench $1: srun --container median $(printf '%s\n' "${times[@]}" | sort -n | sed -n "$((n / 2 + 1))p") ms over $n runs"
}
leftovers() { # containers in runc's state, cgroups of containers
        runc --root "$SLURM_DIR/runc" list -q 2>/dev/null
        find /sys/fs/cgroup -path '*slurm*' -type d -name "$SLURM_NODE.*" 2>/dev/null
}

# The reason for --rootless=true, on record: without it runc cannot start the container.
sed 's/ --rootless=true//' "$GPUJAIL_SRC/examples/slurm/oci.conf" >"$TEST_TMP/oci-strict.conf"
SLURM_OCI_CONF=$TEST_TMP/oci-strict.conf slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/plugstack.conf" ||
        bail_out "Slurm did not start"
run srun --container="$BUNDLE" --gres=gpu:1 /bin/open-probe $GPUS /dev/nvidiactl
isnt "$status" 0 "runc without --rootless=true under the task's default-deny cgroup: the step fails" || show
like "$stderr$stdout" "devices" "because runc's device rules are refused (devices)" || show
diag "runc's words: $(grep -m1 -o 'devices[^"]*' <<<"$stderr$stdout")"
is "$(leftovers)" "" "no container or container cgroup left by the failed start"
slurm_stop

# The reason for gpujail runtime, on record: runc alone writes the container's device rules
# from config.json, which names no GPU (Slurm cannot say which), and so denies the task's GPU.
sed 's,/usr/local/bin/gpujail runtime --ignore-env --runtime runc --,runc,' "$GPUJAIL_SRC/examples/slurm/oci.conf" >"$TEST_TMP/oci-runc.conf"
SLURM_OCI_CONF=$TEST_TMP/oci-runc.conf slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/plugstack.conf" ||
        bail_out "Slurm did not start"
run srun --container="$BUNDLE" --gres=gpu:1 /bin/open-probe $GPUS /dev/nvidiactl
is "$(verdicts)" "$(want "")" "runc --rootless=true without gpujail runtime: even the task's own GPU is denied in the container" || show
bench "runc alone"
is "$(leftovers)" "" "no container or container cgroup left"
slurm_stop

SLURM_OCI_CONF=$GPUJAIL_SRC/examples/slurm/oci.conf slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/plugstack.conf" ||
        bail_out "Slurm did not start"
run srun --container="$BUNDLE" --gres=gpu:1 /bin/sh -c "echo SLURM_STEP_GPUS=\${SLURM_STEP_GPUS:-unset} CUDA_VISIBLE_DEVICES=\${CUDA_VISIBLE_DEVICES:-unset}; grep devices /proc/self/cgroup; /bin/open-probe $GPUS /dev/nvidiactl"
is "$status" 0 "srun --container --gres=gpu:1 runs" || show
diag "in the container: $(head -2 <<<"$stdout" | tr '\n' ' ')"
like "$stdout" "devices:/slurm_[^/]*/uid_0/job_[0-9]+/step_[0-9]+/task_0/$SLURM_NODE\.root\.[0-9]+\.[0-9]+\.0" \
        "the container's device cgroup is a child of the task's" || show
is "$(verdicts)" "$(want 0)" "--gres=gpu:1: in the container GPU 0 and nvidiactl open, the 7 other GPUs are denied" || show
bench "gpujail runtime + runc"

run srun --container="$BUNDLE" --gres=gpu:2 /bin/open-probe $GPUS /dev/nvidiactl
is "$(verdicts)" "$(want 0,1)" "--gres=gpu:2: GPUs 0 and 1 open, no other" || show

run srun --container="$BUNDLE" /bin/open-probe $GPUS /dev/nvidiactl
is "$(verdicts)" "$(want "")" "no GPU asked: every GPU and nvidiactl denied in the container" || show

# A container that asks for every GPU itself (the annotation; an image's
# NVIDIA_VISIBLE_DEVICES=all is the same) is taken at its word by gpujail runtime: the
# kernel still refuses what the task was not given.
GREEDY=$TEST_TMP/greedy
mkdir -p "$GREEDY"
cp -a "$BUNDLE/rootfs" "$GREEDY/rootfs"
jq '.annotations["gpujail.io/gpus"] = "all"' "$BUNDLE/config.json" >"$GREEDY/config.json"
run srun --container="$GREEDY" --gres=gpu:1 /bin/open-probe $GPUS /dev/nvidiactl
is "$(verdicts)" "$(want 0)" "a container asking for all GPUs, given one: only GPU 0 opens, the kernel denies the 7 others" || show

# A CUDA image: NVIDIA_VISIBLE_DEVICES=all in its env, no node of its own. --ignore-env
# (oci.conf): its /dev holds only the task's GPU.
CUDA=$TEST_TMP/cuda
mkdir -p "$CUDA"
cp -a "$BUNDLE/rootfs" "$CUDA/rootfs"
jq '.linux.devices = [] | .process.env += ["NVIDIA_VISIBLE_DEVICES=all"]' "$BUNDLE/config.json" >"$CUDA/config.json"
run srun --container="$CUDA" --gres=gpu:1 /bin/sh -c 'ls /dev | grep "^nvidia[0-9]" | tr "\n" " "; echo; for n in /dev/nvidia[0-9]*; do /bin/open-probe $n; done'
is "$(head -1 <<<"$stdout")" "nvidia$(hostinfo nvidia8 '.devices[0].minor') " \
        "NVIDIA_VISIBLE_DEVICES=all from the image, given GPU 0: only GPU 0's node in /dev" || show
like "$stdout" "nvidia$(hostinfo nvidia8 '.devices[0].minor') ENXIO" "and it opens" || show

# Slurm 22.05 runs one container per node and step: a second task is refused by Slurm
# itself ("_modify_config: unexpected number of tasks 2 > 1"), and its slurmstepd then
# dies in stepd_cleanup (SIGSEGV). On record, so that a newer Slurm that lifts it shows.
run srun -n2 --container="$BUNDLE" --gres=gpu:1 /bin/open-probe $GPUS /dev/nvidiactl
isnt "$status" 0 "two tasks in one container step: Slurm 22.05 refuses the step" || show
like "$(cat "$SLURM_DIR/slurmd.log")" "unexpected number of tasks 2 > 1" "slurmd's log: 'unexpected number of tasks 2 > 1'"
is "$(verdicts)" "" "and no task ran"

is "$(leftovers)" "" "every container deleted, its cgroup removed, after the steps"
is "$(slurm_node_state)" idle "the node is idle, not drained"
slurm_stop
slurm_assert_clean "Slurm stopped: no daemon, step or cgroup left"
assert_host_unchanged before "host mounts, gpujail cgroups and BPF programs unchanged"
done_testing
