#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The fault-injection shim itself: each rule fails exactly the call it names, the rest
# reach the kernel; the count is shared across fork; other programs are left alone.
. "$(dirname "$0")/../fault/fault-lib.sh"
f_require_shim
[ -x "$FAULT_PROBE" ] || f_skip_all "fault-probe not built"

probe() { # probe GJ_FAULT CALLS...
        local spec=$1
        shift
        GJ_FAULT_EXE=fault-probe GJ_FAULT="$spec" LD_PRELOAD="$FAULTINJECT" "$FAULT_PROBE" "$@" | tr '\n' ' '
}
f_is "$(probe mount:2 mount mount mount)" "mount ENOENT mount EPERM mount ENOENT " "mount:2 fails the 2nd mount only"
f_is "$(probe openat2:1:ENOSYS openat2 openat2)" "openat2 ENOSYS openat2 ok " "openat2:1:ENOSYS (syscall(2) path)"
f_is "$(probe openat2:2+:ENOSYS openat2 openat2 openat2)" "openat2 ok openat2 ENOSYS openat2 ENOSYS " \
        "openat2:2+:ENOSYS: that call and every later one (a kernel without openat2)"
f_is "$(probe bpf bpf bpf)" "bpf EPERM bpf EINVAL " "bpf: 1st fails, 2nd reaches the kernel"
f_is "$(probe write:cgroup write-null write-cgroup write-cgroup)" "write-null ok write-cgroup ENOSPC write-cgroup ok " \
        "write:cgroup: only a write to a cgroup file, with ENOSPC"
f_is "$(probe fork fork fork)" "fork EAGAIN fork ok " "fork"
f_is "$(probe clone3 clone3 clone3)" "clone3 EAGAIN clone3 EINVAL " "clone3"
f_is "$(probe setns:1:EINVAL setns)" "setns EINVAL " "setns with a chosen errno"
f_is "$(probe open_tree,move_mount,mount_setattr open_tree move_mount mount_setattr)" \
        "open_tree EPERM move_mount EPERM mount_setattr EPERM " "new mount API calls"
f_is "$(probe execve execve)" "execve EPERM " "execve"
f_is "$(GJ_FAULT=mount LD_PRELOAD="$FAULTINJECT" "$FAULT_PROBE" mount | tr '\n' ' ')" "mount ENOENT " \
        "a program not named gpujail* is left alone"
rm -f "$F_TMP/count"
GJ_FAULT_EXE=fault-probe GJ_FAULT_COUNT=$F_TMP/count LD_PRELOAD="$FAULTINJECT" "$FAULT_PROBE" mount fork mount write-cgroup >/dev/null
f_is "$(f_count_max "$F_TMP/count" | tr '\n' ' ')" "fork 1 mount 2 write 1 " "counting mode: calls of each kind"
GJ_FAULT_EXE=fault-probe GJ_FAULT=mount:2 GJ_FAULT_LOG=$F_TMP/log LD_PRELOAD="$FAULTINJECT" "$FAULT_PROBE" mount mount >/dev/null
f_ok "GJ_FAULT_LOG names the fault that fired" grep -q 'mount call #2 fails with Operation not permitted' "$F_TMP/log"
f_done
