#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The leave-no-trace check (tests/lib.sh: _host_state, _state_changes; tests/run
# compares the same around the whole suite) looks only at what gpujail and its
# tests could have made. This proves it still sees a real leak of each kind,
# and that it does not see what others do on the machine meanwhile:
#   seen:    a gpujail-named cgroup (v1 devices and cgroup2), a job cgroup
#            <cgroup>/gpujail/run-<pid>-<hex>, a mount in $TEST_TMP, a tmpfs
#            named gpujail-*, a device program on a scratch cgroup
#   ignored: a cgroup named something else, a mount outside our paths
. "$(dirname "$0")/../lib.sh"
require_root
require_cmd python3
require_built "$HELPERS/bpf-list"

V1=/sys/fs/cgroup/devices
V2=$(cgroup2_root)
[[ -d $V1 || -n $V2 ]] || skip_all "no cgroup v1 devices controller and no cgroup2 mount"
snap=$TEST_TMP/snap-lnt
ours=gpujail-lnt-$$
other=lnt-unrelated-$$
snapshot_host before

# changes_after CMD...: run CMD (which makes something), and print what the
# check reports as changed since the snapshot.
changes_after() {
        _host_state "$snap"
        "$@" || bail_out "cannot set up: $*"
        _state_changes "$snap" _host_state
        rm -rf "$snap"
}

# ---- cgroups ----
for h in "$V1" "$V2"; do
        [[ -d $h ]] || { skip "no $h" "a cgroup named $ours in $h is reported"; continue; }
        defer rmdir "$h/$ours"
        changes=$(changes_after mkdir "$h/$ours")
        like "$changes" "^cgroups changed:" "a leaked gpujail-named cgroup in $h: cgroups reported changed"
        like "$changes" "^> $h/$ours\$" "... naming it"
        rmdir "$h/$ours"

        defer rmdir "$h/$other"
        changes=$(changes_after mkdir "$h/$other")
        is "$changes" "" "a cgroup named something else made in $h meanwhile: not reported"
        rmdir "$h/$other"

        # A job cgroup below a cgroup of any name (a user's session scope, a pod).
        defer rmdir "$h/$other" "$h/$other/gpujail" "$h/$other/gpujail/run-1-abcdef"
        mkdir "$h/$other"
        changes=$(changes_after mkdir -p "$h/$other/gpujail/run-1-abcdef")
        like "$changes" "^> $h/$other/gpujail/run-1-abcdef\$" "a leaked job cgroup <cgroup>/gpujail/run-<pid>-<hex> in $h: reported"
        rmdir "$h/$other/gpujail/run-1-abcdef" "$h/$other/gpujail" "$h/$other"
done

# ---- mounts (in the host's mount namespace: where a leak would show) ----
if [[ $(stat -L -c %i /proc/self/ns/mnt) == $(stat -L -c %i /proc/1/ns/mnt 2>/dev/null) ]] ||
        cmp -s <(awk '{ print $5 }' /proc/1/mountinfo) <(awk '{ print $5 }' /proc/self/mountinfo); then
        mkdir -p "$TEST_TMP/m"
        defer umount -l "$TEST_TMP/m"
        changes=$(changes_after mount -t tmpfs -o size=64k lnt "$TEST_TMP/m")
        like "$changes" "^mounts changed:" "a mount left in \$TEST_TMP: mounts reported changed"
        like "$changes" "^> $TEST_TMP/m tmpfs lnt\$" "... naming it"
        umount "$TEST_TMP/m"

        # A tmpfs named gpujail-* (the simulated hosts' name) anywhere outside our paths.
        elsewhere=/tmp/lnt-elsewhere-$$
        mkdir -p "$elsewhere"
        defer rmdir "$elsewhere"
        defer umount -l "$elsewhere"
        changes=$(changes_after mount -t tmpfs -o size=64k gpujail-fakehost "$elsewhere")
        like "$changes" "^> $elsewhere tmpfs gpujail-fakehost\$" "a tmpfs named gpujail-fakehost left outside our paths: reported"
        umount "$elsewhere"

        changes=$(changes_after mount -t tmpfs -o size=64k unrelated "$elsewhere")
        is "$changes" "" "someone else's mount outside our paths meanwhile: not reported"
        umount "$elsewhere"
else
        skip "this test runs outside the host's mount namespace" "mounts: a leak is seen, another's mount is not"
fi

# ---- BPF programs ----
# attach_allow_all CGROUP-DIR: attach a CGROUP_DEVICE program (r0 = 1; exit) to
# the cgroup; it stays attached after we exit, until the cgroup is removed.
attach_allow_all() {
        python3 - "$1" <<'EOF'
import ctypes, os, platform, struct, sys
nr_bpf = {"x86_64": 321, "aarch64": 280}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(nr_bpf, cmd, buf, 128)
    if r < 0:
        sys.exit(f"bpf({cmd}): {os.strerror(ctypes.get_errno())}")
    return r
insns = ctypes.create_string_buffer(struct.pack("<BBhiBBhi", 0xb7, 0, 0, 1, 0x95, 0, 0, 0))
lic = ctypes.create_string_buffer(b"GPL")
# BPF_PROG_LOAD: prog_type CGROUP_DEVICE (15), 2 insns, license
prog = bpf(5, struct.pack("<IIQQIIQII16s", 15, 2, ctypes.addressof(insns), ctypes.addressof(lic),
                          0, 0, 0, 0, 0, b"gj_lnt"))
cg = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
# BPF_PROG_ATTACH: target, program, BPF_CGROUP_DEVICE (6), BPF_F_ALLOW_MULTI (2)
bpf(8, struct.pack("<IIII", cg, prog, 6, 2))
EOF
}
if [[ -n $V2 ]]; then
        defer rmdir "$V2/$ours"
        mkdir "$V2/$ours"
        changes=$(changes_after attach_allow_all "$V2/$ours")
        like "$changes" "^bpf changed:" "a device program left on a scratch cgroup: BPF programs reported changed"
        like "$changes" "^> $V2/$ours 6 id=[0-9]+\$" "... naming the cgroup and the attach type"
        rmdir "$V2/$ours"

        defer rmdir "$V2/$other"
        mkdir "$V2/$other"
        changes=$(changes_after attach_allow_all "$V2/$other")
        is "$changes" "" "someone else's device program on a cgroup of theirs: not reported"
        rmdir "$V2/$other"
else
        skip "no cgroup2 mount" "BPF: a leak is seen, another's program is not"
fi

assert_host_unchanged before "everything this test made is gone again"
done_testing
