#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook against real runtimes' own device programs, on a pure cgroup v2
# host (design.md invariant 11: the container may open exactly what the
# runtime's program allowed plus the planned nodes).
#
# On a simulated pure cgroup v2 host (v2-common.sh), runc 1.1.5 attaches its
# real program. Two runtimes:
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
. "$(dirname "$0")/v2-common.sh"
require_root
require_cmd runc jq busybox cc clang bpftool unshare
require_built "$GPUJAIL" "$GPUJAIL_HOOK"
require_cgroup_v2
[[ -f /usr/include/linux/bpf.h ]] || skip_all "no linux/bpf.h (linux-libc-dev)"

shape=nvidia8
v2_setup

for v in runc notun; do
        d=0
        [[ $v == runc ]] && d=1
        clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -DRUNTIME_ALLOWS_TUN=$d \
                -c "$GPUJAIL_SRC/tests/helpers/runtime-devices.bpf.c" -o "$TEST_TMP/rt-$v.o" 2>"$TEST_TMP/clang.err" ||
                skip_all "clang cannot build a BPF object here: $(head -1 "$TEST_TMP/clang.err")"
done

snapshot_host before

# ---------------------------------------------------------------- the matrix

v2_matrix $shape
want_gained=$(v2_want_gained $shape 0)

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
chmod +x "$TEST_TMP/standin"
hook_json() { jq -cn --arg p "$1" '{path: $p, args: ([$p] + $ARGS.positional), env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}' \
        --args "${@:2}"; }

# add_hook BUNDLE STAGE ENTRY-JSON: append a hooks[] entry.
add_hook() { jq --arg k "$2" --argjson h "$3" '.hooks[$k] += [$h]' "$1/config.json" >"$1/c" && mv "$1/c" "$1/config.json"; }

# runc_v2 NAME RUNTIME HOOK(0|1): run the matrix container in v2 mode; sets $status/$output.
# The device programs on its cgroup: progs-before (prestart, ahead of ours),
# progs-after (prestart, after ours).
runc_v2() {
        local name=$1 runtime=$2 hook=$3 b id=gj-v2rt-$1-$$
        b=$(hook_bundle "$name" ".linux.devices += $V2_MATRIX_DEVICES" "$(ask_for 0)" \
                ".linux.cgroupsPath = \"/$V2_PARENT/$name\"" '.process.args = ["/bin/sh", "-c", "/bin/open-probe /dev/m/*"]')
        [[ $runtime == notun ]] && add_hook "$b" prestart "$(hook_json "$TEST_TMP/standin")"
        add_hook "$b" prestart "$(v2_progs_hook before)"
        [[ $hook == 1 ]] && hook_register "$b" prestart
        add_hook "$b" prestart "$(v2_progs_hook after)"
        RUNC_WRAP=$V2NS runc_on_host $shape "$id" "$b"
}

# ---------------------------------------------------------------- runc's program, the stand-in's

for runtime in runc notun; do
        runc_v2 "$runtime-alone" "$runtime" 0
        is "$status" 0 "$runtime alone: container ran in v2 mode" || show
        alone=$(v2_verdicts "$output")
        rt=$(v2_progs after)
        like "$rt" "^[0-9]+ [^,]*$" "$runtime alone: one device program, the runtime's ($rt)"
        tun_want=allow tun_says=allowed
        [[ $runtime == notun ]] && tun_want=deny tun_says=denied
        like "$alone" "^tun $tun_want\$" "$runtime alone: tun $tun_says"
        like "$alone" "^deny-c240 deny\$" "$runtime alone: an unknown char device denied"
        unlike "$alone" "^nvidia.* allow\$" "$runtime alone: no NVIDIA node"

        runc_v2 "$runtime-hook" "$runtime" 1
        is "$status" 0 "$runtime + gpujail-hook: container ran" || show
        hooked=$(v2_verdicts "$output")
        is "$(v2_gained "$alone" "$hooked")" "$(for n in $want_gained; do echo "$n:deny->allow"; done | xargs)" \
                "$runtime + hook: exactly GPU 0's planned nodes gained ($want_gained), nothing else changed" ||
                diag "$(diff <(echo "$alone") <(echo "$hooked"))"
        like "$hooked" "^tun $tun_want\$" "$runtime + hook: tun $tun_says, as the runtime decided"
        before=$(v2_progs before)
        after=$(v2_progs after)
        like "$after" "^[0-9]+ gpujail_dev\$" "$runtime + hook: one device program, gpujail's ($after)"
        isnt "${after%% *}" "${before%% *}" "$runtime + hook: the runtime's program ($before) was replaced"
done

# ---------------------------------------------------------------- 16,385 rules

b=$(hook_bundle many "$(ask_for 0)" ".linux.cgroupsPath = \"/$V2_PARENT/many\"" \
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
        true' _ "$b" "$id" "$V2_PARENT/many"
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

v2_check_nothing_left
done_testing
