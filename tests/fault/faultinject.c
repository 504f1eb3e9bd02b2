/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test-only LD_PRELOAD shim that makes one system call fail, so that tests can
 * walk `gpujail run` and `gpujail-hook` through every error path on a real kernel.
 *
 *   GJ_FAULT="RULE[,RULE...]"   RULE = NAME[:cgroup][:N][:ERRNO]
 *
 *   mount:2            the 2nd mount(2) fails with EPERM
 *   openat2:1:ENOSYS   the 1st openat2 fails with ENOSYS
 *   openat2:1+:ENOSYS  every openat2 fails with ENOSYS (a kernel without it)
 *   write:cgroup       the 1st write(2) to a cgroup file (cgroup or cgroup2 fs) fails, ENOSPC
 *   fork / clone3 / execve / setns / ...    N defaults to 1
 *
 * NAME is one of: mount umount2 openat2 bpf write fork clone clone3 execve setns open_tree
 * move_mount mount_setattr fsopen fsmount pidfd_open unshare pivot_root mknod.
 * Default errno: ENOSPC for write:cgroup, EAGAIN for fork/clone/clone3, EPERM otherwise.
 *
 * The count is shared by the whole process tree below the first process that loaded the
 * shim (a MAP_SHARED counter), so "the 2nd mount" means the 2nd of gpujail's parent and
 * children together. Only programs whose name starts with GJ_FAULT_EXE (default "gpujail")
 * are affected: the job or container that gpujail execs runs undisturbed.
 * GJ_FAULT_LOG=FILE gets one line each time a fault fires, so a test can tell that the
 * step it aimed at was reached. GJ_FAULT_COUNT=FILE (without GJ_FAULT) fails nothing and
 * appends "NAME N" for every call made: how many steps of each kind a run has.
 *
 * Calls that glibc does not wrap (openat2, bpf, clone3, ...) are made with syscall(2): that
 * is intercepted too, dispatching on the number. Out of reach: calls glibc makes internally
 * without the PLT (stdio's writes, posix_spawn's clone, execvp's execve is covered by
 * intercepting the exec family).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

enum fault_call {
        F_MOUNT, F_UMOUNT2, F_OPENAT2, F_BPF, F_WRITE, F_FORK, F_CLONE, F_CLONE3, F_EXECVE,
        F_SETNS, F_OPEN_TREE, F_MOVE_MOUNT, F_MOUNT_SETATTR, F_FSOPEN, F_FSMOUNT, F_PIDFD_OPEN,
        F_UNSHARE, F_PIVOT_ROOT, F_MKNOD, _F_MAX,
};

static const char *const fault_names[_F_MAX] = {
        [F_MOUNT] = "mount", [F_UMOUNT2] = "umount2", [F_OPENAT2] = "openat2", [F_BPF] = "bpf",
        [F_WRITE] = "write", [F_FORK] = "fork", [F_CLONE] = "clone", [F_CLONE3] = "clone3",
        [F_EXECVE] = "execve", [F_SETNS] = "setns", [F_OPEN_TREE] = "open_tree",
        [F_MOVE_MOUNT] = "move_mount", [F_MOUNT_SETATTR] = "mount_setattr", [F_FSOPEN] = "fsopen",
        [F_FSMOUNT] = "fsmount", [F_PIDFD_OPEN] = "pidfd_open", [F_UNSHARE] = "unshare",
        [F_PIVOT_ROOT] = "pivot_root", [F_MKNOD] = "mknod",
};

struct fault_rule {
        bool active;
        bool cgroup_only; /* write: only writes to a cgroup file count */
        long nth;         /* the call that fails (1-based) */
        bool and_later;   /* "N+": that call and every one after it (a kernel without it) */
        int error;
};

static struct fault_rule rules[_F_MAX];
static long *counters; /* shared by the process tree, one per call */
static bool enabled;
/* Read once at start: programs under test clear their environment (the hook does). */
static const char *count_log; /* GJ_FAULT_COUNT: count every call, fail none */
static const char *fault_log; /* GJ_FAULT_LOG */
static bool fault_verbose;    /* GJ_FAULT_VERBOSE */

static const struct {
        const char *name;
        int value;
} errno_names[] = {
        {"EPERM", EPERM},   {"ENOENT", ENOENT}, {"EIO", EIO},         {"EAGAIN", EAGAIN},
        {"ENOMEM", ENOMEM}, {"EACCES", EACCES}, {"EBUSY", EBUSY},     {"EEXIST", EEXIST},
        {"EINVAL", EINVAL}, {"ENOSPC", ENOSPC}, {"ENOSYS", ENOSYS},   {"EMFILE", EMFILE},
        {"ENODEV", ENODEV}, {"E2BIG", E2BIG},   {"ENOTDIR", ENOTDIR}, {"EXDEV", EXDEV},
        {"EINTR", EINTR},   {"ELOOP", ELOOP},   {"EROFS", EROFS},     {"ESRCH", ESRCH},
};

static int errno_from_name(const char *s) {
        for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
                if (strcmp(s, errno_names[i].name) == 0)
                        return errno_names[i].value;
        return 0;
}

static int default_errno(enum fault_call c, bool cgroup_only) {
        if (c == F_WRITE && cgroup_only)
                return ENOSPC;
        if (c == F_FORK || c == F_CLONE || c == F_CLONE3)
                return EAGAIN;
        return EPERM;
}

static void parse_rule(char *rule) {
        char *save = NULL;
        char *name = strtok_r(rule, ":", &save);
        if (!name)
                return;
        int c;
        for (c = 0; c < _F_MAX; c++)
                if (strcmp(name, fault_names[c]) == 0)
                        break;
        if (c == _F_MAX) {
                fprintf(stderr, "faultinject: unknown call '%s' in GJ_FAULT\n", name);
                abort();
        }
        struct fault_rule r = {.active = true, .nth = 1};
        for (char *tok; (tok = strtok_r(NULL, ":", &save));) {
                if (strcmp(tok, "cgroup") == 0)
                        r.cgroup_only = true;
                else if (tok[0] >= '0' && tok[0] <= '9') {
                        char *end;
                        r.nth = strtol(tok, &end, 10);
                        r.and_later = *end == '+';
                }
                else if ((r.error = errno_from_name(tok)) == 0) {
                        fprintf(stderr, "faultinject: bad field '%s' in GJ_FAULT\n", tok);
                        abort();
                }
        }
        if (!r.error)
                r.error = default_errno(c, r.cgroup_only);
        rules[c] = r;
}

static bool exe_matches(void) {
        const char *want = getenv("GJ_FAULT_EXE");
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return true; /* cannot tell: be conservative and inject */
        exe[n] = 0;
        const char *base = strrchr(exe, '/');
        base = base ? base + 1 : exe;
        if (!want)
                want = "gpujail";
        return strncmp(base, want, strlen(want)) == 0;
}

__attribute__((constructor)) static void faultinject_init(void) {
        const char *spec = getenv("GJ_FAULT");
        count_log = getenv("GJ_FAULT_COUNT");
        if (count_log && !(count_log = strdup(count_log)))
                abort();
        if ((fault_log = getenv("GJ_FAULT_LOG")) && !(fault_log = strdup(fault_log)))
                abort();
        fault_verbose = getenv("GJ_FAULT_VERBOSE") != NULL;
        if ((!spec || !*spec) && !count_log)
                return;
        if (!exe_matches())
                return;
        if (!spec)
                spec = "";
        char *copy = strdup(spec);
        if (!copy)
                abort();
        char *save = NULL;
        for (char *rule = strtok_r(copy, ",", &save); rule; rule = strtok_r(NULL, ",", &save))
                parse_rule(rule);
        free(copy);
        counters = mmap(NULL, sizeof(long) * _F_MAX, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (counters == MAP_FAILED)
                abort();
        enabled = true;
}

/* glibc's syscall(), past this library: our own calls must not be counted twice. */
static long raw_syscall(long nr, ...) {
        static long (*real_syscall)(long, ...);
        va_list ap;
        va_start(ap, nr);
        long a[6];
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (!real_syscall)
                real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
        return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void note_fault(enum fault_call c, long n, int error) {
        const char *log = fault_log;
        char line[256];
        int len = snprintf(line, sizeof(line), "faultinject: pid %d: %s call #%ld fails with %s\n",
                           (int)getpid(), fault_names[c], n, strerror(error));
        if (len <= 0)
                return;
        if (log) {
                /* raw syscalls: this runs inside intercepted calls, write() included */
                int fd = (int)raw_syscall(SYS_openat, AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        (void)raw_syscall(SYS_write, fd, line, (size_t)len);
                        (void)raw_syscall(SYS_close, fd);
                }
        }
        if (fault_verbose)
                (void)raw_syscall(SYS_write, 2, line, (size_t)len);
}

/* Counting mode: one line per call, "NAME N"; a test takes the largest N of each NAME
 * to know how many faults of that kind a successful run can be given. */
static void note_call(enum fault_call c, long n) {
        char line[64];
        int len = snprintf(line, sizeof(line), "%s %ld\n", fault_names[c], n);
        int fd = (int)raw_syscall(SYS_openat, AT_FDCWD, count_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0 && len > 0) {
                (void)raw_syscall(SYS_write, fd, line, (size_t)len);
                (void)raw_syscall(SYS_close, fd);
        }
}

/* Count this call; true (errno set) when it is the one that must fail. */
static bool should_fail(enum fault_call c) {
        if (!enabled || (!rules[c].active && !count_log))
                return false;
        long n = __atomic_add_fetch(&counters[c], 1, __ATOMIC_SEQ_CST);
        if (count_log)
                note_call(c, n);
        if (!rules[c].active)
                return false;
        if (n != rules[c].nth && !(rules[c].and_later && n > rules[c].nth))
                return false;
        note_fault(c, n, rules[c].error);
        errno = rules[c].error;
        return true;
}

static bool fd_is_cgroup(int fd) {
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0)
                return false;
        return sfs.f_type == CGROUP_SUPER_MAGIC || sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Which writes count: all of them under "write", cgroup files only under "write:cgroup" and
 * in counting mode (a count of every write to stderr would say nothing). */
static bool write_counts(int fd) {
        if (!enabled)
                return false;
        if (rules[F_WRITE].active && !rules[F_WRITE].cgroup_only)
                return true;
        if (!rules[F_WRITE].active && !count_log)
                return false;
        return fd_is_cgroup(fd);
}

#define REAL(ret, name, ...)                                                                       \
        static ret (*real_##name)(__VA_ARGS__);                                                    \
        if (!real_##name)                                                                          \
                real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

/* ---- wrapped by glibc ---- */

int mount(const char *src, const char *tgt, const char *fs, unsigned long flags, const void *data) {
        if (should_fail(F_MOUNT))
                return -1;
        REAL(int, mount, const char *, const char *, const char *, unsigned long, const void *);
        return real_mount(src, tgt, fs, flags, data);
}

int umount2(const char *tgt, int flags) {
        if (should_fail(F_UMOUNT2))
                return -1;
        REAL(int, umount2, const char *, int);
        return real_umount2(tgt, flags);
}

ssize_t write(int fd, const void *buf, size_t n) {
        if (write_counts(fd) && should_fail(F_WRITE))
                return -1;
        return raw_syscall(SYS_write, fd, buf, n);
}

pid_t fork(void) {
        if (should_fail(F_FORK))
                return -1;
        REAL(pid_t, fork, void);
        return real_fork();
}

int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
        va_list ap;
        va_start(ap, arg);
        pid_t *ptid = va_arg(ap, pid_t *);
        void *tls = va_arg(ap, void *);
        pid_t *ctid = va_arg(ap, pid_t *);
        va_end(ap);
        if (should_fail(F_CLONE))
                return -1;
        REAL(int, clone, int (*)(void *), void *, int, void *, ...);
        return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
}

int execve(const char *path, char *const argv[], char *const envp[]) {
        if (should_fail(F_EXECVE))
                return -1;
        REAL(int, execve, const char *, char *const[], char *const[]);
        return real_execve(path, argv, envp);
}

int execv(const char *path, char *const argv[]) {
        if (should_fail(F_EXECVE))
                return -1;
        REAL(int, execv, const char *, char *const[]);
        return real_execv(path, argv);
}

int execvp(const char *file, char *const argv[]) {
        if (should_fail(F_EXECVE))
                return -1;
        REAL(int, execvp, const char *, char *const[]);
        return real_execvp(file, argv);
}

int execvpe(const char *file, char *const argv[], char *const envp[]) {
        if (should_fail(F_EXECVE))
                return -1;
        REAL(int, execvpe, const char *, char *const[], char *const[]);
        return real_execvpe(file, argv, envp);
}

int fexecve(int fd, char *const argv[], char *const envp[]) {
        if (should_fail(F_EXECVE))
                return -1;
        REAL(int, fexecve, int, char *const[], char *const[]);
        return real_fexecve(fd, argv, envp);
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
        if (should_fail(F_EXECVE))
                return -1;
        return (int)raw_syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

int setns(int fd, int nstype) {
        if (should_fail(F_SETNS))
                return -1;
        REAL(int, setns, int, int);
        return real_setns(fd, nstype);
}

int unshare(int flags) {
        if (should_fail(F_UNSHARE))
                return -1;
        REAL(int, unshare, int);
        return real_unshare(flags);
}

int mknod(const char *path, mode_t mode, dev_t dev) {
        if (should_fail(F_MKNOD))
                return -1;
        return (int)raw_syscall(SYS_mknodat, AT_FDCWD, path, mode, dev);
}

int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev) {
        if (should_fail(F_MKNOD))
                return -1;
        return (int)raw_syscall(SYS_mknodat, dirfd, path, mode, dev);
}

/* glibc >= 2.36 wraps the new mount API; programs may call either form. */
int open_tree(int dfd, const char *path, unsigned flags) {
        if (should_fail(F_OPEN_TREE))
                return -1;
        return (int)raw_syscall(SYS_open_tree, dfd, path, flags);
}

int move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags) {
        if (should_fail(F_MOVE_MOUNT))
                return -1;
        return (int)raw_syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

struct mount_attr;
int mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *attr, size_t size) {
        if (should_fail(F_MOUNT_SETATTR))
                return -1;
        return (int)raw_syscall(SYS_mount_setattr, dfd, path, flags, attr, size);
}

int fsopen(const char *fs, unsigned flags) {
        if (should_fail(F_FSOPEN))
                return -1;
        return (int)raw_syscall(SYS_fsopen, fs, flags);
}

int fsmount(int fd, unsigned flags, unsigned attr) {
        if (should_fail(F_FSMOUNT))
                return -1;
        return (int)raw_syscall(SYS_fsmount, fd, flags, attr);
}

int pidfd_open(pid_t pid, unsigned flags) {
        if (should_fail(F_PIDFD_OPEN))
                return -1;
        return (int)raw_syscall(SYS_pidfd_open, pid, flags);
}

/* ---- syscall(2): the calls glibc does not wrap ---- */

static int fault_of_syscall(long nr, long a0) {
        switch (nr) {
        case SYS_mount: return F_MOUNT;
        case SYS_umount2: return F_UMOUNT2;
        case SYS_openat2: return F_OPENAT2;
        case SYS_bpf: return F_BPF;
        case SYS_clone: return F_CLONE;
        case SYS_clone3: return F_CLONE3;
        case SYS_execve: case SYS_execveat: return F_EXECVE;
        case SYS_setns: return F_SETNS;
        case SYS_open_tree: return F_OPEN_TREE;
        case SYS_move_mount: return F_MOVE_MOUNT;
        case SYS_mount_setattr: return F_MOUNT_SETATTR;
        case SYS_fsopen: return F_FSOPEN;
        case SYS_fsmount: return F_FSMOUNT;
        case SYS_pidfd_open: return F_PIDFD_OPEN;
        case SYS_unshare: return F_UNSHARE;
        case SYS_pivot_root: return F_PIVOT_ROOT;
        case SYS_mknodat: return F_MKNOD;
        case SYS_write:
                if (write_counts((int)a0))
                        return F_WRITE;
                return -1;
        default: return -1;
        }
}

long syscall(long nr, ...) {
        va_list ap;
        va_start(ap, nr);
        long a[6];
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (enabled) {
                int c = fault_of_syscall(nr, a[0]);
                if (c >= 0 && should_fail((enum fault_call)c))
                        return -1;
        }
        return raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
