# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared by the tests that run real runtimes on a simulated pure cgroup v2 host
# (tests/e2e/test-*-v2*.sh), sourced after tests/lib.sh (and, for
# v2_podman_matrix, hook-common.sh and cdi-common.sh).
#
# This machine is hybrid, so runc and podman police devices through v1 and
# attach no program. In a private mount namespace whose /sys/fs/cgroup is the
# one cgroup2 hierarchy (what ../shared/research/tools/v2ns does: unmount the
# hybrid tree there, mount cgroup2 with the host mount's own options, since a
# cgroup2 mount's options are global), runc 1.1.5 and podman 4.3 run in v2
# mode and attach their real device programs.
#
#   v2_setup                    $V2NS (a script: V2NS CMD... makes the caller's private
#                               mount namespace a pure v2 host, then runs CMD), $V2 (the
#                               cgroup2 root on the host), $V2_PARENT (a scratch cgroup for
#                               the tests' containers, removed at exit), and the cgroup2
#                               root's cgroup.subtree_control put back at exit: runc and
#                               podman enable every controller in each ancestor's. Skips
#                               the test where such a namespace cannot be made.
#   v2_restore_cgroups          do that now (also at exit)
#   v2_runtime_nodes            "name type major minor" of the nodes that are not GPUs: a
#                               runtime's defaults (null ... a pts), tun, and nodes no
#                               runtime allows (deny-*)
#   v2_matrix SHAPE             "name type major minor" of every node a container probes
#                               (the shape's NVIDIA nodes, then v2_runtime_nodes),
#                               into $V2_MATRIX; $V2_MATRIX_DEVICES: linux.devices making
#                               them in /dev/m (runc makes nodes, allows none)
#   v2_matrix_mknod             a shell line making them in /dev/m (podman: no linux.devices)
#   v2_want_gained SHAPE SEL    -> the matrix names of the nodes `gpujail plan SEL` grants
#   v2_verdicts OUTPUT          -> "name allow|deny" per /dev/m node open-probe reported
#                               (EPERM = denied, anything else = allowed)
#   v2_gained ALONE WITH        -> "name:deny->allow ..." what changed between two verdicts
#   v2_progs_hook WHEN          -> an OCI hooks[] entry that records the device programs on
#                               the container's cgroup into $TEST_TMP/progs-WHEN (JSON); for
#                               prestart or createRuntime, which run in the runtime's cgroup
#                               namespace (createContainer's is the container's: its
#                               /proc/PID/cgroup says "/")
#   v2_progs WHEN               -> "id name,..." of what that hook recorded
#   v2_check_nothing_left [LEFT]
#                               the end of a test: below $V2_PARENT only the cgroups LEFT
#                               ("./conmon": podman's cgroupfs manager leaves conmon's) and no
#                               container's; then v2_restore_cgroups, the cgroup2 root's
#                               subtree_control and the host's cgroup2 mount options (global:
#                               the namespace's mount shares them) as found, and
#                               assert_host_unchanged before
#                               (snapshot_host before: cgroups, programs, mounts)
#   v2_podman_matrix ARG...     podman run ARG... of a container that makes the matrix and
#                               probes it, in the v2 namespace of $SHAPE (with cdi-common.sh's
#                               setup_podman and setup_cdi_dir); sets $status/$output. podman
#                               runs with its state in $TEST_TMP, its cgroups below
#                               $V2_PARENT (--cgroup-parent, cgroupfs manager), --pids-limit
#                               -1 (the pids controller is bound to v1 on this kernel), the
#                               runtime $V2_PODMAN_RUNTIME (default runc), and a prestart hook
#                               (--hooks-dir) that records the programs as progs-after
#   v2_check_baseline WHAT      checks of a runtime alone ($status/$output of its matrix
#                               container, progs-after): it ran, probed every node, carried
#                               one program, the runtime's, allowed no NVIDIA node and denied
#                               an unknown one; sets $V2_ALONE (its verdicts)
#   v2_is_gained WHAT SHAPE SEL the check that, of the verdicts in $output, exactly SEL's
#                               planned nodes were gained over $V2_ALONE
#   v2_check_gained WHAT SHAPE SEL
#                               checks of a container given SEL ($status/$output, progs-after):
#                               it ran, v2_is_gained, one program, the runtime's

v2_setup() {
        V2=$(cgroup2_root)
        V2_PARENT=gj-v2-$$
        write_v2ns # $V2NS CMD..., in the caller's private mount namespace (fakehost/enter's)
        V2_SUBTREE_BEFORE=$(cat "$V2/cgroup.subtree_control")
        V2_SUPER_BEFORE=$(_v2_super_options)
        defer v2_restore_cgroups
}

# The host's cgroup2 super options (global to the one hierarchy: nsdelegate, ...).
_v2_super_options() {
        awk '{ for (i = 7; i < NF && $i != "-"; i++) ; if ($(i + 1) == "cgroup2") { print $(i + 3); exit } }' /proc/1/mountinfo
}

v2_restore_cgroups() {
        local c
        [[ -d $V2/$V2_PARENT ]] && find "$V2/$V2_PARENT" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
        [[ -d $V2/$V2_PARENT ]] && rmdir "$V2/$V2_PARENT"
        for c in $(cat "$V2/cgroup.subtree_control"); do
                [[ " $V2_SUBTREE_BEFORE " == *" $c "* ]] || echo "-$c" >"$V2/cgroup.subtree_control"
        done
        return 0
}

v2_runtime_nodes() {
        cat <<'EOF'
null c 1 3
zero c 1 5
full c 1 7
random c 1 8
urandom c 1 9
tty c 5 0
ptmx c 5 2
pts250 c 136 250
tun c 10 200
deny-tty1 c 4 1
deny-ttyS0 c 4 64
deny-kmem c 1 2
deny-fuse c 10 229
deny-c240 c 240 0
deny-b240 b 240 0
deny-loop0 b 7 0
deny-sda b 8 0
EOF
}

v2_matrix() {
        local n
        V2_MATRIX=$TEST_TMP/matrix
        {
                for n in "$(fakehost "$1")"/dev/nvidia*; do
                        echo "${n##*/} c $(stat -c '%t %T' "$n" | while read -r a b; do echo $((16#$a)) $((16#$b)); done)"
                done
                v2_runtime_nodes
        } >"$V2_MATRIX"
        V2_MATRIX_DEVICES=$(awk '{ printf "%s{\"path\":\"/dev/m/%s\",\"type\":\"%s\",\"major\":%s,\"minor\":%s,\"fileMode\":438}",
                (NR > 1 ? "," : "["), $1, $2, $3, $4 } END { print "]" }' "$V2_MATRIX")
}

v2_matrix_mknod() {
        awk 'BEGIN { printf "busybox mkdir -p /dev/m" } { printf " && busybox mknod /dev/m/%s %s %s %s", $1, $2, $3, $4 }
                END { print "" }' "$V2_MATRIX"
}

v2_want_gained() {
        local planned name type major minor
        planned=$(on_fakehost "$1" -- "$GPUJAIL" plan --gpu "$2" --json | jq -r '.nodes[] | "\(.major) \(.minor)"')
        [[ -n $planned ]] || bail_out "no plan for GPU $2"
        while read -r name type major minor; do
                grep -qx "$major $minor" <<<"$planned" && [[ $type == c ]] && echo "$name"
        done <"$V2_MATRIX" | sort | xargs
}

v2_verdicts() {
        grep '^/dev/m/' <<<"$1" | awk '{ n = $1; sub(".*/", "", n); print n, ($2 == "EPERM" ? "deny" : "allow") }' | sort
}

v2_gained() { join <(echo "$1") <(echo "$2") | awk '$2 != $3 { print $1 ":" $2 "->" $3 }' | xargs; }

v2_progs_hook() {
        local h=$TEST_TMP/v2-progs
        if [[ ! -x $h ]]; then
                cat >"$h" <<EOF
#!/bin/bash
pid=\$(jq -r .pid)
cg=/sys/fs/cgroup\$(awk -F: '\$1 == "0" { print \$3 }' /proc/\$pid/cgroup)
bpftool -j cgroup show "\$cg" | jq -c '[.[] | select(.attach_type == "cgroup_device") | {id, name}]' >"$TEST_TMP/progs-\$1"
EOF
                chmod +x "$h"
        fi
        rm -f "$TEST_TMP/progs-$1"
        jq -cn --arg p "$h" --arg w "$1" '{path: $p, args: [$p, $w], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}'
}

v2_progs() { jq -r 'map("\(.id) \(.name)") | join(",")' "$TEST_TMP/progs-$1" 2>/dev/null; }

_v2_one_runtime_program() { # WHAT
        local p
        p=$(v2_progs after)
        like "$p" '^[0-9]+ [^,]*$' "$1: one device program on the container's cgroup ($p)"
        unlike "$p" gpujail_dev "$1: the runtime's, not gpujail's"
}

v2_check_baseline() {
        is "$status" 0 "$1: the container ran in v2 mode" || show
        V2_ALONE=$(v2_verdicts "$output")
        is "$(wc -l <<<"$V2_ALONE")" "$(wc -l <"$V2_MATRIX")" "$1: every node of the matrix probed"
        _v2_one_runtime_program "$1"
        unlike "$V2_ALONE" "^nvidia.* allow\$" "$1: no NVIDIA node allowed"
        like "$V2_ALONE" "^deny-c240 deny\$" "$1: an unknown char device denied"
}

v2_is_gained() {
        local want
        want=$(v2_want_gained "$2" "$3")
        is "$(v2_gained "$V2_ALONE" "$(v2_verdicts "$output")")" "$(for n in $want; do echo "$n:deny->allow"; done | xargs)" \
                "$1: exactly the planned nodes gained ($want), nothing else changed"
}

v2_check_gained() {
        is "$status" 0 "$1: the container ran in v2 mode" || show
        v2_is_gained "$@"
        _v2_one_runtime_program "$1"
}

v2_podman_matrix() {
        local hooks=$TEST_TMP/v2-hooks.d
        if [[ ! -d $hooks ]]; then
                mkdir -p "$hooks"
                jq -n --argjson h "$(v2_progs_hook after)" \
                        '{version: "1.0.0", hook: $h, when: {always: true}, stages: ["prestart"]}' >"$hooks/v2-progs.json"
        fi
        rm -f "$TEST_TMP/progs-after"
        run in_cdi_ns "$V2NS" podman "${PODMAN_GLOBAL[@]}" --hooks-dir "$hooks" \
                --runtime "${V2_PODMAN_RUNTIME:-$(command -v runc)}" "${PODMAN_RUN[@]}" --pids-limit -1 \
                --cgroup-parent "/$V2_PARENT" --cap-add MKNOD "$@" --rootfs "$(hook_rootfs)" \
                /bin/sh -c "$(v2_matrix_mknod) && /bin/open-probe /dev/m/*"
}

v2_check_nothing_left() {
        local left
        left=$(cd "$V2/$V2_PARENT" 2>/dev/null && find . -mindepth 1 -type d | sort | xargs)
        is "$left" "${1:-}" "below the containers' cgroup parent: ${1:-nothing} left, no container's cgroup"
        v2_restore_cgroups
        is "$(cat "$V2/cgroup.subtree_control")" "$V2_SUBTREE_BEFORE" "cgroup2 root's subtree_control as found"
        is "$(_v2_super_options)" "$V2_SUPER_BEFORE" "the host's cgroup2 mount options as found ($V2_SUPER_BEFORE)"
        assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
}
