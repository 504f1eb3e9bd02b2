/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Write and remove the lockdown's files on the host (gpujail setup --lockdown):
 * a modprobe.d file and a udev rule. Idempotent: a file that already says what
 * it should is not rewritten, so a second run changes nothing and says "ok".
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "gpujail/host-lockdown.h"
#include "gpujail/safepath.h"
#include "gpujail/util.h"

#define HOST_FILE_MAX (64 * 1024)

/* mkdir -p of path's directory; /etc/udev is missing on a host without udev. */
static int make_parent_dirs(const char *path) {
        _cleanup_free_ char *dir = strndup(path, strrchr(path, '/') - path);
        _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (!dir)
                return -ENOMEM;
        if (rootfd < 0)
                return log_error_errno(-errno, "cannot open /: %m");
        int fd = gj_mkdir_p_in_root(rootfd, dir, 0755);
        if (fd < 0)
                return log_error_errno(fd, "cannot make directory %s: %m", dir);
        close(fd);
        return 0;
}

static bool holds(const char *path, const char *text) {
        _cleanup_free_ char *old = NULL;
        return read_full_file(path, &old, NULL, HOST_FILE_MAX) >= 0 && streq(old, text);
}

int gj_host_file_write(const char *path, const char *text, bool dry_run, enum gj_host_file_result *ret) {
        if (holds(path, text)) {
                *ret = GJ_HOST_FILE_OK;
                return 0;
        }
        *ret = GJ_HOST_FILE_WRITTEN;
        if (dry_run)
                return 0;
        int r = make_parent_dirs(path);
        if (r < 0)
                return r;
        r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %m", path);
        return 0;
}

int gj_host_file_remove(const char *path, bool dry_run, enum gj_host_file_result *ret) {
        struct stat st;

        if (lstat(path, &st) < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                        return log_error_errno(-errno, "cannot stat %s: %m", path);
                *ret = GJ_HOST_FILE_ABSENT;
                return 0;
        }
        *ret = GJ_HOST_FILE_REMOVED;
        if (dry_run)
                return 0;
        if (unlink(path) < 0 && errno != ENOENT)
                return log_error_errno(-errno, "cannot remove %s: %m", path);
        return 0;
}
