#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# CDI on a pure cgroup v2 host (v2-common.sh): podman 4.3 reads the spec that
# `gpujail cdi generate` writes and runc 1.1.5 attaches its real device
# program (design.md invariant 11: the container may open exactly what the
# runtime allowed plus the planned nodes).
#
# Every container makes a matrix of nodes in /dev/m (mknod: runc allows it for
# all) and opens them: all GPUs and NVIDIA control nodes, the runtime's
# defaults, tun, and devices nobody allows; EPERM = denied, anything else =
# allowed. podman without --device sets the baseline; against it,
# --device gpujail.io/gpu=0 and gpujail.io/gpu=all gain exactly the planned
# nodes. Each container carries one device program, the runtime's (recorded by
# a prestart hook from --hooks-dir). podman runs with its state in $TEST_TMP,
# its cgroups below a scratch parent (--cgroup-parent, cgroupfs manager) and
# --pids-limit -1 (the pids controller is bound to v1 on this kernel). Then
# nothing is left: cgroups, programs, mounts, and the controllers podman and
# runc enabled in the cgroup2 root.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
. "$(dirname "$0")/cdi-common.sh"
. "$(dirname "$0")/v2-common.sh"
require_root
require_cmd podman runc jq busybox cc bpftool unshare
require_built "$GPUJAIL"
require_cgroup_v2

SHAPE=nvidia8
v2_setup
setup_podman
setup_cdi_dir
snapshot_host before
v2_matrix $SHAPE

run in_cdi_ns "$GPUJAIL" cdi generate --output /run/cdi/gpujail.json
is "$status" 0 "cdi generate --output /run/cdi/gpujail.json" || show

v2_podman_matrix
v2_check_baseline "podman alone"
for sel in 0 all; do
        v2_podman_matrix --device gpujail.io/gpu=$sel
        v2_check_gained "podman --device gpujail.io/gpu=$sel" $SHAPE $sel
done

v2_check_nothing_left ./conmon
done_testing
