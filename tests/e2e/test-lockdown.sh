#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# gpujail setup --lockdown on simulated hosts: afterwards a plain user gets EACCES
# on every GPU node while the lockdown's group still opens them (ENXIO: no driver
# behind the fake nodes), list says locked and warns of no bypass, --undo gives the
# nodes back, --dry-run changes nothing, a bad GROUP is refused with 125.
#
# Nothing here touches the machine's /etc or /dev: each scenario runs in one
# `fakehost/enter` mount namespace (its /dev a tmpfs copy) whose /etc is an overlay
# with a tmpfs upper layer, so the lockdown's files, and the groups and users the
# test makes, die with it.
. "$(dirname "$0")/../lib.sh"
require_root
require_cmd jq setpriv groupadd useradd python3
require_built "$GPUJAIL" "$HELPERS/open-probe"
grep -qw overlay /proc/filesystems || skip_all "no overlayfs to give the test a private /etc"

GRP=gjlk$$ # a group of our own: the machine may have a gpujail group already

host_dev() { find /dev -maxdepth 2 \( -type c -o -type b -o -type l \) -printf '%p %y %m %U:%G %l\n' 2>/dev/null |
        grep -v -e '^/dev/pts/' -e '^/dev/shm/' -e '^/dev/mqueue/' | sort; }
host_etc() { ls -la /etc/modprobe.d /etc/udev/rules.d 2>&1; getent group "$GRP"; md5sum /etc/group /etc/passwd; }
host_dev >"$TEST_TMP/dev.before"
host_etc >"$TEST_TMP/etc.before"

# Sourced by every scenario inside its namespace: the private /etc, the group, helpers.
cat >"$TEST_TMP/prelude.sh" <<'EOF'
set -u
up=$(mktemp -d "$TEST_TMP/etc.XXXXXX")
mount -t tmpfs gpujail-test-etc "$up" && mkdir "$up/upper" "$up/work" &&
        mount -t overlay gpujail-test-etc -o "lowerdir=/etc,upperdir=$up/upper,workdir=$up/work" /etc ||
        { echo "cannot make a private /etc" >&2; exit 99; }
groupadd --system "$GRP" || exit 99
gid=$(getent group "$GRP" | cut -d: -f3)
# Every GPU node the inventory names, plus /dev/nvidia-caps/*.
gpu_nodes() { { "$G" list --json | jq -r '[.devices[].nodes[], .controls[]] | .[] | select(.state == "ok") | .path'
                ls -d /dev/nvidia-caps/* 2>/dev/null; } | sort; }
as_nobody() { env -u LD_PRELOAD setpriv --reuid=65534 --regid=65534 --clear-groups "$OP" "$@"; }
as_member() { env -u LD_PRELOAD setpriv --reuid=65534 --regid=65534 --groups="$gid" "$OP" "$@"; }
perms() { stat -c '%n %a %u:%g' "$@"; }
module_reloaded() { # what the nvidia module says once loaded with the lockdown's file
        sed -i "s/^DeviceFileMode: .*/DeviceFileMode: 432/; s/^DeviceFileGID: .*/DeviceFileGID: $gid/" \
                /proc/driver/nvidia/params; }
EOF

# in_ns HOSTDIR: run the bash script on stdin on that simulated host with a private /etc.
in_ns() {
        cat >"$TEST_TMP/scenario.sh"
        run "$FAKEHOST/enter" "$1" -- env G="$GPUJAIL" OP="$HELPERS/open-probe" GRP="$GRP" VICTIM="${VICTIM:-}" \
                bash -c ". '$TEST_TMP/prelude.sh' && . '$TEST_TMP/scenario.sh'"
}
# section NAME: the lines the last in_ns printed after "== NAME", up to the next "== ".
section() { awk -v s="== $1" '$0 == s { on = 1; next } /^== / { on = 0 } on' <<<"$stdout"; }
# counts RESULT: how many probe lines of the section on stdin end with RESULT.
count() { grep -c " $1\$" || true; }

# ---- nvidia8: lock, probe, list, again, undo
in_ns "$(fakehost nvidia8)" <<'EOF'
echo "== nodes"; gpu_nodes
echo "== nobody before"; as_nobody $(gpu_nodes)
echo "== list before"; $G list --json | jq -c .lockdown; $G list 2>&1 | grep -E "bypass|^Lockdown"
echo "== dry run"; $G setup --lockdown "$GRP" --dry-run 2>&1; echo rc=$?
echo "== after dry run"; ls /etc/modprobe.d /etc/udev/rules.d 2>&1; perms $(gpu_nodes)
echo "== lock"; $G setup --lockdown "$GRP" 2>&1; echo rc=$?
echo "== files"; cat /etc/modprobe.d/gpujail-lockdown.conf /etc/udev/rules.d/72-gpujail-lockdown.rules
echo "== perms"; perms $(gpu_nodes)
echo "== nobody"; as_nobody $(gpu_nodes)
echo "== member"; as_member $(gpu_nodes)
echo "== job"; (cd /tmp && env SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody "$G" run --gpu 0 -- \
        sh -c "echo groups \$(id -G); $OP /dev/nvidia[0-9]*" 2>&1)
echo "== list not reloaded"; $G list --json | jq -c .lockdown
echo "== plain setup"; $G setup --no-modules --fix 2>&1; echo rc=$?; perms /dev/nvidiactl
module_reloaded
echo "== list"; $G list --json | jq -c .lockdown; $G list 2>&1 | grep -E "bypass|^Lockdown"
echo "== again"; $G setup --lockdown "$GRP" 2>&1; echo rc=$?
echo "== undo"; $G setup --lockdown --undo 2>&1; echo rc=$?
echo "== undo perms"; perms $(gpu_nodes); ls /etc/modprobe.d /etc/udev/rules.d
echo "== undo nobody"; as_nobody $(gpu_nodes)
echo "== undo again"; $G setup --lockdown --undo 2>&1; echo rc=$?
echo "== list after undo"; $G list --json | jq -c .lockdown
EOF
is "$status" 0 "nvidia8: the scenario ran" || show
n=$(section nodes | wc -l)
is "$n" 12 "nvidia8: 12 GPU nodes (8 GPUs, 4 controls)"
is "$(section 'nobody before' | count ENXIO)" "$n" "before: a plain user opens every GPU node (ENXIO: no driver)"
is "$(section 'list before' | head -1 | jq -r '.state, .group, (.open_nodes | length)' | tr '\n' ' ')" \
        "open null 12 " "before: list says open, no group, 12 nodes open to all"
like "$(section 'list before')" "warning: users can bypass gpujail: /dev/nvidia[0-9]+ is mode 0666 \(and 11 more" \
        "before: list warns that users can bypass gpujail"
like "$(section 'dry run')" "would write /etc/modprobe.d/gpujail-lockdown.conf" "dry run: says it would write the modprobe.d file"
like "$(section 'dry run')" "would set /dev/nvidiactl to 0660 0:[0-9]+ \(was 0666 0:0\)" "dry run: says it would set each node"
like "$(section 'dry run')" "rc=0" "dry run: exit 0"
like "$(section 'after dry run')" "cannot access '/etc/modprobe.d'" "dry run: no modprobe.d file written"
is "$(section 'after dry run' | grep -c ' 666 0:0$')" "$n" "dry run: every node still 0666 root:root"
like "$(section lock)" "rc=0" "lock: exit 0"
like "$(section lock)" "lockdown: partial" "lock: partial until the nvidia module is loaded again"
like "$(section lock)" "warning: the loaded nvidia module gives its nodes 0666 0:0.*reload the NVIDIA modules or reboot" \
        "lock: says the module must be reloaded"
like "$(section files)" "^options nvidia NVreg_DeviceFileUID=0 NVreg_DeviceFileGID=[0-9]+ NVreg_DeviceFileMode=0660$" \
        "lock: modprobe.d gives the driver's nodes root:GROUP 0660"
like "$(section files)" "GROUP:=\"$GRP\", MODE:=\"0660\"" "lock: udev rule for GROUP"
gid=$(section files | sed -n 's/.*NVreg_DeviceFileGID=\([0-9]*\).*/\1/p')
is "$(section perms | grep -c " 660 0:$gid\$")" "$n" "lock: every GPU node 0660 root:GROUP"
is "$(section nobody | count EACCES)" "$n" "lock: a plain user gets EACCES on every GPU node"
is "$(section member | count ENXIO)" "$n" "lock: a process with GROUP opens every node (what gpujail run gives a job)"
like "$(section job | grep '^groups')" " $gid( |\$)" "lock: a sudo caller's gpujail run job gets GROUP (the node's group)"
is "$(section job | grep -c '^/dev/nvidia[0-9]')" 1 "... its /dev holds its one GPU node"
is "$(section job | count ENXIO)" 1 "... which it opens through GROUP (ENXIO: no driver; EACCES without the group)"
is "$(section 'list not reloaded' | jq -r .state)" partial "list: partial while the module has its old parameters"
like "$(section 'list not reloaded' | jq -r '.problems[]')" "reload the NVIDIA modules" "list: says why"
is "$(section list | head -1 | jq -c '[.state, .group, .open_nodes, .problems]')" "[\"locked\",\"$GRP\",[],[]]" \
        "list: locked once the module has the lockdown's parameters"
like "$(section list)" "^Lockdown: locked \(group $GRP\)$" "list table: locked"
unlike "$(section list)" "bypass" "list: no bypass warning"
like "$(section again)" "gpujail-lockdown.conf: ok" "again: the modprobe.d file is left as it is"
is "$(section again | grep -c ': ok (0660 0:')" "$n" "again: every node ok"
like "$(section again)" "rc=0" "again: exit 0"
like "$(section 'plain setup')" "rc=0" "plain setup --fix, module not reloaded: every node ok"
like "$(section 'plain setup')" "/dev/nvidiactl 660 0:$gid" "plain setup --fix: the lockdown wins over the stale parameters"
like "$(section undo)" "removed /etc/modprobe.d/gpujail-lockdown.conf" "undo: removes the modprobe.d file"
like "$(section undo)" "removed /etc/udev/rules.d/72-gpujail-lockdown.rules" "undo: removes the udev rule"
like "$(section undo)" "warning: the loaded nvidia module still gives its nodes 0660 0:$gid" \
        "undo: says the module keeps the lockdown's parameters until reloaded"
like "$(section undo)" "rc=0" "undo: exit 0"
is "$(section 'undo perms' | grep -c ' 666 0:0$')" "$n" "undo: every node back to the driver's 0666 root:root"
is "$(section 'undo nobody' | count ENXIO)" "$n" "undo: a plain user opens every node again"
like "$(section 'undo again')" "gpujail-lockdown.conf: absent" "undo again: nothing to remove"
like "$(section 'undo again')" "rc=0" "undo again: exit 0"
is "$(section 'list after undo' | jq -r .state)" open "undo: list says open"

# ---- mixed: NVIDIA with nvidia-drm nodes, Intel iGPU, AMD with kfd, an NPU (accel)
in_ns "$(fakehost mixed)" <<'EOF'
echo "== nodes"; gpu_nodes
echo "== lock"; $G setup --lockdown "$GRP" 2>&1; echo rc=$?
echo "== perms"; perms $(gpu_nodes)
echo "== nobody"; as_nobody $(gpu_nodes)
echo "== member"; as_member $(gpu_nodes)
module_reloaded
echo "== list"; $G list --json | jq -c .lockdown; $G list 2>&1 | grep -E "bypass|^Lockdown"
echo "== undo"; $G setup --lockdown --undo 2>&1; echo rc=$?
echo "== undo perms"; perms $(gpu_nodes)
echo "== groups"; echo "video=$(getent group video | cut -d: -f3) render=$(getent group render | cut -d: -f3)"
EOF
is "$status" 0 "mixed: the scenario ran" || show
n=$(section nodes | wc -l)
like "$(section nodes | tr '\n' ' ')" "/dev/accel/accel0 .*/dev/dri/card.*/dev/dri/renderD.*/dev/kfd .*/dev/nvidia0 " \
        "mixed: accel, DRM, kfd and NVIDIA nodes are GPU nodes"
like "$(section lock)" "rc=0" "mixed lock: exit 0"
is "$(section perms | grep -c ' 660 0:[1-9][0-9]*$')" "$n" "mixed lock: every GPU node 0660 root:GROUP"
is "$(section nobody | count EACCES)" "$n" "mixed lock: a plain user gets EACCES on every GPU node"
is "$(section member | count ENXIO)" "$n" "mixed lock: GROUP opens every GPU node"
is "$(section list | head -1 | jq -r .state)" locked "mixed: list says locked"
unlike "$(section list)" "bypass" "mixed: no bypass warning"
like "$(section undo)" "rc=0" "mixed undo: exit 0"
eval "$(section groups)"
up=$(section 'undo perms')
like "$up" "/dev/dri/card0 660 0:${video:-0}" "mixed undo: card root:video 0660 (Debian 12's 50-udev-default.rules)"
like "$up" "/dev/dri/renderD128 660 0:${render:-0}" "mixed undo: render node root:render 0660"
like "$up" "/dev/kfd 660 0:${render:-0}" "mixed undo: kfd root:render 0660"
like "$up" "/dev/accel/accel0 600 0:0" "mixed undo: accel root:root 0600 (no udev rule)"
like "$up" "/dev/nvidia0 666 0:0" "mixed undo: NVIDIA 0666 root:root"

# ---- an ACL, MIG capabilities and a planted symlink (a private copy of nvidia1)
h=$(fakehost_private nvidia1 caps)
victim=$TEST_TMP/victim
echo precious >"$victim"
chmod 0600 "$victim"
VICTIM=$victim in_ns "$h" <<'EOF'
mkdir -p /dev/nvidia-caps && mknod -m 0400 /dev/nvidia-caps/nvidia-cap1 c 509 1 &&
        mknod -m 0444 /dev/nvidia-caps/nvidia-cap2 c 509 2 && ln -s "$VICTIM" /dev/nvidia-caps/nvidia-cap3
# Only nobody's ACL lets nobody in: user::rw- user:65534:rw- group::rw- mask::rw- other::---
chmod 0660 /dev/nvidia0
python3 -c '
import os, struct
e = lambda tag, perm, id=0xffffffff: struct.pack("<HHI", tag, perm, id)
acl = struct.pack("<I", 2) + e(1, 6) + e(2, 6, 65534) + e(4, 6) + e(0x10, 6) + e(0x20, 0)
os.setxattr("/dev/nvidia0", "system.posix_acl_access", acl)' && echo acl=yes
echo "== before"; as_nobody /dev/nvidia0 /dev/nvidia-caps/nvidia-cap2
echo "== lock"; $G setup --lockdown "$GRP" 2>&1; echo rc=$?
echo "== perms"; perms /dev/nvidia0 /dev/nvidia-caps/nvidia-cap1 /dev/nvidia-caps/nvidia-cap2
echo "== acl"; python3 -c 'import os; print(len(os.listxattr("/dev/nvidia0")))'
echo "== nobody"; as_nobody /dev/nvidia0 /dev/nvidia-caps/nvidia-cap2
echo "== undo"; $G setup --lockdown --undo 2>&1; echo rc=$?
echo "== undo perms"; perms /dev/nvidia-caps/nvidia-cap1 /dev/nvidia-caps/nvidia-cap2
EOF
is "$status" 0 "caps: the scenario ran" || show
if grep -q '^acl=yes$' <<<"$stdout"; then
        like "$(section before)" "/dev/nvidia0 ENXIO" "ACL: before, nobody opens /dev/nvidia0 through its ACL"
        like "$(section lock)" "set /dev/nvidia0 to 0660 0:[0-9]+ \(was 0660 0:0, and an ACL\)" "ACL: lock says it drops the ACL"
        is "$(section acl)" 0 "ACL: gone after the lockdown"
        like "$(section nobody)" "/dev/nvidia0 EACCES" "ACL: nobody gets EACCES after the lockdown"
else
        skip "the fake /dev takes no ACL here" "ACL: dropped by the lockdown"
fi
like "$(section lock)" "rc=0" "caps lock: exit 0 (the symlink is no GPU node, not an error)"
like "$(section perms)" "nvidia-cap1 400 0:[1-9]" "caps: mig config stays 0400, root:GROUP (the group gains nothing)"
like "$(section perms)" "nvidia-cap2 440 0:[1-9]" "caps: mig monitor 0444 -> 0440 root:GROUP"
like "$(section nobody)" "nvidia-cap2 EACCES" "caps: nobody gets EACCES on a capability"
like "$(section 'undo perms')" "nvidia-cap1 400 0:0" "caps undo: 0400 root:root"
like "$(section 'undo perms')" "nvidia-cap2 444 0:0" "caps undo: 0444 root:root"
is "$(stat -c '%a %u' "$victim"):$(cat "$victim")" "600 0:precious" "a symlink among the caps: its target untouched"

# ---- refused: bad groups, bad options, not root; warned: a group with members
in_ns "$(fakehost nvidia1)" <<'EOF'
echo "== missing"; $G setup --lockdown no-such-group 2>&1; echo rc=$?
echo "== root"; $G setup --lockdown root 2>&1; echo rc=$?
echo "== gid 0"; $G setup --lockdown=0 --dry-run 2>&1; echo rc=$?
echo "== none"; $G setup --lockdown 2>&1; echo rc=$?
echo "== undo alone"; $G setup --undo 2>&1; echo rc=$?
echo "== with fix"; $G setup --lockdown "$GRP" --fix 2>&1; echo rc=$?
echo "== not root"; env -u LD_PRELOAD setpriv --reuid=65534 --regid=65534 --clear-groups $G setup --lockdown "$GRP" 2>&1; echo rc=$?
echo "== files"; ls /etc/modprobe.d /etc/udev/rules.d 2>&1
useradd --no-create-home --groups "$GRP" gjlk-alice
echo "== members dry"; $G setup --lockdown "$GRP" --dry-run 2>&1; echo rc=$?
echo "== members"; $G setup --lockdown "$GRP" 2>&1; echo rc=$?
echo "== members list"; $G list --json | jq -c .lockdown
EOF
is "$status" 0 "refusals: the scenario ran" || show
like "$(section missing)" "group 'no-such-group' does not exist.*groupadd --system gpujail" \
        "missing group: refused, says how to make one"
like "$(section missing)" "rc=125" "missing group: exit 125"
like "$(section root)" "refusing group root \(gid 0\)" "root: refused"
like "$(section root)" "rc=125" "root: exit 125"
like "$(section 'gid 0')" "refusing group root \(gid 0\)" "gid 0 by number: refused"
like "$(section 'gid 0')" "rc=125" "gid 0 by number: exit 125"
like "$(section none)" "which group\? .*groupadd --system gpujail" "no group: asks which, says how to make one"
like "$(section none)" "rc=125" "no group: exit 125"
like "$(section 'undo alone')" "--undo goes with --lockdown" "--undo alone: refused"
like "$(section 'undo alone')" "rc=125" "--undo alone: exit 125"
like "$(section 'with fix')" "rc=125" "--lockdown with --fix: refused"
like "$(section 'not root')" "run it as root" "not root: refused"
like "$(section 'not root')" "rc=125" "not root: exit 125"
is "$(section files | grep -c 'No such file')" 2 "refused: no file written"
like "$(section 'members dry')" "warning: group $GRP has members \(gjlk-alice\): they open every GPU without gpujail" \
        "a group with members: warned"
like "$(section 'members dry')" "rc=0" "a group with members: a warning, not a refusal"
like "$(section members)" "warning: group $GRP has members \(gjlk-alice\)" "a group with members: warned after the lockdown too"
is "$(section 'members list' | jq -r .state)" partial "a group with members: list says partial"
like "$(section 'members list' | jq -r '.problems[]')" "has members \(gjlk-alice\)" "a group with members: list names them"

# ---- a MIG host: setup keeps the lockdown's permissions on the nvidia-cap nodes it makes
in_ns "$(fakehost mig8)" <<'EOF'
$G setup --lockdown "$GRP" >/dev/null 2>&1 || echo "lock failed"
rm /dev/nvidia-caps/nvidia-cap427
echo "== setup"; $G setup --no-modules 2>&1; echo rc=$?
echo "== perms"; perms /dev/nvidia-caps/nvidia-cap427 /dev/nvidia-caps/nvidia-cap426
EOF
is "$status" 0 "MIG lockdown: the scenario ran" || show
like "$(section setup)" "rc=0" "MIG lockdown: setup exits 0 (locked caps nodes are as wanted)"
like "$(section setup)" "created /dev/nvidia-caps/nvidia-cap427 \\(c 509:427, 0440, 0:[1-9]" \
        "MIG lockdown: a missing caps node is made with the lockdown's 0440 root:GROUP"
like "$(section perms | tr '\n' ' ')" "nvidia-cap427 440 0:[1-9].*nvidia-cap426 440 0:[1-9]" \
        "MIG lockdown: made and kept caps nodes alike"

# ---- the machine itself: untouched
host_dev >"$TEST_TMP/dev.after"
host_etc >"$TEST_TMP/etc.after"
ok cmp -s "$TEST_TMP/dev.before" "$TEST_TMP/dev.after" "the machine's own /dev is unchanged" ||
        diag "$(diff "$TEST_TMP/dev.before" "$TEST_TMP/dev.after")"
ok cmp -s "$TEST_TMP/etc.before" "$TEST_TMP/etc.after" "the machine's /etc is unchanged (files, groups, users)" ||
        diag "$(diff "$TEST_TMP/etc.before" "$TEST_TMP/etc.after")"
done_testing
