/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Raw wrappers for the syscalls glibc 2.36 lacks or that we call by number so
 * that an old libc still builds (openat2, the new mount API, bpf, pidfd_open).
 * Private to kernel/: the layers above use its headers (gpujail/mount.h for
 * mounts). Each returns what the syscall returns, errno set on failure.
 */
#pragma once

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif

static inline int sys_openat2(int dirfd, const char *path, struct open_how *how) {
        return (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}
static inline int sys_open_tree(int dirfd, const char *path, unsigned flags) {
        return (int)syscall(SYS_open_tree, dirfd, path, flags);
}
static inline int sys_move_mount(int from_dirfd, const char *from, int to_dirfd, const char *to,
                                 unsigned flags) {
        return (int)syscall(SYS_move_mount, from_dirfd, from, to_dirfd, to, flags);
}
static inline int sys_mount_setattr(int dirfd, const char *path, unsigned flags,
                                    struct mount_attr *attr) {
        return (int)syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof(*attr));
}
static inline int sys_fsopen(const char *fstype, unsigned flags) {
        return (int)syscall(SYS_fsopen, fstype, flags);
}
static inline int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux) {
        return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static inline int sys_fsmount(int fd, unsigned flags, unsigned attr_flags) {
        return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}
static inline int sys_bpf(int cmd, union bpf_attr *attr) {
        return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}
static inline pid_t sys_clone3(void *clone_args, size_t size) {
        return (pid_t)syscall(__NR_clone3, clone_args, size);
}
static inline int sys_pidfd_open(pid_t pid, unsigned flags) {
        return (int)syscall(__NR_pidfd_open, pid, flags);
}

/* "/proc/self/fd/N" for the fallbacks that must name an fd as a path. */
#define PROC_FD_PATH_MAX (sizeof("/proc/self/fd/") + 12)
static inline char *proc_fd_path(char buf[static PROC_FD_PATH_MAX], int fd) {
        snprintf(buf, PROC_FD_PATH_MAX, "/proc/self/fd/%i", fd);
        return buf;
}
