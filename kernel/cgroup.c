/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding a process's device cgroups, cgroup v1 device rules, and the
 * launcher's job cgroups. See gpujail/cgroup.h and docs/cgroups.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/sched.h>

#include "kernel-syscalls.h"

#include "gpujail/cgroup.h"
#include "gpujail/util.h"

#define CGROUP_FILE_MAX (1024 * 1024)

/* ---- cgroup v1 ---- */

/* "c 195:0 rw", with '*' for a wildcard. */
static char *format_v1_rule(const struct gj_cgroup_rule *rule) {
        char major[16] = "*", minor[16] = "*";

        if (rule->type == 'a')
                return strdup("a");
        if (rule->major != GJ_WILDCARD)
                snprintf(major, sizeof(major), "%u", rule->major);
        if (rule->minor != GJ_WILDCARD)
                snprintf(minor, sizeof(minor), "%u", rule->minor);
        return strprintf("%c %s:%s %s", rule->type, major, minor,
                         isempty(rule->access) ? "rwm" : rule->access);
}

static int write_cgroup_file(const char *dir, const char *file, const char *value) {
        _cleanup_free_ char *path = strprintf("%s/%s", dir, file);

        if (!path)
                return -ENOMEM;
        int r = write_string_file(path, value);
        return r < 0 ? log_error_errno(r, "cannot write '%s' to %s: %m", value, path) : 0;
}

int gj_cgroup_v1_deny_all(const char *devices_dir) {
        return write_cgroup_file(devices_dir, "devices.deny", "a");
}

/* One open, then one write(2) per rule: the kernel takes each write as one rule. */
int gj_cgroup_v1_allow(const char *devices_dir, const struct gj_cgroup_rule *rules, size_t n) {
        _cleanup_free_ char *path = strprintf("%s/devices.allow", devices_dir);

        if (!path)
                return -ENOMEM;
        if (n == 0)
                return 0;
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        for (size_t i = 0; i < n; i++) {
                if (!strchr("abc", rules[i].type) || rules[i].type == 0)
                        return log_error_errno(-EINVAL, "device rule %zu has type '%c': %m", i,
                                               rules[i].type);
                _cleanup_free_ char *line = format_v1_rule(&rules[i]);
                if (!line)
                        return -ENOMEM;
                ssize_t k = write(fd, line, strlen(line));
                if (k != (ssize_t)strlen(line))
                        return log_error_errno(k < 0 ? -errno : -EIO, "cannot write '%s' to %s: %m", line, path);
        }
        return 0;
}

/* ---- a job's cgroups ---- */

static bool valid_job_id(const char *id) {
        return !isempty(id) && !strchr(id, '/') && !streq(id, ".") && !streq(id, "..") &&
               strlen(id) < 128;
}

/* <parent>/gpujail/<id>; -EEXIST if that job cgroup exists already. */
static int make_job_dir(const char *parent, const char *id, char **ret) {
        _cleanup_free_ char *base = strprintf("%s/gpujail", parent), *dir = NULL;

        if (!base)
                return -ENOMEM;
        dir = strprintf("%s/%s", base, id);
        if (!dir)
                return -ENOMEM;
        /* A concurrent destroy may remove an empty base between our two mkdirs: retry. */
        for (int attempt = 0;; attempt++) {
                if (mkdir(base, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (mkdir(dir, 0755) == 0)
                        break;
                if (errno != ENOENT || attempt >= 3)
                        return -errno;
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

static void kill_cgroup_members(const char *dir) {
        _cleanup_free_ char *kill_path = strprintf("%s/cgroup.kill", dir);
        _cleanup_free_ char *procs_path = strprintf("%s/cgroup.procs", dir), *text = NULL;

        if (kill_path && access(kill_path, F_OK) == 0 && write_string_file(kill_path, "1") == 0)
                return;
        if (!procs_path || read_full_file(procs_path, &text, NULL, CGROUP_FILE_MAX) < 0)
                return;
        for (char *p = text, *save = NULL, *tok; (tok = strtok_r(p, "\n", &save)); p = NULL) {
                int pid;
                if (safe_atoi(tok, &pid) == 0 && pid > 0)
                        (void)kill(pid, SIGKILL);
        }
}

/* rmdir the job's cgroup once its last process is gone, then the shared
 * "gpujail" parent if no other job uses it. */
static void remove_job_dir(const char *dir) {
        const struct timespec tick = { .tv_nsec = 5 * 1000 * 1000 };

        for (int i = 0; i < 400; i++) { /* ~2 s: a dying job leaves in milliseconds */
                if (rmdir(dir) == 0 || errno == ENOENT)
                        break;
                if (errno != EBUSY) {
                        log_warning_errno(-errno, "cannot remove cgroup %s: %m", dir);
                        return;
                }
                if (i == 100)
                        kill_cgroup_members(dir);
                nanosleep(&tick, NULL);
        }
        if (access(dir, F_OK) == 0) {
                log_warning("cannot remove cgroup %s: still busy", dir);
                return;
        }
        _cleanup_free_ char *parent = strdup(dir);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (slash) {
                *slash = 0;
                (void)rmdir(parent); /* ENOTEMPTY/EBUSY: another job is still there */
        }
}

static void close_fd(int *fd) {
        closep(fd);
        *fd = -1;
}

/* The fds that let a process join the job cgroups: needed until the init has. */
static void close_join_fds(struct gj_job_cgroup *cg) {
        close_fd(&cg->v1_tasks_fd);
        close_fd(&cg->v2_dir_fd);
        close_fd(&cg->cpuset_tasks_fd);
}

void gj_job_cgroup_destroy(struct gj_job_cgroup *cg) {
        close_fd(&cg->v2_prog_fd); /* the attachment goes when the cgroup does */
        close_join_fds(cg);
        if (cg->v1_dir)
                remove_job_dir(cg->v1_dir);
        if (cg->v2_dir)
                remove_job_dir(cg->v2_dir);
        if (cg->cpuset_dir)
                remove_job_dir(cg->cpuset_dir);
        free(cg->v1_dir);
        free(cg->v2_dir);
        free(cg->cpuset_dir);
        cg->v1_dir = cg->v2_dir = cg->cpuset_dir = NULL;
}

/* Where a job's cgroups go: below the cgroup gpujail itself runs in (its
 * delegated subtree, or the root when run from a root shell). */
static int own_cgroup_dirs(char **ret_v1, char **ret_v2) {
        return gj_cgroup_paths_of_pid(getpid(), ret_v1, ret_v2);
}

/* <dir>/tasks, for the job's init to write "0" into (v1: it moves itself). */
static int open_tasks(const char *dir) {
        _cleanup_free_ char *tasks = strprintf("%s/tasks", dir);
        if (!tasks)
                return -ENOMEM;
        int fd = open(tasks, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        return fd < 0 ? log_error_errno(-errno, "cannot open %s: %m", tasks) : fd;
}

static int make_v1(struct gj_job_cgroup *cg, const char *parent, const char *id) {
        int r = make_job_dir(parent, id, &cg->v1_dir);
        if (r < 0)
                return log_error_errno(r, "cannot create devices cgroup %s/gpujail/%s: %m", parent, id);
        r = gj_cgroup_v1_deny_all(cg->v1_dir);
        if (r < 0)
                return r;
        cg->v1_tasks_fd = open_tasks(cg->v1_dir);
        return cg->v1_tasks_fd < 0 ? cg->v1_tasks_fd : 0;
}

static int make_v2(struct gj_job_cgroup *cg, const char *parent, const char *id) {
        int r = make_job_dir(parent, id, &cg->v2_dir);
        if (r < 0)
                return log_error_errno(r, "cannot create cgroup %s/gpujail/%s: %m", parent, id);
        cg->v2_dir_fd = open(cg->v2_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return cg->v2_dir_fd < 0 ? log_error_errno(-errno, "cannot open cgroup %s: %m", cg->v2_dir) : 0;
}

/* ---- cpuset ---- */

/* dir's parent ("<...>/gpujail"), malloc'ed. */
static char *parent_of(const char *dir) {
        char *p = strdup(dir), *slash = p ? strrchr(p, '/') : NULL;
        if (slash)
                *slash = 0;
        return p;
}

/* The word `name` in a space-separated list file of dir (cgroup.controllers). */
static bool file_lists(const char *dir, const char *file, const char *name) {
        _cleanup_free_ char *path = strprintf("%s/%s", dir, file), *text = NULL;
        if (!path || read_full_file(path, &text, NULL, CGROUP_FILE_MAX) < 0)
                return false;
        for (char *p = text, *save = NULL, *tok; (tok = strtok_r(p, " \n", &save)); p = NULL)
                if (streq(tok, name))
                        return true;
        return false;
}

static int v2_cpuset(struct gj_job_cgroup *cg, const char *cpus, const char *mems) {
        int r;
        if ((r = write_cgroup_file(cg->v2_dir, "cpuset.cpus", cpus)) < 0)
                return r;
        return mems ? write_cgroup_file(cg->v2_dir, "cpuset.mems", mems) : 0;
}

static int read_cgroup_file(const char *dir, const char *file, char **ret) {
        _cleanup_free_ char *path = strprintf("%s/%s", dir, file);
        if (!path)
                return -ENOMEM;
        int r = read_full_file(path, ret, NULL, CGROUP_FILE_MAX);
        return r < 0 ? log_error_errno(r, "cannot read %s: %m", path) : 0;
}

/* A new v1 cpuset cgroup has no CPUs nor memory: dir takes its parent's. */
static int v1_cpuset_fill(const char *dir) {
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
        _cleanup_free_ char *parent = parent_of(dir);
        if (!parent)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *mine = NULL, *theirs = NULL;
                int r = read_cgroup_file(dir, files[i], &mine);
                if (r < 0)
                        return r;
                if (!isempty(mine) && !streq(mine, "\n"))
                        continue;
                if ((r = read_cgroup_file(parent, files[i], &theirs)) < 0 ||
                    (r = write_cgroup_file(dir, files[i], theirs)) < 0)
                        return r;
        }
        return 0;
}

/* Before the clone: <cpuset>/<our cgroup>/gpujail/<id>, with its parent's CPUs and memory
 * until gj_job_cgroup_cpuset narrows them, and its tasks fd for the init. */
static int make_v1_cpuset(struct gj_job_cgroup *cg, const char *parent, const char *id) {
        _cleanup_free_ char *base = strprintf("%s/gpujail", parent);
        int r;
        if (!base)
                return -ENOMEM;
        if ((r = make_job_dir(parent, id, &cg->cpuset_dir)) < 0)
                return log_error_errno(r, "cannot create cpuset cgroup %s/%s: %m", base, id);
        if ((r = v1_cpuset_fill(base)) < 0 || (r = v1_cpuset_fill(cg->cpuset_dir)) < 0)
                return r;
        /* Its parent balances over these CPUs already; a load-balanced v1 cpuset
         * rebuilds the scheduler's domains on each cpus write and on rmdir. */
        if ((r = write_cgroup_file(cg->cpuset_dir, "cpuset.sched_load_balance", "0")) < 0)
                return r;
        cg->cpuset_tasks_fd = open_tasks(cg->cpuset_dir);
        return cg->cpuset_tasks_fd < 0 ? cg->cpuset_tasks_fd : 0;
}

/* cgroup2's cpuset where it is there for gpujail/, else a v1 cpuset cgroup, else none. */
static int make_cpuset(struct gj_job_cgroup *cg, const char *id) {
        if (cg->v2_dir) {
                _cleanup_free_ char *base = parent_of(cg->v2_dir);
                if (!base)
                        return -ENOMEM;
                /* gpujail/ is ours: the job's cgroup gets its cpuset files at once */
                if (file_lists(base, "cgroup.controllers", "cpuset")) {
                        int r = write_cgroup_file(base, "cgroup.subtree_control", "+cpuset");
                        cg->cpuset_v2 = r == 0;
                        return r;
                }
        }
        _cleanup_free_ char *parent = NULL;
        int r = gj_cgroup_v1_dir_of_self("cpuset", &parent);
        if (r < 0 || !parent)
                return r;
        return make_v1_cpuset(cg, parent, id);
}

int gj_job_cgroup_cpuset(struct gj_job_cgroup *cg, const char *cpus, const char *mems,
                         const char **ret_why) {
        int r;
        *ret_why = NULL;
        if (cg->cpuset_v2) {
                r = v2_cpuset(cg, cpus, mems);
                return r < 0 ? r : 1;
        }
        if (!cg->cpuset_dir) {
                *ret_why = cg->v2_dir
                                   ? "no cpuset controller (cgroup2 offers gpujail's cgroup none)"
                                   : "no cpuset controller";
                return 0;
        }
        if ((r = write_cgroup_file(cg->cpuset_dir, "cpuset.cpus", cpus)) < 0 ||
            (mems && (r = write_cgroup_file(cg->cpuset_dir, "cpuset.mems", mems)) < 0))
                return r;
        return 1;
}

int gj_job_cgroup_make(const char *id, unsigned mechanisms, struct gj_job_cgroup *ret) {
        _cleanup_free_ char *v1_parent = NULL, *v2_parent = NULL;
        /* destroyed on failure: nothing left behind */
        _cleanup_(gj_job_cgroup_destroy) struct gj_job_cgroup cg = GJ_JOB_CGROUP_INIT;
        int r;

        *ret = (struct gj_job_cgroup)GJ_JOB_CGROUP_INIT;
        if (!valid_job_id(id))
                return log_error_errno(-EINVAL, "invalid job cgroup name '%s': %m", id ? id : "");
        r = own_cgroup_dirs(&v1_parent, &v2_parent);
        if (r < 0)
                return r;
        if (!(mechanisms & GJ_CGROUP_V1))
                free(TAKE_PTR(v1_parent));
        if (!(mechanisms & GJ_CGROUP_V2))
                free(TAKE_PTR(v2_parent));
        if ((mechanisms & GJ_CGROUP_CPUSET) && !v1_parent && !v2_parent)
                return log_error_errno(-EINVAL, "a cpuset needs a device cgroup too: %m");
        if (!v1_parent && !v2_parent)
                return log_error_errno(-EOPNOTSUPP, "no device cgroup to use here (asked for%s%s): %m",
                                       mechanisms & GJ_CGROUP_V1 ? " v1 devices" : "",
                                       mechanisms & GJ_CGROUP_V2 ? " cgroup2" : "");

        if (v1_parent && (r = make_v1(&cg, v1_parent, id)) < 0)
                return r;
        if (v2_parent && (r = make_v2(&cg, v2_parent, id)) < 0)
                return r;
        if ((mechanisms & GJ_CGROUP_CPUSET) && (r = make_cpuset(&cg, id)) < 0)
                return r;
        *ret = cg;
        cg = (struct gj_job_cgroup)GJ_JOB_CGROUP_INIT;
        return 0;
}

int gj_job_cgroup_restrict(struct gj_job_cgroup *cg, const struct gj_cgroup_rule *rules, size_t n) {
        int r;
        if (cg->v1_dir && (r = gj_cgroup_v1_allow(cg->v1_dir, rules, n)) < 0)
                return r;
        if (cg->v2_dir) {
                cg->v2_prog_fd = gj_cgroup_v2_attach(cg->v2_dir, rules, n, -1);
                if (cg->v2_prog_fd < 0)
                        return cg->v2_prog_fd;
        }
        return 0;
}

int gj_job_cgroup_create_with(const char *id, const struct gj_cgroup_rule *rules, size_t n,
                              unsigned mechanisms, struct gj_job_cgroup *ret) {
        int r = gj_job_cgroup_make(id, mechanisms, ret);
        if (r < 0)
                return r;
        if ((r = gj_job_cgroup_restrict(ret, rules, n)) < 0)
                gj_job_cgroup_destroy(ret);
        return r;
}

int gj_job_cgroup_create(const char *id, const struct gj_cgroup_rule *rules, size_t n,
                         struct gj_job_cgroup *ret) {
        return gj_job_cgroup_create_with(id, rules, n, GJ_CGROUP_V1 | GJ_CGROUP_V2, ret);
}

pid_t gj_job_cgroup_clone(struct gj_job_cgroup *cg, unsigned long flags) {
        if (cg->v2_dir_fd >= 0) {
                struct clone_args args = {
                        .flags = flags | CLONE_INTO_CGROUP,
                        .exit_signal = SIGCHLD,
                        .cgroup = (uint64_t)cg->v2_dir_fd,
                };
                pid_t pid = sys_clone3(&args, sizeof(args));
                if (pid >= 0) {
                        cg->v2_joined = true;
                        return pid;
                }
                /* ENOSYS: before 5.3, seccomp, valgrind; E2BIG/EINVAL: no CLONE_INTO_CGROUP (< 5.7) */
                if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
                        return -errno;
        }
        /* raw clone: fork semantics (no stack), plus namespaces */
        pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
        return pid < 0 ? -errno : pid;
}

int gj_job_cgroup_join_self(struct gj_job_cgroup *cg) {
        int r = 0;
        if (cg->cpuset_tasks_fd >= 0 && write(cg->cpuset_tasks_fd, "0", 1) != 1)
                r = log_error_errno(-errno, "cannot join cpuset cgroup %s: %m", cg->cpuset_dir);
        if (r == 0 && cg->v1_tasks_fd >= 0 && write(cg->v1_tasks_fd, "0", 1) != 1)
                r = log_error_errno(-errno, "cannot join devices cgroup %s: %m", cg->v1_dir);
        if (r == 0 && cg->v2_dir_fd >= 0 && !cg->v2_joined) {
                _cleanup_close_ int fd = openat(cg->v2_dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0 || write(fd, "0", 1) != 1)
                        r = log_error_errno(-errno, "cannot join cgroup %s: %m", cg->v2_dir);
        }
        close_join_fds(cg);
        return r;
}

int gj_job_cgroup_enter(const struct gj_job_cgroup *cg, pid_t pid) {
        char buf[16];
        int r;

        snprintf(buf, sizeof(buf), "%i", (int)pid);
        if (cg->v1_dir) {
                r = write_cgroup_file(cg->v1_dir, "cgroup.procs", buf);
                if (r < 0)
                        return r;
        }
        if (cg->v2_dir) {
                r = write_cgroup_file(cg->v2_dir, "cgroup.procs", buf);
                if (r < 0)
                        return r;
        }
        return 0;
}
