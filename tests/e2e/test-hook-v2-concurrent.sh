#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# cgroup v2 device program replacement under concurrency never loses a rule.
#
# Without runc: "containers" are cgroup dirs (v2, and v1 devices where mounted)
# with one sleeping process each, in a private mount namespace of the simulated
# nvidia8 host; a stand-in runtime attaches a device program to every v2 dir
# (runc 1.1's default devices, nothing else: compiled with clang -target bpf,
# attached with bpftool, BPF_F_ALLOW_MULTI as runc does on a pure v2 host).
# The v1 dirs allow everything, so v2 alone decides what the oracle sees.
# Then gpujail-hook (prestart, OCI state on stdin) runs for all of them at
# once, released together by a lock:
#   A. N containers, one hook each, container i asking for GPU i%8;
#   B. R containers, each hooked by K hooks racing (K <= 8, the retry bound of
#      gj_cgroup_v2_replace_devices: each -EAGAIN is another hook's successful
#      swap, each hook swaps once, so K hooks fail at most K-1 times): every
#      hook exits 0;
#   B'. one container whose stand-in program is attached exclusively (no
#      BPF_F_ALLOW_MULTI), raced by K hooks: all exit 0, still exclusive;
#   C. one container hooked by 12 hooks racing (past the retry bound): each
#      hook exits 0 or fails closed (125, one line "cannot put the device
#      program on ...") and the container keeps a correct program.
# For every container, before and after: the cgroup oracle (from a process in
# that cgroup: EPERM = denied, anything else = allowed) on a matrix of nodes:
# all 8 GPUs and the NVIDIA control nodes, the runtime's devices (null, zero,
# full, random, urandom, tty, ptmx, a pts, tun), devices it denies (tty1,
# ttyS0, kmem, fuse, c 240:0, b 240:0, loop0, sda: v2-common.sh) and mknod
# (the runtime allows it for all).
# After must equal before except the requested GPU and its control nodes,
# which go EPERM -> allowed. Exactly one device program per cgroup, not the
# runtime's. Then: cgroups removed, no program attached or still loaded.
#
# GPUJAIL_SOAK=1: 100 containers, 10 raced ones (GJ_V2C_CONTAINERS,
# GJ_V2C_RACED, GJ_V2C_RACERS override). Figures are printed as TAP comments.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/v2-common.sh"
require_root
require_cmd jq clang bpftool unshare flock mknod
require_built "$GPUJAIL_HOOK" "$HELPERS/open-probe" "$HELPERS/cgexec" "$HELPERS/bpf-list"
require_cgroup_v2
[[ -f /usr/include/linux/bpf.h ]] || skip_all "no linux/bpf.h (linux-libc-dev)"

if [[ ${GPUJAIL_SOAK:-0} == 1 ]]; then
        N=${GJ_V2C_CONTAINERS:-100} R=${GJ_V2C_RACED:-10}
else
        N=${GJ_V2C_CONTAINERS:-16} R=${GJ_V2C_RACED:-2}
fi
K=${GJ_V2C_RACERS:-6}
OVER=12
((K <= 8)) || bail_out "GJ_V2C_RACERS must be <= 8 (the replacement's retry bound)"

shape=nvidia8
H=$(fakehost $shape)
W=$TEST_TMP/w
mkdir -p "$W/nodes" "$W/mk" "$W/out"

# ---------------------------------------------------------------- the stand-in runtime

clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -c "$GPUJAIL_SRC/tests/helpers/runtime-devices.bpf.c" \
        -o "$W/runtime-prog.o" 2>"$W/clang.err" ||
        skip_all "clang cannot build a BPF object here: $(head -1 "$W/clang.err")"

# ---------------------------------------------------------------- the oracle's nodes

cp -a "$H"/dev/nvidia* "$W/nodes/"
v2_runtime_nodes | while read -r name type major minor; do
        mknod "$W/nodes/$name" "$type" "$major" "$minor"
done
# From the cgroup: every node, then mknod of a char and a block node.
cat >"$W/probe" <<'EOF'
#!/bin/bash
# probe OUT-PREFIX: run inside the cgroup; prints "NAME allow|deny" per node.
set -u
"$HELPERS/open-probe" "$W"/nodes/* >"$1.raw"
for t in c b; do
        rm -f "$1.mk$t"
        if mknod "$1.mk$t" $t 4 1 2>/dev/null; then echo "$W/nodes/mknod-$t OK"; else echo "$W/nodes/mknod-$t EPERM"; fi
        rm -f "$1.mk$t"
done >>"$1.raw"
awk '{ n = $1; sub(".*/", "", n); print n, ($2 == "EPERM" ? "deny" : "allow") }' "$1.raw" | sort
EOF
chmod +x "$W/probe"
export W

# ---------------------------------------------------------------- containers

V2=$(cgroup2_root)/gpujail-v2conc-$$
V1=
[[ -f /sys/fs/cgroup/devices/devices.allow ]] && V1=/sys/fs/cgroup/devices/gpujail-v2conc-$$
mechanism=${V1:+v1+}v2

names=()
for ((i = 0; i < N; i++)); do names+=("a$i"); done
for ((i = 0; i < R; i++)); do names+=("r$i"); done
names+=(over single)
declare -A gpu cg1 cg2 pid
for ((i = 0; i < ${#names[@]}; i++)); do
        c=${names[$i]}
        gpu[$c]=$((i % 8))
        cg2[$c]=$V2/$c
        cg1[$c]=${V1:+$V1/$c}
done

cleanup_containers() {
        local c p n d
        for c in "${names[@]}"; do
                p=${pid[$c]:-}
                [[ -n $p ]] && kill -KILL "$p" 2>/dev/null
                pid[$c]= # never kill a pid twice: it may be someone else's by then
        done
        # A cgroup can be removed once its last task has exited (up to 30 s on
        # a loaded machine: the mount namespace dies with the sleeper).
        for c in "${names[@]}"; do
                for d in ${cg2[$c]} ${cg1[$c]}; do
                        [[ -d $d ]] || continue
                        for ((n = 0; n < 300; n++)); do
                                rmdir "$d" 2>/dev/null && break
                                sleep 0.1
                        done
                        [[ -d $d ]] && echo "# cannot remove $d: holds [$(xargs <"$d/cgroup.procs")]"
                done
        done
        [[ -n $V1 && -d $V1 ]] && rmdir "$V1"
        [[ -d $V2 ]] && rmdir "$V2"
        return 0
}

snapshot_host before
defer cleanup_containers
mkdir "$V2" ${V1:+"$V1"} || bail_out "cannot create the test cgroups"
for c in "${names[@]}"; do
        mkdir "${cg2[$c]}" ${cg1[$c]:+"${cg1[$c]}"} || bail_out "cannot create cgroup $c"
        b=$W/bundles/$c
        mkdir -p "$b/rootfs/dev"
        jq -n --arg g "${gpu[$c]}" '{ociVersion: "1.0.2", root: {path: "rootfs"},
                process: {args: ["true"]}, annotations: {"gpujail.io/gpus": $g},
                linux: {resources: {devices: [{allow: false, access: "rwm"}]}}}' >"$b/config.json"
done

# The sleepers: each joins its cgroups, then a private mount namespace of the
# simulated host (the hook binds nodes into it), then sleeps. Started in the
# background of one `enter`; they outlive it and keep its namespace.
for c in "${names[@]}"; do echo "$c ${cg1[$c]} ${cg2[$c]}"; done >"$W/containers"
on_fakehost $shape -- bash -c '
        while read -r c d1 d2; do
                "$HELPERS/cgexec" $d1 $d2 -- unshare -m --propagation private sleep 3600 \
                        </dev/null >/dev/null 2>&1 &
                echo $! >"$W/pid.$c"
        done <"$W/containers"' || bail_out "cannot start the containers"
for c in "${names[@]}"; do
        pid[$c]=$(cat "$W/pid.$c")
        for ((n = 0; n < 200; n++)); do
                [[ $(cat "/proc/${pid[$c]}/comm" 2>/dev/null) == sleep ]] && break
                sleep 0.05
        done
        grep -qx "${pid[$c]}" "${cg2[$c]}/cgroup.procs" || bail_out "container $c did not start"
done

# The stand-in runtime: one program, attached to every container's v2 dir.
# (bpffs only in a private mount namespace, gone with it.)
cgs=()
for c in "${names[@]}"; do cgs+=("${cg2[$c]}"); done
unshare -m --propagation private bash -c '
        set -e
        mkdir -p "$W/bpffs"
        mount -t bpf bpf "$W/bpffs"
        bpftool prog load "$W/runtime-prog.o" "$W/bpffs/rt" type cgroup/dev
        for cg in "$@"; do
                mode=multi
                [[ $cg == */single ]] && mode= # exclusive: the hook replaces it without BPF_F_REPLACE
                bpftool cgroup attach "$cg" device pinned "$W/bpffs/rt" $mode
        done' _ "${cgs[@]}" \
        >"$W/attach.log" 2>&1 || bail_out "the stand-in runtime cannot attach its program: $(tail -1 "$W/attach.log")"

# "id id ..." of the device programs attached to a cgroup dir (type 6: BPF_CGROUP_DEVICE).
progs_of() { "$HELPERS/bpf-list" "$1" | awk -v d="$1" '$1 == d && $2 == 6 { sub("id=", "", $3); print $3 }' | xargs; }
probe_in() { "$HELPERS/cgexec" "${cg2[$1]}" ${cg1[$1]:+"${cg1[$1]}"} -- "$W/probe" "$W/mk/$1-$2" >"$W/out/$1.$2"; }

rt_id=$(progs_of "${cg2[${names[0]}]}")
runtime_ok=1
for c in "${names[@]}"; do
        [[ $(progs_of "${cg2[$c]}") == "$rt_id" ]] || runtime_ok=0
        probe_in "$c" before || runtime_ok=0
done
ok '[[ $runtime_ok == 1 && -n $rt_id ]]' "the stand-in runtime's program ($rt_id) is the one program on all ${#names[@]} cgroups"

# What the runtime alone allows: its devices and mknod, no GPU.
want_before=$(for f in "$W"/nodes/* "$W/nodes/mknod-c" "$W/nodes/mknod-b"; do
        n=${f##*/}
        case $n in nvidia* | deny-*) echo "$n deny" ;; *) echo "$n allow" ;; esac
done | sort)
bad=()
for c in "${names[@]}"; do [[ $(cat "$W/out/$c.before") == "$want_before" ]] || bad+=("$c"); done
is "${bad[*]}" "" "control: the runtime's program alone denies every GPU node and allows its own devices" ||
        diag "$(diff <(echo "$want_before") "$W/out/${bad[0]}.before")"

# ---------------------------------------------------------------- the hooks, all at once

# hooks: "container racer" lines. A: one each; B: K each; C: OVER.
{
        for ((i = 0; i < N; i++)); do echo "a$i 0"; done
        for ((i = 0; i < R; i++)); do for ((k = 0; k < K; k++)); do echo "r$i $k"; done; done
        for ((k = 0; k < OVER; k++)); do echo "over $k"; done
        for ((k = 0; k < K; k++)); do echo "single $k"; done
} >"$W/hooks"
for c in "${names[@]}"; do
        printf '{"ociVersion":"1.0.2","id":"v2c-%s","status":"creating","pid":%s,"bundle":"%s"}' \
                "$c" "${pid[$c]}" "$W/bundles/$c" >"$W/state.$c"
done
n_hooks=$(wc -l <"$W/hooks")

# Each hook waits on a shared lock the batch holds exclusively, then runs,
# timed; the batch lets them all go at once. The racers (B, C) run under
# strace, which delays the return of each of their bpf(2) calls by
# GJ_V2C_DELAY_US: the window between listing the attached program and
# replacing it grows from microseconds to ~2 delays, so racers do collide
# (a lost swap shows in the trace as BPF_PROG_ATTACH or BPF_PROG_GET_FD_BY_ID
# = -1 ENOENT). LeakSanitizer cannot run under ptrace: off for those.
delay_us=${GJ_V2C_DELAY_US:-200000}
strace_racers=0
command -v strace >/dev/null && strace_racers=1
export delay_us strace_racers
cat >"$W/one-hook" <<'EOF'
#!/bin/bash
c=$1 k=$2
wrap=()
if [[ $c != a* && $strace_racers == 1 ]]; then
        export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
        wrap=(strace -f -qq -o "$W/out/trace.$c.$k" -e trace=bpf -e inject=bpf:delay_exit="$delay_us")
fi
s=$(date +%s%N)
"${wrap[@]}" "$GPUJAIL_HOOK" prestart <"$W/state.$c" >"$W/out/hook.$c.$k.out" 2>"$W/out/hook.$c.$k.err"
echo $? >"$W/out/hook.$c.$k.rc"
echo $((($(date +%s%N) - s) / 1000)) >"$W/out/hook.$c.$k.us"
EOF
chmod +x "$W/one-hook"
run on_fakehost $shape -- bash -c '
        exec 9>"$W/lock"
        flock -x 9
        while read -r c k; do
                (touch "$W/out/ready.$c.$k" && exec flock -s "$W/lock" "$W/one-hook" "$c" "$k") &
        done <"$W/hooks"
        n=$(wc -l <"$W/hooks")
        for ((t = 0; t < 600; t++)); do
                r=("$W"/out/ready.*)
                ((${#r[@]} >= n)) && break
                sleep 0.05
        done
        sleep 0.3
        s=$(date +%s%N)
        flock -u 9
        wait
        echo $((($(date +%s%N) - s) / 1000000)) >"$W/batch-ms"'
is "$status" 0 "$n_hooks hooks ran concurrently" || show
rcs=("$W"/out/hook.*.rc)
ran=${#rcs[@]}
is "$ran" "$n_hooks" "every hook finished"

# ---------------------------------------------------------------- after

rc_of() { cat "$W/out/hook.$1.$2.rc" 2>/dev/null || echo missing; }

# The matrix a container must show: before, with its GPU and control nodes allowed.
want_after() { # CONTAINER
        local g=${gpu[$1]} own
        own=$(hostinfo $shape ".devices[$g].nodes[0].path")
        own=${own##*/}
        echo "$want_before" | awk -v own="$own" '
                $1 == own || $1 == "nvidiactl" || $1 == "nvidia-uvm" || $1 == "nvidia-uvm-tools" { print $1, "allow"; next }
                { print }'
}

lost=0 gained=0 bad_progs=() bad_matrix=() replaced=0 final_ids=()
for c in "${names[@]}"; do
        ids=$(progs_of "${cg2[$c]}")
        final_ids+=($ids)
        if [[ $(wc -w <<<"$ids") != 1 || $ids == "$rt_id" ]]; then bad_progs+=("$c:[$ids]"); fi
        probe_in "$c" after
        want=$(want_after "$c")
        if [[ $(cat "$W/out/$c.after") != "$want" ]]; then
                bad_matrix+=("$c")
                diag "$c (GPU ${gpu[$c]}): want vs got:"
                diag "$(diff <(echo "$want") "$W/out/$c.after")"
        fi
        # Rules lost: allowed before, denied after. Gained: denied before and after
        # allowed, but not a node of the request.
        lost=$((lost + $(join "$W/out/$c.before" "$W/out/$c.after" | grep -c ' allow deny$')))
        gained=$((gained + $(join <(echo "$want") "$W/out/$c.after" | grep -c ' deny allow$')))
done
is "${bad_progs[*]}" "" "every cgroup has exactly one device program, not the runtime's"
is "${bad_matrix[*]}" "" "every cgroup: its GPU and control nodes allowed, other GPUs denied, the runtime's rules kept"
is "$lost" 0 "no rule lost (allowed by the runtime, denied after the hook)"
is "$gained" 0 "no device gained beyond the request"

# A: one hook each.
bad=()
for ((i = 0; i < N; i++)); do
        c=a$i
        [[ $(rc_of "$c" 0) == 0 ]] && grep -q "cgroup=$mechanism" "$W/out/hook.$c.0.err" || bad+=("$c")
done
is "${bad[*]}" "" "A: $N hooks on $N containers at once: all exit 0 and report cgroup=$mechanism" ||
        for c in "${bad[@]:0:3}"; do diag "$c: rc $(rc_of "$c" 0): $(cat "$W/out/hook.$c.0.err")"; done

# B: K racers per container, within the retry bound: all exit 0.
bad=()
for ((i = 0; i < R; i++)); do
        for ((k = 0; k < K; k++)); do [[ $(rc_of "r$i" $k) == 0 ]] || bad+=("r$i/$k"); done
done
is "${bad[*]}" "" "B: $R containers x $K racing hooks (within the retry bound): all exit 0" ||
        for h in "${bad[@]:0:3}"; do diag "$h: $(cat "$W/out/hook.${h/\//.}.err")"; done

# B': the same race where the runtime attached its program exclusively (no
# BPF_F_ALLOW_MULTI): the hook replaces it by attaching with the same flags.
bad=()
for ((k = 0; k < K; k++)); do [[ $(rc_of single $k) == 0 ]] || bad+=("$k: $(cat "$W/out/hook.single.$k.err")"); done
is "${bad[*]}" "" "B': $K racing hooks on a cgroup with an exclusive (non-multi) program: all exit 0"
is "$(bpftool -j cgroup show "${cg2[single]}" | jq -r '[.[] | select(.attach_type == "cgroup_device") | .attach_flags] | "\(length) [\(join(","))]"')" \
        "1 []" "B': the program is still attached exclusively (the runtime's mode kept)"

# C: past the retry bound, a hook may fail, but closed: 125 and one line
# saying why; at least one succeeded (each loss is another's success).
over_ok=0 over_failed=0 bad=()
for ((k = 0; k < OVER; k++)); do
        r=$(rc_of over $k)
        e=$W/out/hook.over.$k.err
        if [[ $r == 0 ]]; then
                over_ok=$((over_ok + 1))
        elif [[ $r == 125 && $(wc -l <"$e") == 1 ]] &&
                grep -q "cannot put the device program on ${cg2[over]}: Resource temporarily unavailable" "$e"; then
                over_failed=$((over_failed + 1))
        else
                bad+=("$k: rc $r: $(head -3 "$e")")
        fi
done
is "${bad[*]}" "" "C: $OVER racing hooks on one container: each exits 0 or fails closed with one line (EAGAIN)"
ok '[[ $over_ok -ge 1 ]]' "C: at least one of the $OVER succeeded ($over_ok did, $over_failed failed closed)"

# The race was run, not only the hooks: racers lost swaps and retried.
lost_swaps=0
if [[ $strace_racers == 1 ]]; then
        lost_swaps=$(cat "$W"/out/trace.* | grep -Ec 'bpf\((BPF_PROG_ATTACH|BPF_PROG_GET_FD_BY_ID),.* = -1 ENOENT')
        if [[ $lost_swaps -gt 0 ]]; then
                ok true "B, B', C: racers collided: $lost_swaps swaps lost to another hook and retried"
        else
                skip "no racer lost a swap this time (timing)" "B, B', C: racers collided"
        fi
else
        skip "strace is not installed: racers ran without a widened window" "B, B', C: racers collided"
fi

# Figures.
for f in "$W"/out/hook.*.rc; do [[ $(cat "$f") == 0 ]] && replaced=$((replaced + 1)); done
mapfile -t us < <(cat "$W"/out/hook.a*.us | sort -n)
diag "figures: containers=${#names[@]} (A $N, B $R x $K racers, B' 1 x $K, C 1 x $OVER racers) hooks=$n_hooks" \
        "replacements=$replaced failed_closed=$((n_hooks - replaced)) lost_swaps_retried=$lost_swaps" \
        "devices_checked=$((${#names[@]} * $(wc -l <<<"$want_before"))) rules_lost=$lost devices_gained=$gained batch_wall_ms=$(cat "$W/batch-ms")" \
        "A_hook_ms_median=$((${us[$((${#us[@]} / 2))]} / 1000)) A_hook_ms_max=$((${us[-1]} / 1000))"

# ---------------------------------------------------------------- leave no trace

cleanup_containers
gone=1
for ((n = 0; n < 100; n++)); do
        gone=1
        for id in "$rt_id" "${final_ids[@]}"; do
                bpftool prog show id "$id" >/dev/null 2>&1 && { gone=0; break; }
        done
        [[ $gone == 1 ]] && break
        sleep 0.1
done
ok '[[ $gone == 1 ]]' "the runtime's and the hooks' programs are freed with their cgroups"
assert_host_unchanged before "host unchanged: mounts, cgroups, BPF programs"
done_testing
