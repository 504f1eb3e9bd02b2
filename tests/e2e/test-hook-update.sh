#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# `runc update` on a container that gpujail-hook gave a GPU: are the hook's
# device rules still in force afterwards? (docs/cgroups.md, "Known limit".)
#
# runc 1.1's update sets SkipDevices: it re-applies every other resource and
# leaves the device cgroup alone, on v1 (devices.allow) and v2 (the one device
# program, which the hook replaced with its own). Checked here with the cgroupfs
# driver on cgroup v1 (this hybrid host) and on a pure cgroup2 view (cgroup2
# mounted alone on /sys/fs/cgroup in a private mount namespace, where runc
# attaches its own device program): the GPU the hook gave still opens (ENXIO),
# another GPU's node is still denied (EPERM), and the v1 rules / the v2
# program are the same before and after. The systemd driver needs systemd as
# PID 1, which this kind of machine does not run: not covered.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_hook_runc

shape=nvidia8
fakehost $shape >/dev/null
node0=$(hostinfo $shape '.devices[0].nodes[0].path')
other=$(hostinfo $shape '.devices[1].nodes[0].path')
V2=$(cgroup2_root)

snapshot_host before

# One private namespace: start the container detached, probe, update, probe.
# MODE v2: first replace /sys/fs/cgroup by the cgroup2 hierarchy alone (reusing
# the host mount's options: a cgroup2 mount's options are global).
inner='set -e
b=$1 id=$2 mode=$3 helpers=$4
jq --arg p "$GPUJAIL_TEST_PRELOAD" --arg a "${ASAN_OPTIONS:-}" ".hooks |= with_entries(.value |= map(.env +=
        [\"LD_PRELOAD=\" + \$p] + (if \$a != \"\" then [\"ASAN_OPTIONS=\" + \$a] else [] end)))" \
        "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
if [ "$mode" = v2 ]; then
        opts=$(awk "\$9 == \"cgroup2\" { print \$11; exit }" /proc/self/mountinfo)
        opts=${opts#rw}; opts=${opts#,}
        umount -R /sys/fs/cgroup
        mount -t cgroup2 ${opts:+-o "$opts"} cgroup2 /sys/fs/cgroup
fi
runc run -d --bundle "$b" "$id" </dev/null >/dev/null 2>"$b/runc.err" || { cat "$b/runc.err"; exit 3; }
trap "runc delete -f $id >/dev/null 2>&1" EXIT
pid=$(runc state "$id" | jq .pid)
if [ "$mode" = v2 ]; then
        cg=/sys/fs/cgroup$(awk -F: "\$1 == \"0\" { print \$3 }" /proc/$pid/cgroup)
        rules() { "$helpers/bpf-list" /sys/fs/cgroup | awk -v c="$cg" "\$1 == c"; }
else
        cg=/sys/fs/cgroup/devices$(awk -F: "\$2 == \"devices\" { print \$3 }" /proc/$pid/cgroup)
        rules() { cat "$cg/devices.list"; }
fi
probe() { runc exec "$id" /bin/sh -c "for n in /dev/nvidia*; do /bin/open-probe \$n; done"; }
echo "== before"; probe; rules | sed "s/^/rule /"
echo "{}" | runc update -r - "$id"
runc update --pids-limit 4096 "$id" 2>/dev/null || true
echo "== after"; probe; rules | sed "s/^/rule /"
# Control (v1): drop the rule as a runtime that re-applied its own list would.
if [ "$mode" = v1 ]; then
        echo "c $(stat -c "%t:%T" "$5" | { IFS=: read -r ma mi; echo "$((16#$ma)):$((16#$mi))"; }) rwm" >"$cg/devices.deny"
        echo "== dropped"; probe
fi'

for mode in v1 v2; do
        if [[ $mode == v2 && -z $V2 ]]; then
                skip "no cgroup2 mount" "$mode: runc update keeps the hook's device rules"
                continue
        fi
        # runc in v2 mode enables the available controllers down from the root: put them back.
        [[ $mode == v2 ]] && root_controllers=$(cat "$V2/cgroup.subtree_control")
        b=$(hook_bundle "upd-$mode" "$(intruder $shape 1)" "$(ask_for 0)" \
                '.process.args = ["/bin/sleep", "600"]')
        hook_register "$b" createRuntime
        run on_hook_etc $shape -- bash -c "$inner" _ "$b" "gj-update-$mode-$$" "$mode" "$HELPERS" "$node0"
        if [[ $mode == v2 ]]; then
                for c in $(cat "$V2/cgroup.subtree_control"); do
                        [[ " $root_controllers " == *" $c "* ]] || echo "-$c" >"$V2/cgroup.subtree_control"
                done
        fi
        is "$status" 0 "$mode: container started, probed, updated, probed" || { show; continue; }
        before=$(sed -n '/^== before/,/^== after/p' <<<"$stdout")
        after=$(sed -n '/^== after/,/^== dropped/p' <<<"$stdout")
        diag "$mode, after runc update: $(grep '^rule ' <<<"$after" | tr '\n' ';')"
        like "$before" "^$node0 ENXIO" "$mode: before runc update, the hook's GPU opens (ENXIO)"
        like "$before" "^$other EPERM" "$mode: before runc update, another GPU's node is denied"
        like "$after" "^$node0 ENXIO" "$mode: after runc update, the hook's GPU still opens (the rule kept)"
        like "$after" "^$other EPERM" "$mode: after runc update, another GPU's node still denied"
        is "$(grep '^rule ' <<<"$after")" "$(grep '^rule ' <<<"$before")" \
                "$mode: the device rules ($([[ $mode == v1 ]] && echo devices.list || echo the one device program)) unchanged by runc update"
        isnt "$(grep -c '^rule ' <<<"$before")" 0 "$mode: there were rules to compare"
        [[ $mode == v1 ]] && like "$(sed -n '/^== dropped/,$p' <<<"$stdout")" "^$node0 EPERM" \
                "v1 control: with the hook's rule dropped, the same probe sees EPERM"
done

assert_host_unchanged before "host unchanged"
done_testing
