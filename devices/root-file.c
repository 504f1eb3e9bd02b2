/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a file that only root may have written (gpujail/root-file.h): the
 * directory is opened without following a link and checked, the file is
 * checked before it is opened (a fifo or device is never opened) and again
 * through the fd it is read from.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "gpujail/root-file.h"
#include "gpujail/util.h"

static const char *file_type(mode_t mode) {
        return S_ISLNK(mode)    ? "a symlink"
               : S_ISDIR(mode)  ? "a directory"
               : S_ISFIFO(mode) ? "a fifo"
               : S_ISSOCK(mode) ? "a socket"
               : S_ISCHR(mode)  ? "a character device"
               : S_ISBLK(mode)  ? "a block device"
                                : "not a regular file";
}

struct root_file {
        const char *path; /* as given, for messages */
        const char *what; /* "hook configuration" */
};

/* who: "it" or "its directory D"; fix: the path a hint names. */
static int check_owner_mode(const struct root_file *f, const struct stat *st, const char *who, const char *fix) {
        if (st->st_uid != 0)
                return log_error_errno(-EPERM, "refusing the %s %s: %s is owned by uid %u, not root (chown root %s)",
                                       f->what, f->path, who, (unsigned)st->st_uid, fix);
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return log_error_errno(-EPERM,
                                       "refusing the %s %s: %s is writable by group or others "
                                       "(mode %04o; chmod go-w %s)",
                                       f->what, f->path, who, (unsigned)(st->st_mode & 07777), fix);
        return 0;
}

static int check_file(const struct root_file *f, const struct stat *st) {
        if (!S_ISREG(st->st_mode))
                return log_error_errno(-EPERM, "refusing the %s %s: it is %s; it must be a regular file", f->what,
                                       f->path, file_type(st->st_mode));
        return check_owner_mode(f, st, "it", f->path);
}

/* "/etc/gpujail/hook.conf" -> "/etc/gpujail" and "hook.conf"; "h.conf" -> "." */
static int split_path(const struct root_file *f, char **ret_dir, const char **ret_base) {
        const char *slash = strrchr(f->path, '/');
        const char *base = slash ? slash + 1 : f->path;
        if (!*base)
                return log_error_errno(-EISDIR, "%s '%s': not a file name", f->what, f->path);
        size_t n = slash ? (size_t)(slash - f->path) : 0;
        while (n > 1 && f->path[n - 1] == '/')
                n--; /* "d//f": a trailing slash would make O_NOFOLLOW follow "d" */
        *ret_dir = !slash ? strdup(".") : n == 0 ? strdup("/") : strndup(f->path, n);
        if (!*ret_dir)
                return log_error_errno(-ENOMEM, "%s %s: %m", f->what, f->path);
        *ret_base = base;
        return 0;
}

/* The directory, checked through the fd the file is then opened from. O_PATH:
 * a symlink is seen (not followed), nothing is opened for reading. 0 and
 * *ret = -1 when it does not exist. */
static int open_dir(const struct root_file *f, const char *dir, int *ret) {
        _cleanup_close_ int fd = open(dir, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        *ret = -1;
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s, the directory of the %s %s: %m", dir, f->what,
                                       f->path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat %s: %m", dir);
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(S_ISLNK(st.st_mode) ? -EPERM : -ENOTDIR, "refusing the %s %s: its directory %s is %s",
                                       f->what, f->path, dir, S_ISLNK(st.st_mode) ? "a symlink" : "not a directory");
        _cleanup_free_ char *who = strprintf("its directory %s", dir);
        if (!who)
                return log_error_errno(-ENOMEM, "%s %s: %m", f->what, f->path);
        int r = check_owner_mode(f, &st, who, dir);
        if (r < 0)
                return r;
        *ret = TAKE_FD(fd);
        return 0;
}

/* 0 and *ret = -1 when the file does not exist. */
static int open_file(const struct root_file *f, int dfd, const char *base, int *ret) {
        struct stat st;
        *ret = -1;
        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot stat the %s %s: %m", f->what, f->path);
        int r = check_file(f, &st);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot open the %s %s: %m", f->what, f->path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat the %s %s: %m", f->what, f->path);
        if ((r = check_file(f, &st)) < 0)
                return r;
        *ret = TAKE_FD(fd);
        return 0;
}

static int read_text(const struct root_file *f, int fd, size_t max, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_full_fd(fd, &text, &len, max);
        if (r == -EFBIG)
                return log_error_errno(r, "refusing the %s %s: larger than %zu bytes", f->what, f->path, max);
        if (r < 0)
                return log_error_errno(r, "cannot read the %s %s: %m", f->what, f->path);
        if (strlen(text) != len)
                return log_error_errno(-EBADMSG, "%s: a NUL byte in the file (not a text file?)", f->path);
        *ret = TAKE_PTR(text);
        return 1;
}

int gj_read_root_file(const char *path, const char *what, size_t max, char **ret_text) {
        const struct root_file f = { .path = path, .what = what };
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -1, fd = -1;
        const char *base = NULL;

        *ret_text = NULL;
        int r = split_path(&f, &dir, &base);
        if (r < 0)
                return r;
        if ((r = open_dir(&f, dir, &dfd)) < 0 || dfd < 0)
                return r;
        if ((r = open_file(&f, dfd, base, &fd)) < 0 || fd < 0)
                return r;
        return read_text(&f, fd, max, ret_text);
}
