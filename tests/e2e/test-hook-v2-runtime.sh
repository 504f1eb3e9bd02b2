#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook against real runtimes' own device programs, on a pure cgroup v2
# host (design.md invariant 11: the container may open exactly what the
# runtime's program allowed plus the planned nodes).
#
# This machine is hybrid, so runc polices through v1 and attaches no program.
# In a private mount namespace whose /sys/fs/cgroup is the one cgroup2
# hierarchy (what ../shared/research/tools/v2ns does: unmount the hybrid tree
# there, mount cgroup2 with the host mount's own options, since a cgroup2
# mount's options are global), runc 1.1.5 runs in v2 mode and attaches its real
# program. Two runtimes:
#   runc   runc 1.1.5's own program (its defaults allow tun, c 10:200);
#   notun  a stand-in for runc 1.2.0-1.2.3 and some crun releases, which do not
#          allow tun: a prestart hook ahead of ours swaps runc's program for
#          tests/helpers/runtime-devices.bpf.c built with -DRUNTIME_ALLOWS_TUN=0.
# For each, a container without gpujail-hook (the runtime alone) and one with
# it (GPU 0) open every node of a matrix that runc makes in /dev/m (linux.devices
# makes nodes, allows none): all GPUs and NVIDIA control nodes, the runtime's
# defaults, tun, and devices nobody allows. EPERM = denied, anything else =
# allowed. With the hook, exactly GPU 0's planned nodes go from denied to
# allowed; tun stays as the runtime decided. Then a config.json of 16,385
# device rules: the hook, run by hand on a created container, exits 125 and the
# runtime's program stays attached; under runc the container does not start.
# runc enables cgroup2 controllers in the ancestors' cgroup.subtree_control:
# put back as found.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_root
require_cmd runc jq busybox cc clang bpftool unshare
require_built "$GPUJAIL" "$GPUJAIL_HOOK"
require_cgroup_v2
[[ -f /usr/include/linux/bpf.h ]] || skip_all "no linux/bpf.h (linux-libc-dev)"

shape=nvidia8
H=$(fakehost $shape)
V2=$(cgroup2_root)
PARENT=gj-v2rt-$$

# ---------------------------------------------------------------- a pure cgroup v2 namespace

write_v2ns # $V2NS CMD...

for v in runc notun; do
        d=0
        [[ $v == runc ]] && d=1
        clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -DRUNTIME_ALLOWS_TUN=$d \
                -c "$GPUJAIL_SRC/tests/helpers/runtime-devices.bpf.c" -o "$TEST_TMP/rt-$v.o" 2>"$TEST_TMP/clang.err" ||
                skip_all "clang cannot build a BPF object here: $(head -1 "$TEST_TMP/clang.err")"
done

# runc writes every available controller into each ancestor's subtree_control.
subtree_before=$(cat "$V2/cgroup.subtree_control")
restore_cgroups() {
        local c
        [[ -d $V2/$PARENT ]] && find "$V2/$PARENT" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
        [[ -d $V2/$PARENT ]] && rmdir "$V2/$PARENT"
        for c in $(cat "$V2/cgroup.subtree_control"); do
                [[ " $subtree_before " == *" $c "* ]] || echo "-$c" >"$V2/cgroup.subtree_control"
        done
        return 0
}
snapshot_host before
defer restore_cgroups

# ---------------------------------------------------------------- the matrix

# "name type major minor" of every node the container probes.
{
        for n in "$H"/dev/nvidia*; do
                echo "${n##*/} c $(stat -c '%t %T' "$n" | while read -r a b; do echo $((16#$a)) $((16#$b)); done)"
        done
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
deny-fuse c 10 229
deny-c240 c 240 0
deny-b240 b 240 0
deny-loop0 b 7 0
EOF
} >"$TEST_TMP/matrix"
matrix_devices=$(awk '{ printf "%s{\"path\":\"/dev/m/%s\",\"type\":\"%s\",\"major\":%s,\"minor\":%s,\"fileMode\":438}",
        (NR > 1 ? "," : "["), $1, $2, $3, $4 } END { print "]" }' "$TEST_TMP/matrix")
planned=$(on_fakehost $shape -- "$GPUJAIL" plan --gpu 0 --json | jq -r '.nodes[] | "\(.major) \(.minor)"')
[[ -n $planned ]] || bail_out "no plan for GPU 0"
want_gained=$(while read -r name type major minor; do
        grep -qx "$major $minor" <<<"$planned" && [[ $type == c ]] && echo "$name"
done <"$TEST_TMP/matrix" | sort | xargs)

# "name allow|deny" from a container's output
verdicts() { grep '^/dev/m/' <<<"$1" | awk '{ n = $1; sub(".*/", "", n); print n, ($2 == "EPERM" ? "deny" : "allow") }' | sort; }

# ---------------------------------------------------------------- hooks of the test

# The stand-in runtime (notun): runc's program out, ours in, as one program.
cat >"$TEST_TMP/standin" <<EOF
#!/bin/bash
set -e
pid=\$(jq -r .pid)
cg=/sys/fs/cgroup\$(awk -F: '\$1 == "0" { print \$3 }' /proc/\$pid/cgroup)
old=\$(bpftool -j cgroup show "\$cg" | jq -r '.[] | select(.attach_type == "cgroup_device") | .id')
unshare -m --propagation private bash -c '
        mkdir -p "$TEST_TMP/bpffs"
        mount -t bpf bpf "$TEST_TMP/bpffs"
        bpftool prog load "$TEST_TMP/rt-notun.o" "$TEST_TMP/bpffs/rt" type cgroup/dev
        bpftool cgroup attach "\$1" device pinned "$TEST_TMP/bpffs/rt" multi' _ "\$cg"
for id in \$old; do bpftool cgroup detach "\$cg" device id "\$id"; done
EOF
# progs WHEN CGROUP: records the cgroup's device programs (before ours: prestart
# ahead of it; after: createContainer).
cat >"$TEST_TMP/progs" <<EOF
#!/bin/bash
bpftool -j cgroup show "\$2" | jq -c '[.[] | select(.attach_type == "cgroup_device") | {id, name}]' >"$TEST_TMP/progs-\$1"
EOF
chmod +x "$TEST_TMP/standin" "$TEST_TMP/progs"
hook_json() { jq -cn --arg p "$1" '{path: $p, args: ([$p] + $ARGS.positional), env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}' \
        --args "${@:2}"; }

# runc_v2 NAME RUNTIME HOOK(0|1): run the matrix container in v2 mode; sets $status/$output.
runc_v2() {
        local name=$1 runtime=$2 hook=$3 b id=gj-v2rt-$1-$$ cg=/sys/fs/cgroup/$PARENT/$1
        b=$(hook_bundle "$name" ".linux.devices += $matrix_devices" "$(ask_for 0)" \
                ".linux.cgroupsPath = \"/$PARENT/$name\"" '.process.args = ["/bin/sh", "-c", "/bin/open-probe /dev/m/*"]')
        [[ $runtime == notun ]] && jq --argjson h "$(hook_json "$TEST_TMP/standin")" '.hooks.prestart += [$h]' \
                "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
        jq --argjson h "$(hook_json "$TEST_TMP/progs" before "$cg")" '.hooks.prestart += [$h]' "$b/config.json" >"$b/c" &&
                mv "$b/c" "$b/config.json"
        [[ $hook == 1 ]] && hook_register "$b" prestart
        jq --argjson h "$(hook_json "$TEST_TMP/progs" after "$cg")" '.hooks.createContainer += [$h]' "$b/config.json" >"$b/c" &&
                mv "$b/c" "$b/config.json"
        rm -f "$TEST_TMP/progs-before" "$TEST_TMP/progs-after"
        RUNC_WRAP=$V2NS runc_on_host $shape "$id" "$b"
}

# ---------------------------------------------------------------- runc's program, the stand-in's

for runtime in runc notun; do
        runc_v2 "$runtime-alone" "$runtime" 0
        is "$status" 0 "$runtime alone: container ran in v2 mode" || show
        alone=$(verdicts "$output")
        rt=$(jq -r '.[0] | "\(.id) \(.name)"' "$TEST_TMP/progs-after" 2>/dev/null)
        is "$(jq length "$TEST_TMP/progs-after" 2>/dev/null)" 1 "$runtime alone: one device program, the runtime's ($rt)"
        tun_want=allow tun_says=allowed
        [[ $runtime == notun ]] && tun_want=deny tun_says=denied
        like "$alone" "^tun $tun_want\$" "$runtime alone: tun $tun_says"
        like "$alone" "^deny-c240 deny\$" "$runtime alone: an unknown char device denied"
        unlike "$alone" "^nvidia.* allow\$" "$runtime alone: no NVIDIA node"

        runc_v2 "$runtime-hook" "$runtime" 1
        is "$status" 0 "$runtime + gpujail-hook: container ran" || show
        hooked=$(verdicts "$output")
        gained=$(join <(echo "$alone") <(echo "$hooked") | awk '$2 != $3 { print $1 ":" $2 "->" $3 }' | xargs)
        is "$gained" "$(for n in $want_gained; do echo "$n:deny->allow"; done | xargs)" \
                "$runtime + hook: exactly GPU 0's planned nodes gained ($want_gained), nothing else changed" ||
                diag "$(diff <(echo "$alone") <(echo "$hooked"))"
        like "$hooked" "^tun $tun_want\$" "$runtime + hook: tun $tun_says, as the runtime decided"
        before=$(jq -r 'map(.id) | join(",")' "$TEST_TMP/progs-before" 2>/dev/null)
        after=$(jq -r 'map("\(.id) \(.name)") | join(",")' "$TEST_TMP/progs-after" 2>/dev/null)
        like "$after" "^[0-9]+ gpujail_dev\$" "$runtime + hook: one device program, gpujail's ($after)"
        isnt "${after%% *}" "$before" "$runtime + hook: the runtime's program ($before) was replaced"
done

# ---------------------------------------------------------------- 16,385 rules

b=$(hook_bundle many "$(ask_for 0)" ".linux.cgroupsPath = \"/$PARENT/many\"" \
        '.process.args = ["/bin/sleep", "60"]')
jq '.linux.resources.devices += [range(16385) | {allow: true, type: "b", major: 8, minor: ., access: "rwm"}]' \
        "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
id=gj-v2rt-many-$$
# By hand: runc creates the container (its program attached), the hook runs on
# its state, the programs are listed before and after.
run on_fakehost $shape -- "$V2NS" bash -c '
        b=$1 id=$2 cg=/sys/fs/cgroup/$3
        progs() { bpftool -j cgroup show "$cg" | jq -c "[.[] | select(.attach_type == \"cgroup_device\") | {id, name}]"; }
        runc create --bundle "$b" "$id" </dev/null >/dev/null 2>&1 || { echo "runc create failed"; exit 1; }
        echo "before $(progs)"
        runc state "$id" | "$GPUJAIL_HOOK" prestart
        echo "hook-rc $?"
        echo "after $(progs)"
        runc delete -f "$id" >/dev/null 2>&1
        true' _ "$b" "$id" "$PARENT/many"
before=$(sed -n 's/^before //p' <<<"$stdout")
like "$before" '^\[\{"id":[0-9]+' "16,385 rules: runc attached its program ($before)" || show
is "$(sed -n 's/^hook-rc //p' <<<"$stdout")" 125 "16,385 rules: the hook exits 125"
like "$stderr" "linux.resources.devices has 16386 rules; gpujail-hook accepts at most 4096" \
        "16,385 rules (and runc's leading deny-all): the hook says why"
is "$(sed -n 's/^after //p' <<<"$stdout")" "$before" "16,385 rules: the runtime's program unchanged"

# Under runc: the hook fails, the container does not start.
jq --argjson h "$(hook_entry prestart)" '.hooks.prestart = [$h] | .process.args = ["/bin/echo", "started"]' \
        "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
RUNC_WRAP=$V2NS runc_on_host $shape "$id" "$b"
isnt "$status" 0 "16,385 rules under runc: the container is refused" || show
unlike "$output" "^started" "16,385 rules under runc: the container's process never ran"
like "$output" "accepts at most 4096" "16,385 rules under runc: the hook's reason reaches the user"

restore_cgroups
is "$(cat "$V2/cgroup.subtree_control")" "$subtree_before" "cgroup2 root's subtree_control as found"
assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
done_testing
