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
# allowed. Each container carries one device program, runc's own (gpujail
# attaches none on these faces). Then nothing is left: cgroups, programs,
# mounts, and the controllers runc enabled in the cgroup2 root.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
. "$(dirname "$0")/v2-common.sh"
require_root
require_cmd runc jq busybox cc bpftool unshare
require_built "$GPUJAIL"
require_cgroup_v2

shape=nvidia8
v2_setup
snapshot_host before
v2_matrix $shape

# matrix_run NAME FACE [JQ-FILTER...]: a bundle probing the matrix, edited by the
# filters, run under runc in v2 mode; FACE: runc (as it is), inject (after `oci
# inject --gpu 0`) or runtime (through `gpujail runtime --runtime runc`).
# Sets $status/$output; $b is the bundle.
matrix_run() {
        local name=$1 face=$2 rt=runc
        b=$(hook_bundle "$name" ".linux.devices += $V2_MATRIX_DEVICES" ".linux.cgroupsPath = \"/$V2_PARENT/$name\"" \
                '.process.args = ["/bin/sh", "-c", "/bin/open-probe /dev/m/*"]' \
                ".hooks.prestart += [$(v2_progs_hook after)]" "${@:3}")
        if [[ $face == inject ]]; then
                run on_fakehost $shape -- "$GPUJAIL" oci inject --gpu 0 --bundle "$b"
                is "$status" 0 "oci inject --gpu 0" || show
        fi
        [[ $face == runtime ]] && rt="$GPUJAIL runtime --runtime $(command -v runc)"
        RUNC_WRAP=$V2NS RUNC_CMD=$rt runc_on_host $shape "gj-v2oci-$name-$$" "$b"
}

matrix_run alone runc
v2_check_baseline "runc alone"
matrix_run inject inject
v2_check_gained "oci inject --gpu 0, then runc" $shape 0
matrix_run runtime runtime "$(ask_for 1)"
v2_check_gained "gpujail runtime, annotation gpujail.io/gpus=1" $shape 1
ok 'jq -e ".linux.devices | map(.path) | index(\"$(hostinfo $shape ".devices[1].nodes[0].path")\")" '"$b/config.json" \
        "gpujail runtime: the bundle was injected"

matrix_run runtime-none runtime
is "$status" 0 "gpujail runtime, no request: runc ran it" || show
is "$(v2_verdicts "$output")" "$V2_ALONE" "gpujail runtime, no request: exactly what runc alone allowed"

v2_restore_cgroups
is "$(cat "$V2/cgroup.subtree_control")" "$V2_SUBTREE_BEFORE" "cgroup2 root's subtree_control as found"
assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
done_testing
