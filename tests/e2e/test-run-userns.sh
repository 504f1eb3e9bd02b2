#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run without root (as nobody, via setpriv): a user namespace, the same
# /dev view (bind-mounted nodes, no mknod), other GPUs hidden, and a plain
# warning that the device cgroup is not enforced. Never pretends.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"
require_cmd setpriv
[[ $(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1) == 1 ]] ||
        skip_all "unprivileged user namespaces are disabled here"

HOST=$(fakehost nvidia8)
SEL_MINOR=$(hostinfo nvidia8 '.devices[0].minor')
SEL_BUS=$(hostinfo nvidia8 '.devices[0].bus_id')
chmod 0755 "$TEST_TMP" # nobody must read the simulated host's preload library
run_snapshot before

asnobody() { run bash -c 'cd / && exec "$@"' sh "$FAKEHOST/enter" "$HOST" -- \
        setpriv --reuid 65534 --regid 65534 --clear-groups "$GPUJAIL" run "$@"; }

asnobody --gpu 0 -- sh -c 'id -u; ls -A /dev | tr "\n" " "'
is "$status" 0 "as nobody: the job runs" || show
like "$stderr" 'warning: not root: .*the device cgroup is NOT enforced' "the warning says the device cgroup is not enforced"
is "$(head -1 <<<"$stdout")" 65534 "the job runs as the invoking user"
want=$(printf '%s\n' fd full null "nvidia$SEL_MINOR" nvidia-uvm nvidia-uvm-tools nvidiactl ptmx pts random shm \
        stderr stdin stdout tty urandom zero | sort | tr '\n' ' ')
is "$(tail -1 <<<"$stdout" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/^ //')" "$want" "the same /dev view as with root"

asnobody --gpu 0 -- sh -c "mknod /tmp/n c 195 $SEL_MINOR"
isnt "$status" 0 "no mknod in the user namespace"
asnobody --gpu 0 -- sh -c 'for d in /proc/driver/nvidia/gpus/*; do [ -e "$d/information" ] && basename "$d"; done'
is "$stdout" "$SEL_BUS" "other GPUs are hidden in /proc/driver/nvidia/gpus"
asnobody --gpu 0 -- sh -c 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status'
like "$stdout" 'CapEff:[[:space:]]+0+$' "no capabilities"
like "$stdout" 'NoNewPrivs:[[:space:]]+1' "no_new_privs"
# (ls /proc/self/fd: 3 is ls's own directory fd; the /proc may be the host's here)
asnobody --gpu 0 -- sh -c 'ls /proc/self/fd | tr "\n" " "'
is "$stdout" "0 1 2 3 " "no fd of gpujail's"
asnobody --gpu 0 -- sh -c 'exit 9'
is "$status" 9 "the job's exit status"

run_assert_host_unchanged before "host unchanged after user-namespace runs"
done_testing
