#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# spank_gpujail.so in Debian's Slurm 22.05, on a simulated 8-GPU host whose minors are
# not in PCI order, gres.conf from `gpujail slurm gres-conf` with GPU 7 left out. The
# kernel judges from inside each job (ENXIO allowed, EPERM denied): a task opens its
# allocated GPUs and nothing else, not even the GPU Slurm does not know; nvidiactl and
# nvidia-uvm only when it has a GPU; a batch script its job's GPUs; an allow= argument
# adds a node; dev=curated gives each task gpujail's /dev. A node without device cgroups (ConstrainDevices=no) or a bad argument
# fails the task, with the reason on srun's stderr and in slurmd's log, and drains
# nothing. Slurm and every cgroup it made are gone afterwards.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slurm-common.sh"
SPANK=$GPUJAIL_BUILD/slurm/spank_gpujail.so
require_built "$GPUJAIL" "$HELPERS/open-probe" "$SPANK"
slurm_require_plugin
HOST=$(fakehost nvidia8)
snapshot_host before

LEFT_OUT=$(hostinfo nvidia8 '.devices[7].minor')
"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" slurm gres-conf | grep -v "File=/dev/nvidia$LEFT_OUT\b" >"$TEST_TMP/gres.conf"
is "$(grep -c Name=gpu "$TEST_TMP/gres.conf")" 7 "gres.conf: 7 GPUs, GPU 7 (/dev/nvidia$LEFT_OUT) left out"
mknod "$TEST_TMP/extra" c 240 0 # a node of no driver: ENXIO when allowed
echo "required $SPANK allow=c:240:0:rw" >"$TEST_TMP/plugstack.conf"
slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/plugstack.conf" || bail_out "Slurm did not start"

# What the job may open, probed from inside it: the 8 GPUs in gpujail's index order,
# then nvidiactl, nvidia-uvm, /dev/null, the allow= node.
PROBED="$(hostinfo nvidia8 '[.devices[] | "/dev/nvidia\(.minor)"] | join(" ")') /dev/nvidiactl /dev/nvidia-uvm /dev/null $TEST_TMP/extra"
PROBE="$HELPERS/open-probe $PROBED | awk '{ print \$2 }' | tr '\n' ' '"
# want GPU-INDEXES: the verdicts when exactly those GPUs are allocated.
want() {
        local ctl
        ctl=$([[ -n $1 ]] && echo ENXIO || echo EPERM)
        echo "$(gpu_verdicts "$1") $ctl $ctl OK ENXIO"
}
verdicts() { tail -1 <<<"$stdout" | sed 's/ $//'; }

run srun --gres=gpu:1 sh -c "echo \$SLURM_STEP_GPUS; $PROBE"
is "$status" 0 "srun --gres=gpu:1 runs" || show
is "$(head -1 <<<"$stdout")" 0 "Slurm gives GPU 0"
is "$(verdicts)" "$(want 0)" \
        "--gres=gpu:1: GPU 0 opens, the 7 others (GPU 7 too, unknown to Slurm) are denied; nvidiactl, nvidia-uvm, /dev/null, allow= open"

run srun --gres=gpu:2 sh -c "echo \$SLURM_STEP_GPUS; $PROBE"
is "$(head -1 <<<"$stdout")" 0,1 "--gres=gpu:2: Slurm gives GPUs 0,1"
is "$(verdicts)" "$(want 0,1)" "--gres=gpu:2: GPUs 0 and 1 open (minors $(hostinfo nvidia8 '.devices[0].minor'), $(hostinfo nvidia8 '.devices[1].minor')), no other"

run srun sh -c "echo none; $PROBE"
is "$(verdicts)" "$(want "")" "no GPU asked: every GPU, nvidiactl and nvidia-uvm denied; /dev/null and allow= open"

run srun -n2 --gres=gpu:1 sh -c "$PROBE; echo"
is "$(grep -c "^$(want 0) \?$" <<<"$stdout")" 2 "two tasks of one step: each confined to GPU 0" || show

cat >"$TEST_TMP/batch.sh" <<EOF
#!/bin/sh
echo \$SLURM_JOB_GPUS
$PROBE
EOF
run sbatch --wait --gres=gpu:1 -o "$TEST_TMP/batch.out" "$TEST_TMP/batch.sh"
is "$status" 0 "sbatch --gres=gpu:1 --wait" || show
stdout=$(cat "$TEST_TMP/batch.out" 2>/dev/null)
is "$(head -1 <<<"$stdout")" 0 "the batch script has SLURM_JOB_GPUS=0"
is "$(verdicts)" "$(want 0)" "the batch script itself is confined to GPU 0"

# gpujail run inside a job: what Slurm allocated is allowed, the rest refused by name,
# from the job's cgroup even when sudo-like callers lose the SLURM_* variables.
GPU0=/dev/nvidia$(hostinfo nvidia8 '.devices[0].minor')
run srun --gres=gpu:1 $SLURM_GPUJAIL run --gpu 0 -- "$HELPERS/open-probe" "$GPU0"
is "$stdout" "$GPU0 ENXIO" "gpujail run --gpu 0 in a job given GPU 0: the job opens it" || show
run srun --gres=gpu:1 $SLURM_GPUJAIL run --gpu 1 -- true
is "$status" 125 "gpujail run --gpu 1 in a job given GPU 0: exit 125"
like "$stderr" "GPU 1 was not allocated to this Slurm job: it may use GPU\(s\) 0 \(its device cgroup\)" \
        "and says which GPUs the job has, not 'Operation not permitted'" || show
run srun --gres=gpu:1 env -u SLURM_JOB_ID -u SLURM_STEP_GPUS $SLURM_GPUJAIL run --gpu 1 -- true
like "$stderr" "GPU 1 was not allocated to this Slurm job: it may use GPU\(s\) 0 \(its device cgroup\)" \
        "the same without SLURM_* in the environment (sudo): the job's cgroup says it" || show
run srun --gres=gpu:1 $SLURM_GPUJAIL run --gpu auto -- "$HELPERS/open-probe" "$GPU0"
is "$stdout" "$GPU0 ENXIO" "gpujail run --gpu auto in a job given GPU 0 picks GPU 0" || show
run srun --gres=gpu:1 $SLURM_GPUJAIL run --gpu auto:2 -- true
is "$status" 125 "gpujail run --gpu auto:2 in a job given one GPU: exit 125" || show
like "$stderr" "GPU" "and says why" || show
run srun $SLURM_GPUJAIL run --gpu 0 -- true
like "$stderr" "GPU 0 was not allocated to this Slurm job: it may use GPU\(s\) none" "a job without GPUs: refused" || show

like "$(grep -c 'gpujail: task 0 (pid [0-9]*): device cgroup default-deny, GPUs 0 ([0-9.]* ms)$' "$SLURM_DIR/slurmd.log")" '^[1-9]' \
        "slurmd's log says what each task got"
is "$(slurm_node_state)" idle "the node is idle, not drained"
slurm_stop

# dev=curated: each task also gets gpujail's /dev in its own mount namespace, with the
# host's /dev/shm (shared by the step's tasks); the host's mount table does not change.
echo "required $SPANK dev=curated" >"$TEST_TMP/plugstack-dev.conf"
slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/plugstack-dev.conf" || bail_out "Slurm did not start (dev=curated)"
SHM_MARK=gj-slurm-test-$$
defer rm -f "/dev/shm/$SHM_MARK"
run srun --gres=gpu:1 bash -c "ls /dev | tr '\n' ' '; echo; echo hi >/dev/shm/$SHM_MARK; cat <(echo fd-links-work); $PROBE"
is "$(head -1 <<<"$stdout")" "fd full null nvidia-uvm nvidia-uvm-tools ${GPU0#/dev/} nvidiactl ptmx pts random shm stderr stdin stdout tty urandom zero " \
        "dev=curated, --gres=gpu:1: /dev holds the defaults, GPU 0 and its control nodes, nothing else" || show
ok '[ -f "/dev/shm/$SHM_MARK" ]' "the task's /dev/shm is the host's"
like "$stdout" fd-links-work "/dev/fd works (bash process substitution)"
is "$(verdicts)" "ENXIO ENOENT ENOENT ENOENT ENOENT ENOENT ENOENT ENOENT ENXIO ENXIO OK EPERM" \
        "dev=curated: GPU 0 opens, the others are not in /dev, the node of no allow= is denied" || show
mknod "$TEST_TMP/gpu1" c 195 "$(hostinfo nvidia8 '.devices[1].minor')"
run srun --gres=gpu:1 "$HELPERS/open-probe" "$TEST_TMP/gpu1"
is "$stdout" "$TEST_TMP/gpu1 EPERM" "and the cgroup still denies another GPU's node made elsewhere" || show
run srun -n2 bash -c "ls /dev | tr '\n' ' '; echo"
is "$(sort -u <<<"$stdout")" "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero " \
        "no GPU asked: no GPU or control node in /dev, in each of two tasks" || show
like "$(cat "$SLURM_DIR/slurmd.log")" "gpujail: pid [0-9]+: gpujail's /dev, GPUs 0 \([0-9.]+ ms\)" "slurmd's log says so"
slurm_stop

# Fail closed: a task that has no device cgroup of its own.
printf 'CgroupPlugin=cgroup/v1\nConstrainDevices=no\n' >"$TEST_TMP/cgroup-nodev.conf"
SLURM_CGROUP_CONF=$TEST_TMP/cgroup-nodev.conf slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/plugstack.conf" ||
        bail_out "Slurm did not start (ConstrainDevices=no)"
run srun --gres=gpu:1 sh -c "echo RAN; $PROBE"
unlike "$stdout" RAN "ConstrainDevices=no: the task does not run" || show
like "$stderr" "gpujail: task 0 .*has no device cgroup of its own.*ConstrainDevices=yes" "srun's stderr says why"
like "$(cat "$SLURM_DIR/slurmd.log")" "error: gpujail: cannot confine task 0 .*failing it" "so does slurmd's log"
is "$(slurm_node_state)" idle "the node is not drained"
slurm_stop

# Fail closed: a plugstack.conf argument that is not understood.
echo "required $SPANK allow=everything" >"$TEST_TMP/plugstack-bad.conf"
slurm_start "$HOST" "$TEST_TMP/gres.conf" "$TEST_TMP/plugstack-bad.conf" || bail_out "Slurm did not start (bad argument)"
run srun --gres=gpu:1 sh -c "echo RAN"
unlike "$stdout" RAN "allow=everything: no task runs" || show
like "$stderr$(cat "$SLURM_DIR/slurmd.log")" "gpujail: allow=everything: want TYPE:MAJOR:MINOR:ACCESS" "and the reason is logged"
slurm_stop

slurm_assert_clean "Slurm stopped: no daemon, step or cgroup left"
assert_host_unchanged before "host mounts, gpujail cgroups and BPF programs unchanged"
done_testing
