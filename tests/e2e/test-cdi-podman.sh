#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# podman 4.3 consumes the CDI spec that `gpujail cdi generate` writes: the
# selected GPU's node and its control nodes are in the container, the device
# cgroup allows exactly them (open gives ENXIO: allowed, no driver) and
# denies another GPU's node made inside (EPERM); by index, by UUID, two GPUs,
# all, the nvidia.com/gpu drop-in; an unknown device refuses the container.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cdi-common.sh"
require_runc_containers
setup_podman
setup_cdi_dir
SHAPE=nvidia8
snapshot_host before

R=$TEST_TMP/rootfs
make_rootfs "$R"

run in_cdi_ns "$GPUJAIL" cdi generate --output /run/cdi/gpujail.json
is "$status" 0 "cdi generate --output /run/cdi/gpujail.json" || show
is "$(stat -c %a "$CDI_DIR/gpujail.json")" 644 "spec written with mode 0644"
run "$VALIDATE" cdi "$CDI_DIR/gpujail.json"
if [[ $status -eq 77 ]]; then skip "$output" "spec validates"; else is "$status" 0 "spec validates against the CDI schema and naming rules" || show; fi

# podman_probe DEVICE-ARGS... -- PATH...: run the probe in a container; sets $status/$output.
podman_probe() {
        local args=()
        while [[ $1 != -- ]]; do args+=("$1"); shift; done
        shift
        run in_cdi_ns podman "${PODMAN_GLOBAL[@]}" --runtime "$(command -v runc)" "${PODMAN_RUN[@]}" \
                --cap-add MKNOD "${args[@]}" --rootfs "$R" \
                /bin/sh -c "mknod /dev/other-gpu c 195 $(gpu_minor 1) && $PROBE" sh /dev/other-gpu "$@"
}

n0=$(gpu_node 0) n1=$(gpu_node 1) n7=$(gpu_node 7)
podman_probe --device gpujail.io/gpu=0 -- "$n0" "${CONTROL_NODES[@]}" "$n1"
is "$status" 0 "podman run --device gpujail.io/gpu=0" || show
expect_one_gpu "$output" 0 1

uuid1=$(hostinfo $SHAPE '.devices[1].uuid')
podman_probe --device "gpujail.io/gpu=$uuid1" -- "$n1" "$n0"
is "$status" 0 "podman run --device gpujail.io/gpu=<UUID of GPU 1>" || show
is "$(probe_result "$output" "$n1")" ENXIO "by UUID: GPU 1's node inside and allowed"
is "$(probe_result "$output" "$n0")" ENOENT "by UUID: GPU 0's node absent"
is "$(probe_result "$output" /dev/other-gpu)" ENXIO "by UUID: GPU 1 made inside is allowed (it is the selected one)"

podman_probe --device gpujail.io/gpu=0 --device gpujail.io/gpu=7 -- "$n0" "$n7" /dev/nvidiactl
is "$status" 0 "two CDI devices (shared control nodes listed in both)" || show
is "$(probe_result "$output" "$n0")/$(probe_result "$output" "$n7")/$(probe_result "$output" /dev/nvidiactl)" \
        ENXIO/ENXIO/ENXIO "two devices: both nodes and nvidiactl allowed"
is "$(probe_result "$output" /dev/other-gpu)" EPERM "two devices: a third GPU still denied"

all_nodes=()
for i in 0 1 2 3 4 5 6 7; do all_nodes+=("$(gpu_node $i)"); done
podman_probe --device gpujail.io/gpu=all -- "${all_nodes[@]}"
is "$status" 0 "podman run --device gpujail.io/gpu=all" || show
is "$(grep -c ' ENXIO$' <<<"$output")" 9 "all: 8 GPU nodes + GPU 1 made inside, all allowed"

podman_probe --device gpujail.io/gpu=9 -- "$n0"
isnt "$status" 0 "unknown CDI device gpujail.io/gpu=9: container refused"
like "$output" "gpujail.io/gpu=9" "... podman names it"

# The YAML form, read by podman's own CDI parser instead of the JSON one.
mv "$CDI_DIR/gpujail.json" "$TEST_TMP/gpujail.json"
run in_cdi_ns "$GPUJAIL" cdi generate --format yaml --output /run/cdi/gpujail.yaml
is "$status" 0 "cdi generate --format yaml --output /run/cdi/gpujail.yaml" || show
podman_probe --device gpujail.io/gpu=1 -- "$n1" "$n0"
is "$status" 0 "podman run --device gpujail.io/gpu=1 from the YAML spec" || show
is "$(probe_result "$output" "$n1")/$(probe_result "$output" "$n0")" ENXIO/ENOENT "YAML spec: GPU 1 only"
rm "$CDI_DIR/gpujail.yaml"
mv "$TEST_TMP/gpujail.json" "$CDI_DIR/gpujail.json"

# Drop-in for NVIDIA's own spec: same kind, NVIDIA numbering.
run in_cdi_ns "$GPUJAIL" cdi generate --kind nvidia.com/gpu --output /run/cdi/nvidia.json
is "$status" 0 "cdi generate --kind nvidia.com/gpu" || show
podman_probe --device nvidia.com/gpu=1 -- "$n1" "$n0"
is "$status" 0 "podman run --device nvidia.com/gpu=1 from gpujail's drop-in spec" || show
is "$(probe_result "$output" "$n1")/$(probe_result "$output" "$n0")" ENXIO/ENOENT "drop-in: GPU 1 only"

podman_probe -- "$n0" /dev/nvidiactl
is "$status" 0 "no --device: container runs" || show
is "$(probe_result "$output" "$n0")/$(probe_result "$output" /dev/nvidiactl)/$(probe_result "$output" /dev/other-gpu)" \
        ENOENT/ENOENT/EPERM "no --device: no GPU node, a GPU node made inside is denied"

assert_host_unchanged before "host mounts, cgroups and BPF programs unchanged"
done_testing
