/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pure cgroup-v2 runtime's device program, for the tests that play such a runtime
 * (runc on this hybrid host polices through v1 and attaches none): runc 1.1's
 * default devices (specconv AllowedDevices), nothing else. mknod of anything, the
 * null/zero/full/random/urandom/tty/ptmx nodes, /dev/net/tun and the pts.
 * -DRUNTIME_ALLOWS_TUN=0: the same without tun, as runc 1.2.0-1.2.3 and some crun
 * releases have it.
 * Built by the test itself: clang -O2 -target bpf -c (not part of the meson build,
 * which needs no BPF toolchain); attached with bpftool.
 */
#include <linux/bpf.h>

#ifndef RUNTIME_ALLOWS_TUN
#define RUNTIME_ALLOWS_TUN 1
#endif

__attribute__((section("cgroup/dev"), used)) int runtime_devices(struct bpf_cgroup_dev_ctx *ctx) {
        unsigned type = ctx->access_type & 0xffff, major = ctx->major, minor = ctx->minor;
        if ((ctx->access_type >> 16) == BPF_DEVCG_ACC_MKNOD)
                return 1;
        if (type != BPF_DEVCG_DEV_CHAR)
                return 0;
        if (major == 1 && (minor == 3 || minor == 5 || minor == 7 || minor == 8 || minor == 9))
                return 1;
        if (major == 5 && (minor == 0 || minor == 2))
                return 1;
        if (major == 10 && minor == 200)
                return RUNTIME_ALLOWS_TUN;
        return major == 136;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
