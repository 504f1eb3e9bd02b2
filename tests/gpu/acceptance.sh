#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Real-GPU acceptance for gpujail: one command on a host with an NVIDIA GPU and its driver.
#
#   sudo tests/gpu/acceptance.sh [REPORT]        (default: $OUT/acceptance.txt, else ./acceptance.txt)
#
# It builds gpujail (installing the build dependencies with apt-get when they are missing and
# that is possible; GPUJAIL_BIN_DIR=DIR uses already built `gpujail` and `gpujail-hook`
# instead), then checks on the real hardware:
#   - `gpujail list --json` agrees with `nvidia-smi` and /proc/driver/nvidia/gpus (UUID, bus id,
#     device minor, node) for every GPU;
#   - `gpujail run --gpu N -- nvidia-smi -L` shows exactly GPU N (N = 0, and 1 with 2+ GPUs);
#   - nvidia-smi, and a tiny CUDA program when nvcc is there, work inside the jail;
#   - in a plain Debian root (no CUDA in it), with run --rootfs, the hook and a CDI spec, the
#     injected nvidia-smi -L lists exactly the granted GPU and a dlopen of the injected
#     libcuda.so.1 counts one device;
#   - the cgroup oracle: from the job's own cgroup, its GPU's node opens and any other GPU's
#     node (or, on a 1-GPU host, a scratch node 195:M of an absent minor) fails with EPERM;
#   - timings of `list`, `run` (against `unshare -m true`) and the hook (runc if installed);
#   - MIG, read-only (never enables MIG or resets a GPU): the capabilities tree, nvidia-smi's
#     MIG mode and MIG devices, and that `gpujail list --json` agrees.
# Findings go to one file, with the host's layout (PCI attributes of each NVIDIA device,
# /proc/driver/nvidia, /proc/devices, nvidia-smi output) saved as a test fixture in a tarball
# next to it. It never stops half-way without writing what it has, and stops itself well
# inside 5 minutes. Exit: 0 all passed, 1 a check failed, 77 no NVIDIA GPU here.
set -u
set -o pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
REPORT=${1:-${OUT:+$OUT/acceptance.txt}}
REPORT=${REPORT:-$PWD/acceptance.txt}
mkdir -p "$(dirname "$REPORT")"
REPORT=$(cd "$(dirname "$REPORT")" && pwd)/$(basename "$REPORT")
FIXTURE=${REPORT%.txt}-hostlayout.tar.gz
BUDGET=${GJ_ACCEPTANCE_BUDGET:-270} # seconds; the 5-minute promise keeps a margin
# not /tmp: the jail has a private /tmp, and the CUDA probe built here must be seen there
WORK=$(mktemp -d /var/tmp/gpujail-acceptance.XXXXXX)
BUILD=${GJ_ACCEPTANCE_BUILD:-$WORK/build}
START=$SECONDS
N_PASS=0 N_FAIL=0 N_SKIP=0
JOB_PID=
SCRATCH_MNT=

: >"$REPORT"
log() { printf '%s\n' "$*" | tee -a "$REPORT" >&2; }
detail() { printf '%s\n' "$@" | sed 's/^/    /' >>"$REPORT"; }
pass() { N_PASS=$((N_PASS + 1)); log "ok - $1"; }
fail() { N_FAIL=$((N_FAIL + 1)); log "not ok - $1"; }
skip() { N_SKIP=$((N_SKIP + 1)); log "skip - $1 # $2"; }
check() { # check NAME CMD...: pass if CMD succeeds
        local name=$1
        shift
        if "$@"; then pass "$name"; else fail "$name"; fi
}
time_left() { echo $((BUDGET - (SECONDS - START))); }
have_time() { [ "$(time_left)" -gt "${1:-20}" ]; }
have() { command -v "$1" >/dev/null 2>&1; }
# Every external command is bounded: a wedged driver must not eat the 5 minutes.
t() {
        local s=$1
        shift
        timeout -k 5 "$s" "$@"
}

finish() {
        local rc=$?
        trap - EXIT INT TERM
        [ -n "$JOB_PID" ] && kill -9 "$JOB_PID" 2>/dev/null
        [ -n "$SCRATCH_MNT" ] && umount -l "$SCRATCH_MNT" 2>/dev/null
        log ""
        log "RESULT: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped in $((SECONDS - START)) s"
        log "report: $REPORT"
        [ -f "$FIXTURE" ] && log "fixture: $FIXTURE"
        rm -rf "$WORK"
        if [ "$N_FAIL" -gt 0 ]; then exit 1; fi
        if [ "${NO_GPU:-0}" = 1 ]; then exit 77; fi
        exit "$(( rc == 0 || rc == 77 ? 0 : rc ))"
}
trap finish EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Helpers on bus ids: nvidia-smi says 00000000:3B:00.0, sysfs and /proc say 0000:3b:00.0.
norm_bus() {
        local b=${1,,}
        b=${b//[[:space:]]/}
        local dom=${b%%:*} rest=${b#*:}
        [ "$dom" = "$b" ] && { echo "$b"; return; }
        [ "${#rest}" -lt 7 ] && { echo "0000:$b"; return; } # bus:dev.fn without a domain
        printf '%04x:%s\n' "$((16#$dom))" "$rest"
}

# ---------------------------------------------------------------------------------------------
log "gpujail real-GPU acceptance, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "host: $(uname -srm); $(nproc) CPUs; repo $REPO ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
if [ "$(id -u)" != 0 ]; then
        log "warning: not root: gpujail run will use a user namespace and cannot enforce the device cgroup"
fi
DRIVER=$(sed -n 's/^NVRM version: *//p' /proc/driver/nvidia/version 2>/dev/null | head -1)
log "driver: ${DRIVER:-none (no /proc/driver/nvidia/version)}"
if ! have nvidia-smi; then
        log "nvidia-smi: not installed"
fi

# ---------------------------------------------------------------------------------------------
# 1. The host's layout as a fixture (first: it is useful even when nothing else works).
save_fixture() {
        local fx=$WORK/fixture/host
        mkdir -p "$fx"
        uname -a >"$fx/uname" 2>&1
        cat /proc/devices >"$fx/proc-devices" 2>&1
        # /proc files report size 0: copy by reading, file by file.
        if [ -d /proc/driver/nvidia ]; then
                (cd /proc/driver && find nvidia -type d) | while read -r d; do mkdir -p "$fx/proc-driver/$d"; done
                (cd /proc/driver && find nvidia -type f) | while read -r f; do
                        t 5 cat "/proc/driver/$f" >"$fx/proc-driver/$f" 2>/dev/null || echo "(unreadable)" >"$fx/proc-driver/$f"
                done
        fi
        ls -ln /dev/nvidia* /dev/dri /dev/dri/* /dev/nvidia-caps /dev/nvidia-caps/* >"$fx/dev-nodes" 2>&1
        have lspci && t 20 lspci -vmm -nn -D -d 10de: >"$fx/lspci-vmm" 2>&1
        local dev attr
        for dev in /sys/bus/pci/devices/*; do
                [ "$(cat "$dev/vendor" 2>/dev/null)" = 0x10de ] || continue
                local out=$fx/sys-pci/$(basename "$dev")
                mkdir -p "$out"
                for attr in vendor device subsystem_vendor subsystem_device class revision numa_node \
                        local_cpulist uevent modalias enable irq current_link_speed current_link_width \
                        max_link_speed max_link_width; do
                        [ -r "$dev/$attr" ] && t 5 cat "$dev/$attr" >"$out/$attr" 2>/dev/null
                done
                readlink -f "$dev" >"$out/syspath"
                [ -L "$dev/driver" ] && basename "$(readlink "$dev/driver")" >"$out/driver"
                [ -L "$dev/iommu_group" ] && basename "$(readlink "$dev/iommu_group")" >"$out/iommu_group"
                ls -l "$dev/" >"$out/ls-l" 2>&1
                for attr in "$dev"/drm/* "$dev"/accel/*; do
                        [ -e "$attr" ] || continue
                        mkdir -p "$out/$(basename "$(dirname "$attr")")/$(basename "$attr")"
                        cat "$attr/dev" "$attr/uevent" >"$out/$(basename "$(dirname "$attr")")/$(basename "$attr")/dev+uevent" 2>/dev/null
                done
        done
        if have nvidia-smi; then
                t 30 nvidia-smi -L >"$fx/nvidia-smi-L" 2>&1
                t 30 nvidia-smi --query-gpu=index,uuid,pci.bus_id,name,minor_number,driver_version,memory.total \
                        --format=csv >"$fx/nvidia-smi-query.csv" 2>&1
                t 30 nvidia-smi topo -m >"$fx/nvidia-smi-topo" 2>&1
        fi
        ls -l /sys/class/drm /sys/class/accel >"$fx/sys-class" 2>&1
        tar -C "$WORK/fixture" -czf "$FIXTURE" host
}
if save_fixture; then pass "host layout saved as a fixture: $(basename "$FIXTURE")"; else fail "saving the host layout"; fi

# ---------------------------------------------------------------------------------------------
# 2. What the driver and nvidia-smi say: the truth we compare gpujail with.
declare -a SMI_UUID=() SMI_BUS=() PROC_MINOR=() PROC_UUID=()
declare -A MINOR_OF_BUS=() UUID_OF_BUS=()
for info in /proc/driver/nvidia/gpus/*/information; do
        [ -r "$info" ] || continue
        bus=$(norm_bus "$(sed -n 's/^Bus Location:[[:space:]]*//p' "$info")")
        MINOR_OF_BUS[$bus]=$(sed -n 's/^Device Minor:[[:space:]]*//p' "$info" | tr -d '[:space:]')
        UUID_OF_BUS[$bus]=$(sed -n 's/^GPU UUID:[[:space:]]*//p' "$info" | tr -d '[:space:]')
done
N_PROC=${#MINOR_OF_BUS[@]}
if have nvidia-smi; then
        SMI_CSV=$(t 30 nvidia-smi --query-gpu=index,uuid,pci.bus_id --format=csv,noheader 2>&1)
        smi_rc=$?
        detail "nvidia-smi --query-gpu=index,uuid,pci.bus_id:" "$SMI_CSV"
        if [ $smi_rc = 0 ]; then
                while IFS=, read -r idx uuid bus; do
                        idx=${idx//[[:space:]]/}
                        SMI_UUID[$idx]=${uuid//[[:space:]]/}
                        SMI_BUS[$idx]=$(norm_bus "$bus")
                done <<<"$SMI_CSV"
        else
                fail "nvidia-smi --query-gpu works (rc $smi_rc)"
        fi
        SMI_L=$(t 30 nvidia-smi -L 2>&1)
        detail "nvidia-smi -L:" "$SMI_L"
fi
N_GPU=${#SMI_UUID[@]}
[ "$N_GPU" = 0 ] && N_GPU=$N_PROC
log "GPUs: nvidia-smi ${#SMI_UUID[@]}, /proc/driver/nvidia/gpus $N_PROC"
if [ "$N_GPU" = 0 ]; then
        NO_GPU=1
        skip "all GPU checks" "no NVIDIA GPU on this host (no nvidia-smi GPUs, no /proc/driver/nvidia/gpus)"
        exit 77
fi
if [ "${#SMI_UUID[@]}" -gt 0 ]; then
        ok_same=1
        for i in "${!SMI_UUID[@]}"; do
                b=${SMI_BUS[$i]}
                [ "${UUID_OF_BUS[$b]:-}" = "${SMI_UUID[$i]}" ] || ok_same=0
        done
        check "nvidia-smi and /proc/driver/nvidia/gpus agree (sanity of the host)" [ "$ok_same" = 1 -a "$N_PROC" = "${#SMI_UUID[@]}" ]
fi

# ---------------------------------------------------------------------------------------------
# 3. Build (or take prebuilt binaries).
PKGS="meson ninja-build pkg-config gcc libudev-dev libkmod-dev libjson-c-dev libcap-dev"
PCMODS="libudev libkmod json-c libcap mount"
missing_build_deps() {
        local m=
        have cc || have gcc || m+=" gcc"
        have pkg-config || m+=" pkg-config"
        for mod in $PCMODS; do pkg-config --exists "$mod" 2>/dev/null || m+=" $mod(-dev)"; done
        echo "$m"
}
build_with_meson() {
        { t 90 meson setup "$BUILD" "$REPO" --buildtype=debugoptimized -Dwerror=false &&
                t 150 ninja -C "$BUILD" cli/gpujail cli/gpujail-hook; } >"$WORK/build.log" 2>&1
}
# No meson here (the GPU machine may lack it): the layers are plain C files, compile them directly.
build_with_cc() {
        local cc=cc
        have cc || cc=gcc
        mkdir -p "$BUILD/cli"
        local flags libs
        flags=$(pkg-config --cflags $PCMODS) && libs=$(pkg-config --libs $PCMODS) || return 1
        local layer lib_srcs=() incs=()
        for layer in common devices kernel launcher hook; do
                lib_srcs+=("$REPO/$layer"/*.c)
                incs+=(-I"$REPO/$layer/include")
        done
        {
                t 120 $cc -std=gnu11 -O2 -D_GNU_SOURCE -DGPUJAIL_VERSION='"acceptance"' -DGPUJAIL_BINDIR='"/usr/local/bin"' "${incs[@]}" $flags \
                        "${lib_srcs[@]}" "$REPO"/cli/gpujail.c "$REPO"/cli/cmd-*.c -o "$BUILD/cli/gpujail" $libs &&
                t 120 $cc -std=gnu11 -O2 -D_GNU_SOURCE -DGPUJAIL_VERSION='"acceptance"' -DGPUJAIL_BINDIR='"/usr/local/bin"' "${incs[@]}" $flags \
                        "${lib_srcs[@]}" "$REPO"/cli/gpujail-hook.c -o "$BUILD/cli/gpujail-hook" $libs
        } >"$WORK/build.log" 2>&1
}
build() {
        if [ -n "${GPUJAIL_BIN_DIR:-}" ]; then
                GJ=$GPUJAIL_BIN_DIR/gpujail GJ_HOOK=$GPUJAIL_BIN_DIR/gpujail-hook
                [ -x "$GJ" ] && { log "using prebuilt binaries in $GPUJAIL_BIN_DIR"; return 0; }
                log "GPUJAIL_BIN_DIR=$GPUJAIL_BIN_DIR has no gpujail: building instead"
        fi
        local miss
        miss=$(missing_build_deps)
        have meson && have ninja || miss+=" meson/ninja"
        if [ -n "$miss" ] && have apt-get && [ "$(id -u)" = 0 ] && have_time 120; then
                log "installing build dependencies with apt-get (missing:$miss)"
                { t 60 apt-get update -q && DEBIAN_FRONTEND=noninteractive t 120 apt-get install -y -q $PKGS; } \
                        >"$WORK/apt.log" 2>&1 || log "apt-get failed (offline?): $(tail -1 "$WORK/apt.log")"
                miss=$(missing_build_deps)
        fi
        if [ -n "$(missing_build_deps)" ]; then
                log "cannot build: missing$(missing_build_deps); install: apt-get install $PKGS (or set GPUJAIL_BIN_DIR)"
                return 1
        fi
        GJ=$BUILD/cli/gpujail GJ_HOOK=$BUILD/cli/gpujail-hook
        if have meson && have ninja; then
                build_with_meson && return 0
                log "meson build failed, trying a plain compiler build: $(tail -3 "$WORK/build.log" | tr '\n' ' ')"
                rm -rf "$BUILD"
        fi
        build_with_cc
}
t0=$SECONDS
if build; then
        pass "build ($((SECONDS - t0)) s)"
else
        fail "build"
        detail "$(tail -30 "$WORK/build.log" 2>/dev/null)"
        exit 1
fi
GJ_VERSION=$("$GJ" --version 2>&1 | head -1)
log "gpujail: $GJ ($GJ_VERSION)"

# ---------------------------------------------------------------------------------------------
# 4. gpujail list --json against the driver.
# The JSON is read by python3 (always on GPU hosts) or jq; field names as the README documents.
json_gpus() { # prints: index<TAB>uuid<TAB>bus<TAB>minor<TAB>node-path:major:minor[,..] per NVIDIA GPU
        if have python3; then
                python3 -c '
import json, sys
d = json.load(sys.stdin)
devs = d.get("devices", []) if isinstance(d, dict) else d
for dv in devs:
    if dv.get("vendor", "nvidia") != "nvidia":
        continue
    nodes = ",".join("%s:%s:%s" % (n.get("path"), n.get("major"), n.get("minor")) for n in dv.get("nodes", []))
    print("%s\t%s\t%s\t%s\t%s" % (dv.get("vendor_index", dv.get("index")), dv.get("uuid"),
          dv.get("pci_bus_id", dv.get("bus_id", dv.get("pci"))), dv.get("minor"), nodes))'
        else
                jq -r '(if type == "object" then .devices else . end)[] | select((.vendor // "nvidia") == "nvidia")
                        | [(.vendor_index // .index), .uuid, (.pci_bus_id // .bus_id // .pci), .minor,
                           ([.nodes[]? | "\(.path):\(.major):\(.minor)"] | join(","))] | @tsv'
        fi
}
LIST_JSON=$(t 30 "$GJ" list --json 2>"$WORK/list.err")
list_rc=$?
detail "gpujail list --json (rc $list_rc):" "$LIST_JSON" "$(cat "$WORK/list.err")"
declare -A GJ_UUID=() GJ_BUS=() GJ_MINOR=() GJ_NODES=()
if [ $list_rc = 0 ] && GPUS=$(json_gpus <<<"$LIST_JSON" 2>"$WORK/json.err"); then
        while IFS=$'\t' read -r idx uuid bus minor nodes; do
                [ -n "$idx" ] || continue
                GJ_UUID[$idx]=$uuid GJ_BUS[$idx]=$(norm_bus "$bus") GJ_MINOR[$idx]=$minor GJ_NODES[$idx]=$nodes
        done <<<"$GPUS"
        check "gpujail list --json: $N_GPU NVIDIA GPUs (found ${#GJ_UUID[@]})" [ "${#GJ_UUID[@]}" = "$N_GPU" ]
        for i in $(seq 0 $((N_GPU - 1))); do
                b=${GJ_BUS[$i]:-?}
                want_uuid=${SMI_UUID[$i]:-${UUID_OF_BUS[$b]:-}}
                want_bus=${SMI_BUS[$i]:-$b}
                want_minor=${MINOR_OF_BUS[$want_bus]:-}
                check "GPU $i: uuid ${GJ_UUID[$i]:-?} = nvidia-smi's $want_uuid" [ "${GJ_UUID[$i]:-}" = "$want_uuid" ]
                check "GPU $i: bus id $b = nvidia-smi's $want_bus" [ "$b" = "$want_bus" ]
                check "GPU $i: device minor ${GJ_MINOR[$i]:-?} = /proc/driver/nvidia's $want_minor" \
                        [ "${GJ_MINOR[$i]:-}" = "$want_minor" ]
                rdev=$(stat -c '%t:%T' "/dev/nvidia$want_minor" 2>/dev/null)
                check "GPU $i: nodes include /dev/nvidia$want_minor 195:$want_minor (host node $rdev)" \
                        grep -q "/dev/nvidia$want_minor:195:$want_minor\(,\|$\)" <<<"${GJ_NODES[$i]:-}"
        done
else
        fail "gpujail list --json (rc $list_rc; $(head -c 300 "$WORK/list.err" "$WORK/json.err" 2>/dev/null | tr '\n' ' '))"
fi
TXT=$(t 30 "$GJ" list 2>&1)
detail "gpujail list:" "$TXT"

# ---------------------------------------------------------------------------------------------
# 4b. MIG and IMEX, read-only: never enables MIG, creates instances or resets a GPU. Reports
# the driver's capabilities tree and nvidia-smi's MIG mode, and checks that gpujail agrees.
mig_report() {
        local f
        detail "/proc/devices (nvidia-caps, imex):" "$(grep -E ' nvidia-caps' /proc/devices)"
        if [ -d /proc/driver/nvidia/capabilities ]; then
                detail "/proc/driver/nvidia/capabilities (file: DeviceFileMinor DeviceFileMode DeviceFileModify):" \
                        "$(find /proc/driver/nvidia/capabilities -name access -o -name config -o -name monitor |
                        sort | while read -r f; do echo "$f: $(t 5 cat "$f" 2>&1 | tr '\n' ' ')"; done)"
        fi
        detail "/dev/nvidia-caps, /dev/nvidia-caps-imex-channels:" \
                "$(ls -ln /dev/nvidia-caps /dev/nvidia-caps-imex-channels 2>&1 | head -40)"
        local smi_mig=""
        if have nvidia-smi; then
                smi_mig=$(t 30 nvidia-smi --query-gpu=index,mig.mode.current,mig.mode.pending --format=csv,noheader 2>&1)
                detail "nvidia-smi --query-gpu=index,mig.mode.current,mig.mode.pending:" "$smi_mig"
        fi
        have python3 || { skip "MIG: gpujail agrees with nvidia-smi" "no python3"; return 0; }
        local gj_mig
        gj_mig=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
for dv in d.get("devices", []):
    if dv.get("vendor") != "nvidia":
        continue
    m = dv.get("mig") or {}
    devs = m.get("devices", [])
    print("%s\t%s\t%d\t%s" % (dv.get("vendor_index"), m.get("mode", "none"), len(devs),
          " ".join("%s(gi%s/ci%s,%s)" % (x.get("name"), x.get("gi"), x.get("ci"), x.get("uuid")) for x in devs)))
print("imex\t%d" % len(d.get("imex_channels", [])))' <<<"$LIST_JSON" 2>&1)
        detail "gpujail's MIG view (index, mode, count, devices):" "$gj_mig"
        local idx cur pend mode n
        while IFS=, read -r idx cur pend; do
                idx=${idx//[[:space:]]/} cur=${cur//[[:space:]]/}
                [ -n "$idx" ] || continue
                mode=$(awk -F'\t' -v i="$idx" '$1 == i { print $2 }' <<<"$gj_mig")
                n=$(awk -F'\t' -v i="$idx" '$1 == i { print $3 }' <<<"$gj_mig")
                case $cur in
                Enabled | Disabled | "[N/A]" | N/A) ;;
                *)
                        skip "GPU $idx: MIG mode against nvidia-smi" "nvidia-smi answered '$cur', not a MIG mode"
                        continue
                        ;;
                esac
                case $cur in
                Enabled)
                        check "GPU $idx: MIG mode enabled, as nvidia-smi says (gpujail: $mode)" [ "$mode" = enabled ]
                        local smi_n
                        smi_n=$(t 30 nvidia-smi -i "$idx" -L 2>/dev/null | grep -c 'MIG-')
                        check "GPU $idx: $smi_n MIG devices, as nvidia-smi -L lists (gpujail: $n)" [ "$n" = "$smi_n" ]
                        ;;
                *) check "GPU $idx: not in MIG mode ($cur), gpujail agrees ($mode)" [ "$mode" != enabled ] ;;
                esac
        done <<<"$smi_mig"
}
if [ $list_rc = 0 ]; then mig_report; else skip "MIG report" "gpujail list failed"; fi

# ---------------------------------------------------------------------------------------------
# 5. gpujail run: exactly the GPU asked for.
uuids_seen() { grep -o 'UUID: *GPU-[0-9a-fA-F-]*' | sed 's/UUID: *//'; }
run_shows() { # run_shows N: the jail's nvidia-smi -L lists exactly GPU N
        local i=$1 out rc
        out=$(t 60 "$GJ" run --gpu "$i" -- nvidia-smi -L 2>&1)
        rc=$?
        detail "gpujail run --gpu $i -- nvidia-smi -L (rc $rc):" "$out"
        local seen
        seen=$(uuids_seen <<<"$out")
        check "run --gpu $i -- nvidia-smi -L: exactly one GPU, ${SMI_UUID[$i]:-?} (saw: $(echo $seen))" \
                [ $rc = 0 -a "$seen" = "${SMI_UUID[$i]:-}" ]
}
if have nvidia-smi; then
        run_shows 0
        if [ "$N_GPU" -ge 2 ]; then run_shows 1; else skip "run --gpu 1 shows the other GPU" "one GPU on this host"; fi
        out=$(t 60 "$GJ" run --gpu 0 -- nvidia-smi 2>&1)
        rc=$?
        detail "gpujail run --gpu 0 -- nvidia-smi (rc $rc):" "$out"
        check "nvidia-smi works inside the jail" [ $rc = 0 ]
        out=$(t 60 "$GJ" run --gpu 0 -- sh -c 'ls -l /dev /dev/nvidia* 2>&1; ls /proc/driver/nvidia/gpus 2>&1' 2>&1)
        detail "the jail's /dev and /proc/driver/nvidia/gpus:" "$out"
else
        skip "run --gpu 0 -- nvidia-smi -L" "no nvidia-smi"
fi

# A tiny CUDA program: sees one device, allocates, runs a kernel, reads the result back.
if have nvcc && have_time 60; then
        cat >"$WORK/cuda-probe.cu" <<'EOF'
#include <cstdio>
__global__ void add(int *x) { x[threadIdx.x] += threadIdx.x; }
int main() {
        int n = -1, *d = nullptr, h[32] = {0};
        if (cudaGetDeviceCount(&n) != cudaSuccess) { printf("cudaGetDeviceCount failed\n"); return 2; }
        cudaDeviceProp p; cudaGetDeviceProperties(&p, 0);
        char uuid[64]; unsigned char *u = (unsigned char *)p.uuid.bytes;
        snprintf(uuid, sizeof uuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0],u[1],u[2],u[3],u[4],u[5],u[6],u[7],u[8],u[9],u[10],u[11],u[12],u[13],u[14],u[15]);
        if (cudaMalloc(&d, sizeof h) != cudaSuccess) { printf("cudaMalloc failed\n"); return 3; }
        cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
        add<<<1, 32>>>(d);
        cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
        int okv = 1;
        for (int i = 0; i < 32; i++) okv &= h[i] == i;
        printf("devices=%d uuid=%s kernel=%s\n", n, uuid, okv ? "ok" : "wrong");
        return okv && n == 1 ? 0 : 1;
}
EOF
        if t 90 nvcc -o "$WORK/cuda-probe" "$WORK/cuda-probe.cu" >"$WORK/nvcc.log" 2>&1; then
                chmod 0755 "$WORK" "$WORK/cuda-probe"
                out=$(t 60 "$GJ" run --gpu 0 -- "$WORK/cuda-probe" 2>&1)
                rc=$?
                detail "gpujail run --gpu 0 -- cuda-probe (rc $rc):" "$out"
                cuda_ok() { [ $rc = 0 ] && grep -qi "uuid=${SMI_UUID[0]:-none}" <<<"$out"; }
                check "a CUDA program in the jail sees one device, ${SMI_UUID[0]:-}, and runs a kernel" cuda_ok
        else
                skip "CUDA program in the jail" "nvcc failed: $(tail -2 "$WORK/nvcc.log" | tr '\n' ' ')"
        fi
else
        skip "CUDA program in the jail" "no nvcc (or no time left)"
fi

# ---------------------------------------------------------------------------------------------
# 5b. The driver's userspace in a plain Debian root (no CUDA in it): run --rootfs, the hook
# under runc, and a CDI spec under podman each bind the host's libcuda and nvidia-smi in;
# the real nvidia-smi -L lists exactly the granted GPU and a dlopen program (no toolkit,
# tests/gpu/cuda-count.c) counts 1 device. The root: $GJ_ACCEPTANCE_ROOTFS (a directory or a
# tar of `mmdebstrap --variant=extract --include=libc6,libc-bin bookworm`), else the test
# suite's cache, else mmdebstrap (needs a mirror).
debian_root() { # debian_root DIR: a fresh glibc root in DIR, with /cuda-count; 1 if none
        local src=${GJ_ACCEPTANCE_ROOTFS:-/var/cache/gpujail-tests/bookworm-extract-libc6-libc-bin.tar}
        mkdir -p "$1" || return 1
        if [ -d "$src" ]; then
                cp -a "$src/." "$1/" || return 1
        elif [ -f "$src" ]; then
                tar -xf "$src" -C "$1" || return 1
        elif have mmdebstrap; then
                t 120 mmdebstrap --quiet --variant=extract --include=libc6,libc-bin,gcc-12-base,libgcc-s1 \
                        bookworm "$1" >/dev/null 2>&1 || return 1
        else
                return 1
        fi
        [ -e "$1/etc/ld.so.cache" ] || chroot "$1" /sbin/ldconfig || return 1
        mkdir -p "$1/proc" "$1/dev" "$1/sys" "$1/tmp"
        cc -O2 -o "$1/cuda-count" "$REPO/tests/gpu/cuda-count.c" -ldl
}
driver_checks() { # driver_checks FACE OUT: nvidia-smi -L and cuda-count said the right thing
        local face=$1 out=$2 seen
        detail "$face:" "$out"
        seen=$(uuids_seen <<<"$out")
        check "$face: the image's nvidia-smi -L (injected) lists exactly ${SMI_UUID[0]:-?} (saw: $(echo $seen))" \
                [ "$seen" = "${SMI_UUID[0]:-}" ]
        check "$face: libcuda.so.1 (injected) counts one device" grep -q "cuInit=0 devices=1" <<<"$out"
}
hook_bundle_run() { # hook_bundle_run BUNDLE ARGS-JSON: runc run with the hook at createContainer
        python3 - "$1/config.json" "$GJ_HOOK" "$2" <<'PY' || return 1
import json, sys
p, hook, args = sys.argv[1:]
c = json.load(open(p))
c["process"]["args"] = json.loads(args)
c["process"]["terminal"] = False
c["root"]["readonly"] = False
c.setdefault("annotations", {})["gpujail.io/gpus"] = "0"
c["hooks"] = {"createContainer": [{"path": hook, "args": ["gpujail-hook", "createContainer"],
                                   "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}]}
json.dump(c, open(p, "w"))
PY
        (cd "$1" && t 60 runc run "gj-acc-drv-$$" 2>&1)
        runc delete -f "gj-acc-drv-$$" >/dev/null 2>&1
        return 0
}
if ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then
        skip "driver userspace in a plain Debian root" "no libcuda.so.1 in the host's ld.so.cache"
elif ! have_time 60 || ! debian_root "$WORK/debian"; then
        skip "driver userspace in a plain Debian root" "no Debian root (set GJ_ACCEPTANCE_ROOTFS), or no time left"
else
        cp -a "$WORK/debian" "$WORK/debian-run"
        out=$(t 60 "$GJ" run --gpu 0 --rootfs "$WORK/debian-run" -- /usr/bin/nvidia-smi -L 2>&1;
                t 60 "$GJ" run --gpu 0 --rootfs "$WORK/debian-run" -- /cuda-count 2>&1)
        driver_checks "run --rootfs" "$out"
        if have runc && have python3; then
                b=$WORK/debian-bundle
                mkdir -p "$b" && cp -a "$WORK/debian" "$b/rootfs" && (cd "$b" && runc spec)
                out=$(hook_bundle_run "$b" '["/usr/bin/nvidia-smi", "-L"]'; hook_bundle_run "$b" '["/cuda-count"]')
                driver_checks "the hook under runc" "$out"
        else
                skip "the hook in a plain Debian root" "no runc"
        fi
        if have podman && have_time 60; then
                mkdir -p /run/cdi
                t 30 "$GJ" cdi generate --hook "$GJ_HOOK" --output /run/cdi/gpujail-acceptance.json
                cp -a "$WORK/debian" "$WORK/debian-podman"
                echo "root:x:0:0:root:/:/bin/sh" >"$WORK/debian-podman/etc/passwd"
                out=$(for a in "/usr/bin/nvidia-smi -L" /cuda-count; do
                        # shellcheck disable=SC2086 # two words on purpose
                        t 90 podman run --rm --network none --device gpujail.io/gpu=0 \
                                --rootfs "$WORK/debian-podman" $a 2>&1
                done)
                rm -f /run/cdi/gpujail-acceptance.json
                driver_checks "podman with the CDI spec" "$out"
        else
                skip "CDI in a plain Debian root" "no podman (or no time left)"
        fi
fi

# ---------------------------------------------------------------------------------------------
# 6. The cgroup oracle on real hardware: from the job's own cgroup(s), its GPU's node opens
#    and another GPU's node is refused with EPERM. With one GPU the "other" is a scratch node
#    195:M with a minor no GPU has, on a private tmpfs: ENXIO if the cgroup allowed it.
probe_open() { # probe_open CGROUP_DIRS PATH...: prints "PATH RESULT" per path
        local dirs=$1
        shift
        (
                for d in $dirs; do echo "$BASHPID" >"$d/cgroup.procs" || exit 3; done
                if have python3; then
                        exec python3 -c '
import os, sys, errno
for p in sys.argv[1:]:
    try:
        os.close(os.open(p, os.O_RDWR | os.O_NONBLOCK)); r = "OK"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print(p, r)' "$@"
                fi
                for p in "$@"; do
                        if (exec 3<>"$p") 2>"$WORK/probe.err"; then echo "$p OK"
                        elif grep -q 'not permitted' "$WORK/probe.err"; then echo "$p EPERM"
                        elif grep -qi 'no such device or address' "$WORK/probe.err"; then echo "$p ENXIO"
                        else echo "$p $(cat "$WORK/probe.err")"; fi
                done
        )
}
job_cgroup_dirs() { # job_cgroup_dirs PID: the job's cgroup dirs on the host (v2 and v1 devices)
        local pid=$1 line
        local v2mnt v1mnt
        v2mnt=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
        v1mnt=$(awk '$9 == "cgroup" && $NF ~ /(^|,)devices(,|$)/ { print $5; exit }' /proc/self/mountinfo)
        while IFS= read -r line; do
                case $line in
                0::*) [ -n "$v2mnt" ] && echo "$v2mnt${line#0::}" ;;
                *:devices:*) [ -n "$v1mnt" ] && echo "$v1mnt${line#*:devices:}" ;;
                esac
        done <"/proc/$pid/cgroup"
}
oracle() {
        local marker=$((RANDOM % 50 + 900)).$$
        "$GJ" run --gpu 0 -- sleep "$marker" >"$WORK/job.out" 2>&1 &
        JOB_PID=$!
        local pid= i
        for i in $(seq 50); do
                pid=$(pgrep -x -f "sleep $marker" | head -1)
                [ -n "$pid" ] && break
                sleep 0.1
        done
        if [ -z "$pid" ]; then
                fail "cgroup oracle: the job did not start ($(head -c 300 "$WORK/job.out"))"
                return
        fi
        local dirs
        dirs=$(job_cgroup_dirs "$pid" | tr '\n' ' ')
        detail "job pid $pid, /proc/$pid/cgroup:" "$(cat /proc/$pid/cgroup)" "cgroup dirs: $dirs"
        local own=${GJ_MINOR[0]:-${MINOR_OF_BUS[${SMI_BUS[0]:-}]:-}}
        local others=() m
        for m in "${MINOR_OF_BUS[@]}"; do [ "$m" != "$own" ] && others+=("/dev/nvidia$m"); done
        if [ ${#others[@]} = 0 ]; then
                SCRATCH_MNT=$WORK/scratch
                mkdir -p "$SCRATCH_MNT" && mount -t tmpfs -o mode=0755 gj-acceptance "$SCRATCH_MNT" &&
                        mknod "$SCRATCH_MNT/nvidia200" c 195 200 && others=("$SCRATCH_MNT/nvidia200")
        fi
        local res
        res=$(probe_open "$dirs" "/dev/nvidia$own" "${others[@]}" 2>&1)
        detail "open from the job's cgroup:" "$res"
        # OK with a driver; ENXIO (allowed, no driver behind the node) on a simulated host
        check "cgroup oracle: the job's GPU /dev/nvidia$own opens from its cgroup" \
                grep -qxE "/dev/nvidia$own (OK|ENXIO)" <<<"$res"
        for m in "${others[@]}"; do
                check "cgroup oracle: $m refused from the job's cgroup (EPERM)" grep -qx "$m EPERM" <<<"$res"
        done
        kill "$JOB_PID" 2>/dev/null
        wait "$JOB_PID" 2>/dev/null
        JOB_PID=
        [ -n "$SCRATCH_MNT" ] && umount "$SCRATCH_MNT" && SCRATCH_MNT=
        local left=
        for d in $dirs; do [ -d "$d" ] && left+=" $d"; done
        check "the job's cgroups are removed after it ends${left:+ (left:$left)}" [ -z "$left" ]
}
if [ "$(id -u)" = 0 ] && have_time 40; then oracle; else skip "cgroup oracle" "needs root and time"; fi

# ---------------------------------------------------------------------------------------------
# 7. Timings on real hardware (median of N, milliseconds).
median_ms() { # median_ms N CMD...: runs CMD N times; prints the median wall time in ms
        local n=$1 i s e us=
        shift
        for i in $(seq "$n"); do
                s=$(date +%s%N)
                t 30 "$@" >/dev/null 2>&1
                local rc=$?
                if [ $rc != 0 ]; then
                        echo "failed (rc $rc: $*)"
                        return 1
                fi
                e=$(date +%s%N)
                us+="$(((e - s) / 1000)) "
        done
        tr ' ' '\n' <<<"$us" | grep . | sort -n |
                awk '{ a[NR] = $1 } END { if (NR) printf "%.2f (n=%d, min %.2f, max %.2f)\n", a[int((NR + 1) / 2)] / 1000, NR, a[1] / 1000, a[NR] / 1000 }'
}
if have_time 40; then
        log "timings (median wall ms):"
        log "  gpujail list --json:                $(median_ms 20 "$GJ" list --json)"
        log "  gpujail run --gpu 0 -- /bin/true:   $(median_ms 10 "$GJ" run --gpu 0 -- /bin/true)"
        log "  unshare -m true (floor):            $(median_ms 10 unshare -m true)"
        have nvidia-smi && log "  nvidia-smi -L (host, for scale):    $(median_ms 5 nvidia-smi -L)"
fi

# The hook under runc: a trivial container with and without the hook, side by side.
hook_timing() {
        local b=$WORK/bundle
        mkdir -p "$b/rootfs/bin"
        if have busybox && file -L "$(command -v busybox)" 2>/dev/null | grep -q static; then
                cp "$(command -v busybox)" "$b/rootfs/bin/busybox"
                ln -s busybox "$b/rootfs/bin/true"
        elif have busybox; then
                cp "$(command -v busybox)" "$b/rootfs/bin/busybox" && ln -s busybox "$b/rootfs/bin/true"
                # a dynamic busybox needs its libraries
                ldd "$(command -v busybox)" | grep -o '/[^ ]*' | while read -r l; do
                        mkdir -p "$b/rootfs$(dirname "$l")" && cp -L "$l" "$b/rootfs$l"
                done
        else
                return 2
        fi
        (cd "$b" && runc spec) || return 1
        python3 - "$b/config.json" "$GJ_HOOK" <<'EOF' || return 1
import json, sys
p, hook = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c.setdefault("annotations", {})["gpujail.io/gpus"] = "0"  # the hook's default leaves process.env out
json.dump(c, open(p + ".plain", "w"))
c["hooks"] = {"createRuntime": [{"path": hook, "args": ["gpujail-hook", "createRuntime"]}]}
json.dump(c, open(p + ".hook", "w"))
EOF
        cp "$b/config.json.hook" "$b/config.json"
        local out
        out=$(cd "$b" && t 30 runc run "gj-acc-$$" 2>&1)
        check "runc container with the hook starts (gpujail.io/gpus=0)" [ $? = 0 ]
        detail "runc run with the hook:" "$out"
        local with without
        with=$(cd "$b" && median_ms 10 runc run "gj-acc-$$")
        cp "$b/config.json.plain" "$b/config.json"
        without=$(cd "$b" && median_ms 10 runc run "gj-acc-$$")
        log "  runc run, without the hook:         $without"
        log "  runc run, with the hook (1 GPU):    $with"
}
if have runc && have python3 && have_time 40; then
        hook_timing
        case $? in 2) skip "hook timing under runc" "no busybox for a rootfs" ;; esac
else
        skip "hook timing under runc" "runc not installed (or no time left)"
        # The hook's fast path still says something: a state that asks for nothing.
        if [ -x "${GJ_HOOK:-}" ] && have_time 20; then
                mkdir -p "$WORK/nobundle"
                echo '{"ociVersion":"1.0.2","process":{"env":[]},"root":{"path":"rootfs"}}' >"$WORK/nobundle/config.json"
                printf '{"ociVersion":"1.0.2","id":"x","status":"creating","pid":%d,"bundle":"%s"}' $$ "$WORK/nobundle" >"$WORK/state.json"
                log "  gpujail-hook, nothing requested:    $(median_ms 20 sh -c "\"$GJ_HOOK\" prestart <\"$WORK/state.json\"")"
        fi
fi
