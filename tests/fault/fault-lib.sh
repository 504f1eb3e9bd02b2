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
# Restricted to what gpujail could leave (other test suites may run on this host at the
# same time): every mount of the host's namespace; cgroup dirs whose path says gpujail;
# BPF programs attached to the root and to gpujail cgroups, and the count of loaded
# cgroup_device programs owned by no live cgroup we can name is not comparable, so not used.
f_snapshot() { # f_snapshot NAME
        local out=$F_TMP/snap.$1
        awk '{ for (i = 7; $i != "-"; i++); print $5, $(i + 1), $(i + 2) }' /proc/1/mountinfo | sort >"$out.mounts"
        find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d -path '*gpujail*' 2>/dev/null | sort >"$out.cgroups"
        if command -v bpftool >/dev/null 2>&1; then
                local cg2
                cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
                { bpftool cgroup show "$cg2" 2>/dev/null
                  find "$cg2" -mindepth 1 -maxdepth 6 -type d -path '*gpujail*' 2>/dev/null | while read -r d; do
                        bpftool cgroup show "$d" 2>/dev/null | sed "s|^|$d |"; done; } | sort >"$out.bpf"
        else
                : >"$out.bpf"
        fi
}
f_host_unchanged() { # f_host_unchanged NAME LABEL: compares with f_snapshot NAME
        local a=$F_TMP/snap.$1 b=$F_TMP/snap.$1.after what diffs=
        f_snapshot "$1.after"
        for what in mounts cgroups bpf; do
                if ! cmp -s "$a.$what" "$b.$what"; then
                        diffs+=" $what"
                        f_diag "$what changed:" "$(diff "$a.$what" "$b.$what" | head -20)"
                fi
        done
        f_ok "$2: host unchanged (mounts, gpujail cgroups, cgroup BPF)${diffs:+ - differs:$diffs}" [ -z "$diffs" ]
}
# Remove what a failed test left, so one failure does not cascade into the next checks.
f_sweep() {
        local d
        find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -depth -type d -path '*gpujail*' 2>/dev/null |
                while read -r d; do
                        # only gpujail's own dirs that appeared during this test
                        grep -qxF "$d" "$F_TMP/snap.$1.cgroups" 2>/dev/null && continue
                        cat "$d/cgroup.procs" 2>/dev/null | xargs -r kill -9 2>/dev/null
                        rmdir "$d" 2>/dev/null
                done
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
