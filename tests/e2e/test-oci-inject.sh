#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `gpujail oci inject` edits a bundle's config.json so that runc itself gives
# the container exactly the selected GPU: the result validates against the
# OCI schema, twice = once, runc runs it with the node inside and allowed
# (ENXIO) while another GPU's node in linux.devices without our rule is
# denied (EPERM). Malformed, truncated, mistyped, unwritable config.json and
# unknown selectors: exit 125, a clear error, the file untouched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cdi-common.sh"
require_runc_containers
SHAPE=nvidia8
snapshot_host before

n0=$(gpu_node 0) n1=$(gpu_node 1)
B=$TEST_TMP/bundle
make_bundle "$B" "$n0" "${CONTROL_NODES[@]}" "$n1" /dev/other-gpu
bundle_add_node "$B" /dev/other-gpu 195 "$(gpu_minor 1)"
cp "$B/config.json" "$TEST_TMP/pristine.json"

run on_fakehost $SHAPE -- "$GPUJAIL" oci inject --gpu 0 --bundle "$B"
is "$status" 0 "oci inject --gpu 0" || show
run "$VALIDATE" oci "$B/config.json"
if [[ $status -eq 77 ]]; then skip "$output" "validates"; else is "$status" 0 "edited config.json validates against the OCI schema" || show; fi
is "$(jq -r '[.linux.devices[].path] | join(" ")' "$B/config.json")" \
        "/dev/other-gpu $n0 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools" "linux.devices: the plan's nodes added"
is "$(jq -c '[.linux.resources.devices[] | select(.allow) | [.type, .major, .minor, .access]]' "$B/config.json")" \
        "[[\"c\",195,$(gpu_minor 0),\"rw\"],[\"c\",195,255,\"rw\"],[\"c\",510,0,\"rw\"],[\"c\",510,1,\"rw\"]]" \
        "linux.resources.devices: one exact allow rule per node, after the deny-all"
is "$(jq -r '.linux.resources.devices[0].allow' "$B/config.json")" false "the runtime's deny-all stays first"
ok 'jq -e ".process.env | index(\"GPUJAIL_DEVICES=$(hostinfo $SHAPE '.devices[0].uuid')\")" '"$B/config.json" \
        "process.env: GPUJAIL_DEVICES"
cp "$B/config.json" "$TEST_TMP/once.json"
run on_fakehost $SHAPE -- "$GPUJAIL" oci inject --gpu 0 --bundle "$B"
is "$status" 0 "oci inject again" || show
ok cmp "$B/config.json" "$TEST_TMP/once.json" "twice = once (byte for byte)"
is "$(find "$B" -name '*.gpujail-tmp*' | wc -l)" 0 "no temp file left"

runc_run "$B"
is "$status" 0 "runc runs the edited bundle" || show
expect_one_gpu "$output" 0 1
like "$output" "env=GPU-" "GPUJAIL_DEVICES in the container's env"

# Mode kept; a directory given as --bundle (cwd default).
chmod 600 "$B/config.json"
run on_fakehost $SHAPE -- /bin/sh -c "cd $B && exec \"\$0\" oci inject --gpu 1" "$GPUJAIL"
is "$status" 0 "oci inject in the bundle's directory (default --bundle .)" || show
is "$(stat -c %a "$B/config.json")" 600 "config.json keeps its mode"
ok 'jq -e ".linux.devices | map(.path) | index(\"'"$n1"'\")" '"$B/config.json" "GPU 1 added next to GPU 0"

# Bad inputs: exit 125, a message naming the file, the file byte for byte as it was.
bad_case() { # NAME FILE-CONTENT-CMD REGEX [INJECT ARGS...]
        local name=$1 make=$2 re=$3
        shift 3
        local d=$TEST_TMP/bad-$RANDOM
        mkdir -p "$d"
        eval "$make" >"$d/config.json"
        cp "$d/config.json" "$d/orig"
        run on_fakehost $SHAPE -- "$GPUJAIL" oci inject --bundle "$d" "${@:---gpu=0}"
        is "$status" 125 "$name: exit 125"
        like "$stderr" "$re" "$name: clear error" || show
        ok cmp "$d/config.json" "$d/orig" "$name: config.json untouched"
        is "$(find "$d" -name '*.gpujail-tmp*' | wc -l)" 0 "$name: no temp file"
}
bad_case "malformed" 'echo "{\"ociVersion\": \"1.0.2\",, }"' "$TEST_TMP/bad-.*/config.json: malformed JSON at byte"
bad_case "truncated" 'head -c 300 "$TEST_TMP/pristine.json"' "config.json: truncated JSON"
bad_case "trailing garbage" 'cat "$TEST_TMP/pristine.json"; echo "}"' "config.json: .*at byte"
bad_case "not an object" 'echo "[]"' "config.json: not a JSON object"
bad_case "empty" 'true' "config.json: truncated"
bad_case "linux.devices not an array" 'jq ".linux.devices = \"x\"" "$TEST_TMP/pristine.json"' "linux.devices is not a JSON array"
bad_case "unknown selector" 'cat "$TEST_TMP/pristine.json"' "'9'" --gpu 9
bad_case "'all,9' does not widen to all" 'cat "$TEST_TMP/pristine.json"' "'9'" --gpu all,9

d=$TEST_TMP/ro
mkdir -p "$d"
cp "$TEST_TMP/pristine.json" "$d/config.json"
run on_fakehost $SHAPE -- /bin/sh -c "mount --bind -o ro $d $d && exec \"\$0\" oci inject --gpu 0 --bundle $d" "$GPUJAIL"
is "$status" 125 "read-only bundle: exit 125"
like "$stderr" "cannot write $d/config.json: Read-only file system" "read-only bundle: says which file and why"
ok cmp "$d/config.json" "$TEST_TMP/pristine.json" "read-only bundle: config.json untouched"
run on_fakehost $SHAPE -- "$GPUJAIL" oci inject --gpu 0 --bundle "$TEST_TMP/nonexistent"
is "$status" 125 "missing bundle: exit 125"
like "$stderr" "cannot open $TEST_TMP/nonexistent/config.json: No such file" "missing bundle: names the path"
mkdir -p "$TEST_TMP/dirconf/config.json"
run on_fakehost $SHAPE -- "$GPUJAIL" oci inject --gpu 0 --bundle "$TEST_TMP/dirconf"
is "$status" 125 "config.json is a directory: exit 125"
run "$GPUJAIL" oci inject --bundle "$B"
is "$status" 125 "no --gpu: exit 125"
like "$stderr" "needs --gpu" "no --gpu: says so"

assert_host_unchanged before "host mounts, cgroups and BPF programs unchanged"
done_testing
