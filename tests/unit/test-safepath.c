/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile rootfs against gj_open_in_root and gj_mkdir_p_in_root, with
 * openat2 and with the O_NOFOLLOW walk: symlinks out (relative, absolute,
 * through ".."), a pre-made /dev/nvidia0 symlink to a host file, "/dev ->
 * /etc". Whatever each returns, nothing outside the root is created, opened
 * for writing or changed: the "host" directory is compared before and after,
 * and so is the real /etc for the absolute "/etc" case.
 */
#include <dirent.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "gpujail/safepath.h"
#include "tap.h"
#include "gpujail/util.h"

static char base[] = "/tmp/gj-safepath-XXXXXX";
static char root_path[512], host_path[512], marker[64];

/* prefix + a + suffix, in one of a few rotating buffers. */
static char *at(const char *prefix, const char *a, const char *suffix) {
        static char buf[4][600];
        static int i;
        char *p = buf[i++ % 4];
        snprintf(p, 600, "%s%s%s", prefix, a, suffix);
        return p;
}

/* "name:size:mode" for every entry below dir, sorted: what must not change. */
static void snapshot(const char *dir, char *out, size_t size) {
        struct dirent **list;
        int n = scandir(dir, &list, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                if (!streq(list[i]->d_name, ".") && !streq(list[i]->d_name, "..")) {
                        char p[1024];
                        struct stat st;
                        snprintf(p, sizeof(p), "%s/%s", dir, list[i]->d_name);
                        if (lstat(p, &st) == 0) {
                                size_t len = strlen(out);
                                snprintf(out + len, size - len, "%s:%lld:%o:%lld;", p, (long long)st.st_size,
                                         st.st_mode, (long long)st.st_mtim.tv_nsec);
                                if (S_ISDIR(st.st_mode))
                                        snapshot(p, out, size);
                        }
                }
                free(list[i]);
        }
        if (n >= 0)
                free(list);
}

static void make_tree(void) {
        snprintf(root_path, sizeof(root_path), "%s/root", base);
        snprintf(host_path, sizeof(host_path), "%s/host", base);
        snprintf(marker, sizeof(marker), "gj-safepath-%i", (int)getpid());
        mkdir(root_path, 0755);
        mkdir(host_path, 0755);
        write_file_atomic(at("", host_path, "/secret"), "host secret\n", 12, 0644);
        mkdir(at("", root_path, "/etc"), 0755);
        write_file_atomic(at("", root_path, "/etc/inside"), "inside\n", 7, 0644);
        mkdir(at("", root_path, "/dev"), 0755);
        /* hostile layouts */
        symlink("../../host", at("", root_path, "/up"));                  /* relative escape */
        symlink(host_path, at("", root_path, "/abs"));                      /* absolute to the host dir */
        symlink(at("", host_path, "/secret"), at("", root_path, "/dev/nvidia0")); /* node -> host file */
        symlink("/etc", at("", root_path, "/etcdev"));                      /* "/dev -> /etc" */
        symlink("/etc/inside", at("", root_path, "/inlink"));                /* resolves inside */
        symlink("/proc/self/root", at("", root_path, "/magic"));            /* magic link route */
        write_file_atomic(at("", root_path, "/file"), "x", 1, 0644);
        mkdir(at("", root_path, "/deep"), 0755);
        mkdir(at("", root_path, "/deep/er"), 0755);
        symlink(host_path, at("", root_path, "/deep/er/out"));              /* escape three levels down */
}

static bool host_etc_has_marker(void) {
        struct stat st;
        return lstat(at("/etc/", marker, ""), &st) == 0;
}

/* What an escape left in the host's /etc: a file (open through etcdev), or a
 * directory holding "sub" (mkdir -p through etcdev). remove() takes either. */
static void remove_host_marker(void) {
        (void)remove(at("/etc/", marker, "/sub"));
        (void)remove(at("/etc/", marker, ""));
}

static void run_cases(const char *mode, int rootfd) {
        int fd;
        struct stat st, host_st;
        stat(at("", host_path, "/secret"), &host_st);

        /* Escapes through symlinks: must not reach the host directory. */
        fd = gj_open_in_root(rootfd, "up/x", O_WRONLY | O_CREAT, 0644);
        ok(fd < 0, "%s: up/x (../../host) not created (%s)", mode, fd < 0 ? strerror(-fd) : "opened");
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, "abs/y", O_WRONLY | O_CREAT, 0644);
        ok(fd < 0, "%s: abs/y (absolute to host) not created", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, "deep/er/out/w", O_WRONLY | O_CREAT, 0644);
        ok(fd < 0, "%s: deep/er/out/w (-> host, 3 levels down) not created", mode);
        if (fd >= 0)
                close(fd);
        is_int(gj_mkdir_p_in_root(rootfd, "deep/er/out/w", 0755), -ENOTDIR, "%s: mkdir_p deep/er/out/w refused", mode);
        fd = gj_open_in_root(rootfd, "/dev/nvidia0", O_WRONLY | O_TRUNC, 0);
        ok(fd < 0, "%s: /dev/nvidia0 -> host file not opened for writing", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, "/dev/nvidia0", O_PATH, 0);
        ok(fd < 0 || (fstat(fd, &st) == 0 && st.st_ino != host_st.st_ino), "%s: O_PATH on it is not the host file", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, "../../host/secret", O_RDONLY, 0);
        ok(fd < 0 || (fstat(fd, &st) == 0 && st.st_ino != host_st.st_ino), "%s: ../../host/secret is not the host file", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, at("etcdev/", marker, ""), O_WRONLY | O_CREAT, 0644);
        ok(!host_etc_has_marker(), "%s: etcdev (-> /etc) did not create in the host's /etc", mode);
        if (fd >= 0) {
                close(fd);
                unlinkat(rootfd, at("etc/", marker, ""), 0); /* created inside: fine, tidy */
        }
        fd = gj_open_in_root(rootfd, "magic/etc/passwd", O_RDONLY, 0);
        ok(fd < 0, "%s: a /proc/self/root route does not open the host's /etc/passwd", mode);
        if (fd >= 0)
                close(fd);

        /* mkdir -p through hostile components. */
        fd = gj_mkdir_p_in_root(rootfd, at("etcdev/", marker, "/sub"), 0755);
        is_int(fd, -ENOTDIR, "%s: mkdir_p through etcdev (symlink) refused", mode);
        ok(!host_etc_has_marker(), "%s: nothing made in the host's /etc", mode);
        is_int(gj_mkdir_p_in_root(rootfd, "up/z", 0755), -ENOTDIR, "%s: mkdir_p through up (symlink) refused", mode);
        is_int(gj_mkdir_p_in_root(rootfd, "file/z", 0755), -ENOTDIR, "%s: mkdir_p through a file refused", mode);
        is_int(gj_mkdir_p_in_root(rootfd, "a/../../b", 0755), -EINVAL, "%s: mkdir_p with .. refused", mode);

        /* What legitimately works. */
        fd = gj_mkdir_p_in_root(rootfd, at("/made/", mode, "/dri"), 0755);
        ok(fd >= 0, "%s: mkdir_p /made/<mode>/dri", mode);
        if (fd >= 0) {
                ok(fstatat(rootfd, at("made/", mode, "/dri"), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode),
                   "%s: it is a directory inside the root", mode);
                close(fd);
        }
        fd = gj_mkdir_p_in_root(rootfd, at("/made/", mode, "/dri"), 0755);
        ok(fd >= 0, "%s: mkdir_p again (exists)", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, "/etc/inside", O_RDONLY, 0);
        ok(fd >= 0, "%s: /etc/inside opens", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, "dev/../etc/./inside", O_RDONLY, 0);
        ok(fd >= 0, "%s: dev/../etc/./inside opens", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY, 0);
        ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "%s: / is the root", mode);
        if (fd >= 0)
                close(fd);
        fd = gj_open_in_root(rootfd, at("dev/new-", mode, ""), O_WRONLY | O_CREAT | O_EXCL, 0600);
        ok(fd >= 0, "%s: create dev/new-<mode>", mode);
        if (fd >= 0) {
                ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "%s: fd is O_CLOEXEC", mode);
                close(fd);
        }
}

/* A kernel without openat2, as seccomp makes it look: in a child, openat2
 * fails with `error`; gj_open_in_root must fall back to the walk by itself
 * (the walk refuses symlinks with ELOOP where openat2 would follow them). */
static int run_without_openat2(int rootfd, int error) {
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)error),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(filter), .filter = filter };
        pid_t pid = fork();
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                        _exit(100);
                struct open_how how = { .flags = O_RDONLY };
                if (syscall(SYS_openat2, rootfd, "file", &how, sizeof(how)) >= 0 || errno != error)
                        _exit(101); /* the filter is not in effect */
                int a = gj_open_in_root(rootfd, "inlink", O_RDONLY, 0);
                int b = gj_open_in_root(rootfd, "deep/er/out/w", O_WRONLY | O_CREAT, 0644);
                int c = gj_open_in_root(rootfd, "etc/inside", O_RDONLY, 0);
                _exit(a == -ELOOP && b == -ELOOP && c >= 0 ? 0 : 102);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

int main(void) {
        static char host_before[1 << 16], host_after[1 << 16];
        int fd;

        if (!mkdtemp(base))
                skip_all("cannot create a directory in /tmp");
        make_tree();
        _cleanup_close_ int rootfd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        snapshot(host_path, host_before, sizeof(host_before));

        run_cases("openat2", rootfd);
        /* Where openat2 follows a symlink inside the root, the walk refuses it. */
        fd = gj_open_in_root(rootfd, "inlink", O_RDONLY, 0);
        ok(fd >= 0, "openat2: inlink (-> /etc/inside) resolves inside the root");
        if (fd >= 0)
                close(fd);

        gj_safepath_force_fallback(true);
        run_cases("fallback", rootfd);
        is_int(gj_open_in_root(rootfd, "inlink", O_RDONLY, 0), -ELOOP, "fallback: any symlink refused (-ELOOP)");
        is_int(gj_open_in_root(rootfd, "dev/nvidia0", O_PATH, 0), -ELOOP, "fallback: O_PATH on a symlink refused");
        gj_safepath_force_fallback(false);

        static const struct { int error; const char *what; } no_openat2[] = {
                { ENOSYS, "openat2 -> ENOSYS (seccomp): falls back to the walk by itself" },
                { EPERM, "openat2 -> EPERM (an old seccomp profile): falls back too" },
        };
        for (size_t i = 0; i < ELEMENTSOF(no_openat2); i++) {
                int r = run_without_openat2(rootfd, no_openat2[i].error);
                if (r == 100 || r == 101)
                        skip("cannot install the seccomp filter here (x86_64 only)", "%s", no_openat2[i].what);
                else
                        is_int(r, 0, "%s", no_openat2[i].what);
        }

        snapshot(host_path, host_after, sizeof(host_after));
        is_str(host_after, host_before, "the host directory is unchanged");

        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", base);
        ok(system(cmd) == 0 && access(base, F_OK) < 0, "scratch tree removed");
        if (host_etc_has_marker())
                remove_host_marker(); /* only if the test failed */
        return done_testing();
}
