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

#include "gpujail/host-nodes.h"
#include "gpujail/util.h"

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
        int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
