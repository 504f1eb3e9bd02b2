/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the launcher's job root costs per mount of the host, against the floor: each
 * round forks three children that unshare a mount namespace and exit, in turn:
 *   floor     nothing more (the namespace's copy of the host's mounts, its teardown)
 *   today     what the launcher's init does: the copy made private (MS_REC), the host
 *             tree cloned (open_tree AT_RECURSIVE) and flagged, stacked on "/",
 *             pivot_root, the old root detached
 *   in-place  one mount_setattr(AT_RECURSIVE) on the copy itself (flags and
 *             propagation): what a root built in place would pay
 * Prints p50 and p90 per variant, in ms. Built and run by bench/mount-ns.sh.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOST_VIEW (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

static int today(void) {
        if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return 2;
        int tree = syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        struct mount_attr a = { .attr_set = HOST_VIEW };
        if (tree < 0 || syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
                return 3;
        if (syscall(SYS_move_mount, tree, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 || fchdir(tree) < 0)
                return 4;
        if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0)
                return 5;
        return 0;
}

static int in_place(void) {
        struct mount_attr a = { .attr_set = HOST_VIEW, .propagation = MS_PRIVATE };
        return syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &a, sizeof(a)) < 0 ? 6 : 0;
}

static int child(int variant) {
        if (unshare(CLONE_NEWNS) < 0)
                return 1;
        return variant == 0 ? 0 : variant == 1 ? today() : in_place();
}

static double now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        static const char *const names[] = { "floor", "today", "in-place" };
        int n = argc > 1 ? atoi(argv[1]) : 300;
        double *ms[3];
        if (n < 10)
                n = 10;
        for (int k = 0; k < 3; k++)
                if (!(ms[k] = calloc(n, sizeof(double))))
                        return 1;
        for (int i = 0; i < n; i++)
                for (int k = 0; k < 3; k++) {
                        int variant = (k + i) % 3, status;
                        double t = now_ms();
                        pid_t pid = fork();
                        if (pid == 0)
                                _exit(child(variant));
                        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                            WEXITSTATUS(status) != 0) {
                                fprintf(stderr, "mount-ns: %s failed (step %d)\n", names[variant],
                                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                                return 1;
                        }
                        ms[variant][i] = now_ms() - t;
                }
        for (int k = 0; k < 3; k++) {
                qsort(ms[k], n, sizeof(double), cmp_double);
                printf("  %-9s p50 %6.3f ms   p90 %6.3f ms\n", names[k], ms[k][n / 2], ms[k][n * 9 / 10]);
        }
        return 0;
}
