/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths inside a container rootfs that we do not trust (kernel/safepath.c).
 *
 * Every lookup below a rootfs is resolved by the kernel with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink in the image
 * ("/dev -> /etc") resolves inside the rootfs, never to the host. Kernels
 * without openat2 (ENOSYS) get a component walk with O_NOFOLLOW that refuses
 * symlinks outright. Callers then act on the returned fd, never on a string.
 */
#pragma once

#include <fcntl.h>
#include <stdbool.h>
#include <sys/types.h>

/* Open `path` (absolute or relative, read as relative to rootfd) inside rootfd.
 * O_CLOEXEC is always added. Returns the fd or a negative errno and does not
 * log: the caller knows which rootfs it is and names it in its message.
 * The fallback walk refuses every symlink (-ELOOP) instead of following it. */
int gj_open_in_root(int rootfd, const char *path, int flags, mode_t mode);

/* mkdir -p inside rootfd; returns an O_PATH|O_DIRECTORY fd of the last component.
 * An existing component that is not a directory (a symlink, a file) is -ENOTDIR;
 * a ".." component is -EINVAL. Does not log (see above). */
int gj_mkdir_p_in_root(int rootfd, const char *path, mode_t mode);

/* For tests: pretend the kernel lacks openat2 and use the O_NOFOLLOW walk. */
void gj_safepath_force_fallback(bool on);
