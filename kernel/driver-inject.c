/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver's userspace into a container's root, executing nothing. See
 * gpujail/driver-inject.h.
 *
 * Why the cache is written in C rather than by a sandboxed host ldconfig
 * (nvidia-ctk's way): the hook then runs no program at all as root in a
 * directory tree an image shaped, so there is no sandbox to get right
 * (namespaces, pivot_root, seccomp, limits, a sealed binary), and the whole
 * effect is a few hundred lines that a fuzzer and glibc's own `ldconfig -p`
 * check. What a later `ldconfig` in the container rebuilds, the drop-in keeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "gpujail/driver-inject.h"
#include "gpujail/ldcache.h"
#include "gpujail/mount.h"
#include "gpujail/safepath.h"
#include "gpujail/util.h"
#include "kernel-syscalls.h"

#define ATTR_RO (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
#define ATTR_IPC (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
#define LDCONF_HEADER                                                                              \
        "# gpujail: the NVIDIA driver libraries it binds here (kept by a later ldconfig)\n"

struct inject {
        int rootfd;
        const char *root_name;
        unsigned flags;
        dev_t covered[16]; /* our overlays (GJ_DRIVER_INJECT_COVER), by st_dev */
        size_t n_covered;
};

/* An overlay on the directory at dirfd whose upper layer is a fresh tmpfs:
 * what is written there from now on lives and dies with this mount
 * namespace, and the tree below stays as it was. Returns an fd of the
 * directory as it is now seen (through the overlay). A directory already
 * under one of ours is returned as it is (dirfd is taken either way). */
static int cover_dir(struct inject *in, const char *path, int dirfd) {
        _cleanup_close_ int fd = dirfd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        for (size_t i = 0; i < in->n_covered; i++)
                if (in->covered[i] == st.st_dev)
                        return TAKE_FD(fd);
        if (in->n_covered == ELEMENTSOF(in->covered))
                return -E2BIG;
        static const char *const tmpfs_opts[] = { "mode=0755", NULL };
        _cleanup_close_ int tmpfs =
                gj_mount_new_fs("tmpfs", tmpfs_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (tmpfs < 0)
                return tmpfs;
        if (mkdirat(tmpfs, "upper", 0755) < 0 || mkdirat(tmpfs, "work", 0755) < 0)
                return -errno;
        char lower[64], upper[64], work[64];
        snprintf(lower, sizeof(lower), "lowerdir=/proc/self/fd/%i", fd);
        snprintf(upper, sizeof(upper), "upperdir=/proc/self/fd/%i/upper", tmpfs);
        snprintf(work, sizeof(work), "workdir=/proc/self/fd/%i/work", tmpfs);
        const char *const opts[] = { lower, upper, work, NULL };
        /* detached layers need kernel 6.15 ("fs: allow detached mounts in clone_private_mount()") */
        _cleanup_close_ int ovl =
                gj_mount_new_fs("overlay", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (ovl < 0)
                return ovl;
        int r = gj_mount_move(ovl, fd, "");
        if (r < 0)
                return r;
        int top = gj_open_in_root(in->rootfd, path, O_PATH | O_DIRECTORY, 0);
        if (top < 0)
                return top;
        if (fstat(top, &st) < 0) {
                close(top);
                return -errno;
        }
        in->covered[in->n_covered++] = st.st_dev;
        return top;
}

static int maybe_cover(struct inject *in, const char *path, int fd) {
        if (!(in->flags & GJ_DRIVER_INJECT_COVER))
                return fd;
        if (isempty(path) || streq(path, "/")) {
                /* an overlay on the root itself would hide the job's writes everywhere */
                close(fd);
                return -EPERM;
        }
        return cover_dir(in, path, fd);
}

/* A directory inside the root that we may write in, made (0755) where missing
 * below its deepest existing ancestor: existing parts resolve inside the root
 * (an image's "lib -> usr/lib" is followed there), new parts refuse symlinks.
 * With GJ_DRIVER_INJECT_COVER, what is written into (the directory, or the
 * ancestor that new parts are made in) is covered first. An O_PATH fd. Does not log. */
static int writable_dir(struct inject *in, const char *path) {
        int fd = gj_open_in_root(in->rootfd, path, O_PATH | O_DIRECTORY, 0);
        if (fd != -ENOENT)
                return fd < 0 ? fd : maybe_cover(in, path, fd);
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        char *slash;
        int parent = -ENOENT;
        while (parent == -ENOENT && (slash = strrchr(copy, '/'))) {
                *slash = 0;
                parent = gj_open_in_root(in->rootfd, copy, O_PATH | O_DIRECTORY, 0);
        }
        if (parent == -ENOENT) {
                copy[0] = 0;
                parent = gj_open_in_root(in->rootfd, "/", O_PATH | O_DIRECTORY, 0);
        }
        if (parent < 0)
                return parent;
        _cleanup_close_ int dir = maybe_cover(in, *copy ? copy : "/", parent);
        if (dir < 0)
                return dir;
        return gj_mkdir_p_in_root(dir, path + strlen(copy) + (*copy ? 1 : 0), 0755);
}

static bool same_inode(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The mount point for src at <dirfd>/<name>: created empty (a directory for a
 * directory), or what is there if it is of the same kind. 1: src is already
 * bound there (the hook ran twice); 0 and *ret_fd otherwise. */
static int mount_point(int dirfd, const char *name, const struct stat *src, const char *where,
                       int *ret_fd) {
        bool dir = S_ISDIR(src->st_mode);
        if (dir) {
                if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(-errno, "cannot create %s in %s: %m", name, where);
        } else {
                int fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                0644);
                if (fd >= 0) {
                        *ret_fd = fd;
                        return 0;
                }
                if (errno != EEXIST)
                        return log_error_errno(-errno, "cannot create %s in %s: %m", name, where);
        }
        _cleanup_close_ int existing = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (existing < 0 || fstat(existing, &st) < 0)
                return log_error_errno(-errno, "cannot open %s in %s: %m", name, where);
        if (same_inode(&st, src))
                return 1;
        if (S_ISDIR(st.st_mode) != dir || S_ISLNK(st.st_mode) || (!dir && !S_ISREG(st.st_mode)))
                return log_error_errno(
                        S_ISLNK(st.st_mode) ? -ELOOP : -EEXIST,
                        "refusing to bind onto %s in %s: it exists and is not a %s: %m", name,
                        where, dir ? "directory" : "regular file");
        *ret_fd = TAKE_FD(existing);
        return 0;
}

/* host_path, opened without following a symlink, bound onto <dirfd>/<name>. */
static int bind_host_file(int dirfd, const char *name, const char *host_path, uint64_t attrs,
                          const char *where) {
        _cleanup_close_ int src = open(host_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (src < 0 || fstat(src, &st) < 0)
                return log_error_errno(-errno, "cannot open %s on the host: %m", host_path);
        if (S_ISLNK(st.st_mode))
                return log_error_errno(-ELOOP, "refusing to bind %s: it is a symlink: %m",
                                       host_path);
        _cleanup_close_ int target = -1;
        int r = mount_point(dirfd, name, &st, where, &target);
        if (r != 0)
                return r < 0 ? r : 0;
        _cleanup_close_ int tree = gj_mount_clone_tree(src, "", AT_EMPTY_PATH, attrs, host_path);
        if (tree < 0)
                return tree;
        return gj_mount_attach(tree, target, host_path, where);
}

/* <dirfd>/<name> -> target, replacing a link or file there (not a directory). */
static int replace_symlink(int dirfd, const char *name, const char *target, const char *where) {
        _cleanup_free_ char *tmp = strprintf(".%s.gpujail", name);
        if (!tmp)
                return -ENOMEM;
        (void)unlinkat(dirfd, tmp, 0); /* a leftover of a killed hook */
        if (symlinkat(target, dirfd, tmp) < 0)
                return log_error_errno(-errno, "cannot create the link %s in %s: %m", name, where);
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                int r = -errno;
                (void)unlinkat(dirfd, tmp, 0);
                return log_error_errno(r, "cannot place the link %s -> %s in %s: %m", name, target,
                                       where);
        }
        return 0;
}

/* data into <dirfd>/<name> through a new file renamed over it: never written
 * through what the image put there (a symlink, a fifo). */
static int write_replacing(int dirfd, const char *name, const char *data, size_t len,
                           const char *where) {
        _cleanup_free_ char *tmp = strprintf(".%s.gpujail", name);
        if (!tmp)
                return -ENOMEM;
        (void)unlinkat(dirfd, tmp,
                       0); /* a leftover of a killed hook (never a directory: that fails) */
        _cleanup_close_ int fd =
                openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return log_error_errno(-errno, "cannot create %s in %s: %m", tmp, where);
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0) {
                        int r = -errno;
                        (void)unlinkat(dirfd, tmp, 0);
                        return log_error_errno(r, "cannot write %s in %s: %m", tmp, where);
                }
                done += (size_t)n;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                int r = -errno;
                (void)unlinkat(dirfd, tmp, 0);
                return log_error_errno(r, "cannot replace %s in %s: %m", name, where);
        }
        return 0;
}

static const char *file_kind(mode_t m) {
        return S_ISDIR(m)                 ? "a directory"
               : S_ISFIFO(m)              ? "a fifo"
               : S_ISCHR(m) || S_ISBLK(m) ? "a device node"
               : S_ISLNK(m)               ? "a symlink"
                                          : "not a regular file";
}

/* The image's cache: empty when there is none or ld.so could not read it either. */
static int read_image_ldcache(struct inject *in, struct gj_ldcache *ret) {
        const char *root_name = in->root_name;
        /* resolved inside the root, so an image's etc/ld.so.cache -> x is read there; looked at
         * (O_PATH) before it is opened: a fifo or a device node of the image's is never opened */
        _cleanup_close_ int path = gj_open_in_root(in->rootfd, "etc/ld.so.cache", O_PATH, 0);
        struct stat st;
        if (path == -ENOENT)
                return 0;
        if (path < 0)
                return log_error_errno(path, "cannot open %s/etc/ld.so.cache: %m", root_name);
        if (fstat(path, &st) < 0)
                return log_error_errno(-errno, "cannot stat %s/etc/ld.so.cache: %m", root_name);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(-EINVAL, "refusing %s/etc/ld.so.cache: it is %s", root_name,
                                       file_kind(st.st_mode));
        char proc[PROC_FD_PATH_MAX];
        _cleanup_close_ int fd = open(proc_fd_path(proc, path), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s/etc/ld.so.cache: %m", root_name);
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_full_fd(fd, &data, &len, GJ_LDCACHE_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read %s/etc/ld.so.cache: %m", root_name);
        if (gj_ldcache_parse(data, len, ret) < 0)
                log_warning("%s/etc/ld.so.cache is not a cache this glibc reads: writing a new one",
                            root_name);
        return 0;
}

struct lib_dir {
        const char *path; /* in the root, without the leading '/' */
        int fd;
};

static int open_lib_dir(struct inject *in, bool lib32, struct lib_dir *ret) {
        const char *dir = gj_driver_lib_triplet_dir(lib32);
        int fd = gj_open_in_root(in->rootfd, dir, O_PATH | O_DIRECTORY, 0);
        if (fd >= 0)
                fd = maybe_cover(in, dir, fd);
        else if (fd == -ENOENT) {
                dir = gj_driver_lib_fallback_dir(lib32);
                fd = writable_dir(in, dir);
        }
        if (fd < 0)
                return log_error_errno(fd, "cannot use %s/%s: %m", in->root_name, dir);
        *ret = (struct lib_dir){ .path = dir, .fd = fd };
        return 0;
}

static const char *base_name(const char *path) {
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

/* "libcuda.so.1" -> "libcuda.so", for the libraries that programs link by
 * that name (-lcuda: Triton; NVIDIA's list). NULL for the others. */
static char *dev_link_name(const char *soname) {
        if (!startswith(soname, "libcuda.so.") && !startswith(soname, "libnvidia-opticalflow.so."))
                return NULL;
        return strndup(soname, (size_t)(strstr(soname, ".so.") - soname) + 3);
}

static int inject_lib(struct inject *in, const struct gj_driver_file *f, const struct lib_dir *dir,
                      struct gj_ldcache *cache, const char *where) {
        const char *file = base_name(f->path ?: f->host_path);
        int r;
        if (!(in->flags & GJ_DRIVER_INJECT_NO_BIND) &&
            (r = bind_host_file(dir->fd, file, f->host_path, ATTR_RO, where)) < 0)
                return r;
        if (!streq(file, f->soname) && (r = replace_symlink(dir->fd, f->soname, file, where)) < 0)
                return r;
        _cleanup_free_ char *dev = dev_link_name(f->soname);
        if (dev && (r = replace_symlink(dir->fd, dev, f->soname, where)) < 0)
                return r;
        _cleanup_free_ char *value = strprintf("/%s/%s", dir->path, f->soname);
        if (!value)
                return -ENOMEM;
        int32_t flags = f->kind == GJ_DRIVER_LIB32 ? GJ_LDCACHE_FLAGS_32 : GJ_LDCACHE_FLAGS_NATIVE;
        return gj_ldcache_set(cache, f->soname, flags, value);
}

/* A binary, firmware file or socket at its planned path. */
static int inject_at_path(struct inject *in, const struct gj_driver_file *f) {
        _cleanup_free_ char *dir = strndup(f->path, (size_t)(strrchr(f->path, '/') - f->path));
        _cleanup_free_ char *where = strprintf("%s%s", in->root_name, dir ? dir : "");
        if (!dir || !where)
                return -ENOMEM;
        _cleanup_close_ int dirfd = writable_dir(in, *dir ? dir + 1 : "/");
        if (dirfd < 0)
                return log_error_errno(dirfd, "cannot use %s: %m", where);
        uint64_t attrs = f->kind == GJ_DRIVER_IPC        ? ATTR_IPC
                         : f->kind == GJ_DRIVER_FIRMWARE ? ATTR_RO | MOUNT_ATTR_NOEXEC
                                                         : ATTR_RO;
        return bind_host_file(dirfd, base_name(f->path), f->host_path, attrs, where);
}

static int write_ldconfig_files(struct inject *in, const struct gj_ldcache *cache,
                                char *const *dirs) {
        const char *root_name = in->root_name;
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = gj_ldcache_serialize(cache, &data, &len);
        if (r < 0)
                return log_error_errno(r, "cannot build the dynamic linker's cache for %s: %m",
                                       root_name);
        _cleanup_free_ char *etc_name = strprintf("%s/etc", root_name);
        _cleanup_close_ int etc = writable_dir(in, "etc");
        if (!etc_name)
                return -ENOMEM;
        if (etc < 0)
                return log_error_errno(etc, "cannot use %s: %m", etc_name);
        if ((r = write_replacing(etc, "ld.so.cache", data, len, etc_name)) < 0)
                return r;

        /* a later ldconfig in the container reads ld.so.conf: make sure it includes the drop-in */
        if (faccessat(etc, "ld.so.conf", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
                static const char include[] = "include /etc/ld.so.conf.d/*.conf\n";
                if ((r = write_replacing(etc, "ld.so.conf", include, strlen(include), etc_name)) <
                    0)
                        return r;
        }
        _cleanup_free_ char *confd_name = strprintf("%s/etc/ld.so.conf.d", root_name);
        _cleanup_close_ int confd = writable_dir(in, "etc/ld.so.conf.d");
        if (!confd_name)
                return -ENOMEM;
        if (confd < 0)
                return log_error_errno(confd, "cannot use %s: %m", confd_name);
        _cleanup_strbuf_ struct strbuf conf = { 0 };
        strbuf_printf(&conf, LDCONF_HEADER);
        for (char *const *d = dirs; d && *d; d++)
                strbuf_printf(&conf, "/%s\n", *d);
        if (!strbuf_str(&conf))
                return -ENOMEM;
        return write_replacing(confd, GJ_DRIVER_LDCONF, conf.data, conf.len, confd_name);
}

static void lib_dir_done(struct lib_dir *d) { closep(&d->fd); }

/* A library whose place in the container the plan says (a CDI spec mounts it there). */
static int inject_lib_at_path(struct inject *in, const struct gj_driver_file *f,
                              struct gj_ldcache *cache, char ***dir_names) {
        if (f->path[0] != '/')
                return -EINVAL;
        const char *slash = strrchr(f->path, '/');
        _cleanup_free_ char *dir =
                strndup(f->path + 1, (size_t)(slash - f->path) - (slash > f->path));
        _cleanup_free_ char *where = dir ? strprintf("%s/%s", in->root_name, dir) : NULL;
        if (!dir || !where)
                return -ENOMEM;
        _cleanup_(lib_dir_done) struct lib_dir d = { .path = dir,
                                                     .fd = writable_dir(in, *dir ? dir : "/") };
        if (d.fd < 0)
                return log_error_errno(d.fd, "cannot use %s: %m", where);
        if (!strv_contains(*dir_names, dir) && strv_push(dir_names, strdup(dir)) < 0)
                return -ENOMEM;
        return inject_lib(in, f, &d, cache, where);
}

int gj_driver_inject(int rootfd, const struct gj_driver_plan *plan, const char *root_name,
                     unsigned flags) {
        struct inject in = { .rootfd = rootfd, .root_name = root_name, .flags = flags };
        struct gj_ldcache cache = { 0 };
        struct lib_dir dirs[2] = { { .fd = -1 }, { .fd = -1 } }; /* native, 32-bit */
        _cleanup_strv_free_ char **dir_names = NULL;
        int r = 0;

        if (plan->n_files == 0)
                return 0;
        if ((r = read_image_ldcache(&in, &cache)) < 0)
                return r;
        for (size_t i = 0; i < plan->n_files && r >= 0; i++) {
                const struct gj_driver_file *f = &plan->files[i];
                bool is_lib = f->kind == GJ_DRIVER_LIB || f->kind == GJ_DRIVER_LIB32;
                if (!is_lib && (flags & GJ_DRIVER_INJECT_NO_BIND))
                        continue;
                if (!is_lib) {
                        r = inject_at_path(&in, f);
                        continue;
                }
                if (f->path) {
                        r = inject_lib_at_path(&in, f, &cache, &dir_names);
                        continue;
                }
                struct lib_dir *d = &dirs[f->kind == GJ_DRIVER_LIB32];
                if (d->fd < 0) {
                        if ((r = open_lib_dir(&in, f->kind == GJ_DRIVER_LIB32, d)) < 0)
                                break;
                        char *name = strdup(d->path);
                        if (!name || (r = strv_push(&dir_names, name)) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                }
                _cleanup_free_ char *where = strprintf("%s/%s", root_name, d->path);
                r = where ? inject_lib(&in, f, d, &cache, where) : -ENOMEM;
        }
        if (r >= 0 && dir_names)
                r = write_ldconfig_files(&in, &cache, dir_names);
        lib_dir_done(&dirs[0]);
        lib_dir_done(&dirs[1]);
        gj_ldcache_done(&cache);
        return r;
}
