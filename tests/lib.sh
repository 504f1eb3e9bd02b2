# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Sourced by every end-to-end test (tests/e2e/test-*.sh):
#
#   #!/bin/bash
#   . "$(dirname "$0")/../lib.sh"
#   require_root
#   h=$(fakehost nvidia8)
#   run on_fakehost nvidia8 -- "$GPUJAIL" list --json
#   is "$status" 0 "list exits 0"
#   ok '[ "$(jq length <<<"$output")" -gt 0 ]' "list prints JSON"
#   done_testing
#
# TAP:   plan_later, ok, nok, is, isnt, like, skip, skip_all, diag, done_testing
# run:   run CMD... -> $status, $output (stdout+stderr), $stdout, $stderr
# env:   $GPUJAIL, $GPUJAIL_HOOK, $GPUJAIL_BUILD, $GPUJAIL_SRC, $HELPERS, $TEST_TMP
# hosts: fakehost SHAPE (prints DIR), on_fakehost SHAPE -- CMD..., hostinfo SHAPE JQ,
#        fakehost_private SHAPE NAME (a copy to modify), on_host DIR -- CMD...
# guard: require_root, require_cmd, require_cgroup_v1_devices, require_cgroup_v2
# v2:    write_v2ns -> $V2NS CMD... (a pure cgroup v2 view, in a private mount namespace)
# state: snapshot_host NAME, assert_host_unchanged NAME "name"
# clean: defer CMD... (run at exit, last first), then $TEST_TMP is removed
#
# A test that cannot run here calls skip_all "why" (TAP "1..0 # SKIP why", exit 77),
# or skip "why" "name" for one check. It never passes by doing nothing.

GPUJAIL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPUJAIL_BUILD=${GPUJAIL_BUILD:-$GPUJAIL_SRC/build}
GPUJAIL_BUILD=$(cd "$GPUJAIL_BUILD" 2>/dev/null && pwd || echo "$GPUJAIL_BUILD")
GPUJAIL=${GPUJAIL:-$GPUJAIL_BUILD/cli/gpujail}
GPUJAIL_HOOK=${GPUJAIL_HOOK:-$GPUJAIL_BUILD/cli/gpujail-hook}
HELPERS=${HELPERS:-$GPUJAIL_BUILD/tests/helpers}
FAKEHOST=$GPUJAIL_SRC/tests/fakehost
export GPUJAIL_SRC GPUJAIL_BUILD GPUJAIL GPUJAIL_HOOK HELPERS
[[ -z ${FAKESYSFS:-} && -f $GPUJAIL_BUILD/tests/fakehost/fakesysfs.so ]] &&
        export FAKESYSFS=$GPUJAIL_BUILD/tests/fakehost/fakesysfs.so

_tap_n=0
_tap_failed=0
_tap_planned=0
_tap_deferred=()

# ---------------------------------------------------------------- TAP

plan_later() { :; } # the plan ("1..N") is printed by done_testing

_tap_result() { # OK(0/1) NAME
        _tap_n=$((_tap_n + 1))
        if [[ $1 -eq 0 ]]; then
                echo "ok $_tap_n - $2"
        else
                echo "not ok $_tap_n - $2"
                _tap_failed=$((_tap_failed + 1))
                local line sub file
                read -r line sub file < <(caller 1)
                echo "#   failed at ${file:-?}:${line:-?}"
        fi
        return "$1"
}

# ok COND "name"       COND is a shell expression, eval'ed:  ok '[ -e /dev/x ]' "x exists"
# ok CMD ARG... "name" a command run as is:                  ok grep -q x file "x in file"
ok() {
        local name=${!#} r
        if [[ $# -eq 2 ]]; then
                (eval "$1") >/dev/null 2>&1
                r=$?
        else
                "${@:1:$#-1}" >/dev/null 2>&1
                r=$?
        fi
        _tap_result $((r != 0)) "$name"
}

# nok COND "name": passes when COND fails.
nok() {
        local name=${!#} r
        if [[ $# -eq 2 ]]; then (eval "$1") >/dev/null 2>&1; else "${@:1:$#-1}" >/dev/null 2>&1; fi
        r=$?
        _tap_result $((r == 0)) "$name"
}

is() { # GOT WANT "name"
        if [[ "$1" == "$2" ]]; then
                _tap_result 0 "$3"
        else
                _tap_result 1 "$3"
                diag "got:  '$1'"
                diag "want: '$2'"
                return 1
        fi
}

isnt() { # GOT UNWANTED "name"
        if [[ "$1" != "$2" ]]; then _tap_result 0 "$3"; else _tap_result 1 "$3"; diag "got '$1'"; return 1; fi
}

like() { # GOT EXTENDED-REGEX "name"
        if grep -Eq -- "$2" <<<"$1"; then
                _tap_result 0 "$3"
        else
                _tap_result 1 "$3"
                diag "no match for /$2/ in:"
                diag "$1"
                return 1
        fi
}

unlike() { # GOT EXTENDED-REGEX "name"
        if ! grep -Eq -- "$2" <<<"$1"; then
                _tap_result 0 "$3"
        else
                _tap_result 1 "$3"
                diag "unexpected match for /$2/ in:"
                diag "$1"
                return 1
        fi
}

skip() { # WHY "name"
        _tap_n=$((_tap_n + 1))
        echo "ok $_tap_n - $2 # SKIP $1"
}

skip_all() { # WHY
        echo "1..0 # SKIP $1"
        _tap_planned=1
        exit 77
}

diag() { # MSG...: TAP comment lines (stdout, so the runner shows them with the failure)
        local line
        while IFS= read -r line; do echo "# $line"; done <<<"$*"
}

bail_out() { echo "Bail out! $*"; _tap_planned=1; exit 1; }

done_testing() {
        echo "1..$_tap_n"
        _tap_planned=1
        [[ $_tap_failed -eq 0 ]] && exit 0
        exit 1
}

# ---------------------------------------------------------------- running commands

# run CMD...: never fails; sets $status, $output (stdout then stderr), $stdout, $stderr.
run() {
        local o e
        o=$(mktemp "$TEST_TMP/run.XXXXXX")
        e=$(mktemp "$TEST_TMP/run.XXXXXX")
        "$@" >"$o" 2>"$e" </dev/null
        status=$?
        stdout=$(cat "$o")
        stderr=$(cat "$e")
        output=$(cat "$o" "$e")
        rm -f "$o" "$e"
        return 0
}

# show: dump the last run's output as TAP comments (call after a failed check).
show() { diag "status=$status"; [[ -n $output ]] && diag "$output"; return 0; }

# ---------------------------------------------------------------- requirements

require_root() { [[ $(id -u) -eq 0 ]] || skip_all "needs root"; }

require_cmd() { # CMD...
        local c
        for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed"; done
}

require_built() { # PATH...: a built binary the test needs (e.g. "$GPUJAIL")
        local p
        for p in "$@"; do [[ -x $p ]] || skip_all "$p is not built"; done
}

require_cgroup_v1_devices() {
        [[ -f /sys/fs/cgroup/devices/devices.allow ]] || skip_all "no cgroup v1 devices controller"
}

cgroup2_root() { awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts; }

# Whether the build under test ($GPUJAIL_BUILD) is the sanitizer one.
build_is_sanitized() {
        command -v meson >/dev/null && [[ -d $GPUJAIL_BUILD/meson-info ]] &&
                meson introspect --buildoptions "$GPUJAIL_BUILD" 2>/dev/null |
                jq -e '.[] | select(.name == "b_sanitize") | .value != "none"' >/dev/null
}

require_cgroup_v2() {
        [[ -n $(cgroup2_root) ]] || skip_all "no cgroup2 mount"
}

# write_v2ns: writes $TEST_TMP/v2ns and sets V2NS to it: `$V2NS CMD...`, in a private
# mount namespace (fakehost/enter's), runs CMD with /sys/fs/cgroup as on a pure cgroup v2
# host (the hybrid tree unmounted there, the one cgroup2 hierarchy mounted with the host
# mount's own options: a cgroup2 mount's options are global). Skips the test where that
# cannot be made.
write_v2ns() {
        cat >"$TEST_TMP/v2ns" <<'EOF'
#!/bin/bash
set -e
if [[ $(stat -f -c %T /sys/fs/cgroup) != cgroup2fs ]]; then
        # The super options: the field after fstype and source, past the optional fields.
        opts=$(awk '{ for (i = 7; i < NF && $i != "-"; i++) ; if ($(i + 1) == "cgroup2") { print $(i + 3); exit } }' \
                /proc/self/mountinfo)
        opts=${opts#rw}; opts=${opts#,}
        umount -R /sys/fs/cgroup
        mount -t cgroup2 ${opts:+-o "$opts"} cgroup2 /sys/fs/cgroup
fi
exec "$@"
EOF
        chmod +x "$TEST_TMP/v2ns"
        V2NS=$TEST_TMP/v2ns
        local got
        got=$(unshare -m --propagation private "$V2NS" stat -f -c %T /sys/fs/cgroup 2>&1)
        [[ $got == cgroup2fs ]] || skip_all "cannot make a pure cgroup v2 mount namespace here: $got"
}

# ---------------------------------------------------------------- temp dir and cleanup

# defer CMD...: run at exit (last registered first), before $TEST_TMP goes.
defer() { _tap_deferred+=("$(printf '%q ' "$@")"); }

_lib_exit() {
        local rc=$? i
        for ((i = ${#_tap_deferred[@]} - 1; i >= 0; i--)); do
                eval "${_tap_deferred[$i]}" >/dev/null 2>&1 || true
        done
        if [[ -n ${TEST_TMP:-} && -d $TEST_TMP ]]; then
                # Never follow a mount a test left behind into the host.
                if grep -q " ${TEST_TMP}[/ ]" /proc/self/mountinfo 2>/dev/null; then
                        echo "# lib.sh: mounts left under $TEST_TMP; not removing it" >&2
                else
                        rm -rf --one-file-system "$TEST_TMP"
                fi
        fi
        if [[ $_tap_planned -eq 0 && $rc -ne 77 ]]; then
                echo "# test exited ($rc) before done_testing"
                echo "1..$_tap_n"
                [[ $rc -eq 0 ]] && rc=1
        fi
        exit "$rc"
}
trap _lib_exit EXIT

# /tmp here is not nodev: device nodes made below it (mknod) can be opened.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpujail-test.XXXXXX")
export TEST_TMP

# ---------------------------------------------------------------- simulated hosts

# fakehost SHAPE: build the shape once into $TEST_TMP/hosts/SHAPE; print its path.
fakehost() {
        local d=$TEST_TMP/hosts/$1
        if [[ ! -f $d/hostinfo.json ]]; then
                "$FAKEHOST/mkhost" "$1" "$d" >&2 || bail_out "mkhost $1 failed"
        fi
        echo "$d"
}

# on_fakehost SHAPE -- CMD...: run CMD on that simulated host (see tests/fakehost/README.md).
on_fakehost() {
        local shape=$1
        shift
        [[ ${1:-} == -- ]] && shift
        "$FAKEHOST/enter" "$(fakehost "$shape")" -- "$@"
}

# fakehost_private SHAPE NAME: a fresh copy of SHAPE in $TEST_TMP/private/NAME, for a
# test that changes the host (deletes a node, corrupts a file); print its path.
fakehost_private() {
        local d=$TEST_TMP/private/$2
        "$FAKEHOST/mkhost" "$1" "$d" >&2 || bail_out "mkhost $1 failed"
        echo "$d"
}

# on_host DIR -- CMD...: like on_fakehost, for a host dir (fakehost_private's).
on_host() {
        local d=$1
        shift
        [[ ${1:-} == -- ]] && shift
        "$FAKEHOST/enter" "$d" -- "$@"
}

# hostinfo SHAPE JQ-FILTER: query the shape's hostinfo.json, e.g. hostinfo nvidia8 '.devices|length'
hostinfo() { jq -r "$2" "$(fakehost "$1")/hostinfo.json"; }

# ---------------------------------------------------------------- host state

# What "leave no trace" compares: only what gpujail and its tests could have
# made, so that a difference is always a leak of ours and never another
# program's work on a shared machine (a sandbox's per-command cgroups, someone
# else's chroot mounts). tests/e2e/test-leave-no-trace.sh proves that a leak
# of each kind is still seen, and that an unrelated change is not. Ours:
#   - a name: a path component gpujail (job cgroups <cgroup>/gpujail/run-<pid>-<hex>),
#     gpujail-* / gpujail.* (scratch cgroups, $TEST_TMP, /etc/gpujail, tmpfs
#     "gpujail-fakehost"), gj-* (the tests' runc containers, unit-test cgroups),
#     gjbench-* (bench/);
#   - cgroups: with such a component, or a podman container made with the
#     cgroupfs manager as the tests run podman (libpod_parent/libpod-<id>; podman
#     under systemd makes machine.slice/libpod-*.scope instead);
#   - BPF programs: on such a cgroup, or a device program on the cgroup2 root;
#   - mounts: whose mount point, root or source has such a component, or at or
#     below a place that the tests or gpujail mount over: /sys/fs/cgroup,
#     /sys/{devices,bus,class,module}, /proc/driver, /proc/devices, the CDI
#     directories, /dev itself and its GPU nodes.
_OURS_AWK='
function ours_name(c) { return c ~ /^(gpujail|gj)([-_.]|$)/ || c ~ /^gjbench-/ }
function ours_path(p,   n, c, i) {
        n = split(p, c, "/")
        for (i = 1; i <= n; i++) if (ours_name(c[i])) return 1
        return 0
}
function ours_cgroup(p) { return ours_path(p) || p ~ /\/libpod_parent\/libpod-[0-9a-f]+$/ }
function mounted_over(p) {
        return p ~ /^\/sys\/(fs\/cgroup|devices|bus|class|module)(\/|$)/ || p ~ /^\/proc\/(driver|devices)(\/|$)/ ||
               p ~ /^(\/var)?\/run\/cdi(\/|$)/ || p ~ /^\/etc\/cdi(\/|$)/ || p == "/dev" || p ~ /^\/dev\/(nvidia|dri|accel|kfd)/
}'

_host_cgroups() {
        find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | awk "$_OURS_AWK"'ours_cgroup($0)' | sort
}

_host_mounts() { # mount point, fs type, source of the host's mount namespace (PID 1's)
        awk "$_OURS_AWK"'
                { for (i = 7; i < NF && $i != "-"; i++) ; fs = $(i + 1); src = $(i + 2)
                  if (ours_path($5) || ours_path($4) || ours_path(src) || mounted_over($5)) print $5, fs, src }' \
                /proc/1/mountinfo | sort
}

_host_bpf() { # "<cgroup dir> <attach type> id=<prog id>"; type 6 = BPF_CGROUP_DEVICE
        if [[ -x $HELPERS/bpf-list ]]; then
                "$HELPERS/bpf-list" | awk -v root="$(cgroup2_root)" "$_OURS_AWK"'
                        ours_cgroup($1) || ($1 == root && $2 == 6)' | sort
        else
                echo "bpf-list not built: cgroup BPF programs not compared"
        fi
}

# Host paths outside $TEST_TMP that tests create (removed when they end), or
# that mark an escape a test looks for (/etc/gj-safepath-<pid> of test-safepath,
# a file or a directory): none may remain. /etc/gpujail: the mount point that
# tests make where the host has none (hook-common.sh). Names carry a pid or a random tail,
# so a leftover differs from any earlier one. /run/gpujail: GPU leases and queue tickets,
# which tests keep in their simulated host's own dir (tests/fakehost/enter): a lock file
# or a ticket here is a test that leased on the machine itself.
_host_files() {
        local p
        for p in /etc/gj-safepath-* /etc/gpujail /etc/gpujail-* /var/tmp/gpujail-* \
                /run/gpujail /run/gpujail/* /run/gpujail/*/*; do
                [[ -e $p || -L $p ]] && echo "$p"
        done
        return 0
}

# GPUJAIL_SNAPSHOT_IGNORE: an extended regex of snapshot lines to ignore, for a machine
# where something else makes cgroups while tests run (a sandbox's per-command cgroups,
# another test suite). Empty by default: CI compares everything.
_host_filter() {
        if [[ -n ${GPUJAIL_SNAPSHOT_IGNORE:-} ]]; then grep -Ev -- "$GPUJAIL_SNAPSHOT_IGNORE" || true; else cat; fi
}

# _host_state DIR: record the host's mounts, cgroup dirs and cgroup BPF programs in DIR.
_host_state() {
        mkdir -p "$1"
        _host_mounts | _host_filter >"$1/mounts"
        _host_cgroups | _host_filter >"$1/cgroups"
        _host_bpf | _host_filter >"$1/bpf"
}

# _state_changes SNAP-DIR STATE-FN: record the state again with STATE-FN (which
# recorded SNAP-DIR) and print what changed since; nothing when nothing did.
# For a narrower "host unchanged" (run-common.sh's scratch subtree) than
# assert_host_unchanged's.
_state_changes() {
        local snap=$1 now=$1.now what
        "$2" "$now"
        for what in mounts cgroups bpf; do
                cmp -s "$snap/$what" "$now/$what" ||
                        printf '%s changed:\n%s\n' "$what" "$(diff "$snap/$what" "$now/$what" | grep '^[<>]')"
        done
        rm -rf "$now"
}

snapshot_host() { _host_state "$TEST_TMP/snap-$1"; } # NAME

assert_host_unchanged() { # NAME "name"
        local changes
        changes=$(_state_changes "$TEST_TMP/snap-$1" _host_state)
        [[ -z $changes ]]
        _tap_result $? "${2:-host unchanged}" || { diag "$changes"; return 1; }
}

# in_private_ns CMD...: run CMD in its own private mount namespace (mounts die with it).
in_private_ns() { unshare -m --propagation private -- "$@"; }
