#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/hook.sh [N]: what gpujail-hook adds to container start.
#
# `runc run` of a trivial busybox container (/bin/true) on a simulated host
# (entered without its LD_PRELOAD shim, which would tax the dynamic hook and not
# the static floor: the hook reads the PCI bus without libudev),
# side by side in one invocation, N runs each (default 30), interleaved so
# that drift hits every variant alike:
#   base     no hook registered
#   true     /bin/true registered as the hook (what any hook costs: runc's fork, exec
#            and wait, the state on a pipe): the floor for the hook's own cost
#   nothing  hook registered, nothing requested (the cost for every container
#            when the hook is registered with `always`)
#   gpu1     annotation gpujail.io/gpus=0   on nvidia8
#   gpu8     annotation gpujail.io/gpus=all on nvidia8
#            (the annotation: the hook's default /etc/gpujail/hook.conf leaves the image's env out)
#   drv1     gpu1 plus the driver's userspace (default capabilities utility,compute) from a
#            fake driver of ~40 libraries (tests/helpers/mkfakedrv --all) whose ld.so.cache is
#            bound over /etc/ld.so.cache for the whole run; its image carries a copy of this
#            machine's ld.so.cache (hundreds of entries), as a real one does. The other variants
#            say gpujail.io/capabilities=none, so drv1 - gpu1 is what the injection adds.
#   hook1    the hook alone, timed by a wrapper inside runc (createRuntime, 1 GPU)
#   noop1    a static no-op binary timed the same way: the floor for hook1
# Each figure: p50, p90 and mean.
# Prints mean and median per variant and the median added over base.
# Target: the hook adds < 5 ms (nvidia-container-cli: 0.5-2.5 s per container).
#
# Env: GPUJAIL_BUILD (default build), N. Needs root, runc, busybox, jq, cc.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
GPUJAIL_BUILD=$(cd "${GPUJAIL_BUILD:-$here/build}" && pwd)
export GPUJAIL_BUILD
n=${1:-${N:-30}}

[[ $(id -u) -eq 0 ]] || { echo "bench/hook.sh: needs root" >&2; exit 1; }
for c in runc jq busybox cc python3; do command -v $c >/dev/null || { echo "needs $c" >&2; exit 1; }; done

work=$(mktemp -d /tmp/gpujail-bench-hook.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf --one-file-system "$work"' EXIT
"$here/tests/fakehost/mkhost" nvidia8 "$work/host" >/dev/null
"$here/tests/helpers/mkfakedrv" "$work/fakedrv" 550.54.15 --all >/dev/null

# rootfs and bundles
mkdir -p "$work/rootfs/bin" "$work/rootfs/dev" "$work/rootfs/proc" "$work/rootfs/sys"
cp /bin/busybox "$work/rootfs/bin/"
ln -s busybox "$work/rootfs/bin/true"
hook=$GPUJAIL_BUILD/cli/gpujail-hook
[[ -x $hook ]] || { echo "no $hook: build first" >&2; exit 1; }

cp -a "$work/rootfs" "$work/rootfs-drv"
mkdir -p "$work/rootfs-drv/etc"
cp /etc/ld.so.cache "$work/rootfs-drv/etc/ld.so.cache"

mkbundle() { # NAME HOOK?(0/1) SELECTOR [HOOK-PATH] [CAPS]
        local b=$work/$1 root=$work/rootfs
        [[ $1 == drv1 ]] && root=$work/rootfs-drv
        mkdir -p "$b"
        runc spec --bundle "$b"
        jq --arg root "$root" --arg hook "${4:-$hook}" --argjson h "$2" --arg sel "$3" --arg caps "${5:-none}" '
                .root.path = $root | .process.terminal = false | .process.args = ["/bin/true"]
                | .annotations["gpujail.io/capabilities"] = $caps
                | if $sel == "" then . else .annotations["gpujail.io/gpus"] = $sel end
                | if $h == 1 then .hooks.createRuntime = [{path: $hook, args: ["gpujail-hook", "createRuntime"],
                        env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}] else . end' \
                "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
}
mkbundle base 0 ""
mkbundle true 1 "" /bin/true
mkbundle nothing 1 ""
mkbundle gpu1 1 0
mkbundle gpu8 1 all
mkbundle drv1 1 0 "$hook" utility,compute
mkbundle timed 1 0
mkbundle timednoop 1 0
# The floor for the hook alone: a static binary that does nothing, timed the same way.
printf 'int main(void) { return 0; }\n' >"$work/noop.c"
cc -O2 -static -o "$work/noop" "$work/noop.c" 2>/dev/null || cc -O2 -o "$work/noop" "$work/noop.c"
mkwrapper() { # BUNDLE TARGET LOG: a wrapper registered in the bundle in place of the hook
        cat >"$work/$1-wrapper" <<EOF
#!/usr/bin/python3 -I
# Wall and CPU time (user+sys, getrusage) of $2, as runc runs it.
import resource, subprocess, sys, time
t = time.monotonic_ns()
r = subprocess.run(["$2"] + sys.argv[1:])
wall = time.monotonic_ns() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open("$3", "a") as f:
    f.write(f"{wall} {int((ru.ru_utime + ru.ru_stime) * 1e9)}\n")
sys.exit(r.returncode)
EOF
        chmod +x "$work/$1-wrapper"
        jq --arg w "$work/$1-wrapper" '.hooks.createRuntime[0].path = $w' "$work/$1/config.json" >"$work/$1/c"
        mv "$work/$1/c" "$work/$1/config.json"
}
mkwrapper timed "$hook" "$work/hook-times"
mkwrapper timednoop "$work/noop" "$work/noop-times"

# Everything runs inside the simulated host; timing in Python (monotonic ns).
cat >"$work/bench.py" <<'EOF'
import json, os, statistics, subprocess, sys, time
work, n, hook = sys.argv[1], int(sys.argv[2]), sys.argv[3]
variants = ["base", "true", "nothing", "gpu1", "gpu8", "drv1"]
times = {v: [] for v in variants + ["hook1", "noop1"]}
cpu_times, noop_cpu = [], []

def run_one(v, i):
    cid = f"gjbench-{os.getpid()}-{v}-{i}"
    t = time.monotonic_ns()
    r = subprocess.run(["runc", "run", "--bundle", f"{work}/{v}", cid],
                       stdin=subprocess.DEVNULL, capture_output=True)
    dt = time.monotonic_ns() - t
    subprocess.run(["runc", "delete", "-f", cid], capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{v}: runc failed: {r.stderr.decode()[-400:]}")
    return dt / 1e6

# The hook alone: a wrapper registered in its place stamps the time around it
# (the wrapper's own subprocess adds a little: an upper bound); the same for a
# static no-op binary, the floor.
def alone(bundle, log, i, cpu):
    cid = f"gjbench-{os.getpid()}-{bundle}-{i}"
    r = subprocess.run(["runc", "run", "--bundle", f"{work}/{bundle}", cid],
                       stdin=subprocess.DEVNULL, capture_output=True)
    subprocess.run(["runc", "delete", "-f", cid], capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{bundle}: runc failed: {r.stderr.decode()[-400:]}")
    wall, c = open(f"{work}/{log}").read().split("\n")[-2].split()
    cpu.append(int(c) / 1e6)
    return int(wall) / 1e6

for v in variants:  # warm-up
    run_one(v, "warm")
for i in range(n):
    for v in variants:
        times[v].append(run_one(v, i))
    times["hook1"].append(alone("timed", "hook-times", i, cpu_times))
    times["noop1"].append(alone("timednoop", "noop-times", i, noop_cpu))

base = statistics.median(times["base"])
print(f"runc run /bin/true on simulated nvidia8, N={n} each, interleaved")
def p90(x):
    return statistics.quantiles(x, n=10)[-1]
print(f"{'variant':<34}{'p50 ms':>8}{'p90 ms':>8}{'mean ms':>9}{'added (p50)':>13}")
label = {"base": "runc, no hook", "true": "/bin/true as the hook (any hook)", "nothing": "hook, nothing requested",
         "gpu1": "hook, 1 GPU (gpujail.io/gpus=0)", "gpu8": "hook, 8 GPUs (=all)",
         "drv1": "hook, 1 GPU + driver (~40 libs)",
         "hook1": "hook alone, 1 GPU (wrapper-timed)", "noop1": "static no-op alone (wrapper-timed)"}
for v in variants + ["hook1", "noop1"]:
    m, md = statistics.mean(times[v]), statistics.median(times[v])
    added = "" if v in ("base", "hook1", "noop1") else f"{md - base:+.2f} ms"
    print(f"{label[v]:<34}{md:8.2f}{p90(times[v]):8.2f}{m:9.2f}{added:>13}")
floor = statistics.median(times["true"])
print("gpujail-hook over any hook (/bin/true): " + ", ".join(
    f"{label[v].split(', ')[1]} {statistics.median(times[v]) - floor:+.2f} ms" for v in ("nothing", "gpu1", "gpu8", "drv1")))
print(f"driver injection (drv1 - gpu1, medians): {statistics.median(times['drv1']) - statistics.median(times['gpu1']):+.2f} ms")
for name, cpu in (("hook alone, 1 GPU: CPU user+sys", cpu_times), ("static no-op alone: CPU user+sys", noop_cpu)):
    print(f"{name:<34}{statistics.median(cpu):8.2f}{p90(cpu):8.2f}{statistics.mean(cpu):9.2f}")
print(f"hook alone over a static no-op (target <= 1 ms): wall p50 "
      f"{statistics.median(times['hook1']) - statistics.median(times['noop1']):+.2f} ms, CPU p50 "
      f"{statistics.median(cpu_times) - statistics.median(noop_cpu):+.2f} ms")
print(f"load average: {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPUs "
      "(wall times stretch with load; the CPU time does not)")
EOF
"$here/tests/fakehost/enter" --no-preload "$work/host" -- bash -c 'mount --bind "$1/fakedrv/ld.so.cache" /etc/ld.so.cache &&
        exec python3 "$1/bench.py" "$@"' _ "$work" "$n" "$hook"
