#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# gpujail list on every simulated host shape: the real libudev does the discovery;
# what it finds must be exactly what the shape's hostinfo.json says, and bad input
# must give warnings that name the file while the rest is still listed.
. "$(dirname "$0")/../lib.sh"
require_root
require_cmd jq
require_built "$GPUJAIL"

# The list --json form of a host, normalised to what hostinfo.json states.
# Where hostinfo has no model (a truncated information file) any model is accepted.
NORMALIZE_MINE='{driver: .driver.nvidia,
  devices: [.devices[] | {index, vendor, vendor_index, pci_bus_id, driver, numa_node, uuid, minor,
                          model, controls: (.controls | sort), nodes}],
  controls}'
NORMALIZE_HOSTINFO='{driver: .nvidia_driver,
  devices: [.devices[] | {index, vendor, vendor_index, pci_bus_id: .bus_id, driver,
                          numa_node: (if .numa < 0 then null else .numa end), uuid,
                          minor: (if .minor < 0 then null else .minor end),
                          model: (if .model == "" then null else .model end),
                          controls: (.controls | sort), nodes}],
  controls}'

check_shape() { # SHAPE
        local shape=$1 h mine want
        h=$(fakehost "$shape")
        run on_fakehost "$shape" -- "$GPUJAIL" list --json
        is "$status" 0 "$shape: list --json exits 0"
        if ! jq -e '.version == 1 and (.devices | type == "array") and (.controls | type == "object")
                    and (.modules | type == "array") and (.warnings | type == "array")' \
                <<<"$stdout" >/dev/null; then
                _tap_result 1 "$shape: list --json is the documented JSON"
                show
                return
        fi
        _tap_result 0 "$shape: list --json is the documented JSON"
        # Models the inventory could not read are not in hostinfo: take ours there.
        mine=$(jq -S --slurpfile hi "$h/hostinfo.json" "$NORMALIZE_MINE"' |
                .devices |= [ range(length) as $i | .[$i] |
                        if ($hi[0].devices[$i].model // "") == "" then .model = null else . end ]' <<<"$stdout")
        want=$(jq -S "$NORMALIZE_HOSTINFO" "$h/hostinfo.json")
        if [[ $mine == "$want" ]]; then
                _tap_result 0 "$shape: devices, nodes, controls as hostinfo.json says"
        else
                _tap_result 1 "$shape: devices, nodes, controls as hostinfo.json says"
                diag "$(diff <(echo "$want") <(echo "$mine") | head -40)"
        fi
        # Every expected warning appears (by file name); none when none is expected.
        local n_expect missing
        n_expect=$(jq '.expect_warnings | length' "$h/hostinfo.json")
        missing=$(jq -r --argjson w "$(jq '.warnings' <<<"$stdout")" \
                '.expect_warnings[] | select(. as $e | [$w[] | contains($e)] | any | not)' "$h/hostinfo.json")
        is "$missing" "" "$shape: every expected warning names its file"
        if [[ $n_expect -eq 0 ]]; then
                is "$(jq '.warnings | length' <<<"$stdout")" 0 "$shape: no warnings"
        fi
        # The table form lists the same devices.
        run on_fakehost "$shape" -- "$GPUJAIL" list
        is "$status" 0 "$shape: list exits 0"
        local rows
        rows=$(grep -cE '^[0-9]+ +(nvidia|amd|intel|accel) ' <<<"$stdout" || true)
        is "$rows" "$(jq '.devices | length' "$h/hostinfo.json")" "$shape: table has one row per device"
}

for shape in nvidia1 nvidia8 nvidia-old amd accel mixed empty wrongnode broken; do
        check_shape "$shape"
done

# ---- specific behaviour

run on_fakehost nvidia8 -- "$GPUJAIL" list --json
is "$(jq -c '[.devices[].minor]' <<<"$stdout")" "[2,0,3,1,6,4,7,5]" \
        "nvidia8: index is PCI order, minors are the driver's"
is "$(jq -c '[.devices[].numa_node]' <<<"$stdout")" "[0,0,0,0,1,1,1,1]" "nvidia8: NUMA nodes from sysfs"

run on_fakehost empty -- "$GPUJAIL" list
like "$stdout" "No accelerators found" "empty: says so plainly"
is "$status" 0 "empty: exits 0"

run on_fakehost wrongnode -- "$GPUJAIL" list
like "$stdout" "/dev/nvidia3 wrong_devnum \(195:9, want 195:3\)" "wrongnode: table names the wrong node and both numbers"
like "$stdout" "/dev/nvidia4 missing" "wrongnode: table names the missing node"

run on_fakehost broken -- "$GPUJAIL" list
like "$stderr" "/proc/driver/nvidia/gpus/0000:2a:00.0/information" "broken: warning on stderr names the truncated file"
like "$stderr" "nvidia-uvm" "broken: warning says nvidia-uvm is missing"

run on_fakehost mixed -- "$GPUJAIL" list --json
is "$(jq -r '.devices[0].nodes[0].path' <<<"$stdout")" "/dev/nvidia1" "mixed: the GPU's own node leads its drm nodes"
is "$(jq -c '[.modules[].name]' <<<"$stdout")" \
        '["nvidia","nvidia_uvm","nvidia_modeset","nvidia_drm","amdgpu","i915","xe","intel_vpu"]' \
        "mixed: module state for the vendors present"
run on_fakehost amd -- "$GPUJAIL" list --json
is "$(jq -c '[.modules[].name]' <<<"$stdout")" '["nvidia","nvidia_uvm","nvidia_modeset","nvidia_drm","amdgpu"]' \
        "amd: no Intel modules asked about"
is "$(jq -r '[.modules[] | select(.name == "nvidia")][0].loaded' <<<"$stdout")" "false" \
        "modules: nvidia reported not loaded (there is none here)"

mismatch=""
while read -r name loaded; do
        want=false
        [[ -d /sys/module/$name ]] && want=true
        [[ $loaded == "$want" ]] || mismatch+="$name:$loaded "
done < <(jq -r '.modules[] | "\(.name) \(.loaded)"' <<<"$stdout")
is "$mismatch" "" "modules: loaded agrees with /sys/module"

# Whether a module that is not loaded is known to the kernel is libkmod's to say, and
# it is loaded for that only when the running kernel has a module directory: without
# one, no module can be known. Both cases on any machine, in a private mount
# namespace: the host's module directories (/lib/modules, /usr/lib/modules) hidden by
# empty tmpfs, or one given (empty) through an overlay on the directory above it.
list_with_module_dir() { # present|absent: list --json, its openat calls in $TEST_TMP/kmod-$1
        in_private_ns env "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0" bash -c '
                set -e
                case=$1 gpujail=$2 t=$3 rel=$(uname -r)
                lib=$(readlink -f /lib) && mods=$lib/modules
                if [[ $case == present ]]; then
                        mkdir -p "$t/up" "$t/work"
                        mount -t overlay overlay -o "lowerdir=$lib,upperdir=$t/up,workdir=$t/work" "$lib"
                        mkdir -p "$mods/$rel"
                        mount -t tmpfs tmpfs "$mods/$rel"
                else
                        for d in /lib/modules /usr/lib/modules; do
                                [[ ! -d $d ]] || mount -t tmpfs tmpfs "$d"
                        done
                fi
                strace -f -e trace=openat -o "$t.strace" "$gpujail" list --json
        ' _ "$1" "$GPUJAIL" "$TEST_TMP/kmod-$1"
}
if command -v strace >/dev/null; then
        for c in absent present; do
                run list_with_module_dir $c
                is "$status" 0 "module directory $c: list exits 0"
                is "$(jq -c '[.modules[] | select(.name == "nvidia")][0] | [.loaded, .known]' <<<"$stdout")" \
                        '[false,false]' "module directory $c: nvidia neither loaded nor known"
        done
        is "$(grep -c 'libkmod\.so' "$TEST_TMP/kmod-absent.strace")" 0 \
                "no module directory: libkmod is not loaded to say that nothing is known"
        like "$(grep 'libkmod\.so' "$TEST_TMP/kmod-present.strace")" "= [0-9]+$" \
                "a module directory: libkmod is loaded and asked"
else
        skip "strace is not installed" "libkmod is loaded only where the kernel has a module directory"
fi

# ---- bad input on a copy of nvidia8

bad=$TEST_TMP/bad
variant() { # NAME: a fresh copy of nvidia8 in $bad
        rm -rf "$bad"
        cp -a "$(fakehost nvidia8)" "$bad"
}
bus=0000:3a:00.0
gpu_sys() { find "$bad/sys/devices" -type d -name "$bus" | head -1; }

variant
rm -rf "$bad/proc/driver/nvidia"
run "$FAKEHOST/enter" "$bad" -- "$GPUJAIL" list --json
is "$status" 0 "no /proc/driver/nvidia: exits 0"
like "$(jq -r '.warnings[]' <<<"$stdout")" "^/proc/driver/nvidia: " "no /proc/driver/nvidia: a warning names it"
is "$(jq '.devices | length' <<<"$stdout")" 8 "no /proc/driver/nvidia: the 8 GPUs still listed"
is "$(jq -c '[.devices[].minor] | unique' <<<"$stdout")" "[null]" "no /proc/driver/nvidia: minors unknown, not guessed"

variant
p=$(gpu_sys)/numa_node
rm -f "$p" && mkdir "$p"
run "$FAKEHOST/enter" "$bad" -- "$GPUJAIL" list --json
is "$status" 0 "unreadable numa_node: exits 0"
like "$(jq -r '.warnings[]' <<<"$stdout")" "$bus/numa_node" "unreadable numa_node: the warning names the sysfs file"
is "$(jq -c '[.devices[2].numa_node, .devices[2].minor, (.devices|length)]' <<<"$stdout")" "[null,3,8]" \
        "unreadable numa_node: NUMA unknown, the rest of that GPU and the others still there"

variant
head -c 3000000 /dev/zero | tr '\0' 'A' >"$bad/proc/driver/nvidia/gpus/$bus/information"
run "$FAKEHOST/enter" "$bad" -- "$GPUJAIL" list --json
is "$status" 0 "huge information file: exits 0"
like "$(jq -r '.warnings[]' <<<"$stdout")" "/proc/driver/nvidia/gpus/$bus/information" \
        "huge information file: the warning names it"
is "$(jq '[.devices[] | select(.uuid != null)] | length' <<<"$stdout")" 7 "huge information file: the 7 others keep their UUID"

variant
printf 'Model: \t\t NVIDIA H100\nGPU UUID: \t GPU-$(reboot)\nDevice Minor: \t 255\n' \
        >"$bad/proc/driver/nvidia/gpus/$bus/information"
run "$FAKEHOST/enter" "$bad" -- "$GPUJAIL" list --json
is "$(jq -c '.devices[2] | [.minor, .uuid, .nodes]' <<<"$stdout")" '[null,null,[]]' \
        "information with minor 255 (nvidiactl's) and a bad UUID: neither believed"

variant
sed -i '/nvidia-uvm/d' "$bad/proc/devices"
echo garbage >"$bad/proc/driver/nvidia/version"
run "$FAKEHOST/enter" "$bad" -- "$GPUJAIL" list --json
is "$status" 0 "no nvidia-uvm, garbage version: exits 0"
is "$(jq -c '[.driver.nvidia, (.controls | has("nvidia-uvm")), (.devices[0].controls)]' <<<"$stdout")" \
        '[null,false,["nvidiactl"]]' "no nvidia-uvm: no uvm control claimed; version unknown"
like "$(jq -r '.warnings[]' <<<"$stdout")" "/proc/driver/nvidia/version" "garbage version: warning names the file"

# ---- command line

run "$GPUJAIL" list --help
is "$status" 0 "list --help exits 0"
like "$stdout" "--json" "list --help explains --json"
run "$GPUJAIL" list --bogus
is "$status" 125 "list --bogus exits 125"
run "$GPUJAIL" list extra
is "$status" 125 "list with an extra argument exits 125"

done_testing
