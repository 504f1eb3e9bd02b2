/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the kernel-level C tests (test-bpf-devices, test-cgroup-v1,
 * test-devfs): a private mount namespace, a scratch tmpfs with fake GPU nodes,
 * and the device cgroup oracle of design.md: a forked child joins a cgroup and
 * opens a mknod'ed 195:N node: allowed -> ENXIO (no driver), denied -> EPERM.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpujail/util.h"
#include "tap.h"

static char kt_dir[] = "/tmp/gj-kernel-test-XXXXXX";
static bool kt_mounted;

static inline void kt_skip_rest(const char *why);

/* Cannot go on here: "1..0 # SKIP" if nothing ran yet, else kt_skip_rest(). */
static inline void kt_skip(const char *why) {
        if (tap_n == 0)
                skip_all(why);
        kt_skip_rest(why);
}

static inline void kt_require_root(void) {
        if (geteuid() != 0)
                skip_all("needs root (mount namespaces, mknod, cgroups)");
}

/* After the pure checks have run: the kernel part cannot run here. Reports
 * it as one skipped check and exits 77 (meson: skipped). */
static inline void kt_skip_rest(const char *why) {
        skip(why, "kernel checks");
        printf("1..%d\n", tap_n);
        exit(tap_failed ? 1 : 77);
}

/* Everything below happens in a mount namespace of our own: the host's mount
 * table never sees the scratch tmpfs. */
static inline void kt_private_mount_ns(void) {
        if (unshare(CLONE_NEWNS) < 0)
                kt_skip("cannot unshare a mount namespace");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                kt_skip("cannot make / private in our mount namespace");
}

/* A tmpfs (dev allowed) at kt_dir; its directory is the only trace on the
 * host, removed by kt_teardown(). */
static inline const char *kt_scratch(void) {
        if (!mkdtemp(kt_dir))
                kt_skip("cannot create a scratch directory in /tmp");
        if (mount("tmpfs", kt_dir, "tmpfs", 0, "mode=0755") < 0) {
                rmdir(kt_dir);
                kt_skip("cannot mount a scratch tmpfs");
        }
        kt_mounted = true;
        return kt_dir;
}

static inline void kt_teardown(void) {
        if (kt_mounted && umount2(kt_dir, MNT_DETACH) == 0)
                kt_mounted = false;
        (void)rmdir(kt_dir);
}

static inline char *kt_path(const char *name) {
        static char buf[8][256];
        static int i;
        char *p = buf[i++ % 8];
        snprintf(p, 256, "%s/%s", kt_dir, name);
        return p;
}

static inline int kt_mknod(const char *name, unsigned ma, unsigned mi) {
        return mknod(kt_path(name), S_IFCHR | 0666, makedev(ma, mi)) < 0 ? -errno : 0;
}

/* Fork a child that writes its pid to <dir>/cgroup.procs for each dir (NULL
 * ends; NULL entries before the end are skipped via n), then runs `what`
 * ('o': open(path, flags), 'm': mknod(path, c ma:mi)). Returns the child's
 * errno (0 on success), or -1 if it could not join the cgroups. */
static inline int kt_oracle(const char *const *dirs, size_t n_dirs, char what, const char *path,
                            int flags, unsigned ma, unsigned mi) {
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%i", (int)getpid());
                for (size_t i = 0; i < n_dirs; i++) {
                        if (!dirs[i])
                                continue;
                        char procs[512];
                        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dirs[i]);
                        if (write_string_file(procs, buf) < 0)
                                _exit(255);
                }
                if (what == 'o') {
                        int fd = open(path, flags | O_CLOEXEC);
                        _exit(fd >= 0 ? 0 : errno);
                }
                (void)unlink(path);
                _exit(mknod(path, S_IFCHR | 0600, makedev(ma, mi)) == 0 ? 0 : errno);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

static inline int kt_open_in(const char *dir, const char *name, int flags) {
        const char *dirs[] = { dir };
        return kt_oracle(dirs, 1, 'o', kt_path(name), flags, 0, 0);
}

static inline const char *kt_errname(int e) {
        return e == 0 ? "opened" : e == ENXIO ? "ENXIO" : e == EPERM ? "EPERM" : e < 0 ? "join failed" : strerror(e);
}

/* Does <dir> exist? */
static inline bool kt_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}
