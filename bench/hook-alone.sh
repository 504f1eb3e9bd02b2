#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/hook-alone.sh [OLD-HOOK] [N]: gpujail-hook run directly (no runtime around
# it), as createRuntime, against a stand-in container (a process in its own mount
# namespace, with a tmpfs on its rootfs's /dev as runc mounts one, and its own v1
# devices and cgroup2 cgroups) on a simulated nvidia8 host, N runs each (default
# 100), in shuffled rounds with
#   noop      a static binary that does nothing: the floor ("an exec")
#   true      /bin/true: an exec plus the dynamic loader and libc (what any
#             dynamically linked hook pays before main)
#   nothing   the hook, a config.json that requests nothing
#   gpu1      the hook, gpujail.io/gpus=0
# and, given OLD-HOOK (an older gpujail-hook), the same two of it. Wall time and
# CPU time (user+sys of each run, wait4) as p50 / p90 / mean, in ms: CPU time is
# the figure that a loaded machine disturbs least. The simulated host is entered
# without its LD_PRELOAD shim (enter --no-preload): the hook reads the PCI bus
# without libudev, and the shim would tax the dynamic binaries, not the static floor.
#   GPUJAIL_BUILD (default build). Needs root, runc (for its spec), jq, cc.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${GPUJAIL_BUILD:-$here/build}" && pwd)
HOOK=$BUILD/cli/gpujail-hook
OLD=${1:+$(realpath "$1")}
N=${2:-100}
[[ $(id -u) -eq 0 ]] || { echo "bench/hook-alone.sh: needs root" >&2; exit 1; }
[[ -x $HOOK ]] || { echo "bench/hook-alone.sh: build first ($HOOK)" >&2; exit 1; }
for c in runc jq cc python3; do command -v $c >/dev/null || { echo "needs $c" >&2; exit 1; }; done

W=$(mktemp -d /tmp/gpujail-bench-alone.XXXXXX)
CG=gpujail-bench-alone-$$
cleanup() {
        rmdir "/sys/fs/cgroup/devices/$CG" "/sys/fs/cgroup/unified/$CG" 2>/dev/null || true
        rm -rf --one-file-system "$W"
}
trap cleanup EXIT
"$here/tests/fakehost/mkhost" nvidia8 "$W/host" >/dev/null
printf 'int main(void) { return 0; }\n' >"$W/noop.c"
cc -O2 -static -o "$W/noop" "$W/noop.c" 2>/dev/null || cc -O2 -o "$W/noop" "$W/noop.c"
mkdir -p "$W/rootfs/dev" "$W/none" "$W/gpu1"
runc spec --bundle "$W/none"
jq --arg r "$W/rootfs" '.root.path = $r' "$W/none/config.json" >"$W/c" && mv "$W/c" "$W/none/config.json"
jq '.annotations["gpujail.io/gpus"] = "0"' "$W/none/config.json" >"$W/gpu1/config.json"

cat >"$W/run.py" <<'EOF'
import os, random, statistics, sys, time
w, n, hook, old = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
pid = int(open(f"{w}/sleeper.pid").read())
for b in ("none", "gpu1"):
    open(f"{w}/{b}.state", "w").write(
        f'{{"ociVersion":"1.0.2","id":"bench","status":"creating","pid":{pid},"bundle":"{w}/{b}"}}')
variants = [("noop", None, [f"{w}/noop"]), ("true", None, ["/bin/true"]),
            ("nothing", "none", [hook, "createRuntime"]), ("gpu1", "gpu1", [hook, "createRuntime"])]
if old:
    variants += [("nothing-old", "none", [old, "createRuntime"]), ("gpu1-old", "gpu1", [old, "createRuntime"])]
res = {v[0]: ([], []) for v in variants}
devnull = os.open(os.devnull, os.O_WRONLY)
rng = random.Random(1)
for i in range(n + 3):
    order = variants[:]
    rng.shuffle(order)
    for name, state, argv in order:
        fa = [(os.POSIX_SPAWN_OPEN, 0, f"{w}/{state}.state" if state else os.devnull, os.O_RDONLY, 0),
              (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        t = time.perf_counter()
        p = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
        _, status, ru = os.wait4(p, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"bench/hook-alone.sh: {name} exited with {os.waitstatus_to_exitcode(status)}")
        if i >= 3:
            res[name][0].append(wall * 1e3)
            res[name][1].append((ru.ru_utime + ru.ru_stime) * 1e3)
def f(x):
    return f"{statistics.median(x):6.3f} {statistics.quantiles(x, n=10)[-1]:6.3f} {statistics.mean(x):6.3f}"
print(f"gpujail-hook createRuntime alone, simulated nvidia8, N={n} each, shuffled rounds "
      f"(load {open('/proc/loadavg').read().split()[0]}); ms, p50 p90 mean")
print(f"  {'':12s} {'wall':>20s}   {'cpu (user+sys)':>20s}")
for name, (wall, cpu) in res.items():
    print(f"  {name:12s} {f(wall)}   {f(cpu)}")
floor = statistics.median(res["noop"][1])
print("  cpu p50 over the static no-op: " + ", ".join(
    f"{k} {statistics.median(v[1]) - floor:+.2f}" for k, v in res.items() if k != "noop"))
EOF

cat >"$W/inside.sh" <<EOF
set -e
mkdir -p /sys/fs/cgroup/devices/$CG /sys/fs/cgroup/unified/$CG
unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=0755 tmpfs "\$0/rootfs/dev" && exec sleep 100000' "$W" &
echo \$! >"$W/sleeper.pid"
sleep 0.2
echo \$! >/sys/fs/cgroup/devices/$CG/cgroup.procs
echo \$! >/sys/fs/cgroup/unified/$CG/cgroup.procs
python3 "$W/run.py" "$W" "$N" "$HOOK" "$OLD" || r=\$?
kill \$! 2>/dev/null; wait \$! 2>/dev/null || true
rmdir /sys/fs/cgroup/devices/$CG /sys/fs/cgroup/unified/$CG
exit \${r:-0}
EOF
"$here/tests/fakehost/enter" --no-preload --modules "$W/host" -- bash "$W/inside.sh"
