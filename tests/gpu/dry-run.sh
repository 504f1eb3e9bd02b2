#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs tests/gpu/acceptance.sh on a simulated GPU host (no GPU needed), with a stand-in
# nvidia-smi (tests/gpu/fake-nvidia-smi: GPUs from /proc/driver/nvidia/gpus whose node
# the caller can open). Keeps the acceptance script itself working between GPU sessions.
#
#   tests/gpu/dry-run.sh [SHAPE] [REPORT]      (default nvidia8, /var/tmp/gpujail-dry-run/acceptance.txt)
# Uses built binaries from $GPUJAIL_BUILD (default build/) instead of building.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shape=${1:-nvidia8}
report=${2:-/var/tmp/gpujail-dry-run/acceptance.txt}
build=$(realpath -m "${GPUJAIL_BUILD:-$repo/build}")
[ "$(id -u)" = 0 ] || { echo "dry-run: needs root (simulated host)" >&2; exit 77; }
work=$(mktemp -d /var/tmp/gpujail-dry-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" && cp "$here/fake-nvidia-smi" "$work/bin/nvidia-smi" && chmod -R a+rX "$work"
"$repo/tests/fakehost/mkhost" "$shape" "$work/host" >/dev/null || exit 1
# no nvcc on a simulated host: its CUDA probe needs a real GPU
"$repo/tests/fakehost/enter" "$work/host" -- env PATH="$work/bin:$(getconf PATH)" \
        GPUJAIL_BIN_DIR="$build/cli" "$here/acceptance.sh" "$report"
