#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook fails closed under the real runc: the container is refused
# (runc exits non-zero, our one line in its error) and the host is unchanged
# (mount table, cgroups, BPF programs, the files a hostile rootfs points at).
#   - unknown selector, ambiguous/garbage selector, malformed CDI name
#   - a node whose major:minor is not what the driver says, a missing node
#   - hostile rootfs: /dev a symlink to a host directory; /dev/nvidiaN a
#     symlink to a host file (no /dev tmpfs: the image's /dev is used as is)
#   - a hook registered for the wrong stage (createContainer hooks see pid 1
#     of the container's pid namespace: must never be taken for the host's init)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_hook_runc

fakehost nvidia8 >/dev/null
fakehost wrongnode >/dev/null

snapshot_host before

# refused NAME REGEX: the last runc run failed, with our message.
refused() {
        isnt "$status" 0 "$1: container refused" || show
        like "$output" "gpujail-hook: .*$2" "$1: the hook says why"
        nok '[ -d /sys/fs/cgroup/devices/'"$3"' ]' "$1: no cgroup left behind"
}

# By env (NVIDIA's semantics; the host accepts process.env here) and by annotation.
for sel in 9 "0,9" "bogus" "GPU-ffffffff-0000" "all,9"; do
        b=$(hook_bundle "sel-${sel//[^a-z0-9]/}" "$(env_of "NVIDIA_VISIBLE_DEVICES=$sel")")
        hook_register "$b" prestart
        id=gj-sel-$$
        HOOK_ETC=$(hook_conf env "accept = env") runc_on_host nvidia8 $id "$b"
        refused "NVIDIA_VISIBLE_DEVICES=$sel" "'?(9|bogus|GPU-ffffffff-0000)'?" $id
        b=$(hook_bundle "asel-${sel//[^a-z0-9]/}" "$(ask_for "$sel")")
        hook_register "$b" prestart
        runc_on_host nvidia8 $id "$b"
        refused "gpujail.io/gpus=$sel" "'?(9|bogus|GPU-ffffffff-0000)'?" $id
done

b=$(hook_bundle badcdi '.annotations["cdi.k8s.io/x"] = "gpujail.io/gpu=../../etc"')
hook_register "$b" prestart
runc_on_host nvidia8 gj-cdi-$$ "$b"
refused "malformed CDI name of our kind" "CDI" gj-cdi-$$

b=$(hook_bundle badann '.annotations["gpujail.io/gpus"] = "nvidia:99"')
hook_register "$b" createContainer
runc_on_host nvidia8 gj-ann-$$ "$b"
refused "unknown vendor index in the annotation (createContainer)" "99" gj-ann-$$

# wrongnode: /dev/nvidia3 is 195:9, /dev/nvidia4 is missing.
for minor in 3 4; do
        idx=$(hostinfo wrongnode "[.devices[] | select(.minor == $minor)][0].index")
        b=$(hook_bundle "wrong$minor" "$(ask_for "$idx")")
        hook_register "$b" prestart
        runc_on_host wrongnode gj-wrong-$$ "$b"
        refused "GPU $idx whose /dev/nvidia$minor is wrong or missing" "nvidia$minor" gj-wrong-$$
done

# Hostile rootfs 1: /dev is a symlink to a host directory. runc resolves its
# /dev tmpfs inside the rootfs, but runc 1.1.5 itself then writes its /dev
# symlinks (fd, stdin, ptmx...) through the link into the host directory,
# hook or not: so the baseline is the same container without a request.
hostdir=$TEST_TMP/host-dir
mkdir -p "$hostdir"
evil=$TEST_TMP/evil-rootfs1
cp -a "$(hook_rootfs)" "$evil"
rm -rf "$evil/dev"
ln -s "$hostdir" "$evil/dev"
b=$(hook_bundle evil1-base ".root.path = \"$evil\"")
hook_register "$b" prestart
runc_on_host nvidia8 gj-evil1-$$ "$b"
baseline=$(ls -A "$hostdir" | tr '\n' ' ')
diag "runc itself, without any request, left in the host directory: $baseline"
rm -rf "${hostdir:?}"/* "$hostdir"/.[!.]* 2>/dev/null
echo precious >"$hostdir/file"
b=$(hook_bundle evil1 ".root.path = \"$evil\"" "$(ask_for 0)")
hook_register "$b" prestart
runc_on_host nvidia8 gj-evil1-$$ "$b"
refused "rootfs /dev -> host directory" "dev" gj-evil1-$$
is "$(ls -A "$hostdir" | grep -vx file | tr '\n' ' ')" "$baseline" \
        "rootfs /dev -> host directory: nothing more in the host directory than runc alone puts there"
nok 'ls -A "'"$hostdir"'" | grep -q nvidia' "rootfs /dev -> host directory: no node bound or created there"
is "$(cat "$hostdir/file")" "precious" "rootfs /dev -> host directory: host file intact"
ok '! grep -q "'"$hostdir"'" /proc/1/mountinfo' "rootfs /dev -> host directory: nothing mounted there"

# Hostile rootfs 2: no /dev tmpfs, the image's /dev/nvidiaN is a symlink to a host file.
node0=$(hostinfo nvidia8 '.devices[0].nodes[0].path')
target=$TEST_TMP/host-file
echo precious >"$target"
before_stat=$(stat -c '%i %s %Y %a' "$target")
evil=$TEST_TMP/evil-rootfs2
cp -a "$(hook_rootfs)" "$evil"
ln -s "$target" "$evil$node0"
b=$(hook_bundle evil2 ".root.path = \"$evil\"" '.mounts |= map(select(.destination | startswith("/dev") | not))' \
        "$(ask_for 0)")
hook_register "$b" createRuntime
runc_on_host nvidia8 gj-evil2-$$ "$b"
refused "rootfs $node0 -> host file" "nvidia" gj-evil2-$$
is "$(stat -c '%i %s %Y %a' "$target")" "$before_stat" "rootfs $node0 -> host file: host file untouched"
is "$(cat "$target")" "precious" "rootfs $node0 -> host file: content intact"
is "$(readlink "$evil$node0")" "$target" "rootfs $node0 -> host file: the link itself untouched"

# Registered for the wrong stage: a createContainer hook that says "prestart"
# runs in the container's pid namespace, where state.pid 1 is not the host's
# init. It must refuse, not act on PID 1 of the host.
b=$(hook_bundle wrongstage "$(ask_for 0)")
entry=$(hook_entry prestart)
jq --argjson e "$entry" '.hooks.createContainer = [$e]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
runc_on_host nvidia8 gj-stage-$$ "$b"
refused "prestart hook run as createContainer" "pid namespace" gj-stage-$$

b=$(hook_bundle badstage "$(ask_for 0)")
entry=$(hook_entry startContainer)
jq --argjson e "$entry" '.hooks.createRuntime = [$e]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
runc_on_host nvidia8 gj-badstage-$$ "$b"
refused "unknown stage argument" "stage" gj-badstage-$$

assert_host_unchanged before "host unchanged after every refusal: mounts, cgroups, BPF programs"
done_testing
