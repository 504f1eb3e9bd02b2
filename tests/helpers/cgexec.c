/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgexec CGROUP_DIR... -- CMD [ARG...]: move this process into each cgroup
 * (one per hierarchy: write our pid to DIR/cgroup.procs), then exec CMD.
 * Exit 125 if joining fails (nothing is exec'ed), 127 if CMD is not found.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int join_cgroup(const char *dir) {
        char path[4096], pid[32];
        int fd, n;

        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "cgexec: cannot open %s: %s\n", path, strerror(errno));
                return -1;
        }
        n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
        if (write(fd, pid, (size_t)n) != n) {
                fprintf(stderr, "cgexec: cannot join %s: %s\n", dir, strerror(errno));
                close(fd);
                return -1;
        }
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        int i;

        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (join_cgroup(argv[i]) < 0)
                        return 125;
        if (i >= argc - 1) {
                fprintf(stderr, "usage: cgexec CGROUP_DIR... -- CMD [ARG...]\n");
                return 125;
        }
        execvp(argv[i + 1], argv + i + 1);
        fprintf(stderr, "cgexec: cannot exec %s: %s\n", argv[i + 1], strerror(errno));
        return 127;
}
