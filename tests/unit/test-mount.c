/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mount helpers (gpujail/mount.h) against the real kernel, in a private
 * mount namespace on a scratch tmpfs: fresh filesystems with options and
 * flags, clones that carry their flags and leave the source alone, attaching
 * by fd and by name, and the errors each step returns.
 */
#include <sys/statvfs.h>

#include "gpujail/mount.h"
#include "kernel-test.h"

/* The ST_* flags of the mount at fd or path (fd < 0), or -1. */
static long flags_of(int fd, const char *path) {
        struct statvfs sv;
        if ((fd >= 0 ? fstatvfs(fd, &sv) : statvfs(path, &sv)) < 0)
                return -1;
        return (long)sv.f_flag;
}

static bool has_flags(long flags, long want) { return flags >= 0 && (flags & want) == want; }

static int open_path(const char *rel) {
        return open(kt_path(rel), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void test_new_fs(void) {
        static const char *const opts[] = { "mode=0710", "size=1m", NULL };
        static const char *const bad_opts[] = { "gj-no-such-option", NULL };
        struct stat st;

        _cleanup_close_ int mnt = gj_mount_new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        ok(mnt >= 0, "new tmpfs, detached (%d)", mnt);
        ok(has_flags(flags_of(mnt, NULL), ST_NOSUID | ST_NODEV) && !has_flags(flags_of(mnt, NULL), ST_NOEXEC),
           "new tmpfs: nosuid,nodev and nothing more");
        ok(fstat(mnt, &st) == 0 && (st.st_mode & 07777) == 0710, "new tmpfs: mode=0710 applied");

        mkdir(kt_path("fresh"), 0755);
        _cleanup_close_ int target = open_path("fresh");
        is_int(gj_mount_attach(mnt, target, "tmpfs", "fresh"), 0, "attached by fd");
        ok(has_flags(flags_of(-1, kt_path("fresh")), ST_NOSUID | ST_NODEV), "attached: the path shows it");
        ok(stat(kt_path("fresh"), &st) == 0 && (st.st_mode & 07777) == 0710, "attached: its root there");

        _cleanup_close_ int plain = gj_mount_new_fs("tmpfs", NULL, 0);
        ok(plain >= 0, "new tmpfs without options");
        is_int(gj_mount_new_fs("gj-no-such-fs", NULL, 0), -ENODEV, "unknown filesystem type: -ENODEV");
        is_int(gj_mount_new_fs("tmpfs", bad_opts, 0), -EINVAL, "unknown option: -EINVAL");

        _cleanup_close_ int fs = gj_mount_fs_open("tmpfs");
        ok(fs >= 0, "in two steps: fsopen");
        _cleanup_close_ int two = fs >= 0 ? gj_mount_fs_create(fs, opts, MOUNT_ATTR_NOEXEC) : -EBADF;
        ok(two >= 0 && has_flags(flags_of(two, NULL), ST_NOEXEC), "in two steps: the rest, noexec");
}

static void test_move_by_name(void) {
        _cleanup_close_ int scratch = open(kt_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int mnt = gj_mount_new_fs("tmpfs", NULL, MOUNT_ATTR_NOEXEC);
        struct stat in, top;

        mkdir(kt_path("named"), 0755);
        is_int(gj_mount_move(mnt, scratch, "named"), 0, "moved onto <dirfd>/<name>");
        ok(stat(kt_path("named"), &in) == 0 && stat(kt_dir, &top) == 0 && in.st_dev != top.st_dev,
           "moved by name: a mount of its own there");
        ok(has_flags(flags_of(-1, kt_path("named")), ST_NOEXEC), "moved by name: with its flags");
}

static void test_clone(void) {
        _cleanup_close_ int tree = gj_mount_clone_tree(AT_FDCWD, kt_path("fresh"),
                                                       AT_RECURSIVE | AT_SYMLINK_NOFOLLOW,
                                                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC, "fresh");
        ok(tree >= 0, "clone of a tree, flagged");
        ok(has_flags(flags_of(tree, NULL), ST_RDONLY | ST_NOEXEC), "clone: read-only, noexec while detached");

        mkdir(kt_path("ro"), 0755);
        _cleanup_close_ int target = open_path("ro");
        is_int(gj_mount_attach(tree, target, "fresh", "ro"), 0, "clone attached");
        ok(has_flags(flags_of(-1, kt_path("ro")), ST_RDONLY), "clone attached: read-only there");
        ok(!has_flags(flags_of(-1, kt_path("fresh")), ST_RDONLY), "the source keeps its flags");
        int fd = open(kt_path("fresh/file"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ok(fd >= 0, "the source stays writable");
        closep(&fd);
        ok(kt_exists(kt_path("ro/file")), "the clone shows the source's files");

        _cleanup_close_ int one = gj_mount_clone(AT_FDCWD, kt_path("fresh"), 0);
        ok(one >= 0, "clone of one mount, no flags set");
        is_int(gj_mount_clone(AT_FDCWD, kt_path("missing"), 0), -ENOENT, "clone of a missing path: -ENOENT");
        is_int(gj_mount_clone_tree(AT_FDCWD, kt_path("missing"), AT_RECURSIVE, 0, "missing"), -ENOENT,
               "clone_tree of a missing path: -ENOENT (logged)");
}

static void test_errors(void) {
        _cleanup_close_ int target = open_path("fresh");
        is_int(gj_mount_set_attr(-1, false, MOUNT_ATTR_RDONLY, "fd -1"), -EBADF, "set_attr on no fd: -EBADF (logged)");
        is_int(gj_mount_attach(-1, target, "fd -1", "fresh"), -EBADF, "attach of no fd: -EBADF (logged)");
        is_int(gj_mount_move(-1, target, ""), -EBADF, "move of no fd: -EBADF");
}

int main(void) {
        kt_require_root();
        kt_private_mount_ns();
        kt_scratch();

        test_new_fs();
        test_move_by_name();
        test_clone();
        test_errors();

        kt_teardown();
        ok(!kt_exists(kt_dir), "no scratch directory left");
        return done_testing();
}
