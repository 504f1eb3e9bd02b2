/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Create or repair a device node on the host (gpujail setup). Every change
 * happens relative to a directory fd opened without following symlinks, and a
 * replacement is a rename over the old name: there is no moment when the
 * node is missing, and a symlink planted at the name is replaced, not followed.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "gpujail/host-nodes.h"
#include "gpujail/util.h"
#include "kernel-syscalls.h"

#define ACL_ACCESS_XATTR "system.posix_acl_access"
#define DIR_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* The host path under dev_root: "/dev/nvidia3" -> "<dev_root>/nvidia3". */
static char *node_host_path(const char *dev_root, const char *path) {
        const char *rel = startswith(path, "/dev/");
        if (!rel || isempty(rel) || strstr(rel, ".."))
                return NULL;
        return strprintf("%s/%s", dev_root ?: "/dev", rel);
}

static int open_parent_dir(const char *path, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = strndup(path, slash && slash != path ? (size_t)(slash - path) : 1);
        if (!dir)
                return -ENOMEM;
        int fd = open(dir, DIR_FLAGS);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", dir);
        *ret_name = slash ? slash + 1 : path;
        return fd;
}

/* mknod with exactly the mode asked for (no umask), then the owner. */
static int make_node_at(int dfd, const char *name, const char *shown, const struct gj_node *n) {
        mode_t old = umask(0);
        int r = mknodat(dfd, name, S_IFCHR | (n->mode & 07777), makedev(n->major, n->minor));
        umask(old);
        if (r < 0)
                return log_error_errno(-errno, "cannot create %s (c %u:%u): %m", shown, n->major, n->minor);
        if (fchownat(dfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0) {
                r = log_error_errno(-errno, "cannot chown %s to %u:%u: %m", shown, (unsigned)n->uid,
                                    (unsigned)n->gid);
                (void)unlinkat(dfd, name, 0);
                return r;
        }
        return 0;
}

static int replace_node_at(int dfd, const char *name, const char *shown, const struct gj_node *n) {
        _cleanup_free_ char *tmp = strprintf(".#gpujail-%s.%d", name, (int)getpid());
        if (!tmp)
                return -ENOMEM;
        (void)unlinkat(dfd, tmp, 0);
        int r = make_node_at(dfd, tmp, shown, n);
        if (r < 0)
                return r;
        if (renameat(dfd, tmp, dfd, name) < 0) {
                r = log_error_errno(-errno, "cannot replace %s: %m", shown);
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        return 0;
}

static bool perms_match(const struct stat *st, const struct gj_node *n) {
        return (st->st_mode & 07777) == (n->mode & 07777) && st->st_uid == n->uid && st->st_gid == n->gid;
}

int gj_host_node_ensure(const char *dev_root, const struct gj_node *node, bool fix, bool dry_run,
                        enum gj_host_node_result *ret) {
        _cleanup_free_ char *path = node_host_path(dev_root, node->path);
        _cleanup_close_ int dfd = -1;
        const char *name = NULL;
        struct stat st;

        if (!path)
                return log_error_errno(-EINVAL, "refusing node path %s: not a plain path under /dev", node->path);
        dfd = open_parent_dir(path, &name);
        if (dfd < 0)
                return dfd;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(-errno, "cannot stat %s: %m", node->path);
                *ret = GJ_HOST_NODE_CREATED;
                return dry_run ? 0 : make_node_at(dfd, name, node->path, node);
        }
        if (S_ISDIR(st.st_mode))
                return log_error_errno(-EISDIR, "%s is a directory, not the device node c %u:%u: not touching it",
                                       node->path, node->major, node->minor);

        bool right_node = S_ISCHR(st.st_mode) && major(st.st_rdev) == node->major &&
                          minor(st.st_rdev) == node->minor;
        if (right_node && perms_match(&st, node)) {
                *ret = GJ_HOST_NODE_OK;
                return 0;
        }
        if (!fix) {
                *ret = GJ_HOST_NODE_LEFT_WRONG;
                return 0;
        }
        *ret = right_node ? GJ_HOST_NODE_PERMS_SET : GJ_HOST_NODE_REPLACED;
        return dry_run ? 0 : replace_node_at(dfd, name, node->path, node);
}

int gj_host_node_dir_ensure(const char *dev_root, const char *node_path, bool dry_run) {
        _cleanup_free_ char *path = node_host_path(dev_root, node_path);
        const char *rel = startswith(node_path, "/dev/");
        const char *slash = rel ? strchr(rel, '/') : NULL;
        struct stat st;

        if (!path || !slash || strchr(slash + 1, '/'))
                return log_error_errno(-EINVAL, "refusing node path %s: not /dev/DIR/NAME",
                                       node_path);
        _cleanup_free_ char *dir = strndup(path, strlen(path) - strlen(slash + 1) - 1);
        const char *name = NULL;
        if (!dir)
                return -ENOMEM;
        _cleanup_close_ int pfd = open_parent_dir(dir, &name);
        if (pfd < 0)
                return pfd;
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISDIR(st.st_mode))
                        return 0;
                return log_error_errno(-ENOTDIR, "%s is not a directory: not touching it", dir);
        }
        if (errno != ENOENT)
                return log_error_errno(-errno, "cannot stat %s: %m", dir);
        if (dry_run)
                return 1;
        mode_t old = umask(0);
        int r = mkdirat(pfd, name, 0755);
        umask(old);
        if (r < 0)
                return log_error_errno(-errno, "cannot create %s: %m", dir);
        return 1;
}

/* <dev_root>/char, made when missing (in a dry run: -ENOENT then, unlogged); never
 * followed: a symlink there is -ENOTDIR. */
static int open_char_dir(const char *dev_root, bool dry_run) {
        const char *dev = dev_root ?: "/dev";
        _cleanup_close_ int dfd = open(dev, DIR_FLAGS);
        if (dfd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", dev);
        int fd = openat(dfd, "char", DIR_FLAGS);
        if (fd >= 0)
                return fd;
        if (errno != ENOENT)
                return log_error_errno(-errno, "cannot open %s/char (not a directory?): %m", dev);
        if (dry_run)
                return -ENOENT;
        mode_t old = umask(0);
        int r = mkdirat(dfd, "char", 0755);
        umask(old);
        if (r < 0 && errno != EEXIST)
                return log_error_errno(-errno, "cannot create %s/char: %m", dev);
        fd = openat(dfd, "char", DIR_FLAGS);
        return fd >= 0 ? fd : log_error_errno(-errno, "cannot open %s/char: %m", dev);
}

int gj_host_char_link_ensure(const char *dev_root, const struct gj_node *node, bool dry_run) {
        const char *rel = startswith(node->path, "/dev/");
        char name[32];
        struct stat st;

        if (!rel || isempty(rel) || strstr(rel, ".."))
                return log_error_errno(-EINVAL, "refusing node path %s: not a plain path under /dev",
                                       node->path);
        snprintf(name, sizeof(name), "%u:%u", node->major, node->minor);
        _cleanup_close_ int cfd = open_char_dir(dev_root, dry_run);
        if (cfd == -ENOENT)
                return 1; /* dry run, no /dev/char yet: it and the link would be made */
        if (cfd < 0)
                return cfd;
        if (fstatat(cfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        if (errno != ENOENT)
                return log_error_errno(-errno, "cannot stat /dev/char/%s: %m", name);
        if (dry_run)
                return 1;
        _cleanup_free_ char *target = strprintf("../%s", rel);
        if (!target)
                return -ENOMEM;
        if (symlinkat(target, cfd, name) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "cannot link /dev/char/%s to %s: %m", name, target);
        return 1;
}

/* An O_PATH descriptor of the character device at path, never through a symlink. */
static int open_char_node(const char *path, struct stat *st) {
        _cleanup_close_ int dfd = -1, fd = -1;
        const char *name = NULL;

        if (!startswith(path, "/dev/") || strstr(path, ".."))
                return log_error_errno(-EINVAL, "refusing node path %s: not a plain path under /dev", path);
        dfd = open_parent_dir(path, &name);
        if (dfd < 0)
                return dfd;
        fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        if (fstat(fd, st) < 0)
                return log_error_errno(-errno, "cannot stat %s: %m", path);
        if (!S_ISCHR(st->st_mode))
                return log_error_errno(-EEXIST, "%s is not a character device: not touching it", path);
        return TAKE_FD(fd);
}

/* chmod first: the old group keeps no more than it had, the new one gets access last. */
static int set_perms_fd(int fd, const char *path, struct gj_perms want) {
        char proc[PROC_FD_PATH_MAX];

        proc_fd_path(proc, fd);
        if (chmod(proc, want.mode) < 0)
                return log_error_errno(-errno, "cannot chmod %s to %04o: %m", path, (unsigned)want.mode);
        /* The mask now is the group bits: without the ACL they stay what we set. */
        if (removexattr(proc, ACL_ACCESS_XATTR) < 0 && errno != ENODATA && errno != EOPNOTSUPP)
                return log_error_errno(-errno, "cannot remove the ACL of %s: %m", path);
        if (fchownat(fd, "", want.uid, want.gid, AT_EMPTY_PATH) < 0)
                return log_error_errno(-errno, "cannot chown %s to %u:%u: %m", path, (unsigned)want.uid,
                                       (unsigned)want.gid);
        return 0;
}

int gj_host_node_set_perms(const char *path, struct gj_perms want, bool dry_run, enum gj_host_node_result *ret) {
        char proc[PROC_FD_PATH_MAX];
        struct stat st;

        _cleanup_close_ int fd = open_char_node(path, &st);
        if (fd < 0)
                return fd;
        bool acl = getxattr(proc_fd_path(proc, fd), ACL_ACCESS_XATTR, NULL, 0) > 0;
        struct gj_node as_node = { .mode = want.mode, .uid = want.uid, .gid = want.gid };
        if (!acl && perms_match(&st, &as_node)) {
                *ret = GJ_HOST_NODE_OK;
                return 0;
        }
        *ret = GJ_HOST_NODE_PERMS_SET;
        return dry_run ? 0 : set_perms_fd(fd, path, want);
}
