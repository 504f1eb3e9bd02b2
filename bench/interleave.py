#!/usr/bin/python3 -I
# SPDX-License-Identifier: Apache-2.0
"""interleave.py [-w WARMUP] N NAME=COMMAND...: wall time of each command, N runs each,
run in rounds (one of each per round, in a new random order every round, seeded so
that a run can be repeated), so that drift on a shared machine (another tenant, a
kernel thread, frequency changes) hits every command alike. hyperfine runs all N of
one command before the next: a slow minute then lands on one side of the ratio.
The order is shuffled, not rotated: a rotation keeps each command right after the
same other one, and what ran just before matters (a namespace torn down by
`unshare -m` made the next gpujail's cgroup migration wait ~2x longer for an RCU
grace period, measured: 18.3 vs 9.6 ms for two identical gpujails).

Each run is a posix_spawn + waitpid (vfork-based: the harness adds the same few
microseconds to every command), stdout and stderr to /dev/null; a command that
fails stops the benchmark. Prints JSON on stdout:
  {"runs": N, "load": "...", "results": [{"command": NAME, "mean", "median", "p90", "stddev",
   "min", "user", "sys" (seconds; user/sys: means of the CPU time of the processes
   that the command waited for, which leaves out those a pid-namespace init
   reaped or nobody did: not comparable across tools), "times": [...]}, ...]}
"""
import json
import os
import random
import resource
import shlex
import statistics
import sys
import time


def spawn_and_wait(argv, devnull):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                        (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"interleave.py: {shlex.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main(args):
    warmup = 5
    if args[:1] == ["-w"]:
        warmup, args = int(args[1]), args[2:]
    if len(args) < 2 or not args[0].isdigit() or any("=" not in a for a in args[1:]):
        sys.exit(__doc__)
    n = int(args[0])
    cmds = [(a.split("=", 1)[0], shlex.split(a.split("=", 1)[1])) for a in args[1:]]
    devnull = os.open(os.devnull, os.O_WRONLY)
    samples = {name: [] for name, _ in cmds}
    rng = random.Random(int(os.environ.get("INTERLEAVE_SEED", "1")))
    for i in range(warmup + n):
        order = cmds[:]
        rng.shuffle(order)
        for name, argv in order:
            s = spawn_and_wait(argv, devnull)
            if i >= warmup:
                samples[name].append(s)
    results = []
    for name, _ in cmds:
        walls = [s[0] for s in samples[name]]
        results.append({"command": name, "mean": statistics.mean(walls),
                        "median": statistics.median(walls),
                        "p90": statistics.quantiles(walls, n=10)[-1] if n > 1 else walls[0],
                        "stddev": statistics.stdev(walls) if n > 1 else 0.0,
                        "min": min(walls),
                        "user": statistics.mean(s[1] for s in samples[name]),
                        "sys": statistics.mean(s[2] for s in samples[name]),
                        "times": walls})
    json.dump({"runs": n, "load": open("/proc/loadavg").read().split()[0], "results": results},
              sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
