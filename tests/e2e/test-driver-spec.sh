#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The NVIDIA driver's userspace through the spec-editing faces, on a simulated
# host whose fake driver looks installed, into a real Debian 12 root:
#  - `gpujail cdi generate` carries the libraries as read-only mounts and a
#    createContainer hook (gpujail-hook --link, with its own env) for their
#    links and cache entries; podman 4.3 consuming it runs the root;
#  - `gpujail oci inject` puts the same into a bundle's config.json; runc runs it.
# In both `ldconfig -p` lists libcuda and a dlopen probe calls cuInit in the
# fake. --caps none leaves the driver out; oci inject twice equals once.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cdi-common.sh"
. "$(dirname "$0")/hook-common.sh"
. "$(dirname "$0")/driver-common.sh"
require_runc_containers
require_built "$GPUJAIL_HOOK"
require_driver_env
[[ $(uname -m) == x86_64 ]] || skip_all "the test's paths are x86-64's"
setup_podman
setup_cdi_dir
SHAPE=nvidia8
snapshot_host before
drv=$(fakedrv)
WRAP=$(with_fakedrv)

run in_cdi_ns "$WRAP" "$GPUJAIL" cdi generate --kind nvidia.com/gpu --hook "$GPUJAIL_HOOK" --output /run/cdi/nvidia.json
is "$status" 0 "cdi generate --kind nvidia.com/gpu with the fake driver installed" || show
spec=$CDI_DIR/nvidia.json
is "$(jq -r '.containerEdits.mounts[] | select(.hostPath | endswith("/libcuda.so.'$DRIVER_VERSION'")) | .options | join(",")' "$spec")" \
        "ro,nosuid,nodev,bind" "libcuda is a read-only, nosuid, nodev mount"
is "$(jq -r '.containerEdits.hooks[0].hookName' "$spec")" createContainer "a createContainer hook"
like "$(jq -r '.containerEdits.hooks[0].args | join(" ")' "$spec")" "--link libcuda.so.1=$drv/lib/libcuda.so.$DRIVER_VERSION" \
        "it links libcuda.so.1 to the mounted file"
ok "jq -e '.containerEdits.hooks[0].env | length > 0' '$spec' >/dev/null" "the hook has its own env (never the image's)"
run "$VALIDATE" cdi "$spec"
if [[ $status -eq 77 ]]; then skip "$output" "spec validates"; else is "$status" 0 "the spec validates against the CDI schema" || show; fi

# ---- plan --caps: what a container would get
run on_fakehost $SHAPE -- "$WRAP" "$GPUJAIL" plan --gpu 0 --caps utility,compute --json
is "$(jq -r '.driver.files[] | select(.soname == "libcuda.so.1") | .hostPath' <<<"$stdout")" \
        "$drv/lib/libcuda.so.$DRIVER_VERSION" "plan --caps --json: libcuda.so.1 and its host file"
is "$(jq -r '.driver.version + " " + .driver.capabilities' <<<"$stdout")" "$DRIVER_VERSION compute,utility" \
        "plan --caps --json: the module's version and the capabilities"
run on_fakehost $SHAPE -- "$WRAP" "$GPUJAIL" plan --gpu 0 --caps utility
like "$stdout" "library +libnvidia-ml.so.1 -> $drv/lib/libnvidia-ml.so.$DRIVER_VERSION" "plan --caps utility: libnvidia-ml listed"
unlike "$stdout" "libcuda" "plan --caps utility: no libcuda"

# ---- cdi check: does an installed spec still describe the host?
run in_cdi_ns "$WRAP" "$GPUJAIL" cdi check --spec /run/cdi/nvidia.json
is "$status" 0 "cdi check: the spec just generated matches" || show
like "$stdout" "matches this host" "and says so"
upgraded=$(fakehost_private $SHAPE upgraded)
sed -i "s/$DRIVER_VERSION/560.35.03/" "$upgraded/proc/driver/nvidia/version"
run on_host "$upgraded" -- "$WRAP" "$GPUJAIL" cdi check --spec "$spec"
is "$status" 1 "cdi check after a driver upgrade (module 560.35.03): stale, exit 1"
like "$stdout" "libcuda.so.$DRIVER_VERSION is of driver $DRIVER_VERSION, the loaded module is 560.35.03" \
        "naming the library and both versions"
jq '(.devices[0].containerEdits.deviceNodes[] | select(.path == "/dev/nvidia-uvm") | .major) |= . + 1
    | .devices += [.devices[0] | .name = "9"]' "$spec" >"$TEST_TMP/stale.json"
run in_cdi_ns "$WRAP" "$GPUJAIL" cdi check --spec "$TEST_TMP/stale.json"
is "$status" 1 "cdi check of a spec with another nvidia-uvm major and a GPU the host lacks: exit 1"
like "$stdout" "device node /dev/nvidia-uvm is [0-9]+:0 on this host, the spec says [0-9]+:0" "names the node and both numbers"
like "$stdout" "device nvidia.com/gpu=9 is in the spec but not on this host" "names the device the host lacks"
run "$GPUJAIL" cdi check --spec "$TEST_TMP/nonexistent.json"
is "$status" 125 "cdi check of a file that is not there: 125"

run in_cdi_ns "$WRAP" "$GPUJAIL" cdi generate --kind nvidia.com/gpu --caps none
is "$(jq -r '.containerEdits // "none"' <<<"$stdout")" none "--caps none: no driver in the spec"

root=$(glibc_rootfs podman)
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
run in_cdi_ns podman "${PODMAN_GLOBAL[@]}" --runtime "$(command -v runc)" "${PODMAN_RUN[@]}" \
        --device nvidia.com/gpu=0 --rootfs "$root" /bin/sh -c '/sbin/ldconfig -p | grep libcuda.so.1; /probe libcuda.so.1; /probe libnvidia-ml.so.1 >/dev/null && echo nvml-ok'
if is "$status" 0 "podman run --device nvidia.com/gpu=0 a plain Debian root"; then
        like "$output" "libcuda.so.1 \(libc6,x86-64\) => $drv/lib/libcuda.so.1" "ldconfig -p in the container lists libcuda.so.1"
        like "$output" "cuInit=100 version=12040" "dlopen(libcuda.so.1) calls cuInit in the host's fake"
        like "$output" "nvml-ok" "dlopen(libnvidia-ml.so.1) works"
else
        show
fi

# ---- oci inject: the same into config.json, runc runs it
root=$(glibc_rootfs oci)
b=$TEST_TMP/bundles/oci
mkdir -p "$b"
runc spec --bundle "$b"
jq --arg root "$root" '.root.path = $root | .process.terminal = false
        | .process.args = ["/bin/sh", "-c", "/sbin/ldconfig -p | grep libcuda.so.1; /probe libcuda.so.1; echo gpus $(ls /proc/driver/nvidia/gpus); grep ^ModifyDeviceFiles: /proc/driver/nvidia/params"]' \
        "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
run on_fakehost $SHAPE -- "$WRAP" "$GPUJAIL" oci inject --gpu 0 --bundle "$b" --hook "$GPUJAIL_HOOK"
is "$status" 0 "oci inject --gpu 0 with the fake driver installed" || show
once=$(cat "$b/config.json")
run on_fakehost $SHAPE -- "$WRAP" "$GPUJAIL" oci inject --gpu 0 --bundle "$b" --hook "$GPUJAIL_HOOK"
is "$(cat "$b/config.json")" "$once" "oci inject twice gives the same config.json as once"
is "$(jq '[.mounts[] | select(.source | endswith("/libcuda.so.'$DRIVER_VERSION'"))] | length' "$b/config.json")" 1 \
        "one mount for libcuda"
is "$(jq '[.hooks.createContainer[] | select(.args[1] == "--link")] | length' "$b/config.json")" 1 "one links hook"
bus0=$(hostinfo $SHAPE '.devices[0].bus_id')
is "$(jq -r '.hooks.createContainer[] | select(.args[1] == "--link") | .args[-2]' "$b/config.json")" "--proc-gpus=$bus0" \
        "the links hook names the container's GPU for /proc (--proc-gpus)"
RUNC_WRAP=$WRAP runc_on_host $SHAPE "gj-drv-oci-$$" "$b"
if is "$status" 0 "runc runs the injected bundle"; then
        like "$output" "libcuda.so.1 \(libc6,x86-64\) => $drv/lib/libcuda.so.1" "ldconfig -p in the container lists libcuda.so.1"
        like "$output" "cuInit=100 version=12040" "dlopen(libcuda.so.1) calls cuInit in the host's fake"
        like "$output" "^gpus $bus0\$" "/proc/driver/nvidia/gpus lists the injected GPU alone"
        like "$output" "^ModifyDeviceFiles: 0\$" "params says ModifyDeviceFiles: 0"
else
        show
fi

assert_host_unchanged before "the host is as before"
done_testing
