#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bench/cdi.sh [BUILD_DIR]: how long the CDI and runtime-wrapper faces take, as
# ratios to a baseline measured in the same run (hyperfine, no timing asserts).
#   1. `gpujail cdi generate` on simulated hosts of 1, 8 and 64 GPUs (vs `gpujail list --json`,
#      the discovery it is built on, and `true`, the process floor).
#   2. `gpujail runtime` against plain runc: `--version` (pure exec overhead), `state`
#      (a pass-through verb), and a full `run` of a trivial busybox container with and
#      without a GPU request (read config.json, plan, inject, exec).
# (state of a missing container fails by design: hyperfine runs with -i.)
# Needs root, hyperfine, runc, busybox-static, jq. Simulated hosts: tests/fakehost.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
GPUJAIL=$BUILD/cli/gpujail
export FAKESYSFS=${FAKESYSFS:-$BUILD/tests/fakehost/fakesysfs.so}
RUNS=${RUNS:-30}
[[ $(id -u) -eq 0 ]] || { echo "bench/cdi.sh: needs root" >&2; exit 77; }
for c in hyperfine runc jq busybox; do
        command -v $c >/dev/null || { echo "bench/cdi.sh: needs $c" >&2; exit 77; }
done
[[ -x $GPUJAIL ]] || { echo "bench/cdi.sh: build first ($GPUJAIL)" >&2; exit 77; }

T=$(mktemp -d /tmp/gpujail-bench.XXXXXX)
cleanup() {
        runc --root "$T/runc" list -q 2>/dev/null | xargs -r -n1 runc --root "$T/runc" delete -f 2>/dev/null || true
        rm -rf --one-file-system "$T"
}
trap cleanup EXIT

echo "## gpujail cdi generate (simulated hosts; $(uname -r); $(nproc) CPUs)"
echo
for shape in nvidia1 nvidia8 nvidia64; do
        "$SRC/tests/fakehost/mkhost" $shape "$T/$shape" >/dev/null
        "$SRC/tests/fakehost/enter" "$T/$shape" -- hyperfine -N --style basic --runs "$RUNS" --warmup 3 \
                --export-markdown "$T/$shape.md" \
                -n "true (floor)" "true" \
                -n "list --json ($shape)" "$GPUJAIL list --json" \
                -n "cdi generate ($shape)" "$GPUJAIL cdi generate" \
                -n "cdi generate --format yaml ($shape)" "$GPUJAIL cdi generate --format yaml" >/dev/null
        cat "$T/$shape.md"
        echo
        bytes=$("$SRC/tests/fakehost/enter" "$T/$shape" -- "$GPUJAIL" cdi generate | wc -c)
        echo "spec size ($shape): $bytes bytes"
        echo
done

echo "## gpujail runtime vs runc"
echo
B=$T/bundle
mkdir -p "$B/rootfs/bin"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
(cd "$B" && runc spec)
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
cp -r "$B" "$T/bundle-gpu"
jq '.annotations["gpujail.io/gpus"] = "0"' "$B/config.json" >"$T/bundle-gpu/config.json"
RUNC=$(command -v runc)
W="$GPUJAIL runtime --runtime $RUNC"
"$SRC/tests/fakehost/enter" "$T/nvidia8" -- hyperfine -N --style basic --runs "$RUNS" --warmup 3 \
        --export-markdown "$T/rt.md" -i \
        -n "runc --version" "$RUNC --version" \
        -n "gpujail runtime --version" "$W --version" \
        -n "runc state (no such container)" "$RUNC --root $T/runc state none" \
        -n "gpujail runtime state" "$W --root $T/runc state none" \
        -n "runc run (no GPU)" "$RUNC --root $T/runc run -b $B bench-plain" \
        -n "gpujail runtime run (no request)" "$W --root $T/runc run -b $B bench-norq" \
        -n "gpujail runtime run (GPU 0 requested)" "$W --root $T/runc run -b $T/bundle-gpu bench-gpu" >/dev/null
cat "$T/rt.md"

# Wall-clock figures suffer on a loaded machine; instruction counts do not.
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
        echo
        echo "## instructions (callgrind Ir; load-independent)"
        echo
        ir() { # HOST CMD...
                local h=$1
                shift
                "$SRC/tests/fakehost/enter" "$T/$h" -- valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" \
                        "$@" >/dev/null 2>&1 || true
                callgrind_annotate "$T/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { print $1 }'
        }
        echo "| command | Ir |"
        echo "|:---|---:|"
        echo "| true | $(ir nvidia1 true) |"
        for shape in nvidia1 nvidia8 nvidia64; do
                echo "| list --json ($shape) | $(ir $shape "$GPUJAIL" list --json) |"
                echo "| cdi generate ($shape) | $(ir $shape "$GPUJAIL" cdi generate) |"
        done
        # --runtime that cannot be executed: gpujail's own work, up to the exec.
        echo "| gpujail runtime run, no request (up to exec) | $(ir nvidia8 "$GPUJAIL" runtime --runtime /nonexistent run -b "$B" x) |"
        echo "| gpujail runtime run, GPU 0 (up to exec) | $(ir nvidia8 "$GPUJAIL" runtime --runtime /nonexistent run -b "$T/bundle-gpu" x) |"
fi
