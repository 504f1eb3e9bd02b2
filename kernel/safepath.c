/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolving paths inside a rootfs we do not trust. See gpujail/safepath.h.
 *
 * openat2(RESOLVE_IN_ROOT) makes the kernel treat rootfd as "/" for every
 * step, absolute symlinks and ".." included, so nothing resolves outside.
 * RESOLVE_NO_XDEV is deliberately not used: a runtime has already mounted a
 * tmpfs on <rootfs>/dev by the time the hook runs, and we must cross it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gpujail/safepath.h"
#include "gpujail/util.h"
#include "kernel-syscalls.h"

#define MAX_DEPTH 256
#define OPENAT2_EAGAIN_TRIES 16

static bool force_fallback;

void gj_safepath_force_fallback(bool on) { force_fallback = on; }

/* Paths are read relative to the root: "/dev/x" and "dev/x" are the same. */
static const char *relative_to_root(const char *path) {
        while (*path == '/')
                path++;
        return *path ? path : ".";
}

/* Turn the ENOTDIR of an O_NOFOLLOW|O_DIRECTORY open of a symlink into ELOOP,
 * which says what was refused. */
static int refused_component_error(int dirfd, const char *name, int error) {
        struct stat st;

        if (error == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
                return -ELOOP;
        return -error;
}

struct walk {
        int rootfd;
        int fds[MAX_DEPTH]; /* owned directory fds below the root */
        size_t depth;
};

static int walk_cur(const struct walk *w) { return w->depth ? w->fds[w->depth - 1] : w->rootfd; }

static void walk_done(struct walk *w) {
        while (w->depth > 0)
                close(w->fds[--w->depth]);
}

/* One directory step, with in-root semantics for "." and "..". */
static int walk_step(struct walk *w, const char *name) {
        if (streq(name, "") || streq(name, "."))
                return 0;
        if (streq(name, "..")) {
                if (w->depth > 0) /* ".." at the root stays at the root */
                        close(w->fds[--w->depth]);
                return 0;
        }
        if (w->depth >= MAX_DEPTH)
                return -ENAMETOOLONG;
        int fd = openat(walk_cur(w), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return refused_component_error(walk_cur(w), name, errno);
        w->fds[w->depth++] = fd;
        return 0;
}

static bool is_dot_name(const char *name) {
        return streq(name, "") || streq(name, ".") || streq(name, "..");
}

/* The last component (NULL: the walk's directory itself); an O_PATH open that
 * lands on a symlink is -ELOOP. */
static int open_last(const struct walk *w, const char *name, int flags, mode_t mode) {
        _cleanup_close_ int fd = name ? openat(walk_cur(w), name, flags | O_NOFOLLOW | O_CLOEXEC, mode)
                                      : openat(walk_cur(w), ".", flags | O_CLOEXEC, mode);
        struct stat st;

        if (fd < 0)
                return -errno;
        if ((flags & O_PATH) && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode))
                return -ELOOP;
        return TAKE_FD(fd);
}

/* The fallback: every component opened with O_NOFOLLOW, so a symlink anywhere
 * is refused (-ELOOP) rather than followed. Stricter than openat2, never looser. */
static int open_in_root_walk(int rootfd, const char *rel, int flags, mode_t mode) {
        _cleanup_free_ char *copy = strdup(rel);
        _cleanup_(walk_done) struct walk w = { .rootfd = rootfd };
        int r;

        if (!copy)
                return -ENOMEM;

        char *last = strrchr(copy, '/');
        char *dir = NULL;
        if (last) {
                *last++ = 0;
                dir = copy;
        } else
                last = copy;

        char *save = NULL;
        for (char *p = dir, *c; dir && (c = strtok_r(p, "/", &save)); p = NULL)
                if ((r = walk_step(&w, c)) < 0)
                        return r;
        if (!is_dot_name(last))
                return open_last(&w, last, flags, mode);
        if ((r = walk_step(&w, last)) < 0)
                return r;
        return open_last(&w, NULL, flags, mode);
}

int gj_open_in_root(int rootfd, const char *path, int flags, mode_t mode) {
        const char *rel = relative_to_root(path);

        if (!force_fallback) {
                struct open_how how = {
                        .flags = (uint64_t)(flags | O_CLOEXEC),
                        .mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0,
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                for (int i = 0; i < OPENAT2_EAGAIN_TRIES; i++) {
                        int fd = sys_openat2(rootfd, rel, &how);
                        if (fd >= 0)
                                return fd;
                        /* EAGAIN: a rename raced with the lookup; the kernel asks us to retry.
                         * ENOSYS: kernel < 5.6; EPERM: a seccomp profile older than
                         * openat2 (Docker's returned EPERM). The walk is never looser. */
                        if (errno == ENOSYS || errno == EPERM)
                                break;
                        if (errno != EAGAIN)
                                return -errno;
                }
                if (errno == EAGAIN)
                        return -EAGAIN;
        }
        return open_in_root_walk(rootfd, rel, flags, mode);
}

int gj_mkdir_p_in_root(int rootfd, const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(relative_to_root(path));
        _cleanup_(walk_done) struct walk w = { .rootfd = rootfd };
        int r;

        if (!copy)
                return -ENOMEM;

        for (char *p = copy, *save = NULL, *c; (c = strtok_r(p, "/", &save)); p = NULL) {
                if (streq(c, ".."))
                        return -EINVAL; /* nothing we create needs "..": refuse the ambiguity */
                if (!streq(c, ".") && mkdirat(walk_cur(&w), c, mode) < 0 && errno != EEXIST)
                        return -errno;
                /* An existing symlink made mkdirat say EEXIST; O_NOFOLLOW refuses it here. */
                r = walk_step(&w, c);
                if (r == -ELOOP)
                        return -ENOTDIR;
                if (r < 0)
                        return r;
        }

        int fd = openat(walk_cur(&w), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}
