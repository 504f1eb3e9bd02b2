#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The shared-host trust model (docs/shared-hosts.md), attacked for real: a user
# that this test creates, Debian's sudo, and a sudoers drop-in that grants the
# user nothing but `gpujail run *`. Every way out that the issue found (root
# through --user, capabilities, other groups, root-only nodes, bind sources read
# as root, mount points made in the host's /etc, a --rootfs in /etc) ends in exit
# 125 with a message naming the option, and leaves the host as it was; the same
# commands as root still work. Then the policy file: GPUs, max-gpus, allow,
# groups, fail-closed ownership checks, the audit line; and GPUJAIL_PROC_ROOT,
# which only root may turn.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"
require_cmd sudo useradd userdel runuser visudo

U=gjt$$
BASE=/tmp/gpujail-sudo-$$ # the user must reach it: not below the 0700 $TEST_TMP
SUDOERS=/etc/sudoers.d/gpujail-test-$$
POLICY_DIR=/etc/gpujail

useradd -M -U -s /bin/sh -d "$BASE/home" "$U" || bail_out "cannot create user $U"
defer userdel -f "$U"
defer rm -rf "$BASE"
U_UID=$(id -u "$U")
U_GID=$(id -g "$U")
SHADOW_GID=$(getent group shadow | cut -d: -f3)

mkdir -p "$BASE/home/work" "$BASE/secret" "$BASE/userroot" "$BASE/rootroot"
chmod 0755 "$BASE"
chown -R "$U:$U" "$BASE/home"
chmod 0700 "$BASE/home" "$BASE/secret"
echo "top secret" >"$BASE/secret/file"
echo "mine" >"$BASE/home/mine"
chown "$U:$U" "$BASE/home/mine"
# rootfs images: one the user owns (no /tmp in it), one root owns (complete)
for r in userroot rootroot; do
        mkdir -p "$BASE/$r/bin" "$BASE/$r/proc" "$BASE/$r/sys" "$BASE/$r/dev"
        cp /bin/busybox "$BASE/$r/bin/busybox"
        for c in sh ls cat id stat echo true; do ln -sf busybox "$BASE/$r/bin/$c"; done
done
mkdir -p "$BASE/rootroot/tmp"
chown -R "$U:$U" "$BASE/userroot"

# The deployment the issue describes: a rule that grants `gpujail run *` and
# nothing else. sudo drops LD_PRELOAD whatever env_keep says, and the simulated
# GPU host needs fakesysfs.so preloaded (tests/fakehost/enter): the rule names a
# root-owned wrapper that adds exactly that library and execs the real gpujail,
# which sees what sudo set (SUDO_UID, ...). GPUJAIL_* are kept to attack with them.
FAKESYSFS=${FAKESYSFS:-$GPUJAIL_BUILD/tests/fakehost/fakesysfs.so}
[[ -f $FAKESYSFS ]] || skip_all "no $FAKESYSFS to simulate a GPU host under sudo"
mkdir -p "$BASE/bin"
WRAP=$BASE/bin/gpujail
printf '#!/bin/sh\nLD_PRELOAD=%q\nexport LD_PRELOAD\nexec %q "$@"\n' "$FAKESYSFS" "$GPUJAIL" >"$WRAP"
chmod 0755 "$WRAP"
cat >"$SUDOERS.tmp" <<EOF
Defaults:$U !requiretty, !lecture, env_keep += "ASAN_OPTIONS UBSAN_OPTIONS GPUJAIL_DEBUG GPUJAIL_PROC_ROOT"
$U ALL=(root) NOPASSWD: $WRAP run *
EOF
visudo -cqf "$SUDOERS.tmp" || bail_out "the test's sudoers drop-in does not parse"
chmod 0440 "$SUDOERS.tmp" && mv "$SUDOERS.tmp" "$SUDOERS"
defer rm -f "$SUDOERS"

# The policy lives in /etc/gpujail: each policy case runs in a private mount
# namespace with a tmpfs there, so the host's /etc is never written (the
# directory itself is made, and removed, only where the host lacks it).
if [[ ! -d $POLICY_DIR ]]; then
        mkdir "$POLICY_DIR" && defer rmdir "$POLICY_DIR"
fi

HOST=$(fakehost nvidia8)
N_GPUS=$(hostinfo nvidia8 '.devices | length')

# urun [gpujail run options] -- CMD...: as the user, through sudo, in $CWD
# (default: the user's work dir), on the simulated host; with $POLICY (a
# file's text) installed as /etc/gpujail/policy.conf, root-owned 0644, first.
CWD=$BASE/home/work
urun() {
        run bash -c 'cd "$1" && shift && exec "$@"' sh "$CWD" "$FAKEHOST/enter" "$HOST" -- \
                "$GPUJAIL_SRC/tests/helpers/with-policy" "${POLICY-}" "${POLICY_MODE:-0644}" \
                runuser -u "$U" -- sudo -n -- "$WRAP" run "$@"
}
# rrun: the same command as root itself.
rrun() {
        run bash -c 'cd "$1" && shift && exec "$@"' sh "$CWD" "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run "$@"
}

run_snapshot before

# ---- the sudoers line works, and the job is the user ----
urun -- id -u
is "$status" 0 "sudo gpujail run, as a user sudoers allows: runs" || show
is "$stdout" "$U_UID" "... as that user"
urun -- sh -c 'id -G'
like "$stdout" "(^| )$U_GID( |$)" "... with the user's own groups"
unlike "$stdout" "(^| )0( |$)" "... and not root's"

# ---- every privileged option is refused for the user (exit 125, the option named) ----
refused() { # OPTION-REGEX "what" -- gpujail run args...
        local option=$1 what=$2
        shift 3
        urun "$@"
        is "$status" 125 "user: $what is refused with 125" || show
        like "$stderr" "$option is not allowed for $U" "... naming the option ($option)"
        like "$stderr" "allow = " "... and the policy line that would allow it"
}
refused --user "--user 0 (root)" -- --user 0 -- cat /etc/shadow
refused --user "--user OWN:shadow (another group)" -- --user "$U_UID:$SHADOW_GID" -- id -G
refused --user "--user of another user (65534)" -- --user 65534 -- id -u
refused --cap-add "--cap-add CAP_SETUID" -- --cap-add CAP_SETUID --cap-add CAP_DAC_OVERRIDE -- true
refused --allow-mknod "--allow-mknod" -- --allow-mknod --gpu 0 -- true
refused --device "--device /dev/kvm" -- --device /dev/kvm -- true
refused --device "--device /dev/loop0" -- --device /dev/loop0 -- true

urun --user "$U_UID:$U_GID" -- id -u
is "$status" 0 "user: --user as oneself, own group, is no privilege: allowed" || show

# ---- what the user names is opened with the user's rights ----
urun --bind "$BASE/secret/file:/x" -- cat /x
is "$status" 125 "user: --bind of a file in a 0700 root dir is refused" || show
like "$stderr" "cannot bind $BASE/secret/file as $U: Permission denied" "... read as the user, not as root"
unlike "$stdout" "top secret" "... and nothing of it reaches the job"

urun --bind "$BASE/home/mine:/tmp/mine:ro" -- cat /tmp/mine
is "$stdout" "mine" "user: --bind of the user's own file into the job's /tmp works" || show

CWD=/etc urun --bind "$BASE/home/mine:/etc/gj-newname-$$" -- true
is "$status" 125 "user: with the cwd in /etc, --bind SRC:/etc/newname is refused" || show
like "$stderr" "creates mount points for $U only in the job's /tmp" "... saying where mount points may be made"
nok "[ -e /etc/gj-newname-$$ ]" "... and nothing was created in the host's /etc"

urun --rootfs /etc -- true
is "$status" 125 "user: --rootfs /etc is refused" || show
ok "! ls -d /etc/tmp /etc/proc /etc/sys /etc/dev 2>/dev/null | grep -q ." "... and /etc/{tmp,proc,sys,dev} were not created"

urun --rootfs "$BASE/secret" -- true
is "$status" 125 "user: --rootfs of a directory the user cannot enter is refused" || show

urun --rootfs "$BASE/userroot" -- sh -c 'echo ok > /tmp/w && cat /tmp/w'
is "$stdout" "ok" "user: a --rootfs the user owns works (its /tmp made for them)" || show
is "$(stat -c %U "$BASE/userroot/tmp" 2>/dev/null)" "$U" "... and the mount point made in it is the user's, not root's"

urun --rootfs "$BASE/rootroot" -- id -u
is "$stdout" "$U_UID" "user: a complete root-owned --rootfs that the user can read works" || show

CWD=$BASE/secret urun -- true
is "$status" 125 "user: a working directory the user cannot enter is refused" || show

# ---- the same commands as root itself still work ----
rrun --user 0 -- cat /etc/shadow
is "$status" 0 "root: --user 0 still works" || show
rrun --cap-add CAP_NET_RAW -- sh -c 'grep CapEff /proc/self/status'
isnt "$stdout" "CapEff:	0000000000000000" "root: --cap-add still works"
rrun --device /dev/nvidiactl -- true
is "$status" 0 "root: --device still works" || show
rrun --bind "$BASE/secret/file:/tmp/x" -- cat /tmp/x
is "$stdout" "top secret" "root: --bind of a root-only file still works"

# ---- who is calling: the elevating tool's word is checked ----
run env SUDO_UID="$U_UID" SUDO_GID="$U_GID" SUDO_USER=root "$GPUJAIL" run -- true
is "$status" 125 "SUDO_USER that is not SUDO_UID's name is refused" || show
like "$stderr" "names the caller 'root', but uid $U_UID is '$U'" "... saying why"
run env SUDO_UID="$U_UID" SUDO_GID="$SHADOW_GID" "$GPUJAIL" run -- true
is "$status" 125 "SUDO_GID that is not one of the user's groups is refused" || show
run env SUDO_UID="$U_UID" PKEXEC_UID=0 "$GPUJAIL" run -- true
is "$status" 125 "two elevating tools at once are refused, not guessed between" || show
run env SUDO_UID=4000000 "$GPUJAIL" run -- true
is "$status" 125 "a SUDO_UID that is no user is refused" || show

# ---- test knobs are root's ----
GPUJAIL_PROC_ROOT=$BASE/home urun --gpu 0 -- true
like "$stderr" "ignoring GPUJAIL_PROC_ROOT" "user: GPUJAIL_PROC_ROOT is ignored, and said so"
is "$status" 0 "... and the job still gets its GPU from the real /proc" || show

# ---- the policy file ----
POLICY=$'[default]\ngpus = 0,1\nmax-gpus = 1\n'
urun --gpu 2 -- true
is "$status" 125 "policy gpus = 0,1: GPU 2 is refused" || show
like "$stderr" "GPU 2 is not $U's to use: .*policy.conf:2 gives $U the GPUs 0,1" "... naming the line and what the user may have"
urun --gpu 0,1 -- true
is "$status" 125 "policy max-gpus = 1: two GPUs are refused" || show
like "$stderr" "at most 1 GPU" "... saying the limit"
urun --gpu 1 -- true
is "$status" 0 "policy: a granted GPU runs" || show
urun --gpu all -- true
is "$status" 125 "policy: --gpu all gives more than the policy's GPUs: refused" || show

POLICY=$'[default]\ngpus = 0\n\n[user '"$U"$']\nallow = cap-add\nmax-gpus = unlimited\n'
urun --cap-add CAP_NET_RAW -- sh -c 'grep CapEff /proc/self/status'
is "$status" 0 "policy: [user NAME] allow = cap-add lets that user keep a capability" || show
urun --device /dev/null -- true
is "$status" 125 "... and nothing it does not name (--device)" || show
like "$stderr" "--device is not allowed for $U \\(" "... said with the option"

POLICY=$'[group '"$U"$']\nallow = device\n'
urun --device /dev/null -- true
is "$status" 0 "policy: [group NAME] applies to the group's members" || show

POLICY=$'[default]\ngpus = 0\nfrobnicate = 1\n'
urun --gpu 0 -- true
is "$status" 125 "a malformed policy fails closed" || show
like "$stderr" "policy.conf:3" "... naming the file and line"

POLICY=$'[default]\ngpus = all\n' POLICY_MODE=0666 urun --gpu 0 -- true
is "$status" 125 "a policy file writable by others fails closed" || show
like "$stderr" "policy.conf" "... naming the file"

# ---- the audit line ----
POLICY='' GPUJAIL_DEBUG=1 urun --gpu 0 -- true
like "$stderr" "audit: run caller=$U uid=$U_UID via=sudo decision=allowed gpus=0 devices=GPU-" \
        "audit: one line for an allowed run (caller, GPUs, decision)"
like "$stderr" 'command="true"' "... with the command"
GPUJAIL_DEBUG=1 urun --cap-add CAP_SYS_ADMIN -- "$(printf 'evil\nsecond line')"
like "$stderr" "audit: run caller=$U .* decision=refused" "audit: a refused run is logged as refused"
like "$stderr" 'command="evil\\x0asecond line"' "... with the command's control characters escaped"

# ---- leases: a user is refused a GPU that root's job holds, without root's command ----
(cd "$BASE" && exec "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 1 -- sleep 60 >/dev/null 2>&1) &
ROOT_JOB=$!
for ((i = 0; i < 100; i++)); do
        grep -aqs '^cgroup=' "$HOST/run-gpujail/leases/gpu-$(hostinfo nvidia8 '.devices[1].uuid').lock" && break
        sleep 0.05
done
POLICY='' urun --gpu 1 -- true
is "$status" 125 "user: --gpu 1 while root's job holds it is refused" || show
like "$stderr" "GPU 1 is held by root \\(uid 0\\), pid $ROOT_JOB, since [0-9:]+;" "... naming root and its pid"
unlike "$stderr" "sleep 60" "... but not root's command line"
POLICY='' urun --gpu auto -- sh -c 'echo "$GPUJAIL_DEVICES"'
is "$stdout" "$(hostinfo nvidia8 '.devices[0].uuid')" "user: --gpu auto gets a free GPU" || show
POLICY=$'[default]\ngpus = 1\n' urun --gpu auto -- true
is "$status" 125 "user: --gpu auto when the policy's only GPU is held: refused" || show
like "$stderr" "no 1 free GPU\\(s\\) for --gpu auto among the 1 $U may use" "... counting only the GPUs the user may use"
POLICY=$'[default]\nmax-gpus = 2\n' urun --gpu auto:3 -- true
is "$status" 125 "user: --gpu auto:3 over max-gpus = 2: refused" || show
like "$stderr" "at most 2 GPU" "... saying the limit"
POLICY='' urun --gpu 2 --share -- true
is "$status" 125 "user: --share without the policy's word is refused" || show
like "$stderr" "--share is not allowed for $U" "... naming the option"
POLICY=$'[default]\nallow = share\n' urun --gpu 2 --share -- true
is "$status" 0 "user: --share with allow = share runs" || show
kill -TERM "$ROOT_JOB"
wait "$ROOT_JOB"

run_assert_host_unchanged before "the host is unchanged: mounts, cgroups, BPF programs"
nok "[ -e /etc/gpujail/policy.conf ]" "no policy file was left in the host's /etc/gpujail"
done_testing
