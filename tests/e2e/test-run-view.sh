#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run on a simulated 8-GPU host: what the job sees and what it can do.
# /dev holds exactly the expected entries; other GPUs are absent from /dev and
# hidden in /proc/driver/nvidia/gpus; no fd of gpujail's reaches the job; the
# host's root is read-only, the cwd writable, /tmp private; OCI /proc masks;
# as the invoking user (SUDO_UID=65534) the job cannot mknod, remount /dev rw,
# or keep capabilities, nor root or sudo job the caller's inheritable/ambient
# ones; the host view is mounted read-only (EROFS in a 0777 host directory); --dev-minimal, --device, --mask-proc, --net none,
# --bind, --user, --cap-add, --set-cuda-env; the host is unchanged afterwards.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"

HOST=$(fakehost nvidia8)
SEL_MINOR=$(hostinfo nvidia8 '.devices[0].minor')
SEL_BUS=$(hostinfo nvidia8 '.devices[0].bus_id')
SEL_UUID=$(hostinfo nvidia8 '.devices[0].uuid')
OTHER_MINOR=$(hostinfo nvidia8 '.devices[1].minor')

WORK=$TEST_TMP/work
mkdir -p "$WORK"
chmod 0777 "$WORK"
# jrun [gpujail run options] -- CMD...: run in $WORK on the simulated host.
jrun() { run bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run "$@"; }

run_snapshot before

# ---- /dev ----
jrun --gpu 0 -- ls -A /dev
is "$status" 0 "run --gpu 0 -- ls /dev exits 0" || show
want=$(printf '%s\n' fd full null "nvidia$SEL_MINOR" nvidia-uvm nvidia-uvm-tools nvidiactl ptmx pts \
        random shm stderr stdin stdout tty urandom zero | sort)
is "$(sort <<<"$stdout")" "$want" "/dev holds exactly the defaults, nvidia$SEL_MINOR and the control nodes"

jrun --gpu 0 -- sh -c 'for i in $(seq 0 63); do [ -e /dev/nvidia$i ] && echo nvidia$i; done; true'
is "$stdout" "nvidia$SEL_MINOR" "no other /dev/nvidiaN exists in the job"

jrun --gpu 0 -- sh -c 'grep " /dev " /proc/self/mountinfo'
like "$stdout" ' /dev rw,nosuid,noexec[^ ]* - tmpfs ' "/dev is a tmpfs, nosuid,noexec"

jrun --gpu 0 --dev-minimal -- ls -A /dev
want=$(printf '%s\n' full null "nvidia$SEL_MINOR" nvidia-uvm nvidia-uvm-tools nvidiactl random tty urandom zero | sort)
is "$(sort <<<"$stdout")" "$want" "--dev-minimal: only the nodes"

jrun --gpu none -- ls -A /dev
unlike "$stdout" 'nvidia[0-9]' "--gpu none: no GPU node (control nodes only, as NVIDIA's 'none')"
jrun -- ls -A /dev
unlike "$stdout" 'nvidia' "no --gpu: no NVIDIA node at all"

jrun --gpu 0 --device /dev/nvidia$OTHER_MINOR -- ls -A /dev
like "$stdout" "^nvidia$OTHER_MINOR\$" "--device adds a host node" || show

jrun --gpu 0 --device /etc/passwd -- true
is "$status" 125 "--device of a regular file is refused with 125"
like "$stderr" 'not a device node' "... and says why"

jrun --gpu 42 -- true
is "$status" 125 "an unknown selector is an error (125), never 'all'"

# ---- /proc ----
jrun --gpu 0 -- ls /proc/driver/nvidia/gpus
is "$stdout" "$SEL_BUS" "/proc/driver/nvidia/gpus lists the selected GPU alone: no other bus id leaks"
jrun --gpu 0 -- sh -c 'mkdir /proc/driver/nvidia/gpus/x || touch /proc/driver/nvidia/gpus/$0/x' "$SEL_BUS"
isnt "$status" 0 "... and the job can add nothing there (read-only tmpfs, read-only entry)"
jrun --gpu 0 -- sh -c 'grep -c " /proc/driver/nvidia/gpus" /proc/self/mountinfo'
is "$stdout" 2 "... in 2 mounts (a tmpfs and the GPU's entry), not one per other GPU"
jrun --gpu 0 -- sh -c 'for d in /proc/driver/nvidia/gpus/*; do [ -e "$d/information" ] && basename "$d"; done'
is "$stdout" "$SEL_BUS" "only the selected GPU's /proc/driver/nvidia/gpus entry has content"
jrun --gpu 0 -- sh -c 'grep "^ModifyDeviceFiles:" /proc/driver/nvidia/params; grep -c "^DeviceFileMode:" /proc/driver/nvidia/params'
is "$stdout" "ModifyDeviceFiles: 0
1" "params says ModifyDeviceFiles: 0 (libcuda makes no nodes), the driver's other lines kept"

jrun --gpu 0 -- sh -c 'for p in /proc/acpi /proc/keys /proc/timer_list /proc/scsi /sys/firmware; do
        [ -e $p ] || continue
        if [ -d $p ]; then echo "$p $(ls -A $p | wc -l)"; else echo "$p $(cat $p 2>/dev/null | wc -c)"; fi
        done'
unlike "$stdout" ' [1-9]' "OCI-masked /proc and /sys paths are empty" || show

jrun --gpu 0 -- sh -c 'echo 1 > /proc/sys/kernel/sysrq' 
isnt "$status" 0 "/proc/sys is read-only"

jrun --gpu 0 -- cat /proc/loadavg
isnt "$stdout" "" "/proc/loadavg readable by default"
jrun --gpu 0 --mask-proc -- sh -c 'cat /proc/loadavg /proc/stat | wc -c'
is "$stdout" 0 "--mask-proc: /proc/loadavg and /proc/stat are empty"

jrun --gpu 0 -- sh -c 'echo $$; cat /proc/1/comm'
like "$stdout" '^2$' "the job is PID 2 of its own pid namespace (init is 1)"

# ---- fds, env, identity ----
jrun --gpu 0 -- sh -c 'ls /proc/$$/fd'
is "$(tr '\n' ' ' <<<"$stdout")" "0 1 2 " "the job has fds 0, 1, 2 and nothing else" || show
run bash -c 'exec 7</etc/hostname; cd "$1"; exec "$2" "$3" -- "$4" run --gpu 0 -- sh -c "ls /proc/\$\$/fd"' \
        sh "$WORK" "$FAKEHOST/enter" "$HOST" "$GPUJAIL"
is "$(tr '\n' ' ' <<<"$stdout")" "0 1 2 " "an fd the caller passed (7) is closed too"
# The init keeps one fd more than 0, 1, 2: the lease of GPU 0 (launcher-lease.c), which
# the job can neither open nor read the target of (the init is not dumpable).
run bash -c 'exec 7</etc/hostname; cd "$1"; exec "$2" "$3" -- "$4" run --gpu 0 -- sh -c \
        "ls /proc/1/fd; for f in /proc/1/fd/*; do readlink \$f; cat \$f </dev/null >/dev/null 2>&1 && echo opened \$f; done"' \
        sh "$WORK" "$FAKEHOST/enter" "$HOST" "$GPUJAIL"
like "$(head -4 <<<"$stdout" | tr '\n' ' ')" "^0 1 2 [0-9]+ $" "the privileged init (PID 1) keeps 0, 1, 2 and the lease fd; not the caller's 7" || show
unlike "$stdout" "opened|/" "... and the job can open none of them, nor see where they lead"

jrun --gpu 0 -- sh -c 'echo "$GPUJAIL_DEVICES|${CUDA_VISIBLE_DEVICES-unset}|$PATH"'
is "$stdout" "$SEL_UUID|unset|$PATH" "GPUJAIL_DEVICES set, CUDA_VISIBLE_DEVICES untouched, PATH kept"
run env CUDA_VISIBLE_DEVICES=5 bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" "$FAKEHOST/enter" "$HOST" -- \
        "$GPUJAIL" run --gpu 0 -- sh -c 'echo $CUDA_VISIBLE_DEVICES'
is "$stdout" 5 "the user's CUDA_VISIBLE_DEVICES is left as set"
jrun --gpu 0 --set-cuda-env -- sh -c 'echo ${CUDA_VISIBLE_DEVICES-unset}'
isnt "$stdout" unset "--set-cuda-env sets CUDA_VISIBLE_DEVICES"

jrun --gpu 0 -- sh -c 'grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs)" /proc/self/status'
like "$stdout" 'CapEff:[[:space:]]+0+$' "root job: no effective capabilities"
like "$stdout" 'CapBnd:[[:space:]]+0+$' "root job: empty bounding set"
like "$stdout" 'NoNewPrivs:[[:space:]]+1' "no_new_privs is set"

jrun --gpu 0 --cap-add CAP_NET_RAW -- sh -c 'grep CapEff /proc/self/status'
like "$stdout" 'CapEff:[[:space:]]+0+2000$' "--cap-add CAP_NET_RAW keeps exactly that one" || show
jrun --gpu 0 --cap-add CAP_NOPE -- true
is "$status" 125 "--cap-add of an unknown capability is refused"

# A caller that holds inheritable and ambient CAP_NET_RAW (setpriv): an exec as
# root, or the inheritable set after setuid, would carry it into the job unless
# gpujail resets every set, --cap-add or not. The first check is the premise:
# setpriv really hands the caps down to what it runs.
CALLER_CAPS=(setpriv --inh-caps +net_raw --ambient-caps +net_raw)
capsets() { awk '/^Cap(Inh|Prm|Eff|Amb):/ { printf "%s%s ", $1, $2 }' <<<"$stdout"; }
jrun_caps() { # [VAR=VALUE...]: the job's capability sets, run by a caller holding CALLER_CAPS
        run env "$@" "${CALLER_CAPS[@]}" bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" \
                "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 -- grep -E '^Cap' /proc/self/status
}
run "${CALLER_CAPS[@]}" grep -E '^Cap' /proc/self/status
if [[ $status -eq 0 ]]; then
        like "$(capsets)" 'CapInh:0+2000 .*CapAmb:0+2000 $' "setpriv: the caller holds inheritable and ambient CAP_NET_RAW" || show
        none="CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapAmb:0000000000000000 "
        jrun_caps
        is "$(capsets)" "$none" "root job of a caller with inheritable+ambient CAP_NET_RAW: every set empty" || show
        jrun_caps SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody
        is "$(capsets)" "$none" "sudo caller's job (SUDO_UID=65534) with inheritable+ambient CAP_NET_RAW: every set empty" || show
else
        for who in "the caller holds" "root job:" "sudo caller's job:"; do
                skip "setpriv cannot set inheritable/ambient capabilities here" "$who inherited CAP_NET_RAW"
        done
fi

export SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody
jrun --gpu 0 -- sh -c 'id -u; id -g'
is "$(tr '\n' ' ' <<<"$stdout")" "65534 65534 " "SUDO_UID/SUDO_GID: the job runs as the invoking user"
jrun --gpu 0 -- sh -c 'mknod /tmp/n c 195 1'
isnt "$status" 0 "as the invoking user: cannot mknod"
jrun --gpu 0 -- sh -c 'mount -o remount,rw /dev 2>&1 || exit 3; touch /dev/x'
isnt "$status" 0 "as the invoking user: cannot remount /dev read-write"
jrun --gpu 0 -- cat "/proc/driver/nvidia/gpus/$(hostinfo nvidia8 '.devices[1].bus_id')/information"
isnt "$status" 0 "as the invoking user: another GPU's /proc/driver/nvidia entry is not readable"
jrun --gpu 0 -- sh -c "touch $WORK/by-job && touch /tmp/t && ! touch /etc/gpujail-test 2>/dev/null"
is "$status" 0 "cwd writable, /tmp writable, host root read-only" || show
ok '[ -f "$WORK/by-job" ] && [ ! -e /etc/gpujail-test ]' "the write landed in the cwd on the host, /etc untouched"
ok '[ "$(stat -c %u "$WORK/by-job")" = 65534 ]' "files the job makes belong to the invoking user"
jrun --gpu 0 --user 1234:4321 -- true
is "$status" 125 "--user as another uid is refused for the sudo caller (the policy's, docs/shared-hosts.md)"
unset SUDO_UID SUDO_GID SUDO_USER
jrun --gpu 0 --user 1234:4321 -- sh -c 'id -u; id -g; id -G'
is "$(tr '\n' ' ' <<<"$stdout")" "1234 4321 4321 " "root: --user UID:GID runs as that uid and gid, no extra groups"

# ---- the host view is read-only by its mount, not by permissions ----
# A 0777 host directory outside the cwd (and outside /tmp, which is the job's
# own): permissions let root and the invoking user write there; only the
# read-only mount of the host view stops them.
HOSTDIR=$(mktemp -d /var/tmp/gpujail-hostview.XXXXXX) || bail_out "cannot create a directory in /var/tmp"
defer rm -rf "$HOSTDIR"
chmod 0777 "$HOSTDIR"
for who in root sudo; do
        [[ $who == sudo ]] && export SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody
        jrun --gpu 0 -- sh -c 'cut -d" " -f5,6 /proc/self/mountinfo | grep "^/ " | tail -1; touch "$0/by-$1"' "$HOSTDIR" $who
        like "$stdout" '^/ ro(,|$)' "$who job: / is mounted ro in the job's mountinfo" || show
        like "$stderr" "by-$who.*Read-only file system" "$who job: writing to a 0777 host directory outside the cwd fails with EROFS" || show
        ok '[ ! -e "$HOSTDIR/by-$who" ]' "$who job: nothing landed in that host directory"
done
unset SUDO_UID SUDO_GID SUDO_USER

# ---- binds, /tmp, network ----
echo data >"$TEST_TMP/dataset"
jrun --gpu 0 --bind "$TEST_TMP/dataset:/tmp/in/dataset:ro" -- sh -c 'cat /tmp/in/dataset; echo x >> /tmp/in/dataset'
is "$(head -1 <<<"$stdout")" data "--bind SRC:DST:ro: readable at DST"
isnt "$status" 0 "--bind :ro is read-only"
jrun --gpu 0 --bind "$TEST_TMP/dataset:ro" -- sh -c "cat $TEST_TMP/dataset; grep ' ${TEST_TMP//\//\\/}/dataset ' /proc/self/mountinfo"
is "$(head -1 <<<"$stdout")" data "--bind SRC:ro (DST left out, as --help shows): bound at SRC" || show
like "$stdout" ' ro,' "... read-only"
jrun --gpu 0 --bind "$TEST_TMP/dataset:rx" -- true
is "$status" 125 "--bind SRC:rx is refused: neither a path nor a mode"
jrun --gpu 0 -- sh -c "[ -e $TEST_TMP/dataset ] || [ -e $TEST_TMP/hosts ]"
isnt "$status" 0 "/tmp is private (the host's /tmp is not seen, only the cwd bound into it)"
jrun --gpu 0 --net none -- sh -c 'ls /sys/class/net >/dev/null; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "'
is "$stdout" lo "--net none: only loopback"

# AMD: --set-cuda-env names the GPUs the ROCm way too (ROCm numbers what it can open from 0).
AMD=$(fakehost amd)
run bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" "$FAKEHOST/enter" "$AMD" -- "$GPUJAIL" run --gpu amd:0 \
        --set-cuda-env -- sh -c 'echo "${ROCR_VISIBLE_DEVICES-unset}|${HIP_VISIBLE_DEVICES-unset}|$CUDA_VISIBLE_DEVICES"'
is "$stdout" "0|0|" "--set-cuda-env on an AMD GPU: ROCR_ and HIP_VISIBLE_DEVICES=0, CUDA sees none" || show
run bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" "$FAKEHOST/enter" "$AMD" -- "$GPUJAIL" run --gpu amd:0 \
        -- sh -c 'echo "${ROCR_VISIBLE_DEVICES-unset}"'
is "$stdout" unset "without it, ROCR_VISIBLE_DEVICES is left as it was" || show

# Asked by index, discovery reads the details of those GPUs alone (the others stay
# PCI facts: no /proc/driver/nvidia/gpus/*/information read); the job gets the same.
if command -v strace >/dev/null; then
        infos() { grep -c 'gpus/[^"]*/information' <<<"$stderr" || true; }
        # LeakSanitizer cannot run under ptrace (the sanitizer build)
        STRACE=(env "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -e trace=openat)
        THIRD_UUID=$(hostinfo nvidia8 '.devices[3].uuid')
                run bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" "$FAKEHOST/enter" "$HOST" -- \
                "${STRACE[@]}" "$GPUJAIL" run --gpu 3 -- sh -c 'echo "$GPUJAIL_DEVICES"'
        is "$(infos)" 1 "--gpu 3: one GPU's information read, not eight" || show
        is "$stdout" "$THIRD_UUID" "--gpu 3: the job gets GPU 3 all the same"
        run bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" "$FAKEHOST/enter" "$HOST" -- \
                "${STRACE[@]}" "$GPUJAIL" run --gpu all -- true
        is "$(infos)" 8 "--gpu all: every GPU's information read" || show
        run bash -c 'cd "$1" && shift && exec "$@"' sh "$WORK" "$FAKEHOST/enter" "$HOST" -- \
                "${STRACE[@]}" "$GPUJAIL" run --gpu "$THIRD_UUID" -- true
        is "$(infos)" 8 "--gpu UUID: every GPU's information read (a UUID is found among all)" || show
else
        skip "strace is not installed" "discovery reads the GPUs asked for by index alone"
fi

run_assert_host_unchanged before "host mounts, cgroups and BPF programs unchanged after all runs"
done_testing
