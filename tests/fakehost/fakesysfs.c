/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only LD_PRELOAD library for simulated GPU hosts (tests/fakehost/enter).
 *
 * libudev (sd-device) refuses a device whose syspath is not on sysfs: it
 * fstatfs()es the resolved directory and wants SYSFS_MAGIC. A simulated host
 * mounts tmpfs fragments over /sys/devices/pci0000:00, /sys/bus/pci,
 * /sys/class/... so we report SYSFS_MAGIC for tmpfs under those places, and
 * nothing else: /sys/fs/cgroup is a tmpfs on hybrid hosts and code that tells
 * cgroup v1 from v2 by statfs() must keep seeing the truth there.
 *
 * Never built into the programs; meson builds it only as a test module.
 */
/* Define both fstatfs and fstatfs64 ourselves: no header redirection of one to the other. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* statfs64, RTLD_NEXT; meson passes it already */
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef SYSFS_MAGIC
#define SYSFS_MAGIC 0x62656572
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

__attribute__((visibility("default"))) int fstatfs(int fd, struct statfs *buf);
__attribute__((visibility("default"))) int fstatfs64(int fd, struct statfs64 *buf);
__attribute__((visibility("default"))) int statfs(const char *path, struct statfs *buf);
__attribute__((visibility("default"))) int statfs64(const char *path, struct statfs64 *buf);

static bool is_simulated_sysfs_path(const char *p) {
        static const char *const prefixes[] = {
                "/sys/devices/", "/sys/bus/", "/sys/class/", "/sys/dev/",
        };
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
                size_t n = strlen(prefixes[i]);
                /* the directory itself ("/sys/class/drm") or anything below it */
                if (strncmp(p, prefixes[i], n) == 0 || strncmp(p, prefixes[i], n - 1) == 0)
                        return true;
        }
        return false;
}

static bool fd_is_simulated_sysfs(int fd) {
        char link[64], target[PATH_MAX];
        ssize_t n;

        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof target - 1);
        if (n < 0)
                return false;
        target[n] = 0;
        return is_simulated_sysfs_path(target);
}

static bool path_is_simulated_sysfs(const char *path) {
        char resolved[PATH_MAX];

        if (!realpath(path, resolved))
                return false;
        return is_simulated_sysfs_path(resolved);
}

#define REAL(name)                                                                                 \
        ({                                                                                         \
                static __typeof__(name) *_real;                                                    \
                if (!_real)                                                                        \
                        _real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);                       \
                _real;                                                                             \
        })

int fstatfs(int fd, struct statfs *buf) {
        int r = REAL(fstatfs)(fd, buf);
        if (r == 0 && buf->f_type == TMPFS_MAGIC && fd_is_simulated_sysfs(fd))
                buf->f_type = SYSFS_MAGIC;
        return r;
}

int fstatfs64(int fd, struct statfs64 *buf) {
        int r = REAL(fstatfs64)(fd, buf);
        if (r == 0 && buf->f_type == TMPFS_MAGIC && fd_is_simulated_sysfs(fd))
                buf->f_type = SYSFS_MAGIC;
        return r;
}

int statfs(const char *path, struct statfs *buf) {
        int r = REAL(statfs)(path, buf);
        if (r == 0 && buf->f_type == TMPFS_MAGIC && path_is_simulated_sysfs(path))
                buf->f_type = SYSFS_MAGIC;
        return r;
}

int statfs64(const char *path, struct statfs64 *buf) {
        int r = REAL(statfs64)(path, buf);
        if (r == 0 && buf->f_type == TMPFS_MAGIC && path_is_simulated_sysfs(path))
                buf->f_type = SYSFS_MAGIC;
        return r;
}
