#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# MIG devices named by NVML, on the simulated mig8 host with a test-only
# libnvidia-ml.so.1 (tests/fakehost/fake-nvml.c) that gpujail dlopens as it would
# NVIDIA's: MIG UUIDs and names, NVIDIA's MIG index order (here not the (gi, ci)
# order of /proc), MIG mode (GPU 6: in MIG mode with no MIG device), and a MIG
# device NVML lists that /proc does not (a warning). Then the selectors that need
# NVML: MIG-<uuid> and its prefix under `gpujail run`, <gpu>:<mig> in NVML's order,
# the CDI names.
. "$(dirname "$0")/../lib.sh"
require_root
require_cmd jq
NVML_DIR=$GPUJAIL_BUILD/tests/fakehost
require_built "$GPUJAIL" "$NVML_DIR/libnvidia-ml.so.1"

HOST=$(fakehost_private mig8 nvml)
# GPU 6 (minor 7) in MIG mode without any GPU instance: its capabilities dir, empty.
mkdir -p "$HOST/proc/driver/nvidia/capabilities/gpu7/mig"
bus() { jq -r ".devices[$1].bus_id" "$HOST/hostinfo.json"; }
uuid_gi9=MIG-9a9a9a9a-0000-4000-8000-000000000009
uuid_gi2ci0=MIG-2c2c2c2c-0000-4000-8000-000000000020
uuid_gi2ci1=MIG-2c2c2c2c-1111-4000-8000-000000000021
uuid_gi1=MIG-1e1e1e1e-0000-4000-8000-000000000010
cat >"$TEST_TMP/nvml.conf" <<EOF
gpu $(bus 0) 0
gpu $(bus 2) 1
mig $(bus 2) 0 9 0 $uuid_gi9 NVIDIA H100 80GB HBM3 MIG 1g.10gb
mig $(bus 2) 1 2 0 $uuid_gi2ci0 NVIDIA H100 80GB HBM3 MIG 1c.2g.20gb
mig $(bus 2) 2 2 1 $uuid_gi2ci1 NVIDIA H100 80GB HBM3 MIG 1c.2g.20gb
mig $(bus 2) 3 1 0 $uuid_gi1 NVIDIA H100 80GB HBM3 MIG 3g.40gb
gpu $(bus 5) 1
mig $(bus 5) 0 4 0 MIG-5d5d5d5d-0000-4000-8000-000000000040 NVIDIA H100 80GB HBM3 MIG 3g.40gb
mig $(bus 5) 1 3 0 MIG-5d5d5d5d-1111-4000-8000-000000000030 NVIDIA H100 80GB HBM3 MIG 3g.40gb
mig $(bus 5) 2 5 0 MIG-5d5d5d5d-2222-4000-8000-000000000050 NVIDIA H100 80GB HBM3 MIG 1g.10gb
gpu $(bus 6) 1
EOF
nv() { on_host "$HOST" -- env LD_LIBRARY_PATH="$NVML_DIR" FAKE_NVML="$TEST_TMP/nvml.conf" "$@"; }

# ---- list ----
run nv "$GPUJAIL" list --json
is "$status" 0 "list --json with NVML"
is "$(jq -r '.devices[2].mig.devices | map("\(.name)=\(.gi)/\(.ci)=\(.uuid)") | join(" ")' <<<"$stdout")" \
        "2:0=9/0=$uuid_gi9 2:1=2/0=$uuid_gi2ci0 2:2=2/1=$uuid_gi2ci1 2:3=1/0=$uuid_gi1" \
        "GPU 2: NVML's MIG index order and UUIDs, not (gi, ci) order"
is "$(jq -r '.devices[2].mig.devices[0].model' <<<"$stdout")" "NVIDIA H100 80GB HBM3 MIG 1g.10gb" "NVML's name as model"
is "$(jq -r '.devices[6].mig | "\(.mode) \(.devices | length)"' <<<"$stdout")" "enabled 0" \
        "GPU 6: in MIG mode (NVML), no MIG device"
is "$(jq -r '.devices[5].mig.devices | map(.name + "=" + (.gi | tostring)) | join(" ")' <<<"$stdout")" \
        "5:0=4 5:1=3" "GPU 5: NVML's order"
like "$(jq -r '.warnings[]' <<<"$stdout")" "NVML lists MIG device 5:2 \(GI 5, CI 0\) of GPU 0000:ab:00.0, which /proc/driver/nvidia/capabilities does not" \
        "a MIG device NVML lists and /proc does not: a warning, not a device"
run nv "$GPUJAIL" list
like "$stdout" "GPU 6 is in MIG mode with no MIG devices" "list: says GPU 6 is in MIG mode with none"

# ---- run: by UUID, by prefix, by NVML index ----
job() { # SELECTOR: what /dev/nvidia-caps holds and CUDA_VISIBLE_DEVICES in a job given SELECTOR
        run nv "$GPUJAIL" run --set-cuda-env --gpu "$1" -- sh -c 'echo $(ls /dev/nvidia-caps) CVD=$CUDA_VISIBLE_DEVICES'
}
job "$uuid_gi2ci1"
is "$status" 0 "run --gpu MIG-<uuid>" || show
is "$stdout" "nvidia-cap426 nvidia-cap428 CVD=$uuid_gi2ci1" "MIG-<uuid>: its GI and CI nodes; CUDA_VISIBLE_DEVICES is the MIG UUID"
job MIG-9a9a9a9a
is "$stdout" "nvidia-cap489 nvidia-cap490 CVD=$uuid_gi9" "MIG-<8 hex digits>: the unique prefix"
job 2:0
is "$stdout" "nvidia-cap489 nvidia-cap490 CVD=$uuid_gi9" "2:0 is NVML's MIG device 0 (GI 9), as NVIDIA counts"
job MIG-2c2c2c2c
is "$status" 125 "an ambiguous MIG prefix: 125"
like "$stderr" "ambiguous MIG device 'MIG-2c2c2c2c': it is a prefix of 2 MIG UUIDs" "... says so"
job MIG-77777777-0000-4000-8000-000000000000
is "$status" 125 "a MIG UUID nobody has: 125"
like "$stderr" "no MIG device has this UUID" "... says so"
job 6:0
is "$status" 125 "a MIG device of a GPU in MIG mode with none: 125"
like "$stderr" "GPU 6 is in MIG mode but has no MIG devices" "... says so"
job 6
is "$status" 0 "GPU 6 as a whole GPU: given, as NVIDIA gives it" || show
like "$stderr" "GPU 6 \(0000:ba:00.0\) is in MIG mode: as a whole GPU it comes without its MIG devices" \
        "... with a warning that CUDA will not see it"
is "$stdout" "CVD=$(jq -r '.devices[6].uuid' "$HOST/hostinfo.json")" "... and no caps node"

# ---- CDI: NVIDIA's names ----
run nv "$GPUJAIL" cdi generate --kind nvidia.com/gpu
is "$status" 0 "cdi generate with NVML" || show
is "$(jq -r '[.devices[].name | select(startswith("MIG-") or test(":"))] | join(" ")' <<<"$stdout")" \
        "2:0 $uuid_gi9 2:1 $uuid_gi2ci0 2:2 $uuid_gi2ci1 2:3 $uuid_gi1 5:0 MIG-5d5d5d5d-0000-4000-8000-000000000040 5:1 MIG-5d5d5d5d-1111-4000-8000-000000000030" \
        "CDI: each MIG device as <gpu>:<mig> and as its MIG UUID, as NVIDIA's toolkit names them"

# ---- no NVML there: the same host by index ----
run on_host "$HOST" -- env LD_LIBRARY_PATH="$NVML_DIR" "$GPUJAIL" list --json
is "$(jq -r '.devices[2].mig.devices | map(.name + "=" + (.gi | tostring)) | join(" ")' <<<"$stdout")" \
        "2:0=1 2:1=2 2:2=2 2:3=9" "nvmlInit failing (no FAKE_NVML): (gi, ci) order, no UUIDs"
done_testing
