/* SPDX-License-Identifier: Apache-2.0 */
/*
 * open-probe [-r] PATH...: the device-cgroup oracle. Opens each path
 * O_RDWR|O_NONBLOCK (O_RDONLY with -r: NVIDIA's nvidia-cap nodes are 0444 and
 * CUDA reads them) and prints "PATH OK" or "PATH <errno name>".
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
        int first = argc > 1 && strcmp(argv[1], "-r") == 0 ? 2 : 1;
        int mode = first == 2 ? O_RDONLY : O_RDWR;
        if (argc <= first) {
                fprintf(stderr, "usage: open-probe [-r] PATH...\n");
                return 2;
        }
        for (int i = first; i < argc; i++) {
                int fd = open(argv[i], mode | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
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
