#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook under podman 4.3 (runc, cgroupfs) with the hooks.d files that
# examples/hooks.d ships (only the hook's path changed to the build's, and the
# simulated host's fakesysfs preload added to the hook's env): the request by
# annotation, by CDI annotation, by env where /etc/gpujail/hook.conf accepts it
# (and not by default); the device-cgroup oracle inside (the selected node
# ENXIO, another GPU's node, mknod'ed in the container, EPERM); a refused
# request; the host unchanged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_root
require_cmd podman runc jq busybox cc
require_built "$GPUJAIL_HOOK"
require_cgroup_v1_devices

shape=nvidia8
fakehost $shape >/dev/null
node_of() { hostinfo $shape ".devices[$1].nodes[0].path"; }
other_minor=$(hostinfo $shape '.devices[1].minor')
rootfs=$(hook_rootfs)

# podman's state all in $TEST_TMP; podman's cgroupfs parent removed if new.
p=$TEST_TMP/podman
mkdir -p "$p"/{root,run,tmp}
podman_global=(--root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend file --runtime "$(command -v runc)")
new_parent=1
for d in /sys/fs/cgroup/*/libpod_parent; do [[ -d $d ]] && new_parent=0; done
rmdir_parent() { local d; for d in /sys/fs/cgroup/*/libpod_parent; do [[ -d $d ]] && rmdir "$d"; done; return 0; }
[[ $new_parent -eq 1 ]] && defer rmdir_parent

hooks=$TEST_TMP/hooks.d
mkdir -p "$hooks"

script="ls /dev | tr '\n' ' '; echo; for n in /dev/nvidia*; do [ -e \$n ] && /bin/open-probe \$n; done;
rm -f /tmp/other; mknod /tmp/other c 195 $other_minor && /bin/open-probe /tmp/other; rm -f /tmp/other"

snapshot_host before

# podman ARGS...: podman run on the simulated host with the shipped hooks.d
# (CAP_MKNOD, which podman 4 drops by default, to make the intruder node).
podman_run() {
        run on_hook_etc $shape -- bash -c '
                hooks=$1; hook=$2; shift 2
                for f in "$GPUJAIL_SRC"/examples/hooks.d/*.json; do
                        jq --arg p "$hook" --arg l "$GPUJAIL_TEST_PRELOAD" --arg a "${ASAN_OPTIONS:-}" \
                                ".hook.path = \$p | .hook.env += [\"LD_PRELOAD=\" + \$l]
                                 + (if \$a != \"\" then [\"ASAN_OPTIONS=\" + \$a] else [] end)" \
                                "$f" >"$hooks/$(basename "$f")"
                done
                exec podman "$@"' _ "$hooks" "$GPUJAIL_HOOK" "${podman_global[@]}" \
                run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
                --cap-add MKNOD --hooks-dir "$hooks" "$@" --rootfs "$rootfs" /bin/sh -c "$script"
}

check() { # NAME NODE
        is "$status" 0 "$1: container ran" || { show; return; }
        like "$output" "^$2 ENXIO" "$1: $2 in /dev, allowed (ENXIO)"
        like "$output" "^/dev/nvidiactl ENXIO" "$1: /dev/nvidiactl allowed"
        like "$output" "^/dev/nvidia-uvm ENXIO" "$1: /dev/nvidia-uvm allowed"
        like "$output" "^/tmp/other EPERM" "$1: another GPU's node denied (EPERM)"
        is "$(grep -c '^/dev/nvidia[0-9]' <<<"$output")" 1 "$1: one GPU node in /dev"
}

# The image's env (podman -e is the same process.env) is not accepted by default.
podman_run -e NVIDIA_VISIBLE_DEVICES=0
is "$status" 0 "podman -e NVIDIA_VISIBLE_DEVICES=0, default hook.conf: container ran" || show
unlike "$output" "^/dev/nvidia[0-9]" "podman -e NVIDIA_VISIBLE_DEVICES=0, default hook.conf: no GPU node"
like "$output" "^/tmp/other EPERM" "podman -e NVIDIA_VISIBLE_DEVICES=0, default hook.conf: device cgroup untouched"

accept_env=$(hook_conf env "accept = annotation, cdi, env")
HOOK_ETC=$accept_env podman_run -e NVIDIA_VISIBLE_DEVICES=0
check "podman -e NVIDIA_VISIBLE_DEVICES=0, hook.conf accepts env" "$(node_of 0)"

podman_run --annotation "gpujail.io/gpus=$(hostinfo $shape '.devices[3].uuid')"
check "podman --annotation gpujail.io/gpus=UUID" "$(node_of 3)"

podman_run --annotation "cdi.k8s.io/test=gpujail.io/gpu=5"
check "podman --annotation cdi.k8s.io/test=gpujail.io/gpu=5" "$(node_of 5)"

podman_run
is "$status" 0 "podman, nothing requested: container ran" || show
unlike "$output" "^/dev/nvidia" "podman, nothing requested: no GPU node"
like "$output" "^/tmp/other EPERM" "podman, nothing requested: device cgroup untouched"

HOOK_ETC=$accept_env podman_run -e NVIDIA_VISIBLE_DEVICES=42
isnt "$status" 0 "podman -e NVIDIA_VISIBLE_DEVICES=42: refused" || show
like "$output" "gpujail-hook: unknown GPU '42'" "podman -e NVIDIA_VISIBLE_DEVICES=42: says why"

assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
done_testing
