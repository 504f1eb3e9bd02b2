#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# MIG devices and IMEX channels on simulated hosts: `list` finds what the shape
# says (mig8: GPUs 2 and 5 in MIG mode, caps minors not in index order; migbroken:
# a malformed access file, a caps node missing; imex: two channels), and a job
# given one MIG device under `gpujail run` can open its GPU's node and its two
# nvidia-cap nodes (ENXIO: allowed, no driver) and not another MIG device's, even
# one of the same GPU instance (EPERM), with v1 and cgroup2 alike. Bad input
# (an unknown MIG UUID, a malformed access file, a missing caps node, a GPU with
# no MIG device) fails with 125 and starts nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_cmd jq
require_built "$GPUJAIL" "$HELPERS/open-probe" "$HELPERS/cgexec"

# ---- list: as hostinfo.json says ----
for shape in mig8 migbroken; do
        run on_fakehost "$shape" -- "$GPUJAIL" list --json
        is "$status" 0 "$shape: list --json exits 0"
        mine=$(jq -S '[.devices[] | .mig | if . == null then null else
                {mode, devices: [.devices[] | {index, gi, ci, nodes}]} end]' <<<"$stdout")
        want=$(hostinfo "$shape" '[.devices[] | .mig]' | jq -S .)
        is "$mine" "$want" "$shape: MIG modes, devices, gi/ci ids and caps nodes as hostinfo.json says"
        is "$(jq -r '[.devices[] | select(.mig != null) | .mig.devices[] | .uuid] | unique | .[]' <<<"$stdout")" \
                null "$shape: no MIG UUID without NVML (null, not made up)"
done
run on_fakehost mig8 -- "$GPUJAIL" list
like "$stdout" $'\n2:1 +2:0 +- +- +nvidia-cap426,nvidia-cap427 +ok' "list: MIG device 2:1 named as NVIDIA names it"
run on_fakehost migbroken -- "$GPUJAIL" list --json
like "$(jq -r '.warnings[]' <<<"$stdout")" 'gpu3/mig/gi2/access: no valid "DeviceFileMinor:"' \
        "migbroken: a warning names the malformed access file"
run on_fakehost imex -- "$GPUJAIL" list --json
is "$(jq -S .imex_channels <<<"$stdout")" "$(hostinfo imex .imex_channels | jq -S .)" \
        "imex: the IMEX channels as hostinfo.json says"

run on_fakehost mig8 -- "$GPUJAIL" plan --json --gpu 2:1
is "$(jq -c '[.mig_devices, [.nodes[].path]]' <<<"$stdout")" \
        '[[{"name":"2:1","gpu_index":2,"gi":2,"ci":0,"uuid":null}],["/dev/nvidia3","/dev/nvidia-caps/nvidia-cap426","/dev/nvidia-caps/nvidia-cap427","/dev/nvidiactl","/dev/nvidia-uvm","/dev/nvidia-uvm-tools"]]' \
        "plan --json --gpu 2:1: the MIG device; its GPU's node, its two caps nodes, the control nodes"

# ---- run: the cgroup oracle ----
require_cgroup_v1_devices
require_cgroup_v2
HOST=$(fakehost mig8)
GPU_MINOR=$(hostinfo mig8 '.devices[2].minor')
OTHER_GPU_MINOR=$(hostinfo mig8 '.devices[3].minor')
CAPS=$(awk '$2 == "nvidia-caps" { print $1; exit }' "$HOST/proc/devices")
mine_gi=$(hostinfo mig8 '.devices[2].mig.devices[1].nodes[0].minor')     # 2:1 = GI 2, CI 0
mine_ci=$(hostinfo mig8 '.devices[2].mig.devices[1].nodes[1].minor')
sibling_ci=$(hostinfo mig8 '.devices[2].mig.devices[2].nodes[1].minor')  # 2:2 = GI 2, CI 1
other_gi=$(hostinfo mig8 '.devices[2].mig.devices[0].nodes[0].minor')    # 2:0 = GI 1
other_gpu_ci=$(hostinfo mig8 '.devices[5].mig.devices[0].nodes[1].minor') # 5:0
mknod "$TEST_TMP/gpu" c 195 "$GPU_MINOR"
mknod "$TEST_TMP/gi" c "$CAPS" "$mine_gi"
mknod "$TEST_TMP/ci" c "$CAPS" "$mine_ci"
mknod "$TEST_TMP/sibling" c "$CAPS" "$sibling_ci"
mknod "$TEST_TMP/othergi" c "$CAPS" "$other_gi"
mknod "$TEST_TMP/othergpuci" c "$CAPS" "$other_gpu_ci"
mknod "$TEST_TMP/othergpu" c 195 "$OTHER_GPU_MINOR"
mknod "$TEST_TMP/config" c "$CAPS" 1
"$HELPERS/open-probe" "$TEST_TMP/gi" | grep -q ENXIO ||
        skip_all "a nvidia-caps node outside any job does not give ENXIO here"

run_snapshot before
"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 2:1 -- sh -c 'ls /dev/nvidia-caps; echo "CVD=$CUDA_VISIBLE_DEVICES GJ=$GPUJAIL_DEVICES"; exec sleep 303.1' \
        >"$TEST_TMP/job.out" 2>&1 &
JOB_BG=$!
JOB_PID=$(job_pid 303.1)
ok '[ -n "$JOB_PID" ]' "run --gpu 2:1: the job is running" || { diag "$(cat "$TEST_TMP/job.out")"; bail_out "no job"; }
V1_DIR=/sys/fs/cgroup/devices$(awk -F: '$2 == "devices" { print $3 }' "/proc/$JOB_PID/cgroup")
V2_DIR=$(cgroup2_root)$(awk -F: '$1 == "0" { print $3 }' "/proc/$JOB_PID/cgroup")
probe() { "$HELPERS/cgexec" "$@" -- "$HELPERS/open-probe" "$TEST_TMP/gpu" "$TEST_TMP/gi" "$TEST_TMP/ci" \
        "$TEST_TMP/sibling" "$TEST_TMP/othergi" "$TEST_TMP/othergpuci" "$TEST_TMP/othergpu" "$TEST_TMP/config" |
        awk '{ print $2 }' | tr '\n' ' '; }
want="ENXIO ENXIO ENXIO EPERM EPERM EPERM EPERM EPERM "
is "$(probe "$V1_DIR")" "$want" \
        "v1: its GPU and its GI and CI caps nodes open; a sibling CI, another GI, another GPU's MIG, another GPU, mig/config do not"
is "$(probe "$V2_DIR")" "$want" "cgroup2 (eBPF): the same"
is "$(grep -c "^c $CAPS:" "$V1_DIR/devices.list")" 2 "v1 devices.list: exactly two nvidia-caps rules"
is "$(head -2 "$TEST_TMP/job.out" | tr '\n' ' ')" "nvidia-cap426 nvidia-cap427 " \
        "inside: /dev/nvidia-caps holds exactly its two nodes"
like "$(cat "$TEST_TMP/job.out")" "GJ=$(hostinfo mig8 '.devices[2].uuid')/gi2/ci0" \
        "GPUJAIL_DEVICES names it by its GPU's UUID and instance ids (no NVML here)"
kill -TERM "$JOB_PID"
wait "$JOB_BG"
run_assert_host_unchanged before "host unchanged after the MIG job"

# ---- run: bad input, nothing started ----
refuse() { # SHAPE SELECTOR REGEX "name"
        run on_fakehost "$1" -- "$GPUJAIL" run --gpu "$2" -- touch "$TEST_TMP/started"
        is "$status" 125 "$4: exit 125"
        like "$stderr" "$3" "$4: says why"
        nok '[ -e "$TEST_TMP/started" ]' "$4: the job did not start"
}
refuse mig8 MIG-0123456789abcdef 'MIG UUIDs are known only through NVML' "an unknown MIG UUID without NVML"
refuse mig8 2:9 "unknown MIG device '2:9': GPU 2 has 2:0 \(GI 1, CI 0\)" "a MIG index GPU 2 lacks"
refuse mig8 0:0 "GPU 0 has no MIG devices" "a GPU not in MIG mode"
refuse migbroken 2:1 'refusing MIG device 2:1 \(GI 2, CI 0\) of GPU 2 .*nvidia-caps nodes are unknown' \
        "a MIG device whose access file is malformed"
refuse migbroken 5:1 'refusing /dev/nvidia-caps/nvidia-cap580 .*missing' "a MIG device whose caps node is missing"
run_assert_host_unchanged before "host unchanged after the refusals"

# ---- setup: the caps nodes, as nvidia-modprobe -f makes them ----
run on_fakehost mig8 -- env G="$GPUJAIL" bash -c 'rm -rf /dev/nvidia-caps
        $G setup --no-modules --dry-run; echo "dry=$? $(ls /dev/nvidia-caps 2>&1 | head -1)"
        $G setup --no-modules; echo "rc=$?"; stat -c "%n %F %t:%T %a" /dev/nvidia-caps /dev/nvidia-caps/*'
like "$stdout" "would create /dev/nvidia-caps \(0755\)" "setup --dry-run: would create /dev/nvidia-caps"
like "$stdout" "would create /dev/nvidia-caps/nvidia-cap427 \(c $CAPS:427, 0444, 0:0\)" \
        "setup --dry-run: would create each caps node, with the access file's mode"
like "$stdout" "dry=0 ls: cannot access" "setup --dry-run: creates nothing"
like "$stdout" "rc=0" "setup: exits 0"
is "$(grep -c '^created /dev/nvidia-caps/' <<<"$stdout")" 11 "setup: 11 caps nodes made (5 GIs, 6 CIs: a GI's node once)"
like "$stdout" "/dev/nvidia-caps directory 0:0 755" "setup: /dev/nvidia-caps is a 0755 directory"
like "$stdout" "/dev/nvidia-caps/nvidia-cap580 character special file 1fd:244 444" \
        "setup: nvidia-cap580 is c $CAPS:580, 0444"

# ---- IMEX ----
run on_fakehost imex -- "$GPUJAIL" run --gpu imex:1 -- ls /dev/nvidia-caps-imex-channels
is "$status" 0 "run --gpu imex:1 exits 0"
is "$stdout" "channel1" "inside: exactly channel1"
refuse imex imex:5 "unknown IMEX channel 'imex:5'" "an IMEX channel the host lacks"
done_testing
