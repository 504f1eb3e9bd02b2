/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounts by fd with the new mount API (kernel/mount.c), for the launcher's job
 * root and for /dev (gpujail/devfs.h).
 *
 * A mount is made detached (a clone of a tree, or a fresh filesystem), given
 * its flags while nothing can see it yet, and attached onto an fd: never onto
 * a path string that could be re-resolved in between. `attrs` are the
 * MOUNT_ATTR_* flags of <sys/mount.h>. Every fd returned is O_CLOEXEC.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/mount.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* ---- steps that do not log: the caller knows what the mount was for, and
 * which errors are none (a missing path; no new mount API, when it has a
 * fallback). Each returns an fd or 0, or a negative errno. ---- */

/* A detached copy of <dirfd>/<path> (open_tree, OPEN_TREE_CLONE). `flags` may
 * add AT_RECURSIVE (the mounts below too), AT_EMPTY_PATH (path "": dirfd
 * itself) and AT_SYMLINK_NOFOLLOW. -ENOSYS: kernel < 5.2. */
int gj_mount_clone(int dirfd, const char *path, unsigned flags);

/* Attach the detached mount mnt_fd (move_mount). On what target_fd names when
 * path is "" (an O_PATH fd: nothing re-resolved), else on <target_fd>/<path>. */
int gj_mount_move(int mnt_fd, int target_fd, const char *path);

/* A fresh filesystem of `type`, detached, with `attrs`: fsopen, then one
 * fsconfig per option (`opts`: "key=value" or "flag" strings, NULL-terminated;
 * or NULL), then fsmount. */
int gj_mount_new_fs(const char *type, const char *const *opts, uint64_t attrs);
/* The same in two steps, for a caller with a fallback: fsopen alone, whose
 * -ENOSYS (kernel < 5.2) or -EPERM (a seccomp profile older than the new
 * mount API) says to use mount(2) instead; then the rest on its fd. */
int gj_mount_fs_open(const char *type);
int gj_mount_fs_create(int fs_fd, const char *const *opts, uint64_t attrs);

/* ---- steps that log their failure once, naming what and where, and return
 * the negative errno ---- */

/* Set `attrs` on the mount mnt_fd names, and on every mount below it if
 * `recursive`, and make them private: nothing mounted there later propagates
 * to or from the host. Logs "cannot set mount flags on <what>: ...". */
int gj_mount_set_attr(int mnt_fd, bool recursive, uint64_t attrs, const char *what);

/* gj_mount_move() onto target_fd itself. Logs "cannot mount <what> on <where>: ...". */
int gj_mount_attach(int mnt_fd, int target_fd, const char *what, const char *where);

/* gj_mount_clone(), then gj_mount_set_attr() with `attrs` (recursive when
 * flags hold AT_RECURSIVE). Returns the detached tree's fd. Logs "cannot bind
 * <what>: ..." or the flags' failure. */
int gj_mount_clone_tree(int dirfd, const char *path, unsigned flags, uint64_t attrs, const char *what);
