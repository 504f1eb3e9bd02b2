/* SPDX-License-Identifier: Apache-2.0 */
/*
 * open-probe PATH...: the device-cgroup oracle. Opens each path
 * O_RDWR|O_NONBLOCK and prints "PATH OK" or "PATH <errno name>".
 *
 * On a simulated host no driver stands behind the majors, so for a fake GPU
 * node: ENXIO = the device cgroup let the open through; EPERM = it denied it.
 * ENOENT/EACCES mean the node is not there or the mount is nodev.
 * Exit 0 when every path was probed (whatever the results), 2 on usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: open-probe PATH...\n");
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                int fd = open(argv[i], O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                if (fd >= 0) {
                        printf("%s OK\n", argv[i]);
                        close(fd);
                } else {
                        const char *name = strerrorname_np(errno);
                        printf("%s %s\n", argv[i], name ? name : "E?");
                }
        }
        return 0;
}
