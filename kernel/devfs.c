/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device nodes into a container's /dev, by fd. See gpujail/devfs.h.
 *
 * Nothing here mknod()s in the container or chmod()s a node: a bind mount
 * shares the host inode, so a chmod would change the host's node. A node's
 * mode and owner are the host's; the device cgroup decides who may open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "gpujail/devfs.h"
#include "gpujail/mount.h"
#include "gpujail/safepath.h"
#include "gpujail/util.h"
#include "kernel-syscalls.h"

const char *const gj_devfs_default_nodes[] = {
        "null", "zero", "full", "random", "urandom", "tty", NULL,
};

/* The cgroup rules for what gj_devfs_setup() puts in /dev besides the plan:
 * the default nodes, /dev/ptmx and the new pts instance (no mknod). */
const struct gj_cgroup_rule gj_devfs_default_rules[] = {
        { .type = 'c', .major = 1, .minor = 3, .access = "rw" },   /* null */
        { .type = 'c', .major = 1, .minor = 5, .access = "rw" },   /* zero */
        { .type = 'c', .major = 1, .minor = 7, .access = "rw" },   /* full */
        { .type = 'c', .major = 1, .minor = 8, .access = "rw" },   /* random */
        { .type = 'c', .major = 1, .minor = 9, .access = "rw" },   /* urandom */
        { .type = 'c', .major = 5, .minor = 0, .access = "rw" },   /* tty */
        { .type = 'c', .major = 5, .minor = 2, .access = "rw" },   /* ptmx */
        { .type = 'c', .major = 136, .minor = GJ_WILDCARD, .access = "rw" }, /* pts/N */
};
const size_t gj_devfs_n_default_rules = ELEMENTSOF(gj_devfs_default_rules);

static bool force_fallback;

void gj_devfs_force_fallback(bool on) { force_fallback = on; }

/* Where an fd points, for messages only: never used to act on. */
static char *fd_path_for_log(int fd) {
        char proc[PROC_FD_PATH_MAX], buf[4096];
        ssize_t n = readlink(proc_fd_path(proc, fd), buf, sizeof(buf) - 1);

        if (n < 0)
                return strprintf("(fd %i)", fd);
        buf[n] = 0;
        return strdup(buf);
}

static const char *file_kind(mode_t m) {
        switch (m & S_IFMT) {
        case S_IFCHR: return "a character device";
        case S_IFBLK: return "a block device";
        case S_IFREG: return "a regular file";
        case S_IFDIR: return "a directory";
        case S_IFLNK: return "a symlink";
        default: return "a special file";
        }
}

static mode_t node_type_mode(const struct gj_plan_node *node) {
        return node->type == 'b' ? S_IFBLK : S_IFCHR;
}

static bool stat_is_node(const struct stat *st, const struct gj_plan_node *node) {
        return (st->st_mode & S_IFMT) == node_type_mode(node) &&
               major(st->st_rdev) == node->major && minor(st->st_rdev) == node->minor;
}

/* The host node, opened without following a symlink, and checked against the plan. */
static int open_host_node(const struct gj_plan_node *node) {
        _cleanup_close_ int fd = open(node->host_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return log_error_errno(-errno, "cannot open host device node %s: %m", node->host_path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat host device node %s: %m", node->host_path);
        if (!stat_is_node(&st, node)) {
                if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
                        return log_error_errno(-ENODEV, "host node %s is %c %u:%u, expected %c %u:%u: %m",
                                               node->host_path, S_ISCHR(st.st_mode) ? 'c' : 'b',
                                               major(st.st_rdev), minor(st.st_rdev),
                                               node->type == 'b' ? 'b' : 'c', node->major, node->minor);
                return log_error_errno(-ENODEV, "host node %s is %s, expected %c %u:%u: %m",
                                       node->host_path, file_kind(st.st_mode),
                                       node->type == 'b' ? 'b' : 'c', node->major, node->minor);
        }
        return TAKE_FD(fd);
}

/* The file to mount onto (*ret_fd): created empty with O_EXCL, or reused if
 * it is an empty leftover. Returns 1 (and no fd) if the node is already in
 * place, 0 if it needs binding. (Not "fd or 0": fd 0 is a valid fd if stdin
 * was closed, and must not read as "already there".) */
static int prepare_target(int dirfd, const char *name, const struct gj_plan_node *node, int where_fd,
                          int *ret_fd) {
        int fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0000);
        struct stat st;

        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        int r = -errno;
        if (r != -EEXIST) {
                _cleanup_free_ char *where = fd_path_for_log(where_fd);
                return log_error_errno(r, "cannot create %s in %s: %m", name, where);
        }

        _cleanup_close_ int existing = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (existing < 0 || fstat(existing, &st) < 0) {
                r = -errno;
                _cleanup_free_ char *where = fd_path_for_log(where_fd);
                return log_error_errno(r, "cannot open %s in %s: %m", name, where);
        }
        if (stat_is_node(&st, node))
                return 1; /* already bound (the hook ran twice) or made by the runtime */
        if (S_ISREG(st.st_mode) && st.st_size == 0) {
                *ret_fd = TAKE_FD(existing); /* a mount point left by an earlier attempt */
                return 0;
        }
        _cleanup_free_ char *where = fd_path_for_log(where_fd);
        return log_error_errno(S_ISLNK(st.st_mode) ? -ELOOP : -EEXIST,
                               "refusing to bind %s onto %s in %s: it exists and is %s: %m",
                               node->host_path, name, where, file_kind(st.st_mode));
}

/* Keep the flags a remount must repeat (locked ones in a user namespace). */
static unsigned long current_mount_flags(int fd) {
        struct statvfs sv;

        if (fstatvfs(fd, &sv) < 0)
                return 0;
        return sv.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME |
                            ST_NODIRATIME | ST_RELATIME);
}

static int remount_nosuid_noexec(int mntfd) {
        char p[PROC_FD_PATH_MAX];
        unsigned long flags = current_mount_flags(mntfd) | MS_NOSUID | MS_NOEXEC;

        if (mount(NULL, proc_fd_path(p, mntfd), NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
                return -errno;
        return 0;
}

/* Fallback for kernels without open_tree/move_mount: bind through
 * /proc/self/fd/N (the kernel follows the fd, not a path we re-resolve),
 * then reopen the name to reach the new mount on top and remount it. */
static int bind_via_proc(int hostfd, int targetfd, int dirfd, const char *name) {
        char src[PROC_FD_PATH_MAX], dst[PROC_FD_PATH_MAX];

        if (mount(proc_fd_path(src, hostfd), proc_fd_path(dst, targetfd), NULL, MS_BIND, NULL) < 0)
                return -errno;
        _cleanup_close_ int top = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return -errno;
        return remount_nosuid_noexec(top);
}

static int bind_by_fd(int hostfd, int targetfd, int dirfd, const char *name) {
        if (force_fallback)
                return bind_via_proc(hostfd, targetfd, dirfd, name);

        _cleanup_close_ int tree = gj_mount_clone(hostfd, "", AT_EMPTY_PATH);
        /* ENOSYS: kernel < 5.2; EPERM: a seccomp profile that predates the new mount API. */
        if (tree == -ENOSYS || tree == -EPERM)
                return bind_via_proc(hostfd, targetfd, dirfd, name);
        if (tree < 0)
                return tree;

        /* Flags go on while the clone is still detached: no window without them.
         * The propagation stays the runtime's: no gj_mount_set_attr() here. */
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC };
        bool have_setattr = sys_mount_setattr(tree, "", AT_EMPTY_PATH, &attr) == 0;
        if (!have_setattr && errno != ENOSYS)
                return -errno;
        int r = gj_mount_move(tree, targetfd, "");
        if (r < 0)
                return r;
        return have_setattr ? 0 : remount_nosuid_noexec(tree);
}

/* What is at the name now must be the node, on a nosuid,noexec mount. */
static int verify_bound(int dirfd, const char *name, const struct gj_plan_node *node) {
        _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        struct statvfs sv;

        if (fd < 0 || fstat(fd, &st) < 0 || fstatvfs(fd, &sv) < 0)
                return -errno;
        if (!stat_is_node(&st, node))
                return -ENODEV;
        if ((sv.f_flag & (ST_NOSUID | ST_NOEXEC)) != (ST_NOSUID | ST_NOEXEC))
                return -EPERM;
        return 0;
}

/* Split "/dev/dri/card0" into "dri" and "card0" (dir may be NULL). */
static int split_dev_path(const char *path, char **ret_dir, const char **ret_name, char **ret_buf) {
        const char *rel = startswith(path, "/dev/");
        if (isempty(rel))
                return -EINVAL;
        _cleanup_free_ char *buf = strdup(rel);
        if (!buf)
                return -ENOMEM;
        char *slash = strrchr(buf, '/');
        const char *name = slash ? slash + 1 : buf;
        if (slash)
                *slash = 0;
        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        *ret_dir = slash ? buf : NULL;
        *ret_name = name;
        *ret_buf = TAKE_PTR(buf);
        return 0;
}

int gj_devfs_bind_node(int devfd, const struct gj_plan_node *node) {
        _cleanup_free_ char *buf = NULL, *where = NULL; /* devfd's path: named on errors only */
        _cleanup_close_ int subdir = -1, hostfd = -1, target = -1;
        char *dir;
        const char *name;
        int r, dirfd = devfd;

        r = split_dev_path(node->path, &dir, &name, &buf);
        if (r < 0)
                return log_error_errno(r, "device path %s is not a node below /dev/: %m", node->path);
        if (dir) {
                subdir = gj_mkdir_p_in_root(devfd, dir, 0755);
                if (subdir < 0)
                        return log_error_errno(subdir, "cannot create directory %s in %s: %m", dir,
                                               where = fd_path_for_log(devfd));
                dirfd = subdir;
        }

        hostfd = open_host_node(node);
        if (hostfd < 0)
                return hostfd;
        r = prepare_target(dirfd, name, node, devfd, &target);
        if (r != 0)
                return r < 0 ? r : 0;

        r = bind_by_fd(hostfd, target, dirfd, name);
        if (r < 0)
                return log_error_errno(r, "cannot bind %s into %s: %m", node->host_path,
                                       where = fd_path_for_log(devfd));
        r = verify_bound(dirfd, name, node);
        if (r < 0)
                return log_error_errno(r, "bound %s into %s, but %s is not that node on a "
                                       "nosuid,noexec mount: %m", node->host_path,
                                       where = fd_path_for_log(devfd), name);
        return 0;
}

int gj_devfs_bind_plan(int devfd, const struct gj_plan *plan) {
        for (size_t i = 0; i < plan->n_nodes; i++) {
                int r = gj_devfs_bind_node(devfd, &plan->nodes[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the launcher's /dev ---- */

/* Fallback for kernels without fsopen: mount(2) onto /proc/self/fd/N of the
 * mount point (target), then reopen the name to reach the new mount on top. */
static int mount_fs_via_proc(int parentfd, const char *name, int target, const char *fstype,
                             const char *const *opts, uint64_t attrs) {
        _cleanup_strv_free_ char **v = NULL;
        for (const char *const *o = opts; *o; o++)
                if (strv_push(&v, strdup(*o)) < 0)
                        return -ENOMEM;
        _cleanup_free_ char *data = v ? strv_join(v, ",") : strdup("");
        if (!data)
                return -ENOMEM;
        unsigned long flags = (attrs & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) |
                              (attrs & MOUNT_ATTR_NODEV ? MS_NODEV : 0) |
                              (attrs & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0);
        char p[PROC_FD_PATH_MAX];
        if (mount(fstype, proc_fd_path(p, target), fstype, flags, data) < 0)
                return -errno;
        int top = openat(parentfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return top < 0 ? -errno : top;
}

/* Mount a new `fstype` on <parentfd>/<name> (a directory, created if needed)
 * with `opts` ("key=value" or "flag"), and return an fd of the new mount's root. */
static int mount_fs_at(int parentfd, const char *name, const char *fstype,
                       const char *const *opts, uint64_t attrs) {
        if (mkdirat(parentfd, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_close_ int target = openat(parentfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
                return -errno;

        _cleanup_close_ int fs = force_fallback ? -ENOSYS : gj_mount_fs_open(fstype);
        if (fs == -ENOSYS || fs == -EPERM)
                return mount_fs_via_proc(parentfd, name, target, fstype, opts, attrs);
        if (fs < 0)
                return fs;
        _cleanup_close_ int mnt = gj_mount_fs_create(fs, opts, attrs);
        if (mnt < 0)
                return mnt;
        int r = gj_mount_move(mnt, target, "");
        if (r < 0)
                return r;
        return TAKE_FD(mnt);
}

static int bind_default_nodes(int devfd) {
        for (const char *const *n = gj_devfs_default_nodes; *n; n++) {
                _cleanup_free_ char *path = strprintf("/dev/%s", *n);
                struct stat st;

                if (!path)
                        return -ENOMEM;
                if (lstat(path, &st) < 0) {
                        if (errno == ENOENT) { /* not a security matter: say so and go on */
                                log_warning("host has no %s; the job gets none", path);
                                continue;
                        }
                        return log_error_errno(-errno, "cannot stat %s: %m", path);
                }
                if (!S_ISCHR(st.st_mode))
                        return log_error_errno(-ENODEV, "host %s is %s, not a character device: %m",
                                               path, file_kind(st.st_mode));
                struct gj_plan_node node = {
                        .path = path, .host_path = path, .type = 'c',
                        .major = major(st.st_rdev), .minor = minor(st.st_rdev),
                };
                int r = gj_devfs_bind_node(devfd, &node);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int make_conveniences(int devfd, const char *where) {
        static const char *const pts_opts[] = { "newinstance", "ptmxmode=0666", "mode=0620", NULL };
        static const char *const shm_opts[] = { "mode=1777", NULL };
        static const struct { const char *target, *name; } links[] = {
                { "pts/ptmx", "ptmx" },
                { "/proc/self/fd", "fd" },
                { "/proc/self/fd/0", "stdin" },
                { "/proc/self/fd/1", "stdout" },
                { "/proc/self/fd/2", "stderr" },
        };

        _cleanup_close_ int pts = mount_fs_at(devfd, "pts", "devpts", pts_opts,
                                              MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (pts < 0)
                return log_error_errno(pts, "cannot mount devpts on %s/pts: %m", where);
        _cleanup_close_ int shm = mount_fs_at(devfd, "shm", "tmpfs", shm_opts,
                                              MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (shm < 0)
                return log_error_errno(shm, "cannot mount tmpfs on %s/shm: %m", where);
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i].target, devfd, links[i].name) < 0)
                        return log_error_errno(-errno, "cannot create %s/%s: %m", where, links[i].name);
        return 0;
}

int gj_devfs_make(int rootfd, unsigned flags) {
        /* 64 MiB as runc and Docker give /dev: nodes are binds and take no space;
         * the limit only stops a job from filling memory through /dev. */
        static const char *const dev_opts[] = { "mode=0755", "size=65536k", NULL };
        _cleanup_free_ char *root = fd_path_for_log(rootfd);
        _cleanup_close_ int devdir = -1, devfd = -1;
        int r;

        /* A /dev that is a symlink (to /etc, say) is refused, not followed. */
        devdir = gj_mkdir_p_in_root(rootfd, "dev", 0755);
        if (devdir < 0)
                return log_error_errno(devdir, "cannot use %s/dev as a directory: %m", root);
        devfd = mount_fs_at(rootfd, "dev", "tmpfs", dev_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (devfd < 0)
                return log_error_errno(devfd, "cannot mount tmpfs on %s/dev: %m", root);

        r = bind_default_nodes(devfd);
        if (r < 0)
                return r;
        if (!(flags & GJ_DEVFS_MINIMAL)) {
                _cleanup_free_ char *where = strprintf("%s/dev", root);
                r = make_conveniences(devfd, where ? where : "/dev");
                if (r < 0)
                        return r;
        }
        return TAKE_FD(devfd);
}

int gj_devfs_setup(int rootfd, const struct gj_plan *plan, unsigned flags) {
        _cleanup_close_ int devfd = gj_devfs_make(rootfd, flags);
        if (devfd < 0)
                return devfd;
        return plan ? gj_devfs_bind_plan(devfd, plan) : 0;
}
