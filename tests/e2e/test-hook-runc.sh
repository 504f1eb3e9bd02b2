#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook under the real runc on a simulated 8-GPU host (minors not in
# PCI order): every stage, every request form, the device-cgroup oracle
# inside the container (selected node ENXIO, another GPU's node that
# linux.devices adds without an allow rule EPERM), idempotence, and the host
# unchanged afterwards.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_hook_runc

shape=nvidia8
fakehost $shape >/dev/null
n_gpus=$(hostinfo $shape '.devices | length')
node_of() { hostinfo $shape ".devices[$1].nodes[0].path"; }
other=$(node_of 1) # the intruder: GPU 1's node, put in linux.devices with no allow rule
with_other=$(intruder $shape 1)

snapshot_host before

# check NAME WANT-NODE...: the container ran, /dev has exactly these GPU nodes
# (+ the intruder) and the control nodes, the oracle agrees, one mount each.
check() {
        local name=$1 want n i node
        shift
        if ! is "$status" 0 "$name: container ran"; then show; return; fi
        local devs
        devs=$(head -1 <<<"$output")
        for want in "$@"; do
                like " $devs " " $(basename "$want") " "$name: $want in /dev"
                like "$output" "^$want ENXIO" "$name: $want allowed by the device cgroup (ENXIO)"
        done
        for ctl in nvidiactl nvidia-uvm nvidia-uvm-tools; do
                if [[ $# -gt 0 ]]; then
                        like " $devs " " $ctl " "$name: /dev/$ctl in /dev"
                        like "$output" "^/dev/$ctl ENXIO" "$name: /dev/$ctl allowed (ENXIO)"
                fi
        done
        like "$output" "^$other EPERM" "$name: another GPU's node from linux.devices denied (EPERM)"
        local stray=""
        for ((i = 0; i < n_gpus; i++)); do
                node=$(node_of $i)
                [[ $node == "$other" ]] && continue
                [[ " $* " == *" $node "* ]] && continue
                [[ " $devs " == *" $(basename "$node") "* ]] && stray+=" $node"
        done
        is "$stray" "" "$name: no other GPU's node in /dev"
        n=$(tail -1 <<<"$output")
        is "$n" "$(($# > 0 ? $# + 3 : 0))" "$name: one bind mount per node (GPU + 3 control nodes)"
}

# Every stage (and no stage argument = prestart), the annotation gpujail.io/gpus=0.
for stage in prestart createRuntime createContainer ""; do
        label=${stage:-no-stage}
        b=$(hook_bundle "stage-$label" "$with_other" "$(ask_for 0)")
        hook_register "$b" "$stage"
        runc_on_host $shape "gj-$label-$$" "$b"
        check "$label" "$(node_of 0)"
done

# Request forms, first match wins, with every source accepted (the default
# leaves process.env out: test-hook-config.sh).
HOOK_ETC=$(hook_conf all "accept = annotation, cdi, env")
b=$(hook_bundle ann "$with_other" "$(env_of NVIDIA_VISIBLE_DEVICES=all)" \
        ".annotations[\"gpujail.io/gpus\"] = \"$(hostinfo $shape '.devices[3].uuid')\"")
hook_register "$b" prestart
runc_on_host $shape "gj-ann-$$" "$b"
check "annotation gpujail.io/gpus=UUID beats the env" "$(node_of 3)"

b=$(hook_bundle cdi "$with_other" "$(env_of NVIDIA_VISIBLE_DEVICES=all)" \
        '.annotations["cdi.k8s.io/test"] = "vendor.example/net=eth0,gpujail.io/gpu=3"')
hook_register "$b" createRuntime
runc_on_host $shape "gj-cdi-$$" "$b"
check "cdi.k8s.io annotation gpujail.io/gpu=3" "$(node_of 3)"

b=$(hook_bundle two "$with_other" "$(env_of NVIDIA_VISIBLE_DEVICES=0,$(hostinfo $shape '.devices[5].uuid'))")
hook_register "$b" prestart
runc_on_host $shape "gj-two-$$" "$b"
check "NVIDIA_VISIBLE_DEVICES=index,UUID" "$(node_of 0)" "$(node_of 5)"

b=$(hook_bundle none "$with_other" "$(env_of NVIDIA_VISIBLE_DEVICES=none)")
hook_register "$b" prestart
runc_on_host $shape "gj-none-$$" "$b"
is "$status" 0 "none: container ran" || show
like "$output" "^/dev/nvidiactl ENXIO" "none: control nodes, allowed"
like "$output" "^$other EPERM" "none: no GPU allowed"
unlike "$(head -1 <<<"$output")" " nvidia$(hostinfo $shape '.devices[0].minor') " "none: no GPU node"

for what in "" "NVIDIA_VISIBLE_DEVICES=void" "NVIDIA_VISIBLE_DEVICES="; do
        label=${what:-nothing}
        f=$with_other
        [[ -n $what ]] && f="$with_other | $(env_of "$what")"
        b=$(hook_bundle "void-${label//[^a-z]/}" "$f")
        hook_register "$b" prestart
        runc_on_host $shape "gj-void-$$" "$b"
        is "$status" 0 "$label: container ran" || show
        unlike "$output" "nvidiactl" "$label: no control node"
        like "$output" "^$other EPERM" "$label: device cgroup untouched"
done
unset HOOK_ETC

# Idempotent: registered three times (prestart twice, createContainer once) = once.
b=$(hook_bundle twice "$with_other" "$(ask_for 0)")
hook_register "$b" prestart
hook_register "$b" prestart
hook_register "$b" createContainer
runc_on_host $shape "gj-twice-$$" "$b"
check "hook run three times" "$(node_of 0)"

# The audit line (runc shows a hook's stderr only on failure: a wrapper keeps it).
audit=$TEST_TMP/audit.log
printf '#!/bin/sh\nexec "%s" "$@" 2>>"%s"\n' "$GPUJAIL_HOOK" "$audit" >"$TEST_TMP/hook-wrapper"
chmod +x "$TEST_TMP/hook-wrapper"
b=$(hook_bundle audit "$with_other" "$(ask_for 0)")
entry=$(GPUJAIL_HOOK=$TEST_TMP/hook-wrapper hook_entry createRuntime)
jq --argjson e "$entry" '.hooks.createRuntime = [$e]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
runc_on_host $shape "gj-audit-$$" "$b"
is "$status" 0 "audit: container ran" || show
is "$(grep -c 'inject' "$audit")" 1 "audit: one line per injection"
like "$(cat "$audit")" "^gpujail-hook: inject id=gj-audit-$$ stage=createRuntime request=\"annotation gpujail.io/gpus\" devices=$(hostinfo $shape '.devices[0].uuid') nodes=$(node_of 0),/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-uvm-tools cgroup=v1 driver=0\$" \
        "audit: container id, request, devices, nodes, cgroup mechanism, driver files (none on this host)"

# cgroup v2: runc on this hybrid host attaches no device program there (the
# v1 controller polices devices); the hook must not add one either.
if [[ -d /sys/fs/cgroup/unified && -f /sys/fs/cgroup/devices/devices.allow ]]; then
        skip "hybrid host: runc attaches no cgroup2 device program here; the replacement is tested in a pure v2 namespace by test-hook-v2-runtime.sh" \
                "cgroup v2 program replacement under runc"
fi

# runc removed its cgroups; nothing of ours is left either.
assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
done_testing
