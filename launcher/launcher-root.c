/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's root, built in the child's private mount namespace.
 *
 * The new root is a detached copy of the host's tree (or of --rootfs) made
 * with open_tree(OPEN_TREE_CLONE|AT_RECURSIVE), flagged in one call for the
 * whole tree (mount_setattr AT_RECURSIVE: read-only, nosuid, nodev) and
 * stacked on top of "/". Absolute paths still resolve in the old root until
 * pivot_root (the kernel does not step onto mounts stacked on the starting
 * "/"), so host sources are opened by their plain paths, while every
 * destination is looked up below the tree's fd with the safepath helpers
 * (RESOLVE_IN_ROOT): a symlink in a --rootfs cannot point a mount outside
 * it. Every mount is attached by fd (move_mount), never by a re-resolved
 * string. Then pivot_root(".", ".") and a lazy unmount of the old root.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "gpujail/creds.h"
#include "gpujail/devfs.h"
#include "gpujail/driver-inject.h"
#include "gpujail/mount.h"
#include "gpujail/proc-nvidia.h"
#include "gpujail/safepath.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

#define FLAGS_HOST_VIEW (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
#define FLAGS_KERNEL_FS (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

/* OCI runtime-spec defaults (runc's `runc spec`): hidden, or read-only. */
static const char *const proc_masked[] = {
        "acpi", "kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "scsi",
};
static const char *const proc_readonly[] = {
        "asound", "bus", "fs", "irq", "sys", "sysrq-trigger",
};
/* --mask-proc: host-wide counters another tenant's job could time or fingerprint. */
static const char *const proc_side_channels[] = {
        "loadavg", "stat", "interrupts", "softirqs", "diskstats", "vmstat", "schedstat",
        "pagetypeinfo", "pressure",
};

/* A detached bind of a host path (our namespace's view, still the old root). */
static int clone_host_tree(const char *path, uint64_t attrs) {
        return gj_mount_clone_tree(AT_FDCWD, path, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, attrs, path);
}

static uint64_t mount_id_of(int fd) {
        struct statx stx;
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0 ||
            !(stx.stx_mask & STATX_MNT_ID))
                return 0;
        return stx.stx_mnt_id;
}

/* " as <user>" when root acts for a user, for messages; "" otherwise. */
static const char *as_user(const struct gj_job *job, char buf[static 64]) {
        if (!gj_job_acts_for_user(job))
                return "";
        snprintf(buf, 64, " as %s", job->caller->name);
        return buf;
}

static int open_path(int dirfd, const char *path, struct stat *ret_st) {
        _cleanup_close_ int fd = openat(dirfd, path, O_PATH | O_CLOEXEC);
        if (fd < 0 || fstat(fd, ret_st) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* With the user's rights: reachable, readable, and searchable for a directory. */
static int open_checked(int dirfd, const char *path, struct stat *ret_st) {
        _cleanup_close_ int fd = open_path(dirfd, path, ret_st);
        if (fd < 0)
                return fd;
        if (faccessat(fd, "", R_OK | (S_ISDIR(ret_st->st_mode) ? X_OK : 0), AT_EMPTY_PATH | AT_EACCESS) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* Open a host path the caller named, O_PATH. For a user, with their rights:
 * they must be able to reach it and to read it (and search it, for a
 * directory); what they could not open themselves is refused, not opened by
 * root. The fd is then used as it is: no path is resolved twice. Does not log
 * but for a failure to switch credentials: the caller says what the path was for. */
static int open_for_caller(const struct gj_job *job, int dirfd, const char *path, struct stat *ret_st) {
        if (!gj_job_acts_for_user(job))
                return open_path(dirfd, path, ret_st);
        struct gj_identity who = gj_caller_identity(job->caller);
        struct gj_saved_fs_creds saved;
        int r = gj_fs_creds_become(&who, &saved);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open_checked(dirfd, path, ret_st);
        if ((r = gj_fs_creds_restore(&saved)) < 0)
                return r;
        return TAKE_FD(fd);
}

/* The two masks: an empty file and an empty directory. */
static int make_masks(int mnt) {
        _cleanup_close_ int f = openat(mnt, "file", O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (f < 0 || mkdirat(mnt, "dir", 0555) < 0)
                return log_error_errno(-errno, "cannot prepare the masking tmpfs: %m");
        return 0;
}

/* What a masked path is covered with: an empty read-only tmpfs that is never
 * attached anywhere itself; masks are clones of its empty dir or empty file. */
static int masks_init(void) {
        static const char *const opts[] = { "mode=0555", "size=4k", NULL };
        _cleanup_close_ int mnt = gj_mount_new_fs("tmpfs", opts, FLAGS_KERNEL_FS);
        if (mnt < 0)
                return log_error_errno(mnt, "cannot create the tmpfs that masks /proc paths: %m");
        int r = make_masks(mnt);
        if (r < 0)
                return r;
        r = gj_mount_set_attr(mnt, false, MOUNT_ATTR_RDONLY, "the masking tmpfs");
        if (r < 0)
                return r;
        return TAKE_FD(mnt);
}

/* Cover dirfd/name with an empty read-only dir or file of the same type.
 * A path the kernel does not have is nothing to hide. */
static int mask_path(int masks_fd, int dirfd, const char *name, const char *shown_as) {
        _cleanup_close_ int target = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(-errno, "cannot open %s to mask it: %m", shown_as);
        }
        struct stat st;
        if (fstat(target, &st) < 0)
                return log_error_errno(-errno, "cannot stat %s: %m", shown_as);
        if (S_ISLNK(st.st_mode))
                return 0; /* e.g. /proc/self: nothing behind it to read */
        _cleanup_close_ int mask = gj_mount_clone(masks_fd, S_ISDIR(st.st_mode) ? "dir" : "file", 0);
        if (mask < 0)
                return log_error_errno(mask, "cannot clone the mask for %s: %m", shown_as);
        return gj_mount_attach(mask, target, "an empty mask", shown_as);
}

/* Re-bind dirfd/name onto itself read-only. */
static int make_readonly(int dirfd, const char *name, const char *shown_as) {
        _cleanup_close_ int target = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot open %s: %m", shown_as);
        _cleanup_close_ int bind = gj_mount_clone_tree(target, "", AT_RECURSIVE | AT_EMPTY_PATH,
                                                       MOUNT_ATTR_RDONLY | FLAGS_KERNEL_FS, shown_as);
        if (bind < 0)
                return bind;
        return gj_mount_attach(bind, target, shown_as, shown_as);
}

/* The destination of a bind below the new root: created if missing (dir or
 * empty file, like the source), refused if any component is a symlink. */
static int create_destination(int rootfd, const char *path, bool dir) {
        if (dir) {
                int fd = gj_mkdir_p_in_root(rootfd, path, 0755);
                return fd < 0 ? log_error_errno(fd, "cannot create mount point %s in the job's root: %m", path) : fd;
        }
        _cleanup_free_ char *parent = strdup(path);
        if (!parent)
                return -ENOMEM;
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = 0;
                _cleanup_close_ int pfd = gj_mkdir_p_in_root(rootfd, parent, 0755);
                if (pfd < 0)
                        return log_error_errno(pfd, "cannot create %s in the job's root: %m", parent);
        }
        int fd = gj_open_in_root(rootfd, path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return log_error_errno(fd, "cannot create mount point %s in the job's root: %m", path);
        return fd;
}

/* The mount that the deepest existing directory on the way to path is on. */
static uint64_t mount_id_where_created(int rootfd, const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        for (char *slash; dir && (slash = strrchr(dir, '/'));) {
                *(slash == dir ? slash + 1 : slash) = 0;
                _cleanup_close_ int fd = gj_open_in_root(rootfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
                if (fd >= 0)
                        return mount_id_of(fd);
                if (slash == dir)
                        break;
        }
        return 0;
}

/* For a user, gpujail creates nothing on a host filesystem: mount points only
 * in the job's own /tmp, or in a --rootfs the user owns, and made as the user. */
static int create_destination_for_user(const struct gj_job *job, const struct gj_job_root *root, const char *path,
                                       bool dir) {
        uint64_t where = mount_id_where_created(root->fd, path);
        if (where == 0 || (where != root->tmp_mnt_id && where != root->own_rootfs_mnt_id))
                return log_error_errno(-EPERM,
                                       "mount point %s does not exist in the job's root, and gpujail creates mount "
                                       "points for %s only in the job's /tmp or in a --rootfs that %s owns",
                                       path, job->caller->name, job->caller->name);
        struct gj_identity who = gj_caller_identity(job->caller);
        struct gj_saved_fs_creds saved;
        int r = gj_fs_creds_become(&who, &saved);
        if (r < 0)
                return r;
        int fd = create_destination(root->fd, path, dir);
        if ((r = gj_fs_creds_restore(&saved)) < 0) {
                closep(&fd);
                return r;
        }
        return fd;
}

static int open_destination(const struct gj_job *job, const struct gj_job_root *root, const char *path, bool dir) {
        if (!gj_job_acts_for_user(job))
                return create_destination(root->fd, path, dir);
        _cleanup_close_ int fd = gj_open_in_root(root->fd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd == -ENOENT)
                return create_destination_for_user(job, root, path, dir);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) < 0)
                fd = -errno;
        else if (fd >= 0 && S_ISLNK(st.st_mode))
                fd = -ELOOP; /* what the creating path says of a symlink, too */
        if (fd < 0)
                return log_error_errno(fd, "cannot open mount point %s in the job's root: %m", path);
        return TAKE_FD(fd);
}

/* Bind dirfd/path (a host path the caller named, opened with their rights) at dst. */
static int bind_into_root(const struct gj_job *job, const struct gj_job_root *root, int dirfd, const char *path,
                          const char *dst, bool read_only, const char *shown) {
        char buf[64];
        struct stat st;
        _cleanup_close_ int src = open_for_caller(job, dirfd, path, &st);
        if (src < 0)
                return log_error_errno(src, "cannot bind %s%s: %m", shown, as_user(job, buf));
        uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
        _cleanup_close_ int tree = gj_mount_clone_tree(src, "", AT_RECURSIVE | AT_EMPTY_PATH, attrs, shown);
        if (tree < 0)
                return tree;
        _cleanup_close_ int target = open_destination(job, root, dst, S_ISDIR(st.st_mode));
        if (target < 0)
                return target;
        return gj_mount_attach(tree, target, shown, dst);
}

static int mount_tmp(const struct gj_job *job, struct gj_job_root *root) {
        static const char *const opts[] = { "mode=1777", NULL };
        _cleanup_close_ int mnt = gj_mount_new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0)
                return log_error_errno(mnt, "cannot create the job's /tmp: %m");
        _cleanup_close_ int target = open_destination(job, root, "/tmp", true);
        if (target < 0)
                return target;
        int r = gj_mount_attach(mnt, target, "tmpfs", "/tmp");
        if (r < 0)
                return r;
        root->tmp_mnt_id = mount_id_of(mnt);
        return 0;
}

/* The cwd stays writable at its own path; "/" itself would undo the read-only host view. */
static bool cwd_is_bindable(const char *cwd) {
        static const char *const kernel_dirs[] = { "/proc", "/sys", "/dev" };
        if (streq(cwd, "/"))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(kernel_dirs); i++) {
                const char *rest = startswith(cwd, kernel_dirs[i]);
                if (rest && (*rest == 0 || *rest == '/'))
                        return false;
        }
        return true;
}

/* A user namespace may not mount a new proc over a /proc with over-mounted
 * parts (mount_too_revealing): then the job gets the host's, and is told. */
static int mount_proc_fs(const struct gj_job *job, bool *ret_fresh) {
        int mnt = gj_mount_new_fs("proc", NULL, FLAGS_KERNEL_FS);
        if (mnt >= 0) {
                *ret_fresh = true;
                return mnt;
        }
        if (!job->userns || mnt != -EPERM)
                return log_error_errno(mnt, "cannot mount a new /proc: %m");
        log_warning("cannot mount a /proc of the job's own (the host's /proc has over-mounted parts); "
                    "the job sees the host's processes");
        *ret_fresh = false;
        return clone_host_tree("/proc", FLAGS_KERNEL_FS);
}

/* Returns an fd of the attached /proc (lookups below it are the job's /proc). */
static int mount_proc(const struct gj_job *job, const struct gj_job_root *root) {
        int masks_fd = root->masks_fd;
        bool fresh;
        _cleanup_close_ int mnt = mount_proc_fs(job, &fresh);
        if (mnt < 0)
                return mnt;
        _cleanup_close_ int target = open_destination(job, root, "/proc", true);
        if (target < 0)
                return target;
        int r = gj_mount_attach(mnt, target, "proc", "/proc");
        if (r < 0)
                return r;
        if (fresh) {
                r = gj_proc_bind_host_driver(mnt);
                if (r < 0)
                        return r;
        }
        char shown[64];
        for (size_t i = 0; i < ELEMENTSOF(proc_masked); i++) {
                snprintf(shown, sizeof(shown), "/proc/%s", proc_masked[i]);
                if ((r = mask_path(masks_fd, mnt, proc_masked[i], shown)) < 0)
                        return r;
        }
        for (size_t i = 0; job->opts->mask_proc && i < ELEMENTSOF(proc_side_channels); i++) {
                snprintf(shown, sizeof(shown), "/proc/%s", proc_side_channels[i]);
                if ((r = mask_path(masks_fd, mnt, proc_side_channels[i], shown)) < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(proc_readonly); i++) {
                snprintf(shown, sizeof(shown), "/proc/%s", proc_readonly[i]);
                if ((r = make_readonly(mnt, proc_readonly[i], shown)) < 0)
                        return r;
        }
        return TAKE_FD(mnt);
}

static int mount_sys(const struct gj_job *job, const struct gj_job_root *root) {
        int r;
        if (job->opts->rootfs) {
                /* the host view already carries /sys, read-only; an image does not */
                _cleanup_close_ int tree = clone_host_tree("/sys", MOUNT_ATTR_RDONLY | FLAGS_KERNEL_FS);
                if (tree < 0)
                        return tree;
                _cleanup_close_ int target = open_destination(job, root, "/sys", true);
                if (target < 0)
                        return target;
                if ((r = gj_mount_attach(tree, target, "/sys", "/sys")) < 0)
                        return r;
        }
        _cleanup_close_ int sys = gj_open_in_root(root->fd, "/sys", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (sys < 0)
                return log_error_errno(sys, "cannot open /sys in the job's root: %m");
        return mask_path(root->masks_fd, sys, "firmware", "/sys/firmware");
}

/* --rootfs is opened with the user's rights; they own it or gpujail makes no
 * mount point in it. The host's root is read-only, nosuid, nodev. */
static int open_new_root(const struct gj_job *job, struct gj_job_root *root) {
        const char *src = job->opts->rootfs ?: "/";
        char buf[64];
        struct stat st;
        _cleanup_close_ int fd = open_for_caller(job, AT_FDCWD, src, &st);
        if (fd < 0)
                return log_error_errno(fd, "cannot use %s as the job's root%s: %m", src, as_user(job, buf));
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(-ENOTDIR, "cannot use %s as the job's root: %m", src);
        uint64_t attrs = job->opts->rootfs ? MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV : FLAGS_HOST_VIEW;
        _cleanup_close_ int tree = gj_mount_clone_tree(fd, "", AT_RECURSIVE | AT_EMPTY_PATH, attrs, src);
        if (tree < 0)
                return tree;
        /* stacked on "/": absolute paths keep naming the old root until pivot_root */
        int r = gj_mount_move(tree, AT_FDCWD, "/");
        if (r < 0)
                return log_error_errno(r, "cannot attach the job's root (%s): %m", src);
        if (job->opts->rootfs && gj_job_acts_for_user(job) && st.st_uid == job->caller->uid)
                root->own_rootfs_mnt_id = mount_id_of(tree);
        return TAKE_FD(tree);
}

int gj_launcher_pivot_root(int rootfd) {
        if (fchdir(rootfd) < 0)
                return log_error_errno(-errno, "cannot enter the job's root: %m");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return log_error_errno(-errno, "cannot pivot_root into the job's root: %m");
        if (umount2(".", MNT_DETACH) < 0)
                return log_error_errno(-errno, "cannot detach the old root: %m");
        if (chdir("/") < 0)
                return log_error_errno(-errno, "cannot chdir to /: %m");
        return 0;
}

void gj_job_root_done(struct gj_job_root *root) {
        closep(&root->fd);
        closep(&root->proc_fd);
        closep(&root->masks_fd);
        closep(&root->dev_fd);
        *root = (struct gj_job_root)GJ_JOB_ROOT_INIT;
}

int gj_launcher_build_root(const struct gj_job *job, struct gj_job_root *root) {
        const struct gj_launch_opts *o = job->opts;
        int r;

        /* "none": the type is ignored for a propagation change, but valgrind reads it */
        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return log_error_errno(-errno, "cannot make the job's mount namespace private: %m");
        if ((root->fd = open_new_root(job, root)) < 0)
                return root->fd;
        if ((root->masks_fd = masks_init()) < 0)
                return root->masks_fd;
        if ((r = mount_tmp(job, root)) < 0)
                return r;
        /* the cwd as the process has it ("."), not its name resolved again */
        if (!o->rootfs && cwd_is_bindable(job->cwd)) {
                r = bind_into_root(job, root, AT_FDCWD, ".", job->cwd, false, job->cwd);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < o->n_binds; i++) {
                const struct gj_bind *b = &o->binds[i];
                r = bind_into_root(job, root, AT_FDCWD, b->source, b->dest, b->read_only, b->source);
                if (r < 0)
                        return r;
        }
        if ((root->proc_fd = mount_proc(job, root)) < 0)
                return root->proc_fd;
        if ((r = mount_sys(job, root)) < 0)
                return r;
        /* /dev is made the way any mount point is (for a user: only where they may) */
        _cleanup_close_ int dev = open_destination(job, root, "/dev", true);
        if (dev < 0)
                return dev;
        root->dev_fd = gj_devfs_make(root->fd, o->dev_minimal ? GJ_DEVFS_MINIMAL : 0);
        return root->dev_fd < 0 ? root->dev_fd : 0;
}

int gj_launcher_finish_root(const struct gj_job *job, struct gj_job_root *root) {
        int r = gj_proc_nvidia_restrict(root->proc_fd, job->keep_gpus);
        if (r < 0)
                return r;
        r = gj_devfs_bind_plan(root->dev_fd, job->plan);
        if (r < 0 || !job->opts->rootfs)
                return r;
        /* a user's directory: covered, never written (the plan has files only with --rootfs) */
        return gj_driver_inject(root->fd, &job->plan->driver, job->opts->rootfs,
                                GJ_DRIVER_INJECT_COVER);
}
