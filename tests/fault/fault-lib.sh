# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/e2e/test-fault-*.sh: TAP, paths, the fault shim, host snapshots.
# Self-contained on purpose (prefixed names): it must not depend on, or clash with, the
# shape of tests/lib.sh, whose simulated hosts (tests/fakehost/mkhost, enter) it uses.
set -u
FAULT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAULT_BUILD=$(realpath -m "${GPUJAIL_BUILD:-$FAULT_REPO/build}")
GPUJAIL=${GPUJAIL:-$FAULT_BUILD/cli/gpujail}
GPUJAIL_HOOK=${GPUJAIL_HOOK:-$FAULT_BUILD/cli/gpujail-hook}
FAULTINJECT=${GJ_FAULTINJECT:-$FAULT_BUILD/tests/fault/faultinject.so}
FAULT_PROBE=${GJ_FAULT_PROBE:-$FAULT_BUILD/tests/fault/fault-probe}
export GPUJAIL_BUILD=$FAULT_BUILD

f_n=0 f_failed=0
f_ok() { # f_ok NAME CMD...
        local name=$1
        shift
        f_n=$((f_n + 1))
        if "$@"; then echo "ok $f_n - $name"; else echo "not ok $f_n - $name"; f_failed=$((f_failed + 1)); fi
}
f_is() { # f_is GOT WANT NAME
        f_n=$((f_n + 1))
        if [ "$1" = "$2" ]; then echo "ok $f_n - $3"
        else echo "not ok $f_n - $3"; echo "#   got '$1', want '$2'"; f_failed=$((f_failed + 1)); fi
}
f_skip() { f_n=$((f_n + 1)); echo "ok $f_n - $2 # SKIP $1"; }
f_diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
f_skip_all() { echo "1..0 # SKIP $1"; exit 77; }
f_done() { echo "1..$f_n"; [ "$f_failed" = 0 ]; exit $?; }

# not under /tmp: the launcher gives the job a private /tmp, and cases bind their cwd
F_TMP=$(mktemp -d /var/tmp/gj-fault.XXXXXX)
chmod 0755 "$F_TMP"
f_cleanup_hooks=()
f_cleanup() {
        local h
        for h in "${f_cleanup_hooks[@]}"; do eval "$h"; done
        rm -rf "$F_TMP"
}
trap f_cleanup EXIT

f_require_root() { [ "$(id -u)" = 0 ] || f_skip_all "needs root"; }
f_require_cmd() { command -v "$1" >/dev/null 2>&1 || f_skip_all "$1 not installed"; }
f_require_shim() { [ -f "$FAULTINJECT" ] || f_skip_all "fault shim not built ($FAULTINJECT)"; }

# A simulated host, built once per test into F_TMP.
f_fakehost() { # f_fakehost SHAPE: prints its dir
        local d=$F_TMP/host-$1
        [ -f "$d/hostinfo.json" ] || "$FAULT_REPO/tests/fakehost/mkhost" "$1" "$d" >/dev/null 2>&1 || return 1
        echo "$d"
}
# f_on_host DIR CMD...: CMD on the simulated host with the fault shim preloaded after
# fakesysfs (GJ_FAULT, GJ_FAULT_LOG, GJ_FAULT_COUNT pass through the environment).
f_on_host() {
        local dir=$1
        shift
        timeout -k 5 "${F_TIMEOUT:-60}" "$FAULT_REPO/tests/fakehost/enter" "$dir" -- \
                env FAULTINJECT="$FAULTINJECT" sh -c 'LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$FAULTINJECT" exec "$@"' sh "$@"
}

# ---- the host, before and after: mounts, gpujail's cgroups, cgroup BPF programs ----
# Other test suites may run gpujail on this host at the same time (their jobs come and
# go under /sys/fs/cgroup/*/gpujail/), so a leak is what only a leak can be:
#  - the host's mount table (/proc/1/mountinfo: mount point, fs, source) differs;
#  - a gpujail cgroup that was not there before is still there, EMPTY, after a settle
#    delay (a live job of someone else has processes in it; an ended one is removed);
#  - the BPF programs attached to the cgroup2 root differ, or a leaked cgroup holds one.
f_cg2() { awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo; }
f_gj_cgroups() {
        find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -path '*/gpujail/*' 2>/dev/null | sort
}
f_cgroup_empty() { # cgroupfs files stat as empty: read them
        [ -d "$1" ] && [ -z "$(cat "$1/cgroup.procs" 2>/dev/null)" ] &&
                [ -z "$(find "$1" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ]
}
f_cgroup_owner_alive() { # gpujail names job cgroups run-<its pid>-<random>: still being set up?
        local b=${1##*/} pid
        pid=${b#run-}
        pid=${pid%%-*}
        case $pid in '' | *[!0-9]*) return 1 ;; esac
        [ -d "/proc/$pid" ] && grep -q gpujail "/proc/$pid/cmdline" 2>/dev/null
}
f_snapshot() { # f_snapshot NAME
        local out=$F_TMP/snap.$1
        awk '{ for (i = 7; $i != "-"; i++); print $5, $(i + 1), $(i + 2) }' /proc/1/mountinfo | sort >"$out.mounts"
        f_gj_cgroups >"$out.cgroups"
        if command -v bpftool >/dev/null 2>&1; then
                bpftool cgroup show "$(f_cg2)" 2>/dev/null | sort >"$out.bpf"
        else
                : >"$out.bpf"
        fi
}
f_leaked_cgroups() { # f_leaked_cgroups NAME: new, empty, ownerless gpujail cgroups (twice, 0.5 s apart)
        local d cand=
        for d in $(comm -13 "$F_TMP/snap.$1.cgroups" <(f_gj_cgroups)); do
                f_cgroup_empty "$d" && ! f_cgroup_owner_alive "$d" && cand+=" $d"
        done
        [ -z "$cand" ] && return
        sleep 0.5
        for d in $cand; do f_cgroup_empty "$d" && ! f_cgroup_owner_alive "$d" && echo "$d"; done
}
f_host_unchanged() { # f_host_unchanged NAME LABEL: compares with f_snapshot NAME
        local a=$F_TMP/snap.$1 b=$F_TMP/snap.$1.after diffs= leaked d
        f_snapshot "$1.after"
        if ! cmp -s "$a.mounts" "$b.mounts"; then
                diffs+=" mounts"
                f_diag "host mounts changed:" "$(diff "$a.mounts" "$b.mounts" | head -20)"
        fi
        if ! cmp -s "$a.bpf" "$b.bpf"; then
                diffs+=" bpf(root)"
                f_diag "BPF programs on the cgroup2 root changed:" "$(diff "$a.bpf" "$b.bpf" | head -20)"
        fi
        leaked=$(f_leaked_cgroups "$1")
        if [ -n "$leaked" ]; then
                diffs+=" cgroups"
                f_diag "gpujail cgroups left behind:" $leaked
                for d in $leaked; do
                        case $d in */unified/*|"$(f_cg2)"/*)
                                command -v bpftool >/dev/null &&
                                        f_diag "  BPF on $d:" "$(bpftool cgroup show "$d" 2>/dev/null | tail -n +2)" ;;
                        esac
                done
        fi
        echo "$leaked" >"$F_TMP/leaked.$1"
        f_ok "$2: host unchanged (mounts, gpujail cgroups, cgroup BPF)${diffs:+ - differs:$diffs}" [ -z "$diffs" ]
}
# Remove the empty cgroups a failed case left (found by f_host_unchanged), so that one
# failure does not cascade; never touches a cgroup with processes (someone else's job).
f_sweep() {
        local d
        for d in $(cat "$F_TMP/leaked.$1" 2>/dev/null) $(cat "$F_TMP/leaked.$1.after" 2>/dev/null); do
                f_cgroup_empty "$d" && rmdir "$d" 2>/dev/null
        done
        rm -f "$F_TMP/leaked.$1"
}

# Largest N of each call in a GJ_FAULT_COUNT log: "NAME MAX" lines.
f_count_max() { awk '{ if ($2 > m[$1]) m[$1] = $2 } END { for (k in m) print k, m[k] }' "$1" | sort; }

# Oracle on device numbers: from the cgroups of PID, open char nodes MAJ:MIN (made on a
# private tmpfs) and print "MAJ:MIN RESULT" (OK, ENXIO, EPERM, ...).
f_cgroup_probe() { # f_cgroup_probe PID MAJ:MIN...
        local pid=$1
        shift
        local v2 v1 dirs=
        v2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
        v1=$(awk '$9 == "cgroup" && $NF ~ /(^|,)devices(,|$)/ { print $5; exit }' /proc/self/mountinfo)
        local line
        while IFS= read -r line; do
                case $line in
                0::*) dirs+=" $v2${line#0::}" ;;
                *:devices:*) dirs+=" $v1${line#*:devices:}" ;;
                esac
        done <"/proc/$pid/cgroup"
        unshare -m --propagation private sh -c '
                d=$(mktemp -d) && mount -t tmpfs -o mode=0755 gj-probe "$d" || exit 3
                dirs=$1; shift
                for n in "$@"; do mknod "$d/${n%%:*}_${n#*:}" c "${n%%:*}" "${n#*:}"; done
                for c in $dirs; do echo $$ >"$c/cgroup.procs" || exit 4; done
                exec python3 -c "
import os, sys, errno
d = sys.argv[1]
for n in sys.argv[2:]:
    p = os.path.join(d, n.replace(\":\", \"_\"))
    try:
        os.close(os.open(p, os.O_RDWR | os.O_NONBLOCK)); r = \"OK\"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print(n, r)" "$d" "$@"' sh "$dirs" "$@"
}
