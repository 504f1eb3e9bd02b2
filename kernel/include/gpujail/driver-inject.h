/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NVIDIA driver's userspace into a container's root (kernel/driver-inject.c).
 *
 * Nothing is executed: no ldconfig, the image's or the host's. Host files are
 * opened with O_NOFOLLOW and bind-mounted by fd (open_tree/move_mount),
 * read-only, nosuid, nodev (sockets: writable, noexec), onto mount points
 * created with O_EXCL|O_NOFOLLOW in directories resolved inside the root
 * (RESOLVE_IN_ROOT): an image's symlink cannot send a mount, a link or a
 * write out of its root. The dynamic-linker cache is written in C
 * (gpujail/ldcache.h) next to the image's and renamed over it; a drop-in
 * /etc/ld.so.conf.d/00-gpujail.conf keeps the libraries in a cache the image's
 * own ldconfig rebuilds later.
 */
#pragma once

#include "gpujail/driver.h"

/*
 * Put plan's files into the root at rootfd, in the caller's mount namespace
 * (the container's): libraries into the image's library directory
 * (usr/lib/<triplet> if the image has it, else usr/lib64; or the directory of
 * their path when the plan gives one), with their SONAME
 * link (and libcuda.so), binaries into usr/bin, firmware and sockets at their
 * host paths; then the cache and the drop-in. root_name names the root in
 * messages. 0 when done (or nothing to do); a negative errno, logged, naming
 * the file and where. A failure may leave what was made so far: the hook's
 * container is not started, the launcher's namespace dies.
 */
enum gj_driver_inject_flags {
        /* Cover each directory written in with an overlay whose upper layer is
         * a tmpfs (kernel >= 6.15): the tree at rootfd stays as it was, and the
         * job sees the image's files plus ours. For `run --rootfs`, whose root
         * is a user's directory on the host that gpujail must not write to. */
        GJ_DRIVER_INJECT_COVER = 1 << 0,
        /* Bind nothing: the runtime mounted the libraries where their path
         * says (a CDI spec); make their links, the cache and the drop-in
         * only. Files that are not libraries are left out. */
        GJ_DRIVER_INJECT_NO_BIND = 1 << 1,
};
int gj_driver_inject(int rootfd, const struct gj_driver_plan *plan, const char *root_name,
                     unsigned flags);

/* The drop-in's name under /etc/ld.so.conf.d. */
#define GJ_DRIVER_LDCONF "00-gpujail.conf"
