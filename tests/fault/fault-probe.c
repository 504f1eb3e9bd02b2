/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exercises the calls that faultinject.so can fail, one per argument, and prints
 * "NAME ok" or "NAME <errno name>": the shim's own test (tests/e2e/test-fault-shim.sh).
 * Harmless calls only: invalid arguments make the kernel answer EINVAL/EBADF/EFAULT,
 * which tells "reached the kernel" apart from the injected error.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/openat2.h>

static void report(const char *name, long r) {
        printf("%s %s\n", name, r >= 0 ? "ok" : strerrorname_np(errno));
        fflush(stdout);
}

int main(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                long r;
                if (strcmp(a, "mount") == 0)
                        r = mount(NULL, "/nonexistent-fault-probe", NULL, MS_PRIVATE, NULL);
                else if (strcmp(a, "openat2") == 0) {
                        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
                        r = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
                        if (r >= 0)
                                close((int)r);
                } else if (strcmp(a, "bpf") == 0)
                        r = syscall(SYS_bpf, 0xffff, NULL, 0); /* EINVAL from the kernel */
                else if (strcmp(a, "write-cgroup") == 0) {
                        int fd = open("/sys/fs/cgroup/unified/cgroup.procs", O_WRONLY | O_CLOEXEC);
                        if (fd < 0)
                                fd = open("/sys/fs/cgroup/cgroup.procs", O_WRONLY | O_CLOEXEC);
                        r = write(fd, "0\n", 2); /* pid 0 = myself: stays where it is */
                        if (fd >= 0)
                                close(fd);
                } else if (strcmp(a, "write-null") == 0) {
                        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        r = write(fd, "x", 1);
                        close(fd);
                } else if (strcmp(a, "fork") == 0) {
                        pid_t p = fork();
                        if (p == 0)
                                _exit(0);
                        if (p > 0)
                                waitpid(p, NULL, 0);
                        r = p;
                } else if (strcmp(a, "clone3") == 0)
                        r = syscall(SYS_clone3, NULL, 0); /* EINVAL from the kernel */
                else if (strcmp(a, "setns") == 0)
                        r = setns(-1, 0);
                else if (strcmp(a, "open_tree") == 0)
                        r = syscall(SYS_open_tree, -1, "", 0);
                else if (strcmp(a, "move_mount") == 0)
                        r = syscall(SYS_move_mount, -1, "", -1, "", 0);
                else if (strcmp(a, "mount_setattr") == 0)
                        r = syscall(SYS_mount_setattr, -1, "", 0, NULL, 0);
                else if (strcmp(a, "execve") == 0) {
                        char *const args[] = {"/nonexistent-fault-probe", NULL};
                        r = execve(args[0], args, NULL);
                } else {
                        fprintf(stderr, "fault-probe: unknown call %s\n", a);
                        return 2;
                }
                report(a, r);
        }
        return 0;
}
