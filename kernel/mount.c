/* SPDX-License-Identifier: Apache-2.0 */
/* Mounts by fd with the new mount API. See gpujail/mount.h. */
#include <errno.h>
#include <fcntl.h>

#include "gpujail/mount.h"
#include "gpujail/util.h"
#include "kernel-syscalls.h"

int gj_mount_clone(int dirfd, const char *path, unsigned flags) {
        int fd = sys_open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | flags);
        return fd < 0 ? -errno : fd;
}

int gj_mount_move(int mnt_fd, int target_fd, const char *path) {
        unsigned flags = MOVE_MOUNT_F_EMPTY_PATH | (isempty(path) ? MOVE_MOUNT_T_EMPTY_PATH : 0);
        if (sys_move_mount(mnt_fd, "", target_fd, isempty(path) ? "" : path, flags) < 0)
                return -errno;
        return 0;
}

int gj_mount_fs_open(const char *type) {
        int fd = sys_fsopen(type, FSOPEN_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* One "key=value" (a string) or "flag" option. */
static int fs_config(int fs_fd, const char *opt) {
        _cleanup_free_ char *key = strdup(opt);
        if (!key)
                return -ENOMEM;
        char *value = strchr(key, '=');
        if (value)
                *value++ = 0;
        if (sys_fsconfig(fs_fd, value ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, key, value, 0) < 0)
                return -errno;
        return 0;
}

int gj_mount_fs_create(int fs_fd, const char *const *opts, uint64_t attrs) {
        for (const char *const *o = opts; o && *o; o++) {
                int r = fs_config(fs_fd, *o);
                if (r < 0)
                        return r;
        }
        if (sys_fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        int mnt = sys_fsmount(fs_fd, FSMOUNT_CLOEXEC, (unsigned)attrs);
        return mnt < 0 ? -errno : mnt;
}

int gj_mount_new_fs(const char *type, const char *const *opts, uint64_t attrs) {
        _cleanup_close_ int fs = gj_mount_fs_open(type);
        if (fs < 0)
                return fs;
        return gj_mount_fs_create(fs, opts, attrs);
}

int gj_mount_set_attr(int mnt_fd, bool recursive, uint64_t attrs, const char *what) {
        struct mount_attr attr = { .attr_set = attrs, .propagation = MS_PRIVATE };
        unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
        if (sys_mount_setattr(mnt_fd, "", flags, &attr) < 0)
                return log_error_errno(-errno, "cannot set mount flags on %s: %m", what);
        return 0;
}

int gj_mount_attach(int mnt_fd, int target_fd, const char *what, const char *where) {
        int r = gj_mount_move(mnt_fd, target_fd, "");
        if (r < 0)
                return log_error_errno(r, "cannot mount %s on %s: %m", what, where);
        return 0;
}

int gj_mount_clone_tree(int dirfd, const char *path, unsigned flags, uint64_t attrs, const char *what) {
        _cleanup_close_ int fd = gj_mount_clone(dirfd, path, flags);
        if (fd < 0)
                return log_error_errno(fd, "cannot bind %s: %m", what);
        int r = gj_mount_set_attr(fd, flags & AT_RECURSIVE, attrs, what);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}
