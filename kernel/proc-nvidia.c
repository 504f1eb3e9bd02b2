/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/driver/nvidia as a job or container sees it. See gpujail/proc-nvidia.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "gpujail/mount.h"
#include "gpujail/proc-nvidia.h"
#include "gpujail/util.h"

#define FLAGS_KERNEL_FS (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
#define PARAMS_MAX (64 * 1024)

int gj_proc_bind_host_driver(int procfd) {
        _cleanup_close_ int target =
                openat(procfd, "driver", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
                return 0;
        _cleanup_close_ int tree = gj_mount_clone(AT_FDCWD, "/proc/driver", AT_RECURSIVE);
        if (tree == -ENOENT)
                return 0;
        if (tree < 0)
                return log_error_errno(tree, "cannot bind /proc/driver: %m");
        int r = gj_mount_set_attr(tree, true, MOUNT_ATTR_RDONLY | FLAGS_KERNEL_FS, "/proc/driver");
        if (r < 0)
                return r;
        return gj_mount_attach(tree, target, "/proc/driver", "/proc/driver");
}

/* A detached read-only bind of gpus/<bus id>, or -ENOENT if the driver has no such entry. */
static int clone_gpu_entry(int gpus_fd, const char *bus_id) {
        _cleanup_close_ int fd =
                gj_mount_clone(gpus_fd, bus_id, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
        if (fd == -ENOENT)
                return -ENOENT;
        if (fd < 0)
                return log_error_errno(fd, "cannot bind /proc/driver/nvidia/gpus/%s: %m", bus_id);
        int r = gj_mount_set_attr(fd, true, MOUNT_ATTR_RDONLY | FLAGS_KERNEL_FS,
                                  "a GPU's /proc entry");
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

/* Mount clone on a new directory `name` of the (still writable) tmpfs. */
static int attach_in(int tmpfs_fd, const char *name, int clone) {
        if (mkdirat(tmpfs_fd, name, 0555) < 0)
                return log_error_errno(-errno, "cannot make /proc/driver/nvidia/gpus/%s: %m", name);
        _cleanup_close_ int target =
                openat(tmpfs_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
                return log_error_errno(-errno, "cannot open /proc/driver/nvidia/gpus/%s: %m", name);
        return gj_mount_attach(clone, target, "a GPU's /proc entry", name);
}

/* Detached binds of the kept GPUs' entries, in keep's order; -1 for one the
 * driver lists no more (nothing to show). */
struct gpu_clones {
        int *fds;
        size_t n;
};

static void gpu_clones_done(struct gpu_clones *c) {
        for (size_t i = 0; i < c->n; i++)
                closep(&c->fds[i]);
        free(c->fds);
}

static int clone_kept_gpus(char *const *keep, int gpus_fd, struct gpu_clones *ret) {
        size_t n = strv_length(keep);
        ret->fds = calloc(n ?: 1, sizeof(int));
        if (!ret->fds)
                return -ENOMEM;
        ret->n = n;
        for (size_t i = 0; i < n; i++)
                ret->fds[i] = -1;
        for (size_t i = 0; i < n; i++) {
                int fd = clone_gpu_entry(gpus_fd, keep[i]);
                if (fd < 0 && fd != -ENOENT)
                        return fd;
                ret->fds[i] = fd < 0 ? -1 : fd;
        }
        return 0;
}

char *gj_proc_nvidia_params_nomodify(const char *params) {
        _cleanup_(strbuf_done) struct strbuf b = {};
        bool seen = false;
        for (const char *line = params; *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                if (startswith(line, "ModifyDeviceFiles:")) {
                        if (!seen)
                                strbuf_printf(&b, "ModifyDeviceFiles: 0\n");
                        seen = true;
                } else
                        strbuf_printf(&b, "%.*s\n", (int)len, line);
                line += len + (nl ? 1 : 0);
        }
        if (!seen)
                strbuf_printf(&b, "ModifyDeviceFiles: 0\n");
        return strbuf_steal(&b);
}

/* data as the file `name` in the directory at dirfd (a tmpfs of ours), 0444. */
static int write_new_file(int dirfd, const char *name, const char *data) {
        _cleanup_close_ int fd =
                openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return -errno;
        for (size_t done = 0, len = strlen(data); done < len;) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0)
                        return -errno;
                done += (size_t)n;
        }
        return 0;
}

/*
 * params: a read-only bind of a copy saying ModifyDeviceFiles: 0. The copy is
 * written in the tmpfs over gpus/ (attached, so that open_tree may clone it on
 * any kernel that has open_tree), bound, and unlinked there at once: the bind
 * keeps it, and gpus/ lists the GPUs alone. One mount more, and no tmpfs of
 * its own that would need a mount point of its own.
 */
static int replace_params(int nvidia_fd, int tmpfs_fd) {
        static const char tmp_name[] = ".params.gpujail";
        _cleanup_close_ int target = openat(nvidia_fd, "params", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
                return errno == ENOENT
                               ? 0
                               : log_error_errno(-errno,
                                                 "cannot open /proc/driver/nvidia/params: %m");
        _cleanup_close_ int fd = openat(nvidia_fd, "params", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_free_ char *text = NULL;
        int r = fd < 0 ? -errno : read_full_fd(fd, &text, NULL, PARAMS_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read /proc/driver/nvidia/params: %m");
        _cleanup_free_ char *mine = gj_proc_nvidia_params_nomodify(text);
        if (!mine)
                return log_error_errno(-ENOMEM, "cannot copy /proc/driver/nvidia/params: %m");
        if ((r = write_new_file(tmpfs_fd, tmp_name, mine)) < 0)
                return log_error_errno(r, "cannot write a copy of /proc/driver/nvidia/params: %m");
        _cleanup_close_ int copy = gj_mount_clone_tree(tmpfs_fd, tmp_name, AT_SYMLINK_NOFOLLOW,
                                                       MOUNT_ATTR_RDONLY | FLAGS_KERNEL_FS,
                                                       "the copy of /proc/driver/nvidia/params");
        if (copy >= 0)
                r = gj_mount_attach(copy, target, "a copy of params", "/proc/driver/nvidia/params");
        /* after the attach: the kernel attaches no mount whose source is unlinked */
        if (unlinkat(tmpfs_fd, tmp_name, 0) < 0 && copy >= 0 && r >= 0)
                return log_error_errno(-errno, "cannot unlink %s in /proc/driver/nvidia/gpus: %m",
                                       tmp_name);
        return copy < 0 ? copy : r;
}

/*
 * gpus/ lists the kept GPUs only: a tmpfs over it holding a read-only bind of
 * each kept entry, then made read-only itself (what NVIDIA's container toolkit
 * does). The other GPUs' bus ids, models and UUIDs are not even listed, and it
 * takes 1 + (GPUs given) mounts whatever the host has (+1 for params). The
 * kept entries are cloned first: the tmpfs hides them once attached.
 */
int gj_proc_nvidia_restrict(int procfd, char *const *keep) {
        static const char *const opts[] = { "mode=0555", "size=64k", NULL };
        _cleanup_close_ int nvidia =
                openat(procfd, "driver/nvidia", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nvidia < 0)
                return errno == ENOENT
                               ? 0
                               : log_error_errno(-errno, "cannot open /proc/driver/nvidia: %m");
        _cleanup_close_ int gpus =
                openat(nvidia, "gpus", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (gpus < 0)
                return errno == ENOENT
                               ? 0
                               : log_error_errno(-errno,
                                                 "cannot open /proc/driver/nvidia/gpus: %m");
        _cleanup_(gpu_clones_done) struct gpu_clones clones = { 0 };
        int r = clone_kept_gpus(keep, gpus, &clones);
        if (r < 0)
                return r;

        _cleanup_close_ int tmpfs = gj_mount_new_fs("tmpfs", opts, FLAGS_KERNEL_FS);
        if (tmpfs < 0)
                return log_error_errno(tmpfs,
                                       "cannot create the tmpfs for /proc/driver/nvidia/gpus: %m");
        r = gj_mount_attach(tmpfs, gpus, "a tmpfs", "/proc/driver/nvidia/gpus");
        if (r < 0)
                return r;
        if ((r = replace_params(nvidia, tmpfs)) < 0)
                return r;
        for (size_t i = 0; i < clones.n; i++) {
                if (clones.fds[i] < 0)
                        continue;
                r = attach_in(tmpfs, keep[i], clones.fds[i]);
                if (r < 0)
                        return r;
        }
        return gj_mount_set_attr(tmpfs, false, MOUNT_ATTR_RDONLY, "/proc/driver/nvidia/gpus");
}
