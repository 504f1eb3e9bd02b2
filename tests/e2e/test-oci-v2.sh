#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# `gpujail oci inject` and `gpujail runtime` on a pure cgroup v2 host
# (v2-common.sh), where runc 1.1.5 builds and attaches its real device
# program from the config.json they wrote (design.md invariant 11: the
# container may open exactly what the runtime allowed plus the planned nodes).
#
# Every container opens a matrix of nodes that runc makes in /dev/m
# (linux.devices makes nodes, allows none): all GPUs and NVIDIA control nodes,
# runc's defaults, tun, and devices nobody allows; EPERM = denied, anything
# else = allowed. runc alone on a bundle that asks for nothing sets the
# baseline; then `oci inject --gpu 0` and `runtime` on an annotation asking for
# GPU 1: against the baseline, exactly the planned nodes go from denied to
# allowed. The same with podman 4.3: its own baseline, then `--runtime` naming
# a script that runs `gpujail runtime` and an annotation asking for GPU 2. Each
# container carries one device program, runc's own (gpujail attaches none on
# these faces). Then nothing is left: cgroups, programs, mounts, and the
# controllers runc and podman enabled in the cgroup2 root.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
. "$(dirname "$0")/cdi-common.sh"
. "$(dirname "$0")/v2-common.sh"
require_root
require_cmd runc jq busybox cc bpftool unshare
require_built "$GPUJAIL"
require_cgroup_v2

SHAPE=nvidia8
v2_setup
snapshot_host before
v2_matrix $SHAPE

# matrix_run NAME FACE [JQ-FILTER...]: a bundle probing the matrix, edited by the
# filters, run under runc in v2 mode; FACE: runc (as it is), inject (after `oci
# inject --gpu 0`) or runtime (through `gpujail runtime --runtime runc`).
# Sets $status/$output; $b is the bundle.
matrix_run() {
        local name=$1 face=$2 runtime=runc
        b=$(hook_bundle "$name" ".linux.devices += $V2_MATRIX_DEVICES" ".linux.cgroupsPath = \"/$V2_PARENT/$name\"" \
                '.process.args = ["/bin/sh", "-c", "/bin/open-probe /dev/m/*"]' \
                ".hooks.prestart += [$(v2_progs_hook after)]" "${@:3}")
        if [[ $face == inject ]]; then
                run on_fakehost $SHAPE -- "$GPUJAIL" oci inject --gpu 0 --bundle "$b"
                is "$status" 0 "oci inject --gpu 0" || show
        fi
        [[ $face == runtime ]] && runtime="$GPUJAIL runtime --runtime $(command -v runc)"
        RUNC_WRAP=$V2NS RUNC_CMD=$runtime runc_on_host $SHAPE "gj-v2oci-$name-$$" "$b"
}

matrix_run alone runc
v2_check_baseline "runc alone"
matrix_run inject inject
v2_check_gained "oci inject --gpu 0, then runc" $SHAPE 0
matrix_run runtime runtime "$(ask_for 1)"
v2_check_gained "gpujail runtime, annotation gpujail.io/gpus=1" $SHAPE 1
ok 'jq -e ".linux.devices | map(.path) | index(\"$(hostinfo $SHAPE ".devices[1].nodes[0].path")\")" '"$b/config.json" \
        "gpujail runtime: the bundle was injected"

matrix_run runtime-none runtime
is "$status" 0 "gpujail runtime, no request: runc ran it" || show
is "$(v2_verdicts "$output")" "$V2_ALONE" "gpujail runtime, no request: exactly what runc alone allowed"

# podman --runtime naming a wrapper script that runs gpujail runtime.
left=
if command -v podman >/dev/null; then
        setup_podman
        setup_cdi_dir
        v2_podman_matrix
        v2_check_baseline "podman alone"
        V2_PODMAN_RUNTIME=$(gpujail_runtime_wrapper) v2_podman_matrix --annotation gpujail.io/gpus=2
        v2_check_gained "podman --runtime wrapper, --annotation gpujail.io/gpus=2" $SHAPE 2
        left=./conmon
else
        skip "podman is not installed" "podman --runtime wrapper"
fi

v2_check_nothing_left $left
done_testing
