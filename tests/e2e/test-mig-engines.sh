#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# One MIG device through the container faces, on the simulated mig8 host (GPUs 2
# and 5 in MIG mode): gpujail-hook under runc (NVIDIA_VISIBLE_DEVICES=2:1, the
# annotation gpujail.io/gpus=<gpu>:<gi>:<ci>, a cdi.k8s.io annotation), `gpujail
# oci inject` then plain runc, and podman reading the spec of `gpujail cdi generate
# --kind nvidia.com/gpu`. Each time the container has the GPU's node and that MIG
# device's two nvidia-cap nodes (ENXIO: allowed, no driver) and another MIG
# device's caps node of the same GPU instance, made by the runtime without an
# allow rule, is denied (EPERM). An unknown MIG UUID starts nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
. "$(dirname "$0")/cdi-common.sh"
require_hook_runc
require_busybox_static

SHAPE=mig8
fakehost $SHAPE >/dev/null
CAPS=$(awk '$2 == "nvidia-caps" { print $1; exit }' "$(fakehost $SHAPE)/proc/devices")
GPU=$(hostinfo $SHAPE '.devices[2].nodes[0].path')                 # /dev/nvidia3
mig_node() { hostinfo $SHAPE ".devices[2].mig.devices[$1].nodes[$2].path"; }
GI=$(mig_node 1 0) CI=$(mig_node 1 1)                               # 2:1 = GI 2, CI 0
SIB=$(mig_node 2 1)                                                 # 2:2 = GI 2, CI 1
SIB_MINOR=$(hostinfo $SHAPE '.devices[2].mig.devices[2].nodes[1].minor')
OTHER_GI=$(mig_node 0 0)                                            # 2:0 = GI 1
snapshot_host before

# The container: the oracle on its GPU node and on every caps node it has.
MIG_SCRIPT='ls /dev/nvidia-caps | tr "\n" " "; echo; /bin/open-probe /dev/nvidia[0-9]*; /bin/open-probe -r /dev/nvidia-caps/*; true'
mig_probe() { echo ".process.args = [\"/bin/sh\", \"-c\", $(jq -cn --arg s "$MIG_SCRIPT" '$s')]"; }
sibling=".linux.devices += [{\"path\": \"$SIB\", \"type\": \"c\", \"major\": $CAPS, \"minor\": $SIB_MINOR, \"fileMode\": 292, \"uid\": 0, \"gid\": 0}]"

# check NAME: what a container given MIG device 2:1 (plus the sibling intruder) shows.
check() {
        local name=$1
        if ! is "$status" 0 "$name: container ran"; then show; return; fi
        is "$(head -1 <<<"$output")" "$(basename "$GI") $(basename "$CI") $(basename "$SIB") " \
                "$name: /dev/nvidia-caps holds its GI and CI nodes (and the runtime's intruder)"
        like "$output" "^$GPU ENXIO" "$name: its GPU's node allowed (ENXIO)"
        like "$output" "^$GI ENXIO" "$name: its GI caps node allowed"
        like "$output" "^$CI ENXIO" "$name: its CI caps node allowed"
        like "$output" "^$SIB EPERM" "$name: the sibling CI's caps node, same GI, denied (EPERM)"
        unlike "$output" "$OTHER_GI" "$name: no other GI's node"
}

# ---- gpujail-hook under runc ----
HOOK_ETC=$(hook_conf all "accept = annotation, cdi, env")
b=$(hook_bundle env "$(mig_probe)" "$sibling" "$(env_of NVIDIA_VISIBLE_DEVICES=2:1)")
hook_register "$b" prestart
runc_on_host $SHAPE "gj-mig-env-$$" "$b"
check "hook, NVIDIA_VISIBLE_DEVICES=2:1"

b=$(hook_bundle ann "$(mig_probe)" "$sibling" "$(ask_for 2:2:0)")
hook_register "$b" createRuntime
runc_on_host $SHAPE "gj-mig-ann-$$" "$b"
check "hook, annotation gpujail.io/gpus=2:2:0 (GPU:GI:CI)"

b=$(hook_bundle cdi "$(mig_probe)" "$sibling" '.annotations["cdi.k8s.io/test"] = "gpujail.io/gpu=2:1"')
hook_register "$b" prestart
runc_on_host $SHAPE "gj-mig-cdi-$$" "$b"
check "hook, cdi.k8s.io annotation gpujail.io/gpu=2:1"

b=$(hook_bundle bad "$(mig_probe)" "$(env_of NVIDIA_VISIBLE_DEVICES=MIG-0123456789abcdef)")
hook_register "$b" prestart
runc_on_host $SHAPE "gj-mig-bad-$$" "$b"
isnt "$status" 0 "hook, an unknown MIG UUID: the container does not start"
like "$output" "MIG UUIDs are known only through NVML" "... and the hook says why"
unlike "$output" "ENXIO" "... nothing ran"
unset HOOK_ETC

# ---- gpujail oci inject, then plain runc ----
b=$(hook_bundle inject "$(mig_probe)" "$sibling")
run on_fakehost $SHAPE -- "$GPUJAIL" oci inject --gpu 2:1 --bundle "$b"
is "$status" 0 "oci inject --gpu 2:1" || show
is "$(jq -r '[.linux.devices[].path] | map(select(startswith("/dev/nvidia-caps/"))) | sort | join(" ")' "$b/config.json")" \
        "$(printf '%s\n' "$GI" "$CI" "$SIB" | sort | tr '\n' ' ' | sed 's/ $//')" \
        "oci inject: linux.devices has its two caps nodes (and the intruder)"
runc_on_host $SHAPE "gj-mig-inject-$$" "$b"
check "oci inject"

# ---- podman + CDI ----
if ! command -v podman >/dev/null; then
        skip "no podman" "podman + CDI"
else
        setup_podman
        setup_cdi_dir
        R=$TEST_TMP/rootfs
        make_rootfs "$R"
        run in_cdi_ns "$GPUJAIL" cdi generate --kind nvidia.com/gpu --output /run/cdi/nvidia.json
        is "$status" 0 "cdi generate --kind nvidia.com/gpu on a MIG host" || show
        is "$(jq -r '[.devices[].name | select(test(":"))] | join(" ")' "$CDI_DIR/nvidia.json")" \
                "2:0 2:1 2:2 2:3 5:0 5:1" "one CDI device per MIG device, named GPU:MIG as NVIDIA names them"
        run in_cdi_ns podman "${PODMAN_GLOBAL[@]}" --runtime "$(command -v runc)" "${PODMAN_RUN[@]}" \
                --cap-add MKNOD --device nvidia.com/gpu=2:1 --rootfs "$R" \
                /bin/sh -c "mknod $SIB c $CAPS $SIB_MINOR && $PROBE" sh "$GPU" "$GI" "$CI" "$SIB" "$OTHER_GI"
        is "$status" 0 "podman run --device nvidia.com/gpu=2:1" || show
        is "$(for p in "$GPU" "$GI" "$CI" "$SIB" "$OTHER_GI"; do probe_result "$output" "$p"; done | tr '\n' ' ')" \
                "ENXIO ENXIO ENXIO EPERM ENOENT " \
                "podman: GPU, GI, CI allowed; the sibling CI made inside denied; another GI absent"
fi

assert_host_unchanged before "host mounts, cgroups and BPF programs unchanged"
done_testing
