#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run: the job's CPUs and memory follow its GPUs (issue 11, "Placement"),
# checked from inside the job (/proc/self/status Cpus_allowed_list,
# Mems_allowed_list), on the numa2 simulated host: 2 NUMA nodes, 2 PCIe switches
# each, GPU 8 with numa_node -1. The kernel's cpuset takes only CPUs this machine
# has, so numa2's node 0 is CPU 0 and node 1 CPU 1, and only node 0 has memory.
# On the hybrid host (v1 cpuset) and in a pure cgroup v2 mount namespace (bound
# where cgroup2 has a cpuset controller for gpujail's cgroup, else unpinned and
# said under --verbose). Nothing is left behind, a SIGKILLed gpujail's cpuset
# cgroup included (the next run sweeps it).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"
require_cmd taskset
require_cgroup_v1_devices
require_cgroup_v2
write_v2ns
[[ $(nproc --all) -ge 2 && -d /sys/devices/system/node ]] ||
        skip_all "needs 2 CPUs and /sys/devices/system/node"
[[ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]] || skip_all "no cgroup v1 cpuset hierarchy here"

HOST=$(fakehost numa2)
is "$(hostinfo numa2 '[.devices[].numa] | map(tostring) | join(",")')" "0,0,0,0,1,1,1,1,-1" \
        "numa2: GPUs 0-3 on node 0, 4-7 on node 1, 8 unknown"
cpuset_jobs() { find /sys/fs/cgroup/cpuset -maxdepth 3 -path '*gpujail*' -type d 2>/dev/null | sort; }
cpuset_before=$(cpuset_jobs)
run_snapshot before

# job [pre...] -- [gpujail options...]: the job's CPUs and mems, "CPUS MEMS"
job() {
        local pre=()
        while [[ $1 != -- ]]; do pre+=("$1"); shift; done
        shift
        run "$FAKEHOST/enter" "$HOST" -- "${pre[@]}" "$GPUJAIL" run --verbose "$@" -- \
                awk '/^(Cpus|Mems)_allowed_list/ { printf "%s ", $2 }' /proc/self/status
        [[ $status -eq 0 ]] || show
        got=${stdout% }
}

for kind in hybrid v2; do
        pre=()
        [[ $kind == v2 ]] && pre=("$V2NS")
        if [[ $kind == v2 ]]; then
                # gpujail's cgroup2 cgroup (this test's scratch one) must offer cpuset to gpujail/
                ctl=$(cat "$(cgroup2_root)/$RUN_SCRATCH/cgroup.subtree_control" 2>/dev/null)
                if [[ " $ctl " != *" cpuset "* ]]; then
                        job "${pre[@]}" -- --gpu 5
                        is "$got" "0-1 0" "v2, no cpuset for gpujail's cgroup: node-1 GPU runs unpinned"
                        like "$stderr" 'NUMA: running unpinned: no cpuset controller' \
                                "v2, no cpuset controller: --verbose says why"
                        job "${pre[@]}" taskset -c 0 -- --gpu 5
                        is "$got" "0 0" "v2, unpinned: the caller's taskset stays"
                        continue
                fi
        fi
        job "${pre[@]}" -- --gpu 5
        is "$got" "1 0" "$kind: a node-1 GPU: CPU 1 only"
        like "$stderr" 'NUMA: CPUs 1, memory nodes unbound' "$kind: --verbose says the binding"
        job "${pre[@]}" -- --gpu 2
        is "$got" "0 0" "$kind: a node-0 GPU: CPU 0, memory node 0"
        job "${pre[@]}" -- --gpu 0,4
        is "$got" "0-1 0" "$kind: GPUs on both nodes: the union"
        job "${pre[@]}" -- --gpu 5 --no-numa-bind
        is "$got" "0-1 0" "$kind: --no-numa-bind: both CPUs"
        like "$stderr" 'unpinned: --no-numa-bind' "$kind: --no-numa-bind said under --verbose"
        job "${pre[@]}" -- --gpu 8
        is "$got" "0-1 0" "$kind: numa_node -1: unpinned"
        like "$stderr" 'unpinned: a GPU.s NUMA node is unknown' "$kind: numa_node -1 said under --verbose"
        job "${pre[@]}" -- --gpu 4,8
        is "$got" "0-1 0" "$kind: a node-1 GPU with a numa_node -1 one: unpinned"
        job "${pre[@]}" -- --gpu auto:2
        is "$got" "0 0" "$kind: --gpu auto:2 (0,1: one node, one switch): CPU 0"
        # a caller restricted to CPU 0 does not escape it
        job "${pre[@]}" taskset -c 0 -- --gpu 5
        is "$got" "0 0" "$kind: caller on CPU 0, node-1 GPU: stays on CPU 0 (unpinned)"
        like "$stderr" 'unpinned: none of the GPUs. CPUs' "$kind: the empty intersection said"
        job "${pre[@]}" taskset -c 1 -- --gpu 0,4
        is "$got" "1 0" "$kind: caller on CPU 1, GPUs on both nodes: CPU 1 only"
done

# plan --json says the binding run would make
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" plan --json --gpu auto:2
is "$(jq -c '[.auto.picked, .numa]' <<<"$stdout")" \
        '[[0,1],{"bound":true,"cpus":"0","mems":"0","reason":null}]' "plan --json: auto:2 and its binding"
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" plan --json --gpu 8
is "$(jq -c '.numa | [.bound, .reason]' <<<"$stdout")" \
        '[false,"a GPU'"'"'s NUMA node is unknown (numa_node -1)"]' "plan --json: numa_node -1: not bound, why"

# quiet without --verbose
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 5 -- true
unlike "$stderr" 'NUMA' "without --verbose nothing is said of NUMA"

# a one-node host: no cpuset made at all
run env GPUJAIL_DEBUG=1 "$FAKEHOST/enter" "$(fakehost nvidia1)" -- "$GPUJAIL" run --gpu 0 -- \
        grep Cpus_allowed_list /proc/self/status
like "$stderr" 'NUMA: one node online' "a one-node host: unpinned, no cpuset"

# SIGKILL of gpujail: its job dies (PR_SET_PDEATHSIG); the next run on a NUMA host sweeps
# the empty v1 cpuset cgroup it left
marker=$((300 + RANDOM % 500)).$RANDOM
"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 5 -- sleep "$marker" >/dev/null 2>&1 &
bg=$!
pid=$(job_pid "$marker")
cs_dir=/sys/fs/cgroup/cpuset$(awk -F: '$2 == "cpuset" { print $3 }' "/proc/$pid/cgroup")
like "$cs_dir" '/gpujail/run-[0-9]+-[0-9a-f]+$' "the job runs in its v1 cpuset cgroup"
is "$(cat "$cs_dir/cpuset.cpus" 2>/dev/null)" 1 "... whose cpuset.cpus is the node's"
kill -KILL "$(pgrep -f "gpujail run --gpu 5 -- sleep $marker" | head -1)"
wait "$bg" 2>/dev/null
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
"$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 -- sleep 0.5 >/dev/null 2>&1
nok '[ -d "$cs_dir" ]' "the next run removed the killed gpujail's empty cpuset cgroup"

is "$(cpuset_jobs)" "$cpuset_before" "no cpuset cgroup left behind"
run_assert_host_unchanged before "no device cgroup, BPF program or mount left behind"
done_testing
