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

#include "gpujail/cgroup.h"
#include "gpujail/util.h"

#define CGROUP_FILE_MAX (1024 * 1024)

/* ---- pure parsing ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *mountinfo_unescape(const char *s) {
        char *out = malloc(strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 3;
                } else
                        *o++ = *s;
        }
        *o = 0;
        return out;
}

static bool list_contains(const char *list, const char *item) {
        size_t len = strlen(item);

        for (const char *p = list; p && *p;) {
                const char *end = strchrnul(p, ',');
                if ((size_t)(end - p) == len && strncmp(p, item, len) == 0)
                        return true;
                p = *end ? end + 1 : end;
        }
        return false;
}

void gj_cgroup_mounts_done(struct gj_cgroup_mounts *m) {
        free(m->v1_devices);
        free(m->v1_devices_root);
        free(m->v2);
        free(m->v2_root);
        *m = (struct gj_cgroup_mounts){};
}

static int take_mount(char **ret_mnt, char **ret_root, const char *mnt, const char *root) {
        if (*ret_mnt) /* the first mount of a hierarchy wins */
                return 0;
        *ret_mnt = mountinfo_unescape(mnt);
        *ret_root = mountinfo_unescape(root);
        return *ret_mnt && *ret_root ? 0 : -ENOMEM;
}

int gj_cgroup_parse_mountinfo(const char *text, struct gj_cgroup_mounts *ret) {
        _cleanup_free_ char *copy = strdup(text);
        struct gj_cgroup_mounts m = {};
        int r = 0;

        if (!copy)
                return -ENOMEM;
        for (char *line = copy, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;

                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER */
                char *t[64], *save = NULL, *tok;
                size_t n = 0, sep = 0;
                for (char *p = line; n < ELEMENTSOF(t) && (tok = strtok_r(p, " ", &save)); p = NULL) {
                        if (!sep && n >= 6 && streq(tok, "-"))
                                sep = n;
                        t[n++] = tok;
                }
                if (!sep || sep + 3 >= n)
                        continue;
                const char *root = t[3], *mnt = t[4], *fstype = t[sep + 1], *super = t[sep + 3];
                if (streq(fstype, "cgroup2"))
                        r = take_mount(&m.v2, &m.v2_root, mnt, root);
                else if (streq(fstype, "cgroup") && list_contains(super, "devices"))
                        r = take_mount(&m.v1_devices, &m.v1_devices_root, mnt, root);
                if (r < 0) {
                        gj_cgroup_mounts_done(&m);
                        return r;
                }
        }
        *ret = m;
        return 0;
}

int gj_cgroup_parse_proc_cgroup(const char *text, char **ret_v1_devices, char **ret_v2) {
        _cleanup_free_ char *copy = strdup(text), *v1 = NULL, *v2 = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *line = copy, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                /* hierarchy-ID:controller-list:path (the path may hold ':') */
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2 || c2[1] != '/')
                        continue;
                *c1 = *c2 = 0;
                char **slot = streq(line, "0") && c1 + 1 == c2 ? &v2
                            : list_contains(c1 + 1, "devices") ? &v1 : NULL;
                if (slot && !*slot && !(*slot = strdup(c2 + 1)))
                        return -ENOMEM;
        }
        *ret_v1_devices = TAKE_PTR(v1);
        *ret_v2 = TAKE_PTR(v2);
        return 0;
}

int gj_cgroup_join(const char *mnt, const char *mnt_root, const char *path, char **ret) {
        const char *rest = path;

        /* A hierarchy mounted from a subtree (a cgroup namespace, a bind) shows
         * paths below that subtree only; a path outside it is not reachable here. */
        if (!streq(mnt_root, "/")) {
                rest = startswith(path, mnt_root);
                if (!rest || (*rest && *rest != '/'))
                        return -ENOENT;
        }
        while (*rest == '/')
                rest++;
        *ret = *rest ? strprintf("%s/%s", mnt, rest) : strdup(mnt);
        return *ret ? 0 : -ENOMEM;
}

/* ---- reading the host ---- */

int gj_cgroup_mounts_read(struct gj_cgroup_mounts *ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file("/proc/self/mountinfo", &text, NULL, 16 * CGROUP_FILE_MAX);

        if (r < 0)
                return log_error_errno(r, "cannot read /proc/self/mountinfo: %m");
        r = gj_cgroup_parse_mountinfo(text, ret);
        return r < 0 ? log_error_errno(r, "cannot parse /proc/self/mountinfo: %m") : 0;
}

int gj_cgroup_paths_of_pid(pid_t pid, char **ret_v1_dir, char **ret_v2_dir) {
        _cleanup_(gj_cgroup_mounts_done) struct gj_cgroup_mounts m = {};
        _cleanup_free_ char *path = strprintf("/proc/%i/cgroup", (int)pid), *text = NULL,
                            *v1 = NULL, *v2 = NULL, *dir1 = NULL, *dir2 = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = gj_cgroup_mounts_read(&m);
        if (r < 0)
                return r;
        r = read_full_file(path, &text, NULL, CGROUP_FILE_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", path);
        r = gj_cgroup_parse_proc_cgroup(text, &v1, &v2);
        if (r < 0)
                return log_error_errno(r, "cannot parse %s: %m", path);

        if (v1 && m.v1_devices) {
                r = gj_cgroup_join(m.v1_devices, m.v1_devices_root, v1, &dir1);
                if (r < 0)
                        return log_error_errno(r, "devices cgroup %s of pid %i is not below %s: %m",
                                               v1, (int)pid, m.v1_devices);
        }
        if (v2 && m.v2) {
                r = gj_cgroup_join(m.v2, m.v2_root, v2, &dir2);
                if (r < 0)
                        return log_error_errno(r, "cgroup %s of pid %i is not below %s: %m", v2,
                                               (int)pid, m.v2);
        }
        *ret_v1_dir = TAKE_PTR(dir1);
        *ret_v2_dir = TAKE_PTR(dir2);
        return 0;
}

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
        _cleanup_close_ int fd = -1;

        if (!path)
                return -ENOMEM;
        if (n > 0 && (fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW)) < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        for (size_t i = 0; i < n; i++) {
                if (!strchr("abc", rules[i].type) || rules[i].type == 0)
                        return log_error_errno(EINVAL, "device rule %zu has type '%c': %m", i,
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
                        log_warning_errno(errno, "cannot remove cgroup %s: %m", dir);
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

void gj_job_cgroup_destroy(struct gj_job_cgroup *cg) {
        if (cg->v2_prog_fd >= 0)
                close(cg->v2_prog_fd); /* the attachment goes when the cgroup does */
        cg->v2_prog_fd = -1;
        if (cg->v1_dir)
                remove_job_dir(cg->v1_dir);
        if (cg->v2_dir)
                remove_job_dir(cg->v2_dir);
        free(cg->v1_dir);
        free(cg->v2_dir);
        cg->v1_dir = cg->v2_dir = NULL;
}

/* Where a job's cgroups go: below the cgroup gpujail itself runs in (its
 * delegated subtree, or the root when run from a root shell). */
static int own_cgroup_dirs(char **ret_v1, char **ret_v2) {
        return gj_cgroup_paths_of_pid(getpid(), ret_v1, ret_v2);
}

static int setup_v1(struct gj_job_cgroup *cg, const char *parent, const char *id,
                    const struct gj_cgroup_rule *rules, size_t n) {
        int r = make_job_dir(parent, id, &cg->v1_dir);
        if (r < 0)
                return log_error_errno(r, "cannot create devices cgroup %s/gpujail/%s: %m", parent, id);
        r = gj_cgroup_v1_deny_all(cg->v1_dir);
        if (r < 0)
                return r;
        return gj_cgroup_v1_allow(cg->v1_dir, rules, n);
}

static int setup_v2(struct gj_job_cgroup *cg, const char *parent, const char *id,
                    const struct gj_cgroup_rule *rules, size_t n) {
        int r = make_job_dir(parent, id, &cg->v2_dir);
        if (r < 0)
                return log_error_errno(r, "cannot create cgroup %s/gpujail/%s: %m", parent, id);
        cg->v2_prog_fd = gj_cgroup_v2_attach(cg->v2_dir, rules, n, -1);
        return cg->v2_prog_fd < 0 ? cg->v2_prog_fd : 0;
}

int gj_job_cgroup_create_with(const char *id, const struct gj_cgroup_rule *rules, size_t n,
                              unsigned mechanisms, struct gj_job_cgroup *ret) {
        _cleanup_free_ char *v1_parent = NULL, *v2_parent = NULL;
        struct gj_job_cgroup cg = GJ_JOB_CGROUP_INIT;
        int r;

        *ret = (struct gj_job_cgroup)GJ_JOB_CGROUP_INIT;
        if (!valid_job_id(id))
                return log_error_errno(EINVAL, "invalid job cgroup name '%s': %m", id ? id : "");
        r = own_cgroup_dirs(&v1_parent, &v2_parent);
        if (r < 0)
                return r;
        if (!(mechanisms & GJ_CGROUP_V1))
                v1_parent = (free(v1_parent), NULL);
        if (!(mechanisms & GJ_CGROUP_V2))
                v2_parent = (free(v2_parent), NULL);
        if (!v1_parent && !v2_parent)
                return log_error_errno(EOPNOTSUPP, "no device cgroup to use here (asked for%s%s): %m",
                                       mechanisms & GJ_CGROUP_V1 ? " v1 devices" : "",
                                       mechanisms & GJ_CGROUP_V2 ? " cgroup2" : "");

        if (v1_parent)
                r = setup_v1(&cg, v1_parent, id, rules, n);
        if (r >= 0 && v2_parent)
                r = setup_v2(&cg, v2_parent, id, rules, n);
        if (r < 0) {
                gj_job_cgroup_destroy(&cg); /* nothing left behind */
                return r;
        }
        *ret = cg;
        return 0;
}

int gj_job_cgroup_create(const char *id, const struct gj_cgroup_rule *rules, size_t n,
                         struct gj_job_cgroup *ret) {
        return gj_job_cgroup_create_with(id, rules, n, GJ_CGROUP_V1 | GJ_CGROUP_V2, ret);
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
