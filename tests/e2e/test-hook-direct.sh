#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook run by hand with crafted states and bundles: bad input fails
# closed with one line, a container that asks for nothing is let through at
# once without enumerating anything (no udev, no /sys, no /proc/driver), one
# asked for by index has that GPU's details read alone; a
# container in the root cgroup of a hierarchy (host root, or a cgroup
# namespace's) or with no device cgroup at all is refused.
. "$(dirname "$0")/../lib.sh"
require_root
require_cmd jq
require_built "$GPUJAIL_HOOK"

fakehost nvidia8 >/dev/null
b=$TEST_TMP/bundle
mkdir -p "$b/rootfs/dev"
config() { # ENV-JSON [ANNOTATIONS-JSON]
        jq -n --argjson env "$1" --argjson ann "${2:-null}" \
                '{ociVersion: "1.0.2", root: {path: "rootfs"}, process: {args: ["true"], env: $env}}
                 + (if $ann == null then {} else {annotations: $ann} end)' >"$b/config.json"
}
state() { printf '{"ociVersion":"1.0.2","id":"direct","status":"creating","pid":%s,"bundle":"%s"}' "${2:-$$}" "${1:-$b}"; }
hook() { # STDIN-TEXT ARGS...
        local in=$1
        shift
        run bash -c 'printf "%s" "$1" | "${@:2}"' _ "$in" "$GPUJAIL_HOOK" "$@"
}
one_line() { is "$(wc -l <<<"$stderr")" 1 "$1: exactly one line on stderr" || show; }

# Nothing requested: exit 0, no enumeration at all. (LeakSanitizer cannot
# run under ptrace: off for the strace'd runs of an ASan build.)
if command -v strace >/dev/null; then
        config '["PATH=/bin"]'
        run on_fakehost nvidia8 -- bash -c 'export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0; printf "%s" "$1" | strace -f -qq -e trace=open,openat,openat2,stat,newfstatat,statx,access -o "$2" "$3"' \
                _ "$(state)" "$TEST_TMP/strace.out" "$GPUJAIL_HOOK"
        is "$status" 0 "nothing requested: exit 0" || show
        is "$output" "" "nothing requested: silent"
        nok grep -Eq '"/(sys|run/udev|proc/driver|proc/devices|dev/nvidia)' "$TEST_TMP/strace.out" \
                "nothing requested: never looks at /sys, udev, /proc/driver or /dev (no enumeration)"
        for v in void ""; do
                config "[\"NVIDIA_VISIBLE_DEVICES=$v\"]"
                run on_fakehost nvidia8 -- bash -c 'export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0; printf "%s" "$1" | strace -f -qq -e trace=open,openat,openat2 -o "$2" "$3"' \
                        _ "$(state)" "$TEST_TMP/strace.out" "$GPUJAIL_HOOK"
                is "$status" 0 "NVIDIA_VISIBLE_DEVICES='$v': exit 0" || show
                nok grep -Eq '"/(sys|run/udev|proc/driver)' "$TEST_TMP/strace.out" "NVIDIA_VISIBLE_DEVICES='$v': no enumeration"
        done
        # Asked by index: that GPU's details alone are read (whatever the hook decides later).
        infos() { grep -c 'gpus/[^"]*/information' "$TEST_TMP/strace.out" || true; }
        for sel in 2 all; do
                config '["PATH=/bin"]' "{\"gpujail.io/gpus\": \"$sel\"}"
                run on_fakehost nvidia8 -- bash -c 'export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0; printf "%s" "$1" | strace -f -qq -e trace=openat -o "$2" "$3"' \
                        _ "$(state)" "$TEST_TMP/strace.out" "$GPUJAIL_HOOK"
                is "$(infos)" "$([[ $sel == all ]] && echo 8 || echo 1)" \
                        "gpujail.io/gpus=$sel: the /proc information of $([[ $sel == all ]] && echo 'every GPU' || echo 'that GPU alone') read"
                is "$(grep -c 'driver/nvidia/version' "$TEST_TMP/strace.out" || true)" 1 \
                        "gpujail.io/gpus=$sel: the driver's version read once (discovery's serves the driver plan)"
        done
else
        skip "strace is not installed" "nothing requested: no enumeration (strace)"
fi

# Bad states.
config '["PATH=/bin"]' '{"gpujail.io/gpus": "0"}'
for bad in '' 'not json' '[1]' '{"id":"x","pid":1}' '{"id":"x","bundle":"/b"}' \
        '{"id":"x","pid":-1,"bundle":"/b"}' '{"id":"x","pid":1,"bundle":"relative"}' \
        "$(state "$TEST_TMP/no-such-bundle")"; do
        hook "$bad"
        is "$status" 125 "state '${bad:0:40}': exit 125" || show
        one_line "state '${bad:0:40}'"
done
head -c 2000000 /dev/zero | tr '\0' ' ' >"$TEST_TMP/huge"
run bash -c '"$1" <"$2"' _ "$GPUJAIL_HOOK" "$TEST_TMP/huge"
is "$status" 125 "state of 2 MB: refused"
like "$stderr" "larger than" "state of 2 MB: says it is too large"

# Bad config.json.
mv "$b/config.json" "$b/real-config.json"
ln -s real-config.json "$b/config.json"
hook "$(state)"
is "$status" 125 "config.json a symlink: refused (O_NOFOLLOW)"
like "$stderr" "config.json" "config.json a symlink: names the file"
rm "$b/config.json"
echo '{"process": {"env": [' >"$b/config.json"
hook "$(state)"
is "$status" 125 "config.json truncated: refused"
one_line "config.json truncated"
rm "$b/config.json"
mkfifo "$b/config.json"
hook "$(state)"
is "$status" 125 "config.json a fifo: refused without blocking"
rm "$b/config.json"
{ printf '{"a":"'; head -c 17000000 /dev/zero | tr '\0' x; printf '"}'; } >"$b/config.json"
hook "$(state)"
is "$status" 125 "config.json of 17 MB: refused"
like "$stderr" "larger than" "config.json of 17 MB: says it is too large"
mv "$b/real-config.json" "$b/config.json"

# Arguments.
hook "$(state)" startContainer
is "$status" 125 "stage startContainer: refused (runs after pivot_root)"
like "$stderr" "unknown hook stage" "stage startContainer: says so"
hook "$(state)" prestart extra
is "$status" 125 "two stage arguments: refused"
run "$GPUJAIL_HOOK" --help
is "$status" 0 "--help exits 0"
like "$stdout" "gpujail.io/gpus" "--help names the annotation"

# A pid in our own mount namespace: binding into its "rootfs" would change
# the mount table we share with it. Refused.
run on_fakehost nvidia8 -- bash -c 'printf "{\"id\":\"x\",\"pid\":%s,\"bundle\":\"%s\"}" $$ "$1" | "$2" prestart' \
        _ "$b" "$GPUJAIL_HOOK"
isnt "$status" 0 "a pid in our own mount namespace: refused"
like "$stderr" "shares our mount namespace" "a pid in our own mount namespace: says so"

# Where the container's device cgroup is not one the hook may change: run as
# createContainer (the container is the hook's own process) asking for GPU 0.
config '["PATH=/bin"]' '{"gpujail.io/gpus": "0"}'
V2=$(cgroup2_root)

# 1. In the root cgroup of its hierarchies (a runtime bug): allowing devices
#    there would be for the whole host. On a hybrid host with the v1 devices
#    controller this is harmless to try even if the hook wrongly went ahead
#    (the v1 root allows everything and takes no rule, no v2 program is wanted).
root_state() { # the hierarchy roots' device rules and BPF programs
        cat /sys/fs/cgroup/devices/devices.list
        [[ -n $V2 ]] && "$HELPERS/bpf-list" | awk -v r="$V2" '$1 == r'
        true
}
if [[ -f /sys/fs/cgroup/devices/devices.list ]]; then
        before=$(root_state)
        run on_fakehost nvidia8 -- bash -c 'echo $$ >/sys/fs/cgroup/devices/cgroup.procs || exit 99
                if [ -n "$3" ]; then echo $$ >"$3/cgroup.procs" || exit 99; fi
                printf "%s" "$1" | "$2" createContainer' _ "$(state)" "$GPUJAIL_HOOK" "$V2"
        is "$status" 125 "container in the root cgroup of its hierarchies: exit 125" || show
        like "$stderr" "is the root of its hierarchy" "container in the root cgroup: says why"
        is "$(root_state)" "$before" "container in the root cgroup: the root's devices.list and BPF programs unchanged"
else
        skip "no cgroup v1 devices controller" "container in the root cgroup of its hierarchies: refused"
fi

# 2. The same seen from inside a cgroup namespace on a pure cgroup2 view: the
#    hook's own cgroup is the root of the cgroup2 mount it sees. The namespace
#    is rooted at a scratch cgroup, so a hook that wrongly went ahead would
#    attach its program there, never to the host's root.
if [[ -n $V2 ]] && command -v unshare >/dev/null; then
        scratch=$V2/gpujail-hook-direct-$$
        mkdir "$scratch" || bail_out "cannot create $scratch"
        defer rmdir "$scratch"
        run on_fakehost nvidia8 -- bash -c 'echo $$ >"$3/cgroup.procs" || exit 99
                exec unshare -C -- bash -c "umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 99
                        printf %s \"\$1\" | \"\$2\" createContainer" _ "$1" "$2"' _ "$(state)" "$GPUJAIL_HOOK" "$scratch"
        is "$status" 125 "cgroup namespace, pure cgroup2: the container's cgroup is the mount's root: exit 125" || show
        like "$stderr" "is the root of its hierarchy" "cgroup namespace, pure cgroup2: says why"
        is "$("$HELPERS/bpf-list" | awk -v r="$scratch" '$1 == r')" "" "cgroup namespace, pure cgroup2: no device program attached"
else
        skip "no cgroup2 mount" "cgroup namespace, pure cgroup2: refused"
fi

# 3. No device cgroup at all (/sys/fs/cgroup unmounted in a private mount
#    namespace): nobody would police the nodes. Refused before any is bound.
run on_fakehost nvidia8 -- bash -c 'umount -l /sys/fs/cgroup || exit 99
        echo "cgroup mounts: $(grep -cE " - cgroup2? " /proc/self/mountinfo)"
        printf "%s" "$1" | "$2" createContainer; rc=$?
        echo "bound: $(grep -c " $3/rootfs/dev/" /proc/self/mountinfo)"
        exit $rc' _ "$(state)" "$GPUJAIL_HOOK" "$b"
like "$stdout" "^cgroup mounts: 0$" "no cgroup mounted: the premise holds" || show
is "$status" 125 "no device cgroup at all: exit 125" || show
like "$stderr" "no device cgroup found" "no device cgroup at all: says why"
like "$stdout" "^bound: 0$" "no device cgroup at all: no node bound into the rootfs"
done_testing
