#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Run each libFuzzer target (fuzz/) for a set time and report executions and crashes.
#
#   bench/fuzz.sh [SECONDS] [TARGET...]      (default 60 s each, every target)
#   GJ_FUZZ_RUNS=10000000 bench/fuzz.sh 1800  (each target stops at 10 M executions or 30 min)
#
# Builds build-fuzz once (clang, -Dfuzz=true, ASan+UBSan, libraries instrumented with
# -fsanitize=fuzzer-no-link; needs clang and libclang-rt-14-dev). Each target starts from
# its seed corpus (fuzz/corpus/<target>) plus what earlier runs found (build-fuzz/corpus/);
# crashes land in build-fuzz/artifacts/<target>/. A crash worth keeping goes, minimized
# (`build-fuzz/fuzz/<target> -minimize_crash=1 -runs=10000 FILE`), into
# tests/fuzz/regressions/<target>/, which the normal test suite replays.
set -u
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} = 0 ] && TARGETS=(fuzz-nvidia-info fuzz-nvidia-caps fuzz-proc-devices fuzz-selector fuzz-oci-state
        fuzz-oci-config fuzz-cdi fuzz-annotations fuzz-policy fuzz-hook-config fuzz-ldcache)
B=${GJ_FUZZ_BUILD:-build-fuzz}
RUNS=${GJ_FUZZ_RUNS:--1} # -1: no bound on executions, only on time

command -v clang >/dev/null || { echo "bench/fuzz.sh: needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
if [ ! -f "$B/build.ninja" ]; then
        CC=clang meson setup "$B" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
                -Dc_args=-fsanitize=fuzzer-no-link >"/tmp/gj-fuzz-setup.$$" 2>&1 ||
                { cat "/tmp/gj-fuzz-setup.$$"; rm -f "/tmp/gj-fuzz-setup.$$"; exit 2; }
        rm -f "/tmp/gj-fuzz-setup.$$"
fi
ninja -C "$B" "${TARGETS[@]/#/fuzz/}" >/dev/null || { ninja -C "$B" "${TARGETS[@]/#/fuzz/}"; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
printf '%-20s %10s %8s %6s %6s %8s %8s %s\n' target execs "exec/s" cov ft corpus crashes artifacts
total_crashes=0
for t in "${TARGETS[@]}"; do
        corpus=$B/corpus/$t
        art=$B/artifacts/$t
        mkdir -p "$corpus" "$art"
        log=$B/artifacts/$t.log
        before=$(ls "$art" | wc -l)
        # -close_fd_mask=2: the parsers log every refusal to stderr; libFuzzer keeps its own
        "$B/fuzz/$t" -max_total_time="$SECS" -runs="$RUNS" -close_fd_mask=2 -print_final_stats=1 -max_len=65536 \
                -timeout=10 -rss_limit_mb=1024 -artifact_prefix="$art/" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        # libFuzzer's last status line: "#N DONE cov: C ft: F corp: ..." (edges, features)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        crashes=$(($(ls "$art" | wc -l) - before))
        total_crashes=$((total_crashes + crashes))
        printf '%-20s %10s %8s %6s %6s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
                "$(ls "$corpus" | wc -l)" "$crashes" \
                "$( ((crashes)) && ls -t "$art" | head -3 | sed "s|^|$art/|" | tr '\n' ' ')"
        if ((crashes)); then grep -m3 -E 'ERROR: |runtime error:|SUMMARY' "$log" | sed 's/^/    /'; fi
done
echo "total new crashes: $total_crashes (${SECS}s per target)"
[ "$total_crashes" = 0 ]
