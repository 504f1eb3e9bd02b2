#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The simulated GPU hosts themselves: each shape is what the REAL libudev
# enumerates (and only with the fakesysfs preload), its nodes and /proc files
# are what hostinfo.json says, and entering a host leaves the host untouched.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd jq unshare python3
require_built "$HELPERS/udev-list" "$HELPERS/open-probe"

SHAPES=(nvidia1 nvidia8 nvidia64 nvidia-old amd accel mixed empty wrongnode broken)

snapshot_host before

expected_udev() { # SHAPE: udev-list's lines, from hostinfo.json
        hostinfo "$1" '.pci[] | "pci \(.bus_id) vendor=\(.vendor) device=\(.device) class=\(.class) driver=\(.driver) numa=\(.numa)"'
        hostinfo "$1" '.udev[] | "\(.subsystem) \(.devnode) devnum=\(.major):\(.minor) parent=\(.parent // "-")"'
}

# Everything one shape is checked on, gathered in one `enter` (sections split by "@@ name").
probe_host() { # NODE-PATH...
        echo "@@ udev"
        "$HELPERS/udev-list"
        echo "@@ nodes"
        local p
        for p in "$@"; do
                if [[ -c $p ]]; then printf '%s %d:%d\n' "$p" "0x$(stat -c %t "$p")" "0x$(stat -c %T "$p")"
                else echo "$p missing"; fi
        done
        echo "@@ minors"
        for f in /proc/driver/nvidia/gpus/*/information; do
                [[ -f $f ]] || continue
                m=$(sed -n 's/^Device Minor: *\t *\([0-9][0-9]*\)$/\1/p' "$f")
                b=${f%/information}
                [[ -n $m ]] && echo "${b##*/} $m"
        done
        echo "@@ major195"
        awk '$1 == 195 { print $2 }' /proc/devices
        echo "@@ uvm"
        grep -c ' nvidia-uvm$' /proc/devices
        echo "@@ nvidia-proc"
        [[ -e /proc/driver/nvidia ]] && echo yes || echo no
        echo "@@ end"
}
section() { sed -n "/^@@ $1\$/,/^@@ /p" <<<"$stdout" | sed '1d;$d'; }

for shape in "${SHAPES[@]}"; do
        h=$(fakehost "$shape")
        ok '[ -f "$h/hostinfo.json" ]' "$shape: mkhost wrote hostinfo.json"
        mapfile -t paths < <(hostinfo "$shape" '(.devices[].nodes[], .controls[]) | .path')
        run on_fakehost "$shape" -- bash -c "$(declare -f probe_host); probe_host $(printf '%q ' "${paths[@]}")"
        is "$status" 0 "$shape: probes run on the simulated host" || show

        udev=$(section udev)
        got=$(sed 's/ syspath=.*//' <<<"$udev" | sort)
        want=$(expected_udev "$shape" | sort)
        is "$got" "$want" "$shape: the real libudev enumerates exactly the shape's devices"
        if [[ -n $want ]]; then
                is "$(sed -n 's/.* syspath=//p' <<<"$udev" | grep -cv '^/sys/devices/\(pci0000:00\|virtual/kfd\)/')" 0 \
                        "$shape: every syspath is in the simulated tree"
        fi

        if [[ ${#paths[@]} -gt 0 ]]; then
                want=$(hostinfo "$shape" '(.devices[].nodes[], .controls[]) |
                        if .state == "missing" then "\(.path) missing"
                        elif .state == "wrong_devnum" then "\(.path) \(.found_major):\(.found_minor)"
                        else "\(.path) \(.major):\(.minor)" end' | sort)
                is "$(section nodes | sort)" "$want" "$shape: device nodes are real char nodes with hostinfo's numbers"
        fi

        if [[ -n $(hostinfo "$shape" '.nvidia_driver // empty') ]]; then
                want=$(hostinfo "$shape" '.devices[] | select(.vendor == "nvidia" and .minor >= 0) | "\(.bus_id) \(.minor)"' | sort)
                is "$(section minors | sort)" "$want" "$shape: /proc/driver/nvidia/gpus/*/information Device Minor"
                is "$(section major195)" "$(hostinfo "$shape" .nvidia_frontend_name)" "$shape: /proc/devices names major 195"
                is "$(section uvm)" "$(hostinfo "$shape" 'if .controls["nvidia-uvm"] then 1 else 0 end')" \
                        "$shape: /proc/devices has nvidia-uvm iff the shape loads it"
        else
                is "$(section nvidia-proc)" no "$shape: no /proc/driver/nvidia without an NVIDIA driver"
        fi
done

# The preload is what makes libudev accept the fragments, and it fools nothing else.
run "$FAKEHOST/enter" --no-preload "$(fakehost nvidia8)" -- "$HELPERS/udev-list"
is "$stdout" "" "without fakesysfs.so the real libudev rejects every simulated device (fs magic check)"
run on_fakehost nvidia8 -- stat -f -c %T /sys/fs/cgroup /sys/class/drm /proc/driver
is "$(tr '\n' ' ' <<<"$stdout")" "$(stat -f -c %T /sys/fs/cgroup) sysfs tmpfs " \
        "preload: /sys/class/drm reads as sysfs; /sys/fs/cgroup and /proc/driver keep their real type"
run on_fakehost nvidia8 -- sh -c 'echo "$GPUJAIL_TEST_PRELOAD"; echo "$GPUJAIL_FAKEHOST"'
like "$stdout" "fakesysfs\.so" "enter exports GPUJAIL_TEST_PRELOAD"
run on_fakehost nvidia8 -- env -i "$HELPERS/udev-list"
is "$stdout" "" "a program that clears its environment loses the preload (pass GPUJAIL_TEST_PRELOAD)"
# (an ASan binary also needs ASAN_OPTIONS=verify_asan_link_order=0 handed back with it)
run on_fakehost nvidia8 -- sh -c 'exec env -i LD_PRELOAD="$GPUJAIL_TEST_PRELOAD" ASAN_OPTIONS="$ASAN_OPTIONS" "$0"' "$HELPERS/udev-list"
is "$(grep -c '^pci ' <<<"$stdout")" 8 "... and gets it back from GPUJAIL_TEST_PRELOAD"

# --modules: the shape's driver modules look loaded (what libkmod reads), only when asked.
mods=$(hostinfo mixed '.modules[]' | tr '\n' ' ')
run "$FAKEHOST/enter" --modules "$(fakehost mixed)" -- sh -c "for m in $mods; do cat /sys/module/\$m/initstate; done; test -d /sys/module/kernel"
is "$(sort -u <<<"$stdout")" "live" "enter --modules: every module of hostinfo.json reads initstate 'live'" || show
is "$status" 0 "enter --modules: the host's own /sys/module entries stay visible"
run on_fakehost mixed -- sh -c "for m in $mods; do test -e /sys/module/\$m && echo \$m; done; true"
is "$stdout" "" "without --modules no shape module appears in /sys/module"

# The oracle: no driver is behind the majors, so open() of a node gives ENXIO.
run on_fakehost nvidia8 -- "$HELPERS/open-probe" /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm /dev/null /dev/nvidia9
is "$stdout" "/dev/nvidia0 ENXIO
/dev/nvidiactl ENXIO
/dev/nvidia-uvm ENXIO
/dev/null OK
/dev/nvidia9 ENOENT" "open-probe on a simulated host: ENXIO for GPU nodes, OK for null, ENOENT for absent"

# The rest of the host is still there: cgroups, /proc, the host's other classes.
run on_fakehost mixed -- sh -c 'test -f /sys/fs/cgroup/devices/devices.allow -o -f /sys/fs/cgroup/cgroup.controllers && test -e /proc/self/mountinfo && test -d /sys/class/net && ls /sys/class/net/lo >/dev/null'
is "$status" 0 "cgroups, /proc and /sys/class/net stay visible on a simulated host"

assert_host_unchanged before "entering simulated hosts leaves the host's mounts, cgroups and BPF programs unchanged"
done_testing
