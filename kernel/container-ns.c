/* SPDX-License-Identifier: Apache-2.0 */
/* Entering a container's mount namespace from an OCI hook. */
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include "gpujail/container-ns.h"
#include "gpujail/util.h"
#include "kernel-syscalls.h"

int gj_proc_self_pid(pid_t *ret) {
        char buf[32];
        ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
        if (n < 0)
                return log_error_errno(-errno, "cannot read /proc/self: %m");
        buf[n] = 0;
        int pid;
        if (safe_atoi(buf, &pid) < 0 || pid <= 0)
                return log_error_errno(-EBADMSG, "/proc/self points to '%s', not a pid", buf);
        *ret = pid;
        return 0;
}

/* An fd for pid's mount namespace. The pidfd pins the process, so the
 * namespace we join is that of the process the runtime named, not of a
 * recycled pid (setns(pidfd, CLONE_NEWNS) needs Linux >= 5.8). */
static int open_mount_ns_of(pid_t pid, bool *ret_is_pidfd) {
        int fd = sys_pidfd_open(pid, 0);
        if (fd >= 0) {
                *ret_is_pidfd = true;
                return fd;
        }
        if (errno != ENOSYS)
                return log_error_errno(-errno, "cannot open container process %d: %m", (int)pid);

        _cleanup_free_ char *path = strprintf("/proc/%d/ns/mnt", (int)pid);
        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        *ret_is_pidfd = false;
        return fd;
}

static int same_mount_ns(pid_t pid, bool *ret) {
        _cleanup_free_ char *path = strprintf("/proc/%d/ns/mnt", (int)pid);
        struct stat theirs, ours;
        if (!path)
                return -ENOMEM;
        if (stat(path, &theirs) < 0)
                return log_error_errno(-errno, "cannot stat %s: %m", path);
        if (stat("/proc/self/ns/mnt", &ours) < 0)
                return log_error_errno(-errno, "cannot stat /proc/self/ns/mnt: %m");
        *ret = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
        return 0;
}

int gj_refuse_own_mount_ns(pid_t pid) {
        bool same;
        int r = same_mount_ns(pid, &same);
        if (r < 0)
                return r;
        if (same)
                return log_error_errno(-EPERM,
                                       "container process %d shares our mount namespace: refusing to "
                                       "mount into a rootfs that the host's mount table holds",
                                       (int)pid);
        return 0;
}

int gj_enter_mount_ns_of(pid_t pid) {
        bool is_pidfd;
        int r;

        _cleanup_close_ int fd = open_mount_ns_of(pid, &is_pidfd);
        if (fd < 0)
                return fd;
        r = gj_refuse_own_mount_ns(pid);
        if (r < 0)
                return r;

        if (setns(fd, CLONE_NEWNS) >= 0)
                return 0;
        if (!is_pidfd || errno != EINVAL)
                return log_error_errno(-errno, "cannot enter the mount namespace of process %d: %m",
                                       (int)pid);

        /* Linux 5.3-5.7: pidfds exist but setns() does not take them. */
        _cleanup_free_ char *path = strprintf("/proc/%d/ns/mnt", (int)pid);
        if (!path)
                return -ENOMEM;
        _cleanup_close_ int nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        if (setns(nsfd, CLONE_NEWNS) < 0)
                return log_error_errno(-errno, "cannot enter the mount namespace of process %d: %m",
                                       (int)pid);
        return 0;
}
