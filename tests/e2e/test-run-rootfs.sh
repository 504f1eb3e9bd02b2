#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run --rootfs: an unpacked image as the job's root, and images built
# to attack the launcher (design.md invariant 1): /dev -> /etc, /tmp -> /,
# /proc -> /etc, a pre-made /dev/nvidiaN symlink to a host file, a --bind
# destination behind a symlink. Each is refused or contained: a symlink is
# never followed for a mount point (gj_mkdir_p_in_root); no host file
# changes and no host mount appears.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"
require_cmd busybox

HOST=$(fakehost nvidia8)
SEL_MINOR=$(hostinfo nvidia8 '.devices[0].minor')
BASE=$(run_rootfs)
run_snapshot before

# A copy of the base rootfs, then a hostile change made with sh -c.
image() { # NAME SCRIPT
        local r=$TEST_TMP/img-$1
        rm -rf "$r"
        cp -a "$BASE" "$r"
        (cd "$r" && eval "$2")
        echo "$r"
}
jrun() { run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 "$@"; }

# A canary the attacks aim at: its content and the host's /etc must not change.
CANARY=$TEST_TMP/canary
echo original >"$CANARY"
etc_before=$(ls -A /etc | md5sum)

R=$(image plain :)
jrun --rootfs "$R" -- sh -c 'ls /dev | tr "\n" " "; cat /etc/passwd; echo $PWD'
is "$status" 0 "a plain busybox rootfs runs" || show
like "$stdout" " nvidia$SEL_MINOR " "its /dev has the selected GPU"
like "$stdout" 'root:x:0:0:root:/:/bin/sh' "it sees the image's /etc, not the host's"
jrun --rootfs "$R" -- sh -c 'grep -E " / | /sys " /proc/self/mountinfo'
like "$stdout" ' / [^ ]*nosuid,nodev' "the rootfs is mounted nosuid,nodev"
like "$stdout" ' /sys ro,' "/sys is read-only"

R=$(image dev-to-etc 'rm -rf dev && ln -s /etc dev')
jrun --rootfs "$R" -- true
is "$status" 125 "/dev -> /etc: refused (125)"
like "$stderr" 'dev' "... naming /dev"

R=$(image tmp-to-root 'rm -rf tmp && ln -s / tmp')
jrun --rootfs "$R" -- true
is "$status" 125 "/tmp -> /: refused (125)"

R=$(image proc-to-etc 'rm -rf proc && ln -s ../../etc proc')
jrun --rootfs "$R" -- true
is "$status" 125 "/proc -> ../../etc: refused (125)"

R=$(image premade-node "ln -s $CANARY dev/nvidia$SEL_MINOR && ln -s $CANARY dev/nvidiactl")
jrun --rootfs "$R" -- sh -c "stat -c %F /dev/nvidia$SEL_MINOR; echo pwned > /dev/nvidia$SEL_MINOR"
like "$stdout" 'character special file' "a pre-made /dev/nvidiaN symlink: /dev is replaced, the node is the real one"
R=$(image data-to-etc 'ln -s /etc data')
echo payload >"$TEST_TMP/payload"
jrun --rootfs "$R" --bind "$TEST_TMP/payload:/data/gpujail-payload" -- cat /data/gpujail-payload
is "$status" 125 "a --bind destination behind a symlink (/data -> /etc): refused"
like "$stderr" "cannot create /data in the job's root: Not a directory" "... naming the path"
ok '[ ! -e /etc/gpujail-payload ]' "... and nothing was created in the host's /etc"

is "$(cat "$CANARY")" original "the canary file is unchanged"
is "$(ls -A /etc | md5sum)" "$etc_before" "the host's /etc is unchanged"
run_assert_host_unchanged before "host mounts, cgroups and BPF programs unchanged after the hostile images"
done_testing
