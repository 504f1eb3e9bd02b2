/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binding device nodes by fd, in a private mount namespace on a scratch
 * tmpfs: fake GPU nodes (195:N) stand in for the host's, a directory for the
 * container's /dev. Checks the kernel's view in /proc/self/mountinfo.
 */
#include "gpujail/devfs.h"
#include "gpujail/safepath.h"
#include "kernel-test.h"

/* The per-mount options of the topmost mount at `path`, or NULL. */
static char *mount_options(const char *path) {
        _cleanup_free_ char *text = NULL;
        char *found = NULL;

        if (read_full_file("/proc/self/mountinfo", &text, NULL, 1 << 24) < 0)
                return NULL;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *f[6] = {}, *save = NULL;
                size_t n = 0;
                for (char *p = line, *t; n < 6 && (t = strtok_r(p, " ", &save)); p = NULL)
                        f[n++] = t;
                if (n == 6 && streq(f[4], path)) {
                        free(found);
                        found = strdup(f[5]); /* later lines are mounted on top */
                }
        }
        return found;
}

static int count_mounts(const char *path) {
        _cleanup_free_ char *text = NULL;
        int n = 0;
        _cleanup_free_ char *needle = strprintf(" %s ", path);

        if (read_full_file("/proc/self/mountinfo", &text, NULL, 1 << 24) < 0)
                return -1;
        for (char *p = text; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static bool has_opt(const char *opts, const char *opt) {
        size_t len = strlen(opt);
        for (const char *p = opts; p && *p;) {
                const char *end = strchrnul(p, ',');
                if ((size_t)(end - p) == len && strncmp(p, opt, len) == 0)
                        return true;
                p = *end ? end + 1 : end;
        }
        return false;
}

static bool is_node(const char *path, unsigned ma, unsigned mi) {
        struct stat st;
        return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == ma &&
               minor(st.st_rdev) == mi;
}

/* Host paths live until exit: plans outlive kt_path()'s rotating buffers. */
static struct gj_plan_node node(const char *path, const char *host, unsigned ma, unsigned mi) {
        static char *keep[64];
        static size_t n_keep;
        char *h = strdup(kt_path(host));
        if (n_keep < ELEMENTSOF(keep))
                keep[n_keep++] = h;
        return (struct gj_plan_node){ .path = (char *)path, .host_path = h, .type = 'c',
                                      .major = ma, .minor = mi, .mode = 0666 };
}

static void check_bound(const char *rel, unsigned ma, unsigned mi, const char *why) {
        const char *p = kt_path(rel);
        _cleanup_free_ char *opts = mount_options(p);
        ok(is_node(p, ma, mi), "%s: %s is c %u:%u", why, rel, ma, mi);
        ok(opts && has_opt(opts, "nosuid") && has_opt(opts, "noexec"), "%s: %s mounted nosuid,noexec (%s)",
           why, rel, opts ? opts : "not a mount");
}

static void test_bind(int devfd, const char *mode) {
        char name[64], path[64];
        struct gj_plan_node n;

        snprintf(name, sizeof(name), "host/nvidia0");
        n = node("/dev/nvidia0", name, 195, 0);
        is_int(gj_devfs_bind_node(devfd, &n), 0, "%s: bind c 195:0", mode);
        check_bound("root/dev/nvidia0", 195, 0, mode);
        is_int(gj_devfs_bind_node(devfd, &n), 0, "%s: bind again (idempotent)", mode);
        is_int(count_mounts(kt_path("root/dev/nvidia0")), 1, "%s: still one mount there", mode);

        /* A host node whose major:minor is not what the plan says. */
        n = node("/dev/nvidia1", "host/nvidia1", 195, 0);
        is_int(gj_devfs_bind_node(devfd, &n), -ENODEV, "%s: wrong minor refused (-ENODEV)", mode);
        ok(!kt_exists(kt_path("root/dev/nvidia1")), "%s: nothing created for it", mode);
        n = node("/dev/nvidia1", "host/nvidia1", 234, 1);
        is_int(gj_devfs_bind_node(devfd, &n), -ENODEV, "%s: wrong major refused", mode);
        n = node("/dev/nvidia1", "host/link-to-nvidia1", 195, 1);
        is_int(gj_devfs_bind_node(devfd, &n), -ENODEV, "%s: host path that is a symlink refused", mode);
        n = node("/dev/nvidia1", "host/regular", 195, 1);
        is_int(gj_devfs_bind_node(devfd, &n), -ENODEV, "%s: host regular file refused", mode);
        n = node("/dev/nvidia1", "host/missing", 195, 1);
        is_int(gj_devfs_bind_node(devfd, &n), -ENOENT, "%s: missing host node refused", mode);

        /* Targets planted by a hostile image. */
        n = node("/dev/nvidia2", "host/nvidia2", 195, 2);
        is_int(gj_devfs_bind_node(devfd, &n), -ELOOP, "%s: target that is a symlink refused", mode);
        ok(count_mounts(kt_path("host/victim")) == 0, "%s: nothing mounted on the symlink's target", mode);
        n = node("/dev/nvidia3", "host/nvidia3", 195, 3);
        is_int(gj_devfs_bind_node(devfd, &n), -EEXIST, "%s: target that is another device refused", mode);
        n = node("/dev/dri/card0", "host/card0", 226, 0);
        is_int(gj_devfs_bind_node(devfd, &n), -ENOTDIR, "%s: dri/ that is a symlink out refused", mode);
        ok(!kt_exists(kt_path("host/outside/card0")), "%s: nothing created outside", mode);
        n = node("/etc/passwd", "host/nvidia0", 195, 0);
        is_int(gj_devfs_bind_node(devfd, &n), -EINVAL, "%s: a path not below /dev/ refused", mode);
        n = node("/dev/../nvidia0", "host/nvidia0", 195, 0);
        ok(gj_devfs_bind_node(devfd, &n) < 0, "%s: /dev/../x refused", mode);

        /* A subdirectory, created inside /dev. */
        snprintf(path, sizeof(path), "/dev/sub-%s/card1", mode);
        n = node(path, "host/card1", 226, 1);
        is_int(gj_devfs_bind_node(devfd, &n), 0, "%s: bind into a new subdirectory", mode);
        snprintf(name, sizeof(name), "root/dev/sub-%s/card1", mode);
        check_bound(name, 226, 1, mode);
        /* An empty leftover file (an earlier attempt) is reused. */
        snprintf(path, sizeof(path), "/dev/left-%s", mode);
        snprintf(name, sizeof(name), "root/dev/left-%s", mode);
        close(open(kt_path(name), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        n = node(path, "host/nvidia5", 195, 5);
        is_int(gj_devfs_bind_node(devfd, &n), 0, "%s: empty leftover file reused", mode);
        check_bound(name, 195, 5, mode);
}

static int open_dir(const char *rel) {
        return open(kt_path(rel), O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void test_setup(void) {
        struct gj_plan_node nodes[] = { node("/dev/nvidia0", "host/nvidia0", 195, 0),
                                        node("/dev/nvidiactl", "host/nvidiactl", 195, 255) };
        struct gj_plan plan = { .nodes = nodes, .n_nodes = 2 };
        _cleanup_close_ int root = open_dir("root2"), minimal = open_dir("root3"), hostile = open_dir("root4");
        static const char *const want[] = { "null", "zero", "full", "random", "urandom", "tty",
                                             "nvidia0", "nvidiactl", "pts", "shm", "ptmx",
                                             "fd", "stdin", "stdout", "stderr" };

        is_int(gj_devfs_setup(root, &plan, 0), 0, "setup: full /dev");
        _cleanup_free_ char *opts = mount_options(kt_path("root2/dev"));
        ok(opts && has_opt(opts, "nosuid") && has_opt(opts, "noexec") && !has_opt(opts, "nodev"),
           "setup: /dev is nosuid,noexec (%s)", opts ? opts : "not a mount");
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                char rel[64];
                snprintf(rel, sizeof(rel), "root2/dev/%s", want[i]);
                ok(kt_exists(kt_path(rel)), "setup: /dev/%s exists", want[i]);
        }
        check_bound("root2/dev/null", 1, 3, "setup");
        check_bound("root2/dev/nvidiactl", 195, 255, "setup");
        _cleanup_free_ char *shm = mount_options(kt_path("root2/dev/shm"));
        ok(shm && has_opt(shm, "nosuid") && has_opt(shm, "nodev") && has_opt(shm, "noexec"),
           "setup: shm nosuid,nodev,noexec");
        _cleanup_free_ char *pts = mount_options(kt_path("root2/dev/pts"));
        ok(pts != NULL, "setup: pts is a mount");
        char target[64] = "";
        ssize_t k = readlink(kt_path("root2/dev/ptmx"), target, sizeof(target) - 1);
        ok(k > 0 && streq(target, "pts/ptmx"), "setup: ptmx -> pts/ptmx");

        /* in the launcher's two steps: the plan comes after the rest of /dev is made */
        _cleanup_close_ int mdev = gj_devfs_make(minimal, GJ_DEVFS_MINIMAL);
        ok(mdev >= 0 && kt_exists(kt_path("root3/dev/null")) && !kt_exists(kt_path("root3/dev/nvidia0")),
           "minimal, made: the default nodes, none of the plan's yet");
        is_int(mdev >= 0 ? gj_devfs_bind_plan(mdev, &plan) : mdev, 0, "minimal: the plan's nodes added");
        ok(kt_exists(kt_path("root3/dev/nvidia0")) && kt_exists(kt_path("root3/dev/null")), "minimal: nodes there");
        ok(!kt_exists(kt_path("root3/dev/pts")) && !kt_exists(kt_path("root3/dev/shm")) &&
           !kt_exists(kt_path("root3/dev/fd")), "minimal: no pts, shm, fd");

        int before = count_mounts(kt_path("host/etc"));
        ok(gj_devfs_setup(hostile, &plan, 0) < 0, "setup: rootfs whose /dev is a symlink refused");
        is_int(count_mounts(kt_path("host/etc")), before, "hostile: nothing mounted on its target");
        ok(!kt_exists(kt_path("host/etc/null")), "hostile: nothing created in its target");
}

int main(void) {
        kt_require_root();
        kt_private_mount_ns();
        kt_scratch();

        mkdir(kt_path("host"), 0755);
        mkdir(kt_path("host/outside"), 0755);
        mkdir(kt_path("host/etc"), 0755);
        for (unsigned i = 0; i < 6; i++) {
                char n[32];
                snprintf(n, sizeof(n), "host/nvidia%u", i);
                kt_mknod(n, 195, i);
        }
        kt_mknod("host/nvidiactl", 195, 255);
        kt_mknod("host/card0", 226, 0);
        kt_mknod("host/card1", 226, 1);
        symlink("nvidia1", kt_path("host/link-to-nvidia1"));
        close(open(kt_path("host/regular"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        close(open(kt_path("host/victim"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));

        mkdir(kt_path("root"), 0755);
        mkdir(kt_path("root/dev"), 0755);
        symlink(kt_path("host/victim"), kt_path("root/dev/nvidia2"));
        kt_mknod("root/dev/nvidia3", 1, 3);
        symlink(kt_path("host/outside"), kt_path("root/dev/dri"));
        for (int i = 2; i <= 5; i++) {
                char n[16];
                snprintf(n, sizeof(n), "root%d", i);
                mkdir(kt_path(n), 0755);
        }
        symlink(kt_path("host/etc"), kt_path("root4/dev"));

        _cleanup_close_ int devfd = open_dir("root/dev");
        ok(devfd >= 0, "container /dev opened");
        test_bind(devfd, "new-api");
        gj_devfs_force_fallback(true);
        /* A fresh name for each check in fallback mode: nvidia0 is bound already (idempotence). */
        test_bind(devfd, "fallback");
        gj_devfs_force_fallback(false);
        {
                /* With stdin closed, fd 0 is handed out inside the bind: it must still bind. */
                struct gj_plan_node n = node("/dev/stdin-closed", "host/nvidia4", 195, 4);
                int saved = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
                close(STDIN_FILENO);
                is_int(gj_devfs_bind_node(devfd, &n), 0, "stdin closed: bind");
                check_bound("root/dev/stdin-closed", 195, 4, "stdin closed");
                if (saved >= 0) {
                        dup2(saved, STDIN_FILENO);
                        close(saved);
                }
        }
        test_setup();
        gj_devfs_force_fallback(true);
        {
                struct gj_plan_node nodes[] = { node("/dev/nvidia4", "host/nvidia4", 195, 4) };
                struct gj_plan plan = { .nodes = nodes, .n_nodes = 1 };
                _cleanup_close_ int fb = open_dir("root5");
                is_int(gj_devfs_setup(fb, &plan, 0), 0, "fallback (mount(2)): full /dev");
                _cleanup_free_ char *opts = mount_options(kt_path("root5/dev"));
                ok(opts && has_opt(opts, "nosuid") && has_opt(opts, "noexec"), "fallback: /dev nosuid,noexec");
                check_bound("root5/dev/nvidia4", 195, 4, "fallback setup");
                ok(kt_exists(kt_path("root5/dev/pts/ptmx")), "fallback: pts mounted");
        }
        gj_devfs_force_fallback(false);

        kt_teardown();
        ok(!kt_exists(kt_dir), "no scratch directory left");
        _cleanup_free_ char *left = strprintf(" %s", kt_dir);
        _cleanup_free_ char *mi = NULL;
        ok(read_full_file("/proc/self/mountinfo", &mi, NULL, 1 << 24) == 0 && !strstr(mi, left),
           "no mount left under the scratch directory");
        return done_testing();
}
