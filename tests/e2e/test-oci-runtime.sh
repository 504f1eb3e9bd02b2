#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `gpujail runtime`, the runtime wrapper: on create/run it reads the request
# from config.json (gpujail.io/gpus annotation, cdi.k8s.io/*, then
# NVIDIA_VISIBLE_DEVICES), injects it, and execs runc with the same argv.
# Checked with runc directly and with podman --runtime pointing at a wrapper
# script; other verbs pass straight through; a bad request refuses the
# container before runc runs; no request leaves config.json untouched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cdi-common.sh"
require_runc_containers
SHAPE=nvidia8
snapshot_host before
RUNC=$(command -v runc)

n=()
for i in 0 1 2 3; do n+=("$(gpu_node $i)"); done

# new_bundle JQ-EDIT: a bundle probing GPUs 0-3 and /dev/other-gpu (GPU 3's minor, no
# rule); its config.json as made is kept in BUNDLE.orig, to check a run left it untouched.
new_bundle() {
        local b=$TEST_TMP/b-$RANDOM
        make_bundle "$b" "${n[@]}" /dev/other-gpu
        bundle_add_node "$b" /dev/other-gpu 195 "$(gpu_minor 3)"
        jq "$1" "$b/config.json" >"$b/c.tmp" && mv "$b/c.tmp" "$b/config.json"
        cp "$b/config.json" "$b.orig"
        echo "$b"
}
# expect_only BUNDLE-OUTPUT SELECTED-INDEX "what"
expect_only() {
        local i want
        for i in 0 1 2 3; do
                want=ENOENT
                [[ $i == "$2" ]] && want=ENXIO
                is "$(probe_result "$1" "${n[$i]}")" $want "$3: GPU $i's node $([[ $want == ENXIO ]] && echo "inside, allowed" || echo absent)"
        done
        is "$(probe_result "$1" /dev/other-gpu)" "$([[ $2 == 3 ]] && echo ENXIO || echo EPERM)" "$3: a node of GPU 3 without a rule: $([[ $2 == 3 ]] && echo allowed || echo denied)"
}
# ran_only SELECTED-INDEX "name" "what": the container of the last run ran ("name")
# and saw only GPU SELECTED-INDEX ("none": no GPU).
ran_only() {
        is "$status" 0 "$2" || show
        expect_only "$output" "$1" "$3"
}

W=("$GPUJAIL" runtime --runtime "$RUNC")

# wrapped_only SELECTED-INDEX JQ-EDIT "name" "what" [OPTION...]: runc runs a new
# bundle ($b), edited by JQ-EDIT, through `gpujail runtime OPTION... --runtime
# runc`; the container ran and saw only GPU SELECTED-INDEX ("none": no GPU).
wrapped_only() {
        b=$(new_bundle "$2")
        runc_run "$b" "$GPUJAIL" runtime "${@:5}" --runtime "$RUNC"
        ran_only "$1" "$3" "$4"
}

wrapped_only 1 '.annotations["gpujail.io/gpus"] = "1"' "runc via gpujail runtime, annotation gpujail.io/gpus=1" "annotation"
run "$VALIDATE" oci "$b/config.json"
if [[ $status -eq 77 ]]; then skip "$output" "validates"; else is "$status" 0 "the injected config.json validates" || show; fi

wrapped_only 2 '.annotations["cdi.k8s.io/gpujail"] = "vendor.com/x=0,gpujail.io/gpu='"$(hostinfo $SHAPE '.devices[2].uuid')"'"' \
        "cdi.k8s.io annotation naming gpujail.io/gpu=<UUID of GPU 2>" "cdi.k8s.io"
wrapped_only 3 '.process.env += ["NVIDIA_VISIBLE_DEVICES=3"]' "NVIDIA_VISIBLE_DEVICES=3 in process.env" "NVIDIA_VISIBLE_DEVICES"

wrapped_only none '.process.env += ["NVIDIA_VISIBLE_DEVICES=all"]' \
        "--ignore-env with NVIDIA_VISIBLE_DEVICES=all in the image: runs" "--ignore-env" --ignore-env
ok cmp "$b/config.json" "$b.orig" "--ignore-env: config.json untouched"
wrapped_only 2 '.annotations["gpujail.io/gpus"] = "2" | .process.env += ["NVIDIA_VISIBLE_DEVICES=all"]' \
        "--ignore-env still honours the annotation" "--ignore-env + annotation" --ignore-env

wrapped_only 0 '.annotations["gpujail.io/gpus"] = "0" | .process.env += ["NVIDIA_VISIBLE_DEVICES=all"]' \
        "annotation and NVIDIA_VISIBLE_DEVICES: the annotation wins" "annotation first"

wrapped_only none '.' "no request: runs" "no request"
ok cmp "$b/config.json" "$b.orig" "no request: config.json untouched"

for sel in 9 all,9 GPU-ffffffff bogus; do
        b=$(new_bundle '.annotations["gpujail.io/gpus"] = "'"$sel"'"')
        runc_run "$b" "${W[@]}"
        is "$status" 125 "bad request '$sel': exit 125, runc not run"
        unlike "$output" "ENXIO|EPERM|ENOENT" "bad request '$sel': the container never ran"
        ok cmp "$b/config.json" "$b.orig" "bad request '$sel': config.json untouched"
done
b=$(new_bundle '.annotations["cdi.k8s.io/x"] = "gpujail.io/gpu=0;reboot"')
runc_run "$b" "${W[@]}"
is "$status" 125 "malformed CDI name of our kind: refused"
like "$output" "not a valid CDI device name" "... saying so"

# Global options before the verb, bundle as -b=DIR, create + start + delete.
b=$(new_bundle '.annotations["gpujail.io/gpus"] = "2"')
id=gpujail-test-$$-create
defer "$RUNC" --root "$TEST_TMP/runc-state" delete -f "$id"
run on_fakehost $SHAPE -- "${W[@]}" --log "$TEST_TMP/runc.log" --log-format json --root "$TEST_TMP/runc-state" \
        create "-b=$b" --pid-file "$TEST_TMP/pid" "$id"
is "$status" 0 "create with global options and -b=DIR" || show
ok 'jq -e ".linux.devices | map(.path) | index(\"'"${n[2]}"'\")" '"$b/config.json" "create: injected"
run on_fakehost $SHAPE -- "${W[@]}" --root "$TEST_TMP/runc-state" state "$id"
is "$status" 0 "state passes through" || show
is "$(jq -r .status <<<"$stdout")" created "state: created"
run "${W[@]}" --root "$TEST_TMP/runc-state" delete -f "$id"
is "$status" 0 "delete passes through"

# Pass-through verbs keep runc's exit status and output.
run "${W[@]}" --version
is "$status" 0 "--version passes through"
like "$stdout" "^runc version" "... runc's output"
run "${W[@]}" --root "$TEST_TMP/runc-state" state no-such-container
is "$status" "$("$RUNC" --root "$TEST_TMP/runc-state" state no-such-container >/dev/null 2>&1; echo $?)" \
        "runc's own failure status passes through"
run "$GPUJAIL" runtime --runtime "$TEST_TMP/no-such-runtime" --version
is "$status" 127 "a missing runtime: exit 127"
like "$stderr" "cannot execute the runtime $TEST_TMP/no-such-runtime" "... naming it"

# podman --runtime pointing at a wrapper script.
setup_podman
R=$TEST_TMP/rootfs
make_rootfs "$R"
podman_run() { # ARGS... (before the image)
        run on_fakehost $SHAPE -- podman "${PODMAN_GLOBAL[@]}" --runtime "$(gpujail_runtime_wrapper)" "${PODMAN_RUN[@]}" \
                --cap-add MKNOD "$@" --rootfs "$R" \
                /bin/sh -c "mknod /dev/other-gpu c 195 $(gpu_minor 3) && $PROBE" sh "${n[@]}" /dev/other-gpu
}
podman_run --annotation gpujail.io/gpus=1
ran_only 1 "podman --runtime wrapper, --annotation gpujail.io/gpus=1" "podman annotation"
podman_run -e NVIDIA_VISIBLE_DEVICES=0
ran_only 0 "podman --runtime wrapper, -e NVIDIA_VISIBLE_DEVICES=0" "podman NVIDIA_VISIBLE_DEVICES"
podman_run
ran_only none "podman --runtime wrapper, no request" "podman no request"
podman_run --annotation gpujail.io/gpus=42
isnt "$status" 0 "podman --runtime wrapper, unknown GPU: container refused"
like "$output" "'42'" "... gpujail's message reaches the user"

assert_host_unchanged before "host mounts, cgroups and BPF programs unchanged"
done_testing
