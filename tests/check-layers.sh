#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The layers, bottom up, and what each may include (TAP). meson.build compiles
# each layer with only these include paths, so a .c file that reaches up does
# not build; this check also covers headers that no .c of their own layer
# includes yet, and the internal headers (launcher-internal.h, hook-audit.h,
# kernel-syscalls.h) that must stay in their folder. Last, it proves the
# compiler enforces it: a devices/ file that includes a kernel/ header fails.
#
#   tests/check-layers.sh [SOURCE_ROOT]
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 1

# layer: the layers whose public headers it may include (itself first)
declare -A ALLOWED=(
        [common]="common"
        [devices]="devices common"
        [kernel]="kernel devices common"
        [launcher]="launcher kernel devices common"
        [hook]="hook kernel devices common"
        [cli]="launcher hook kernel devices common"
        [slurm]="kernel devices common"
)
N=0 FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; }

layer_of_header() { # gpujail/X.h -> the layer whose include/ has it
        local l
        for l in common devices kernel launcher hook; do
                [[ -f $l/include/$1 ]] && { echo "$l"; return; }
        done
        echo "?"
}

for layer in common devices kernel launcher hook cli slurm; do
        bad=()
        while IFS= read -r line; do
                file=${line%%:*} inc=${line#*\"}
                inc=${inc%%\"*}
                owner=$(layer_of_header "$inc")
                [[ " ${ALLOWED[$layer]} " == *" $owner "* ]] || bad+=("$file includes $inc ($owner)")
        done < <(grep -rHo '#include "gpujail/[^"]*"' "$layer" --include='*.c' --include='*.h' 2>/dev/null)
        if [[ ${#bad[@]} -eq 0 ]]; then
                ok "$layer/ includes only ${ALLOWED[$layer]// /, }"
        else
                not_ok "$layer/ reaches up: ${bad[*]}"
        fi
done

# Internal headers are included by files of their own folder only.
for internal in launcher/launcher-internal.h hook/hook-audit.h kernel/kernel-syscalls.h; do
        name=${internal##*/} dir=${internal%%/*}
        outside=$(grep -rl "#include \"$name\"" common devices kernel launcher hook cli 2>/dev/null |
                grep -v "^$dir/" || true)
        if [[ -z $outside ]]; then ok "$name is included from $dir/ only"; else not_ok "$name included from: $outside"; fi
done

# The compiler enforces it: devices/ is built without kernel/include.
CC=${CC:-cc}
if command -v "$CC" >/dev/null; then
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        printf '#include "gpujail/cgroup.h"\n' >"$tmp/reach-up.c"
        if "$CC" -fsyntax-only -Icommon/include -Idevices/include "$tmp/reach-up.c" 2>/dev/null; then
                not_ok "a devices/ file that includes gpujail/cgroup.h builds"
        else
                ok "a devices/ file that includes gpujail/cgroup.h does not build"
        fi
else
        echo "ok $((++N)) # SKIP no C compiler ($CC) to prove the include paths"
fi

echo "1..$N"
exit $((FAILED > 0))
