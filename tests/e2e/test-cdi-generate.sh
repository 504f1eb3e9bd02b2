#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `gpujail cdi generate|list` on simulated hosts of every shape: the specs
# validate (CDI JSON schema + naming rules), YAML says the same as JSON, the
# names are one per GPU by index and by UUID/bus id plus all, --output is
# atomic with mode 0644 and leaves the old spec intact on failure, bad kinds
# and broken spec files give a clear error.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cdi-common.sh"
require_root
require_built "$GPUJAIL"
require_cmd jq

have_validator=1
run "$VALIDATE" cdi /dev/null
[[ $status -eq 77 ]] && have_validator=0 && diag "validator skipped: $output"

validate() { # FILE "name"
        if [[ $have_validator -eq 0 ]]; then skip "no schema validator here" "$2"; return; fi
        run "$VALIDATE" cdi "$1"
        is "$status" 0 "$2" || show
}

for SHAPE in nvidia1 nvidia8 amd accel mixed; do
        n=$(hostinfo $SHAPE '.devices | length')
        named=$(hostinfo $SHAPE '[.devices[] | select(.uuid != null or .bus_id != null)] | length')
        out=$TEST_TMP/$SHAPE.json
        run on_fakehost $SHAPE -- "$GPUJAIL" cdi generate --allow-missing
        is "$status" 0 "$SHAPE: cdi generate" || { show; continue; }
        printf '%s\n' "$stdout" >"$out"
        validate "$out" "$SHAPE: JSON spec validates"
        is "$(jq -r .kind "$out")" gpujail.io/gpu "$SHAPE: default kind gpujail.io/gpu"
        is "$(jq -r .cdiVersion "$out")" 0.5.0 "$SHAPE: cdiVersion 0.5.0"
        is "$(jq '.devices | length' "$out")" $((n + named + 1)) "$SHAPE: $n devices by index, $named by UUID/bus id, + all"
        is "$(jq '[.devices[].containerEdits.deviceNodes[] | select(.hostPath and .type and .major != null and .minor != null and .permissions == "rw" and .fileMode != null and .uid != null and .gid != null)] | length' "$out")" \
                "$(jq '[.devices[].containerEdits.deviceNodes[]] | length' "$out")" "$SHAPE: every deviceNode fully specified"
        ok '[ "$(jq "[.devices[].containerEdits.deviceNodes[]] | length" '"$out"')" -gt 0 ]' "$SHAPE: devices have nodes"

        run on_fakehost $SHAPE -- "$GPUJAIL" cdi generate --allow-missing --format yaml
        is "$status" 0 "$SHAPE: cdi generate --format yaml" || show
        printf '%s\n' "$stdout" >"$TEST_TMP/$SHAPE.yaml"
        validate "$TEST_TMP/$SHAPE.yaml" "$SHAPE: YAML spec validates"
        if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
                run /usr/bin/python3 -c 'import json, sys, yaml
sys.exit(0 if yaml.safe_load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)' "$TEST_TMP/$SHAPE.yaml" "$out"
                is "$status" 0 "$SHAPE: YAML reads back as the same document as the JSON" || show
        else
                skip "python3-yaml not installed" "$SHAPE: YAML reads back as the JSON"
        fi

        run on_fakehost $SHAPE -- "$GPUJAIL" cdi list
        is "$stdout" "$(jq -r '.kind as $k | .devices[] | "\($k)=\(.name)"' "$out")" "$SHAPE: cdi list = the spec's names"
done

SHAPE=nvidia8
out=$TEST_TMP/nvidia8.json
is "$(jq -r '.devices[0].name, .devices[1].name, .devices[-1].name' "$out" | paste -sd' ')" \
        "0 $(hostinfo nvidia8 '.devices[0].uuid') all" "nvidia8: 0, its UUID, ..., all"
is "$(jq -r '.devices[0].containerEdits.deviceNodes[].path' "$out" | paste -sd' ')" \
        "$(hostinfo nvidia8 '.devices[0].nodes[0].path') /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools" \
        "nvidia8: device 0 = its node (driver minor) + control nodes"
run on_fakehost nvidia8 -- "$GPUJAIL" cdi generate
cmp -s <(printf '%s\n' "$stdout") "$out"
is $? 0 "generate twice: same bytes"

# Kinds.
run on_fakehost mixed -- "$GPUJAIL" cdi generate --kind amd.com/gpu --allow-missing
is "$status" 0 "mixed: --kind amd.com/gpu" || show
is "$(jq -r '[.devices[].name] | join(" ")' <<<"$stdout")" "0 $(hostinfo mixed '[.devices[] | select(.vendor == "amd")][0].bus_id') all" \
        "amd.com/gpu: only the AMD card, by index and bus id, + all"
ok '! jq -e ".devices[].containerEdits.deviceNodes[] | select(.path == \"/dev/nvidiactl\")" <<<"$stdout"' \
        "amd.com/gpu: no NVIDIA control node"
run on_fakehost nvidia8 -- "$GPUJAIL" cdi generate --kind amd.com/gpu
is "$status" 125 "--kind amd.com/gpu on an NVIDIA-only host: exit 125"
like "$stderr" "no accelerator .* amd.com/gpu" "... saying there is none"
for k in gpu nvidia.com/ "a b/gpu" gpujail.io/gpu.x gpujail.io/gpu/x; do
        run on_fakehost nvidia8 -- "$GPUJAIL" cdi generate --kind "$k"
        is "$status" 125 "--kind '$k' refused (exit 125)"
        like "$stderr" "invalid CDI kind" "... with a clear error"
done
run on_fakehost nvidia8 -- "$GPUJAIL" cdi generate --format toml
is "$status" 125 "--format toml refused"

# --output: atomic, 0644 whatever the umask, old spec intact on failure.
d=$TEST_TMP/out
mkdir -p "$d"
run on_fakehost nvidia8 -- /bin/sh -c "umask 077; exec \"\$0\" cdi generate --output $d/spec.json" "$GPUJAIL"
is "$status" 0 "--output under umask 077" || show
is "$(stat -c %a "$d/spec.json")" 644 "--output: mode 0644"
cmp -s "$d/spec.json" "$out"
is $? 0 "--output: same spec as stdout"
is "$(find "$d" -name '*.gpujail-tmp*' | wc -l)" 0 "--output: no temp file left"
cp "$d/spec.json" "$d/before"
run on_fakehost nvidia8 -- /bin/sh -c "mount --bind -o ro $d $d && exec \"\$0\" cdi generate --output $d/spec.json" "$GPUJAIL"
is "$status" 125 "--output into a read-only directory: exit 125"
like "$stderr" "cannot write the CDI spec to $d/spec.json: Read-only file system" "... naming the file and why"
cmp -s "$d/spec.json" "$d/before"
is $? 0 "... the old spec intact"
run on_fakehost nvidia8 -- "$GPUJAIL" cdi generate --output "$TEST_TMP/missing/dir/spec.json"
is "$status" 125 "--output into a missing directory: exit 125"

# cdi list --spec on files that are not specs.
printf '%s' "$(head -c 300 "$out")" >"$d/truncated.json"
echo '{"cdiVersion": "0.5.0", "kind": "x.com/gpu", "devices": [{"name": "GPU 0"}]}' >"$d/badname.json"
echo 'kind: gpujail.io/gpu' >"$d/notjson.json"
for f in truncated badname notjson; do
        run "$GPUJAIL" cdi list --spec "$d/$f.json"
        is "$status" 125 "cdi list --spec $f.json: exit 125"
        like "$stderr" "$d/$f.json" "... the error names the file"
done
like "$(GPUJAIL_BUILD=x "$GPUJAIL" cdi list --spec "$d/truncated.json" 2>&1)" "truncated" "truncated spec: says truncated"
run "$GPUJAIL" cdi list --spec "$out"
is "$status" 0 "cdi list --spec on a good spec" || show
is "$(wc -l <<<"$stdout")" 17 "... 17 names"
if [[ $have_validator -eq 1 ]]; then
        run "$VALIDATE" cdi "$d/badname.json"
        is "$status" 1 "the validator itself refuses an invalid device name"
fi

# A node that is not what the driver says: no spec (fail closed), unless asked for one.
run on_fakehost wrongnode -- "$GPUJAIL" cdi generate
is "$status" 125 "wrongnode: cdi generate refuses a host whose node is not what the driver says"
like "$stderr" "refusing /dev/nvidia[0-9]+ .* but the driver says" "... naming the node and both numbers"
run on_fakehost wrongnode -- "$GPUJAIL" cdi generate --allow-missing
is "$status" 0 "wrongnode: --allow-missing describes the driver's view anyway" || show

# 64 GPUs.
run on_fakehost nvidia64 -- "$GPUJAIL" cdi generate
is "$status" 0 "nvidia64: cdi generate" || show
printf '%s\n' "$stdout" >"$TEST_TMP/nvidia64.json"
is "$(jq '.devices | length' "$TEST_TMP/nvidia64.json")" 129 "nvidia64: 64 x 2 + all"
validate "$TEST_TMP/nvidia64.json" "nvidia64: spec validates"
done_testing
