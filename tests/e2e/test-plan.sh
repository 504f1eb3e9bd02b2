#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `gpujail plan` end to end: the real binary, the real libudev, on simulated
# hosts. Expectations come from each shape's hostinfo.json, not from here.
# The selector is a security boundary: every unknown, ambiguous or bad-node
# case must exit 125 with a message and print no plan at all.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd jq unshare
require_built "$GPUJAIL"

plan() { # SHAPE ARGS...: run `gpujail plan ARGS` on the shape
        local shape=$1
        shift
        run on_fakehost "$shape" -- "$GPUJAIL" plan "$@"
}

# The nodes a plan must hold, as "path major:minor" lines: each selected
# device's nodes in index order, then the control nodes (each once) in
# nvidiactl, nvidia-uvm, nvidia-uvm-tools, nvidia-modeset, kfd order.
expected_nodes() { # SHAPE JQ-ARRAY-OF-INDEXES
        jq -r --argjson sel "$2" '
                . as $h
                | ([$sel[] as $i | $h.devices[] | select(.index == $i)]) as $devs
                | ($devs[] | .nodes[] | "\(.path) \(.major):\(.minor)"),
                  (["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", "kfd"][] as $c
                   | select([$devs[].controls[]] | index($c))
                   | $h.controls[$c] | "\(.path) \(.major):\(.minor)")' "$(fakehost "$1")/hostinfo.json"
}

got_nodes() { jq -r '.nodes[] | "\(.path) \(.major):\(.minor)"' <<<"$stdout"; }

snapshot_host before

# ---- the command line
run "$GPUJAIL" plan --help
is "$status" 0 "plan --help exits 0"
like "$stdout" "nvidia:1" "plan --help teaches the selectors"
like "$stdout" "never falls back to 'all'" "plan --help says an unknown selector is an error"
run "$GPUJAIL" help plan
is "$status" 0 "gpujail help plan exits 0"
like "$stdout" "Usage: gpujail plan" "gpujail help plan = plan --help"
run "$GPUJAIL" --help
like "$stdout" "GPU-8f3a" "gpujail --help lists the selector forms"
run "$GPUJAIL"
is "$status" 125 "gpujail without a command: exit 125"
like "$stderr" "Usage: gpujail COMMAND" "gpujail without a command: usage on stderr"
run "$GPUJAIL" help nosuchcommand
is "$status" 125 "gpujail help of an unknown command: exit 125"
run "$GPUJAIL" nosuchcommand
is "$status:$stderr" "125:gpujail: unknown command 'nosuchcommand'; see 'gpujail --help'" "an unknown command: named, exit 125"
run "$GPUJAIL" --version
like "$status:$stdout" "^0:gpujail [0-9]" "gpujail --version"

plan nvidia8
is "$status" 125 "no --gpu: exit 125 (no default selection)"
like "$stderr" "give --gpu SEL" "no --gpu: says what to give"
is "$stdout" "" "no --gpu: no plan printed"
plan nvidia8 --gpu 0 extra
is "$status" 125 "a stray argument: exit 125"
plan nvidia8 --gpu 0 --bogus
is "$status" 125 "an unknown option: exit 125"

# ---- nvidia8: minors not in PCI order
n=$(hostinfo nvidia8 '.devices | length')
for ((i = 0; i < n; i++)); do
        plan nvidia8 --gpu "$i" --json
        is "$status" 0 "nvidia8 --gpu $i: exit 0"
        is "$(got_nodes)" "$(expected_nodes nvidia8 "[$i]")" \
                "nvidia8 --gpu $i: /dev/nvidia$(hostinfo nvidia8 ".devices[$i].minor") then the controls"
        is "$(jq -r '[.cgroup_rules[] | "\(.type) \(.major):\(.minor) \(.access)"] | join(",")' <<<"$stdout")" \
                "$(jq -r '[.nodes[] | "\(.type) \(.major):\(.minor) rw"] | join(",")' <<<"$stdout")" \
                "nvidia8 --gpu $i: one rw rule per node, nothing else"
done

plan nvidia8 --gpu 6,1,6,nvidia:1 --json
is "$(got_nodes)" "$(expected_nodes nvidia8 '[1,6]')" "6,1,6,nvidia:1 = 1,6: index order, each once"
is "$(jq -r '.devices | map(.index) | join(",")' <<<"$stdout")" "1,6" "6,1,6,nvidia:1: devices 1 and 6"
is "$(jq -r '.nodes | map(.path) | map(select(. == "/dev/nvidiactl")) | length' <<<"$stdout")" 1 \
        "control nodes once"
like "$(jq -r '.env[]' <<<"$stdout")" "^GPUJAIL_DEVICES=$(hostinfo nvidia8 '.devices[1].uuid'),$(hostinfo nvidia8 '.devices[6].uuid')$" \
        "GPUJAIL_DEVICES lists the UUIDs"
is "$(jq -r '.nodes | map(select(.path != .hostPath)) | length' <<<"$stdout")" 0 "container path = host path"

want=$(expected_nodes nvidia8 '[3]')
uuid=$(hostinfo nvidia8 '.devices[3].uuid')
bus=$(hostinfo nvidia8 '.devices[3].bus_id')
for sel in "$uuid" "${uuid^^}" "${uuid:0:12}" "$bus" "${bus#0000:}" "${bus^^}" "0000${bus^^}" "nvidia:3" " 3 "; do
        plan nvidia8 --gpu "$sel" --json
        is "$status:$(got_nodes)" "0:$want" "nvidia8 --gpu '$sel' = GPU 3"
done

plan nvidia8 --gpu all --json
is "$(got_nodes)" "$(expected_nodes nvidia8 '[0,1,2,3,4,5,6,7]')" "all: every GPU in index order, then controls"

plan nvidia8 --gpu 3 --cuda-env --json
is "$(jq -r '.env[] | select(startswith("CUDA_VISIBLE_DEVICES="))' <<<"$stdout")" "CUDA_VISIBLE_DEVICES=$uuid" \
        "--cuda-env: CUDA_VISIBLE_DEVICES is the UUID (the job's CUDA numbers it 0)"
plan nvidia8 --gpu 3 --allow-mknod --json
is "$(jq -r '[.cgroup_rules[].access] | unique | join(",")' <<<"$stdout")" "rwm" "--allow-mknod: rwm"

plan nvidia8 --gpu none --json
is "$status" 0 "none: exit 0"
is "$(got_nodes)" "$(hostinfo nvidia8 '.controls["nvidiactl","nvidia-uvm","nvidia-uvm-tools"] | "\(.path) \(.major):\(.minor)"')" \
        "none: the NVIDIA control nodes only"
for sel in void "" "  "; do
        plan nvidia8 --gpu "$sel" --json
        is "$status:$(jq -c '[.devices, .nodes, .cgroup_rules, .env]' <<<"$stdout")" "0:[[],[],[],[]]" \
                "'$sel': nothing at all"
done

plan nvidia8 --gpu 3
is "$status" 0 "text output: exit 0"
like "$stdout" "/dev/nvidia$(hostinfo nvidia8 '.devices[3].minor') +c 195:" "text output lists the node"
like "$stdout" "deny all" "text output explains the cgroup"

# ---- errors: exit 125, a message naming the item and the host, and no plan
bad_selectors=(8 -1 foo ALL "0,,1" "0," "none,0" "void,1" nvidia:8 amd:0 "GPU-" "GPU-ffffffff"
        "MIG-1" 0000:ff:00.0 "18:00" "0x1" "1 2" "*" "0-3")
for sel in "${bad_selectors[@]}"; do
        plan nvidia8 --gpu "$sel" --json
        is "$status" 125 "nvidia8 --gpu '$sel': exit 125"
        is "$stdout" "" "nvidia8 --gpu '$sel': no plan printed"
done
plan nvidia8 --gpu 8
like "$stderr" "unknown GPU '8': this host has 0-7 \(nvidia:0-7\)" "unknown index: named, and what exists listed"
plan nvidia8 --gpu GPU-ffffffff
like "$stderr" "no device has this UUID" "unknown UUID: says so"
plan nvidia8 --gpu "$(printf '\033]0;owned\007x')"
nok grep -q "$(printf '\033')" <<<"$stderr" "control characters in a selector never reach the terminal"

# ---- wrongnode: /dev/nvidia3 is 195:9, /dev/nvidia4 is missing
i3=$(hostinfo wrongnode '.devices[] | select(.minor == 3) | .index')
i4=$(hostinfo wrongnode '.devices[] | select(.minor == 4) | .index')
ok_i=$(hostinfo wrongnode '[.devices[] | select(.nodes[0].state == "ok")][0].index')
plan wrongnode --gpu "$i3"
is "$status" 125 "wrongnode: the GPU behind /dev/nvidia3 (195:9) is refused"
like "$stderr" "/dev/nvidia3.*195:9.*195:3" "wrongnode: names the path, what it is and what it should be"
is "$stdout" "" "wrongnode: no plan printed"
plan wrongnode --gpu "$i4"
is "$status" 125 "wrongnode: the GPU whose /dev/nvidia4 is missing is refused"
like "$stderr" "/dev/nvidia4.*missing" "wrongnode: says it is missing"
plan wrongnode --gpu all
is "$status" 125 "wrongnode: 'all' fails as a whole"
plan wrongnode --gpu "$ok_i,$i3"
is "$status" 125 "wrongnode: a good GPU does not carry a bad one"
plan wrongnode --gpu "$ok_i"
is "$status" 0 "wrongnode: a good GPU still works"
plan wrongnode --gpu "$i3" --allow-bad-nodes --json
is "$status:$(got_nodes | head -1)" "0:/dev/nvidia3 195:3" "--allow-bad-nodes: the driver's numbers"

# ---- broken: a GPU whose information file is truncated has no known node
ib=$(hostinfo broken '[.devices[] | select(.nodes | length == 0)][0].index')
plan broken --gpu "$ib"
is "$status" 125 "broken: a GPU without a known node is refused"
like "$stderr" "device node is unknown" "broken: says why"

# ---- other vendors and shapes
plan amd --gpu amd:0 --json
is "$(got_nodes)" "$(expected_nodes amd '[0]')" "amd: card, render, kfd"
plan amd --gpu all --json
is "$(jq -r '.devices | length' <<<"$stdout")" "$(hostinfo amd '.devices | length')" "amd: the BMC VGA is not an accelerator"
plan accel --gpu accel:0 --json
is "$(got_nodes)" "$(expected_nodes accel '[0]')" "accel: /dev/accel/accel0"
plan nvidia-old --gpu 0 --json
is "$(got_nodes)" "$(expected_nodes nvidia-old '[0]')" "nvidia-old (driver 535): GPU 0 is /dev/nvidia$(hostinfo nvidia-old '.devices[0].minor')"

n_nv=$(hostinfo mixed '[.devices[] | select(.vendor == "nvidia")] | length')
i_amd=$(hostinfo mixed '.devices[] | select(.vendor == "amd") | .index')
plan mixed --gpu "$i_amd" --json
is "$(jq -r '.devices[0].vendor' <<<"$stdout")" amd "mixed: a bare index counts every vendor"
plan mixed --nvidia-indexes --gpu "$n_nv"
is "$status" 125 "mixed --nvidia-indexes: index $n_nv is past the NVIDIA GPUs"
plan mixed --nvidia-indexes --gpu all --json
is "$(jq -r '[.devices[].vendor] | unique | join(",")' <<<"$stdout")" nvidia "mixed --nvidia-indexes: all = the NVIDIA GPUs"
plan mixed --gpu all --json
is "$(got_nodes)" "$(expected_nodes mixed "$(hostinfo mixed '[.devices[].index]')")" "mixed: all, every vendor's nodes and controls"

plan empty --gpu all
is "$status" 125 "empty: 'all' is an error"
like "$stderr" "no accelerators" "empty: says the host has none"
plan empty --gpu 0
is "$status" 125 "empty: '0' is an error"
plan empty --gpu none --json
is "$status:$(jq -r '.nodes | length' <<<"$stdout")" "0:0" "empty: none gives nothing, without error"

assert_host_unchanged before "gpujail plan changes nothing on the host"
done_testing
