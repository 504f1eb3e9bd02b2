#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# What a container set up by gpujail-hook under the real runc sees of
# /proc/driver/nvidia on a simulated 8-GPU host, at every stage: gpus/ lists
# the granted GPUs alone (the others' bus ids, models, UUIDs not even named),
# read-only; params says ModifyDeviceFiles: 0 (the host's says 1) and cannot be
# written; the rest of the driver's files are the host's. A container asking
# for nothing keeps the /proc runc gave it. The host is unchanged afterwards.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_hook_runc

shape=nvidia8
host=$(fakehost $shape)
bus() { hostinfo $shape ".devices[$1].bus_id"; }
grep -q '^ModifyDeviceFiles: 1$' "$host/proc/driver/nvidia/params" ||
        bail_out "the simulated host's params should say ModifyDeviceFiles: 1"

snapshot_host before

SCRIPT='ls /proc/driver/nvidia/gpus | tr "\n" " "; echo
for d in /proc/driver/nvidia/gpus/*; do grep -q "^Model:" "$d/information" && echo "info $(basename "$d")"; done
grep "^ModifyDeviceFiles:" /proc/driver/nvidia/params
echo "mode $(grep -c "^DeviceFileMode:" /proc/driver/nvidia/params)"
echo "nvrm $(grep -c NVRM /proc/driver/nvidia/version)"
(echo ModifyDeviceFiles: 1 >/proc/driver/nvidia/params) 2>/dev/null && echo params-written
mkdir /proc/driver/nvidia/gpus/x 2>/dev/null && echo gpus-written
echo "dot $(ls -a /proc/driver/nvidia/gpus | grep -c "^\.params")"
echo "mounts $(grep -c " /proc/driver" /proc/self/mountinfo)"
true'

for stage in prestart createRuntime createContainer; do
        b=$(hook_bundle "proc-$stage" "$(ask_for 0,5)" ".process.args[2] = $(jq -n --arg s "$SCRIPT" '$s')")
        hook_register "$b" $stage
        runc_on_host $shape "gj-proc-$stage-$$" "$b"
        if ! is "$status" 0 "$stage: the container ran"; then
                show
                continue
        fi
        want=$(printf '%s\n' "$(bus 0)" "$(bus 5)" | sort | tr '\n' ' ')
        is "$(head -1 <<<"$output")" "$want" "$stage: /proc/driver/nvidia/gpus lists GPUs 0 and 5 alone"
        is "$(grep -c '^info ' <<<"$output")" 2 "$stage: and their information files are the driver's"
        like "$output" "^ModifyDeviceFiles: 0$" "$stage: params says ModifyDeviceFiles: 0"
        unlike "$output" "^ModifyDeviceFiles: 1$" "$stage: ... once"
        like "$output" "^mode 1$" "$stage: params keeps the driver's other lines"
        like "$output" "^nvrm 1$" "$stage: /proc/driver/nvidia/version is the host's"
        unlike "$output" "params-written" "$stage: params cannot be written"
        unlike "$output" "gpus-written" "$stage: nothing can be added to gpus/"
        like "$output" "^dot 0$" "$stage: the copy of params left no name in gpus/"
        like "$output" "^mounts 5$" "$stage: 5 mounts under /proc/driver: the host's driver dir, a tmpfs, 2 GPUs, params (not one per GPU of the host)"
done

# Hostile images without a /proc mount in config.json: proc is a symlink to
# the host's /proc (resolved inside the root: a loop) or to a directory of the
# image (no procfs: left alone). The hook mounts nothing on the host's /proc
# either way (assert_host_unchanged below). runc itself then fails (it needs a
# /proc to close its fds), after the hooks.
evil=$TEST_TMP/rootfs-evil
cp -a "$(hook_rootfs)" "$evil"
for target in /proc tmp; do
        rm -rf "$evil/proc"
        ln -s $target "$evil/proc"
        b=$(hook_bundle "proc-evil-${target//\//}" "$(ask_for 0)" ".root.path = \"$evil\"" \
                '.mounts |= map(select(.destination != "/proc"))' '.process.args[2] = "ls /tmp; true"')
        hook_register "$b" prestart
        runc_on_host $shape "gj-proc-evil-$$" "$b"
        diag "proc -> $target: status $status: $(tail -1 <<<"$output")"
        [[ $target == /proc ]] && like "$output" "gpujail-hook: cannot open .*/proc: Too many levels of symbolic links" \
                "proc -> /proc: resolved inside the root, a loop: the hook refuses, naming it"
        [[ $target == tmp ]] && unlike "$output" "gpujail-hook" "proc -> tmp (no procfs): the hook succeeded, leaving /proc alone"
        ok '[ -z "$(ls -A "$evil/tmp")" ]' "proc -> $target: nothing was made in the image"
done

# Nothing requested: the hook does nothing, runc's /proc stays (on this host
# without an NVIDIA driver, no /proc/driver/nvidia at all).
b=$(hook_bundle proc-void ".process.args[2] = \"ls /proc/driver/nvidia 2>&1; true\"")
hook_register "$b" prestart
runc_on_host $shape "gj-proc-void-$$" "$b"
is "$status" 0 "nothing requested: the container ran" || show
unlike "$output" "gpus" "nothing requested: no /proc/driver/nvidia put in"

is "$(grep -c '^ModifyDeviceFiles: 1$' "$host/proc/driver/nvidia/params")" 1 "the host's params is as it was"
assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
done_testing
