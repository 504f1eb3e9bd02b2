# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared by tests/e2e/test-cdi-*.sh and test-oci-*.sh (sourced after lib.sh):
# a busybox rootfs, podman and runc run with their state under $TEST_TMP, the
# cgroup oracle from busybox's messages, and cleanup of what podman leaves.

VALIDATE=$GPUJAIL_SRC/tests/schema/validate

# Debian's busybox-static: the whole userland of the test containers.
require_busybox_static() {
        BUSYBOX=$(command -v busybox || true)
        # A dynamic busybox names its ELF interpreter; the static one has none (no `file` needed).
        [[ -n $BUSYBOX ]] && ! LC_ALL=C grep -qa -e '/lib64/ld-linux' -e '/lib/ld-linux' "$BUSYBOX" ||
                skip_all "busybox-static is not installed"
}

# require_runc_containers: what a test that runs busybox containers under runc
# on a simulated host needs: root, gpujail built, jq and runc, the v1 devices
# controller (the cgroup oracle below) and busybox-static (their userland).
require_runc_containers() {
        require_root
        require_built "$GPUJAIL"
        require_cmd jq runc
        require_cgroup_v1_devices
        require_busybox_static
}

# make_rootfs DIR: busybox and its applets, empty /dev /proc /sys /tmp.
make_rootfs() {
        local d=$1 a
        mkdir -p "$d"/{bin,dev,proc,sys,tmp,etc}
        cp "$BUSYBOX" "$d/bin/busybox"
        for a in sh cat ls mknod echo head grep; do ln -sf busybox "$d/bin/$a"; done
        echo "root:x:0:0:root:/:/bin/sh" >"$d/etc/passwd"
}

# The probe run inside a container: for each path, "PATH ENXIO|EPERM|ENOENT|OK|other".
# busybox cat prints strerror(); no GPU driver stands behind the fake majors, so an
# open the device cgroup allows gives ENXIO, one it denies EPERM.
PROBE='for p in "$@"; do
  m=$(cat "$p" 2>&1 </dev/null | head -c 200)
  case "$m" in
  *"No such device or address"*) echo "$p ENXIO";;
  *"Operation not permitted"*) echo "$p EPERM";;
  *"No such file or directory"*) echo "$p ENOENT";;
  "") echo "$p OK";;
  *) echo "$p other: $m";;
  esac
done'

# probe_result OUTPUT PATH: what the probe said about PATH.
probe_result() { awk -v p="$2" '$1 == p { $1 = ""; sub(/^ /, ""); print; exit }' <<<"$1"; }

# NVIDIA's control nodes: a container given any GPU gets them too.
CONTROL_NODES=(/dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools)

# expect_one_gpu OUTPUT SELECTED OTHER: the probe's OUTPUT from a container given
# GPU SELECTED of $SHAPE alone: its node and the control nodes inside and allowed
# (ENXIO), GPU OTHER's node absent (ENOENT), and /dev/other-gpu (GPU OTHER's
# major:minor, put there without an allow rule) denied (EPERM). Six checks.
expect_one_gpu() {
        local out=$1 sel=$2 other=$3 node c
        node=$(gpu_node "$sel")
        is "$(probe_result "$out" "$node")" ENXIO "GPU $sel's node ($node) inside, allowed"
        for c in "${CONTROL_NODES[@]}"; do
                is "$(probe_result "$out" $c)" ENXIO "$c inside, allowed"
        done
        node=$(gpu_node "$other")
        is "$(probe_result "$out" "$node")" ENOENT "GPU $other's node ($node) absent"
        is "$(probe_result "$out" /dev/other-gpu)" EPERM "GPU $other's node without an allow rule: denied"
}

# podman with all of its state in $TEST_TMP (storage, run state, tmp, events),
# runc under cgroupfs, and the limits this machine's runc accepts.
PODMAN_GLOBAL=()
PODMAN_RUN=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
setup_podman() {
        require_cmd podman runc
        local p=$TEST_TMP/podman
        mkdir -p "$p"/{root,run,tmp}
        PODMAN_GLOBAL=(--root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp" --storage-driver vfs
                --cgroup-manager cgroupfs --events-backend file)
        _cleanup_podman_parent_if_new
}

# podman's cgroupfs manager creates libpod_parent in every hierarchy and keeps it;
# remove it again at exit when it was not there before (and is empty by then).
_cleanup_podman_parent_if_new() {
        local d
        for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
                [[ -d $d ]] && return 0
        done
        defer _rmdir_podman_parent
}
_rmdir_podman_parent() {
        local d
        for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
                [[ -d $d ]] && rmdir "$d" 2>/dev/null
        done
        return 0
}

# gpujail_runtime_wrapper: prints the path of a script that podman --runtime can
# name: `gpujail runtime --runtime runc` with the simulated host's preload (made once).
gpujail_runtime_wrapper() {
        local w=$TEST_TMP/gpujail-runc
        if [[ ! -x $w ]]; then
                cat >"$w" <<EOS
#!/bin/sh
# conmon hands the runtime a clean environment: the fake host's preload comes from here.
export LD_PRELOAD=\${GPUJAIL_TEST_PRELOAD:-${FAKESYSFS:-}}
# ... and an ASan build tolerates that preload only with this (see tests/fakehost/enter).
export ASAN_OPTIONS=verify_asan_link_order=0
exec $GPUJAIL runtime --runtime $(command -v runc) "\$@"
EOS
                chmod +x "$w"
        fi
        echo "$w"
}

# CDI spec directory for podman 4.3, which only reads /etc/cdi and /var/run/cdi:
# inside the fake host's private mount namespace, $TEST_TMP/cdi is bound over
# /run/cdi; on the host, /run/cdi is created empty if absent and removed at exit.
setup_cdi_dir() {
        CDI_DIR=$TEST_TMP/cdi
        mkdir -p "$CDI_DIR"
        if [[ ! -d /run/cdi ]]; then
                mkdir /run/cdi
                defer rmdir /run/cdi
        fi
}

# in_cdi_ns CMD...: run CMD on the fake host (SHAPE in $SHAPE) with $CDI_DIR as /run/cdi.
in_cdi_ns() {
        on_fakehost "$SHAPE" -- /bin/bash -c 'mount --bind "$0" /run/cdi && exec "$@"' "$CDI_DIR" "$@"
}

# Minor of the N-th NVIDIA GPU (index order) on the shape, from its hostinfo.
gpu_node() { hostinfo "$SHAPE" ".devices[$1].nodes[0].path"; }
gpu_minor() { hostinfo "$SHAPE" ".devices[$1].nodes[0].minor"; }

# make_bundle DIR: an OCI bundle from `runc spec` with a busybox rootfs, no
# terminal, and the probe as its process: PATH... are probed.
make_bundle() {
        local b=$1
        shift
        make_rootfs "$b/rootfs"
        (cd "$b" && runc spec) || bail_out "runc spec failed"
        local args
        args=$(jq -n --arg p "$PROBE" '["/bin/sh", "-c", "echo env=$GPUJAIL_DEVICES; " + $p, "sh"] + $ARGS.positional' \
                --args "$@")
        jq --argjson a "$args" '.process.terminal = false | .process.args = $a' "$b/config.json" >"$b/c.tmp" &&
                mv "$b/c.tmp" "$b/config.json"
}

# bundle_add_node BUNDLE PATH MAJOR MINOR: a node in linux.devices with no allow rule,
# which runc creates and the device cgroup must deny.
bundle_add_node() {
        jq --arg p "$2" --argjson M "$3" --argjson m "$4" \
                '.linux.devices += [{"path": $p, "type": "c", "major": $M, "minor": $m, "fileMode": 438, "uid": 0, "gid": 0}]' \
                "$1/config.json" >"$1/c.tmp" && mv "$1/c.tmp" "$1/config.json"
}

# runc_run BUNDLE [RUNTIME...]: run the bundle's container in the foreground on the
# fake host, with runc's state in $TEST_TMP; RUNTIME defaults to runc itself.
RUNC_ROOT=
runc_run() {
        local b=$1 id
        shift
        local rt=("$@")
        [[ ${#rt[@]} -eq 0 ]] && rt=(runc)
        RUNC_ROOT=${RUNC_ROOT:-$TEST_TMP/runc-state}
        id=gpujail-test-$$-$RANDOM
        defer runc --root "$RUNC_ROOT" delete -f "$id"
        run on_fakehost "$SHAPE" -- "${rt[@]}" --root "$RUNC_ROOT" run --bundle "$b" "$id"
}
