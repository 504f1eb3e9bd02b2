/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpf-list [CGROUP2_ROOT]: every BPF program attached directly to a cgroup in
 * the tree (default: where cgroup2 is mounted, e.g. /sys/fs/cgroup/unified),
 * one line each: "<cgroup dir> <attach type number> id=<prog id>".
 * Used to snapshot the host before/after tests: a test that leaves a program
 * attached (or replaced one the runtime attached) changes this output.
 * Uses BPF_PROG_QUERY, no libbpf.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/bpf.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int query_attach_type(int cgfd, const char *path, unsigned type) {
        __u32 ids[64];
        union bpf_attr attr;

        memset(&attr, 0, sizeof attr);
        attr.query.target_fd = (__u32)cgfd;
        attr.query.attach_type = type;
        attr.query.prog_ids = (__u64)(unsigned long)ids;
        attr.query.prog_cnt = 64;
        if (syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof attr) < 0)
                return errno == EINVAL || errno == EOPNOTSUPP ? 0 : -errno;
        for (__u32 i = 0; i < attr.query.prog_cnt && i < 64; i++)
                printf("%s %u id=%u\n", path, type, ids[i]);
        return 0;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        int fd;

        if (flag != FTW_D)
                return 0;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0; /* gone meanwhile */
        for (unsigned t = 0; t < __MAX_BPF_ATTACH_TYPE; t++)
                if (query_attach_type(fd, path, t) < 0) {
                        fprintf(stderr, "bpf-list: BPF_PROG_QUERY on %s: %s\n", path, strerror(errno));
                        close(fd);
                        return 1;
                }
        close(fd);
        return 0;
}

static const char *find_cgroup2(void) {
        static char where[4096];
        FILE *f = setmntent("/proc/self/mounts", "re");
        struct mntent *m;

        if (!f)
                return NULL;
        while ((m = getmntent(f)))
                if (strcmp(m->mnt_type, "cgroup2") == 0) {
                        snprintf(where, sizeof where, "%s", m->mnt_dir);
                        endmntent(f);
                        return where;
                }
        endmntent(f);
        return NULL;
}

int main(int argc, char **argv) {
        const char *root = argc > 1 ? argv[1] : find_cgroup2();

        if (!root) {
                fprintf(stderr, "bpf-list: no cgroup2 mount\n");
                return 0; /* nothing can be attached anywhere */
        }
        return nftw(root, visit, 64, FTW_PHYS | FTW_MOUNT) ? 1 : 0;
}
