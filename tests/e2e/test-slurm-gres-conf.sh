#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail slurm gres-conf, proven with Debian's Slurm on a simulated 8-GPU host whose
# device minors are not in PCI order: with its gres.conf, Slurm's GPU N (SLURM_STEP_GPUS)
# is gpujail's GPU N, and the kernel (ENXIO allowed, EPERM denied) agrees. Without
# spank_gpujail.so, the GPU left out of gres.conf stays open to every job: the hole
# that test-slurm-spank.sh closes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slurm-common.sh"
require_built "$GPUJAIL" "$HELPERS/open-probe"
HOST=$(fakehost nvidia8)

run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" slurm gres-conf --node n1
is "$status" 0 "gres-conf exits 0"
want=$(hostinfo nvidia8 '.devices[] | select(.vendor == "nvidia") |
        "NodeName=n1 Name=gpu Type=nvidia_h100_80gb_hbm3 File=/dev/nvidia\(.minor)"')
is "$(grep -v '^#' <<<"$stdout" | sed 's/ Cores=.*//')" "$want" \
        "one line per GPU, File= in gpujail's index order (minors $(hostinfo nvidia8 '[.devices[].minor] | join(",")'))"
like "$(grep -c ' Cores=0' <<<"$stdout")" '^[1-9]' "Cores= from the NUMA node's CPU list (node 0 has one here)"
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" slurm gres-conf --no-node --no-cores
like "$(grep -v '^#' <<<"$stdout" | head -1)" '^Name=gpu Type=[a-z0-9_]+ File=/dev/nvidia[0-9]+$' \
        "--no-node --no-cores: plain lines"
run "$FAKEHOST/enter" "$(fakehost amd)" -- "$GPUJAIL" slurm gres-conf
is "$status" 125 "a host without NVIDIA GPU: exit 125"
like "$stderr" "no NVIDIA GPU" "and says why"

slurm_require
# GPU 7 left out of gres.conf: Slurm does not know it.
LEFT_OUT=$(hostinfo nvidia8 '.devices[7].minor')
"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" slurm gres-conf | grep -v "File=/dev/nvidia$LEFT_OUT\b" >"$TEST_TMP/gres.conf"
slurm_start "$HOST" "$TEST_TMP/gres.conf" "" || bail_out "Slurm did not start"

# probe_gpus: the probe's verdict on every GPU node, in gpujail's index order.
NODES=$(hostinfo nvidia8 '[.devices[] | "/dev/nvidia\(.minor)"] | join(" ")')
verdicts() { # WANTED-INDEXES: "ENXIO" at those positions, EPERM elsewhere
        local i out=""
        for i in 0 1 2 3 4 5 6 7; do
                if [[ ,$1, == *,$i,* ]]; then out+="ENXIO "; else out+="EPERM "; fi
        done
        echo "${out% }"
}
run srun --gres=gpu:2 sh -c "echo \$SLURM_STEP_GPUS; $HELPERS/open-probe $NODES | awk '{ print \$2 }' | tr '\n' ' '"
is "$status" 0 "srun --gres=gpu:2 runs" || show
is "$(head -1 <<<"$stdout")" "0,1" "Slurm gives GPUs 0,1"
is "$(tail -1 <<<"$stdout" | sed 's/ $//')" "$(verdicts 0,1,7)" \
        "the kernel opens gpujail's GPUs 0 and 1 (minors $(hostinfo nvidia8 '.devices[0].minor'), $(hostinfo nvidia8 '.devices[1].minor')) and, without the plugin, GPU 7 that gres.conf leaves out"

# gpujail run inside a job, Slurm alone: SLURM_STEP_GPUS tells the allocation.
run srun --gres=gpu:1 $SLURM_GPUJAIL run --gpu 1 -- true
is "$status" 125 "gpujail run --gpu 1 in a job given GPU 0: exit 125"
like "$stderr" "GPU 1 was not allocated to this Slurm job: it may use GPU\(s\) 0 \(SLURM_STEP_GPUS\)" \
        "and says why, from SLURM_STEP_GPUS" || show
GPU0=/dev/nvidia$(hostinfo nvidia8 '.devices[0].minor')
run srun --gres=gpu:1 $SLURM_GPUJAIL run --gpu 0 -- "$HELPERS/open-probe" "$GPU0"
is "$stdout" "$GPU0 ENXIO" "gpujail run --gpu 0 in a job given GPU 0 opens it" || show

slurm_stop
slurm_assert_clean "Slurm stopped: no daemon, step or cgroup left"
done_testing
