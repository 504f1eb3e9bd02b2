#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook on cgroup v2, under the real runc: the hook must replace the
# runtime's eBPF device program with one that keeps the runtime's rules and
# adds ours. runc on this hybrid host attaches no cgroup2 program (v1
# polices), so a prestart hook ahead of ours plays a pure-v2 runtime: it
# attaches a device program (allow the OCI defaults, deny the rest, compiled
# here with clang -target bpf, loaded with bpftool) to the container's
# cgroup2 directory. Then, inside the container: the selected node ENXIO
# (both v1 and the replacement program allow it: the runtime's program alone
# would say EPERM), another GPU's node EPERM, /dev/null usable (the runtime's
# rules kept); one device program on the cgroup, not the runtime's.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_root
require_cmd runc jq busybox cc clang bpftool
require_built "$GPUJAIL_HOOK"
require_cgroup_v2
[[ -f /usr/include/linux/bpf.h ]] || skip_all "no linux/bpf.h (linux-libc-dev)"

shape=nvidia8
fakehost $shape >/dev/null
node0=$(hostinfo $shape '.devices[0].nodes[0].path')
other=$(hostinfo $shape '.devices[1].nodes[0].path')

clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -c "$GPUJAIL_SRC/tests/helpers/runtime-devices.bpf.c" \
        -o "$TEST_TMP/runtime-prog.o" 2>"$TEST_TMP/clang.err" ||
        skip_all "clang cannot build a BPF object here: $(head -1 "$TEST_TMP/clang.err")"

# The stand-in runtime: attach the program to the container's cgroup2 dir
# (bpffs only in a private mount namespace, gone with it).
cat >"$TEST_TMP/attach-runtime-prog" <<EOF
#!/bin/bash
set -e
pid=\$(jq -r .pid)
rel=\$(awk -F: '\$1 == "0" { print \$3 }' /proc/\$pid/cgroup)
cg=\$(awk '\$3 == "cgroup2" { print \$2; exit }' /proc/self/mounts)\$rel
echo "\$cg" >"$TEST_TMP/cgroup"
unshare -m --propagation private bash -c '
        mkdir -p "$TEST_TMP/bpffs"
        mount -t bpf bpf "$TEST_TMP/bpffs"
        bpftool prog load "$TEST_TMP/runtime-prog.o" "$TEST_TMP/bpffs/rt" type cgroup/dev
        bpftool cgroup attach "\$1" device pinned "$TEST_TMP/bpffs/rt" multi
        bpftool -j cgroup show "\$1" >"$TEST_TMP/progs-before"' _ "\$cg"
EOF
cat >"$TEST_TMP/show-progs" <<EOF
#!/bin/bash
bpftool -j cgroup show "\$(cat "$TEST_TMP/cgroup")" >>"$TEST_TMP/progs-after"
EOF
chmod +x "$TEST_TMP/attach-runtime-prog" "$TEST_TMP/show-progs"

snapshot_host before

for stage in prestart createContainer; do
        rm -f "$TEST_TMP/progs-before" "$TEST_TMP/progs-after"
        b=$(hook_bundle "v2-$stage" "$(intruder $shape 1)" "$(ask_for 0)")
        attach=$(jq -cn --arg p "$TEST_TMP/attach-runtime-prog" '{path: $p, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}')
        show=$(jq -cn --arg p "$TEST_TMP/show-progs" '{path: $p, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}')
        jq --argjson a "$attach" '.hooks.prestart = [$a]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
        hook_register "$b" "$stage"
        [[ $stage == prestart ]] && hook_register "$b" prestart # twice: idempotent
        jq --argjson s "$show" '.hooks.createContainer += [$s]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
        runc_on_host $shape "gj-v2-$stage-$$" "$b"
        is "$status" 0 "$stage: container ran" || show
        like "$output" "^$node0 ENXIO" "$stage: selected node allowed by v1 and by the replacement program"
        like "$output" "^/dev/nvidiactl ENXIO" "$stage: control node allowed"
        like "$output" "^$other EPERM" "$stage: another GPU's node denied"
        before=$(jq -r '[.[] | select(.attach_type == "cgroup_device")] | map(.id) | join(",")' "$TEST_TMP/progs-before" 2>/dev/null)
        after=$(jq -rs '.[-1] | [.[] | select(.attach_type == "cgroup_device")] | map(.id) | join(",")' "$TEST_TMP/progs-after" 2>/dev/null)
        isnt "$before" "" "$stage: the stand-in runtime attached its program ($before)"
        is "$(tr ',' '\n' <<<"$after" | grep -c .)" 1 "$stage: one device program after the hook"
        isnt "$after" "$before" "$stage: the runtime's program was replaced ($before -> $after)"
done

# Control: without gpujail-hook, the stand-in's program alone denies the node
# that v1 allows (so the ENXIO above is the replacement program's doing).
m0=$(hostinfo $shape '.devices[0].minor')
b=$(hook_bundle v2-control ".linux.devices += [{path: \"$node0\", type: \"c\", major: 195, minor: $m0}]" \
        ".linux.resources.devices += [{allow: true, type: \"c\", major: 195, minor: $m0, access: \"rw\"}]")
jq --argjson a "$(jq -cn --arg p "$TEST_TMP/attach-runtime-prog" '{path: $p}')" '.hooks.prestart = [$a]' \
        "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
runc_on_host $shape "gj-v2-control-$$" "$b"
like "$output" "^$node0 EPERM" "control: the runtime's program alone denies $node0 (v1 allows it)"

b=$(hook_bundle v2-null "$(ask_for 0)" \
        '.process.args = ["/bin/sh", "-c", "echo x >/dev/null && echo null-ok; /bin/open-probe /dev/zero /dev/full"]')
jq --argjson a "$(jq -cn --arg p "$TEST_TMP/attach-runtime-prog" '{path: $p}')" '.hooks.prestart = [$a]' \
        "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
hook_register "$b" prestart
runc_on_host $shape "gj-v2-null-$$" "$b"
like "$output" "null-ok" "the runtime's rules kept: /dev/null writable"
like "$output" "^/dev/zero OK" "the runtime's rules kept: /dev/zero"

assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
done_testing
