#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run --rootfs with the NVIDIA driver's userspace, on a simulated host
# whose fake driver looks installed (tests/helpers/mkfakedrv), into a real
# Debian 12 glibc root: `ldconfig -p` lists libcuda, a dlopen probe calls
# cuInit in the fake, --caps chooses, a missing library is a warning naming
# it; and the image directory is never written: the directories that receive
# files are covered by a tmpfs overlay for the job. Hostile images as for the
# hook; an image /sbin/ldconfig that records being run never runs.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
. "$(dirname "$0")/driver-common.sh"
require_root
require_built "$GPUJAIL"
require_driver_env
[[ $(uname -m) == x86_64 ]] || skip_all "the test's paths are x86-64's"

HOST=$(fakehost nvidia8)
lib=/usr/lib/x86_64-linux-gnu
WRAP=$(with_fakedrv)
run_snapshot before

jrun() { run "$FAKEHOST/enter" "$HOST" -- "$WRAP" "$GPUJAIL" run --gpu 0 "$@"; }
tree_state() { (cd "$1" && find . -printf '%p %y %s %T@ %m\n' | sort | md5sum); }

root=$(glibc_rootfs plain)
before=$(tree_state "$root")
jrun --rootfs "$root" -- sh -c '/sbin/ldconfig -p | grep "libcuda\|libnvidia-ml"; /probe libcuda.so.1; /probe libnvidia-ml.so.1 >/dev/null && echo nvml-ok
grep " '$lib'/libcuda.so.'$DRIVER_VERSION' " /proc/self/mountinfo; cat /etc/ld.so.conf.d/00-gpujail.conf'
if is "$status" 0 "run --rootfs a plain Debian root with GPU 0" ; then
        like "$stdout" "libcuda.so.1 \(libc6,x86-64\) => $lib/libcuda.so.1" "ldconfig -p in the job lists libcuda.so.1"
        like "$stdout" "libcuda.so.1 -> $lib/libcuda.so.1 cuInit=100 version=12040" "dlopen(libcuda.so.1) calls cuInit in the host's fake"
        like "$stdout" "nvml-ok" "dlopen(libnvidia-ml.so.1) works"
        like "$stdout" " $lib/libcuda.so.$DRIVER_VERSION ro,nosuid,nodev" "libcuda is a read-only, nosuid, nodev bind"
        like "$stdout" "^$lib$" "the drop-in names the library directory"
        like "$stderr" "missing library libnvidia-cfg.so\* of driver $DRIVER_VERSION" "a library the host lacks: a warning naming it"
else
        show
fi
is "$(tree_state "$root")" "$before" "the image directory is exactly as before: nothing written into it"

jrun --rootfs "$root" --caps utility -- sh -c '/probe libnvidia-ml.so.1 >/dev/null && echo nvml-ok; /probe libcuda.so.1'
like "$stdout" "nvml-ok" "--caps utility: libnvidia-ml"
like "$stderr" "dlopen libcuda.so.1: " "--caps utility: no libcuda"
jrun --rootfs "$root" --caps none -- sh -c '/probe libcuda.so.1; ls /etc/ld.so.conf.d'
like "$stderr" "dlopen libcuda.so.1: " "--caps none: nothing injected"
run "$GPUJAIL" run --caps warp -- true
is "$status" 125 "--caps warp: refused (125)"
like "$stderr" "unknown driver capability 'warp'" "naming the word"
run "$FAKEHOST/enter" "$HOST" -- "$WRAP" "$GPUJAIL" run --rootfs "$root" -- /probe libcuda.so.1
like "$stderr" "dlopen libcuda.so.1: " "no GPU asked for: no driver userspace"

# An image ldconfig that records being run, and hostile directories.
trap_root=$(glibc_rootfs trap)
(cd "$trap_root" && rm -f sbin/ldconfig && printf '#!/bin/sh\necho ran >/tmp/ldconfig-ran\necho ran >/ldconfig-ran\n' >sbin/ldconfig &&
        chmod 755 sbin/ldconfig && cp sbin/ldconfig sbin/ldconfig.real)
jrun --rootfs "$trap_root" -- /probe libcuda.so.1
like "$stdout" "cuInit=100" "an image with a trapped /sbin/ldconfig: libcuda loads"
ok "[ ! -e '$trap_root/ldconfig-ran' ]" "the image's ldconfig never ran"

canary=$TEST_TMP/canary
mkdir -p "$canary"
canary_before=$(tree_state "$canary")
h=$(glibc_rootfs libdir-abs)
(cd "$h" && rm -rf usr/lib/x86_64-linux-gnu && ln -s "$canary" usr/lib/x86_64-linux-gnu)
jrun --rootfs "$h" -- ls /usr/lib64/libcuda.so.1
is "$status" 0 "library dir -> a host directory (absolute): contained in the image" || show
h=$(glibc_rootfs confd-proc)
(cd "$h" && rm -rf etc/ld.so.conf.d && ln -s /proc/self/cwd etc/ld.so.conf.d)
jrun --rootfs "$h" -- true
is "$status" 125 "ld.so.conf.d -> /proc/self/cwd: refused (125)"
h=$(glibc_rootfs cache-fifo)
(cd "$h" && rm -f etc/ld.so.cache && mkfifo etc/ld.so.cache)
jrun --rootfs "$h" -- true
is "$status" 125 "ld.so.cache is a fifo: refused (125)"
like "$stderr" "it is a fifo" "with a clear error"
is "$(tree_state "$canary")" "$canary_before" "the host directory the image aimed at is untouched"

run_assert_host_unchanged before "the host is as before"
done_testing
