/* SPDX-License-Identifier: Apache-2.0 */
/* Where a process's device cgroups are: parsing mountinfo and /proc/<pid>/cgroup
 * (pure), and reading them for a pid. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "gpujail/cgroup-paths.h"
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

/* A mountinfo line, split in place: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [OPTIONAL...] - FSTYPE SOURCE SUPER" (ROOT and MOUNTPOINT still escaped).
 * false for a line without all of them. */
struct mountinfo_line {
        const char *root, *mnt, *fstype, *super;
};

static bool mountinfo_split(char *line, struct mountinfo_line *ret) {
        char *t[64], *save = NULL, *tok;
        size_t n = 0, sep = 0;
        for (char *p = line; n < ELEMENTSOF(t) && (tok = strtok_r(p, " ", &save)); p = NULL) {
                if (!sep && n >= 6 && streq(tok, "-"))
                        sep = n;
                t[n++] = tok;
        }
        if (!sep || sep + 3 >= n)
                return false;
        *ret = (struct mountinfo_line){ .root = t[3], .mnt = t[4], .fstype = t[sep + 1], .super = t[sep + 3] };
        return true;
}

int gj_cgroup_parse_mountinfo(const char *text, struct gj_cgroup_mounts *ret) {
        _cleanup_free_ char *copy = strdup(text);
        _cleanup_(gj_cgroup_mounts_done) struct gj_cgroup_mounts m = {};
        int r = 0;

        if (!copy)
                return -ENOMEM;
        for (char *rest = copy, *line; (line = strsep(&rest, "\n"));) {
                struct mountinfo_line l;
                if (!mountinfo_split(line, &l))
                        continue;
                if (streq(l.fstype, "cgroup2"))
                        r = take_mount(&m.v2, &m.v2_root, l.mnt, l.root);
                else if (streq(l.fstype, "cgroup") && list_contains(l.super, "devices"))
                        r = take_mount(&m.v1_devices, &m.v1_devices_root, l.mnt, l.root);
                if (r < 0)
                        return r;
        }
        *ret = m;
        m = (struct gj_cgroup_mounts){};
        return 0;
}

/* The path of the first /proc/<pid>/cgroup line ("hierarchy-ID:controller-list:path",
 * the path may hold ':') of a v1 hierarchy listing `controller`, or with controller
 * NULL of the cgroup2 one ("0::path"); NULL if there is none. */
static int proc_cgroup_path(const char *text, const char *controller, char **ret) {
        _cleanup_free_ char *copy = strdup(text);
        *ret = NULL;
        if (!copy)
                return -ENOMEM;
        for (char *rest = copy, *line; (line = strsep(&rest, "\n"));) {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2 || c2[1] != '/')
                        continue;
                *c1 = *c2 = 0;
                if (controller ? list_contains(c1 + 1, controller) : streq(line, "0") && c1 + 1 == c2)
                        return (*ret = strdup(c2 + 1)) ? 0 : -ENOMEM;
        }
        return 0;
}

int gj_cgroup_parse_proc_cgroup(const char *text, char **ret_v1_devices, char **ret_v2) {
        _cleanup_free_ char *v1 = NULL, *v2 = NULL;
        int r;
        if ((r = proc_cgroup_path(text, "devices", &v1)) < 0 || (r = proc_cgroup_path(text, NULL, &v2)) < 0)
                return r;
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

/*
 * Where the hierarchies are, without /proc/self/mountinfo where that is safe:
 * the kernel writes mountinfo out line by line on every read (~0.4 ms for 114
 * mounts on a 2-vCPU VM; a host running containers has more), twice the cost
 * of the rest of the lookup. The usual places are taken only when each is a
 * mount of its hierarchy's root, and only in the initial cgroup namespace,
 * where /proc/<pid>/cgroup paths are absolute in the hierarchy: then
 * <mount point><path> is the pid's cgroup. Anything else: mountinfo.
 */
#define PROC_CGROUP_INIT_INO 0xEFFFFFFBU /* include/linux/proc_ns.h */

static bool in_initial_cgroup_ns(void) {
        struct stat st;
        return stat("/proc/self/ns/cgroup", &st) == 0 && st.st_ino == PROC_CGROUP_INIT_INO;
}

/* A cgroup file system of this magic at dir, with (or without) each file named. */
static bool cgroup_fs_at(const char *dir, long magic, const char *const *with, const char *without) {
        struct statfs sfs;
        if (statfs(dir, &sfs) < 0 || sfs.f_type != magic)
                return false;
        _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return false;
        for (; with && *with; with++)
                if (faccessat(fd, *with, F_OK, 0) < 0)
                        return false;
        return !without || (faccessat(fd, without, F_OK, 0) < 0 && errno == ENOENT);
}

/* The v1 devices hierarchy's root: release_agent is only on a hierarchy's root. */
static const char *usual_v1_devices_mount(void) {
        static const char *const with[] = { "devices.list", "release_agent", NULL };
        const char *dir = "/sys/fs/cgroup/devices";
        return cgroup_fs_at(dir, CGROUP_SUPER_MAGIC, with, NULL) ? dir : NULL;
}

/* cgroup2's root (pure v2, or hybrid's "unified"): every cgroup but the root has cgroup.events. */
static const char *usual_v2_mount(void) {
        static const char *const dirs[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (cgroup_fs_at(dirs[i], CGROUP2_SUPER_MAGIC, NULL, "cgroup.events"))
                        return dirs[i];
        return NULL;
}

/* 1 with both dirs (or NULL where the pid is in no such hierarchy), 0 if the
 * usual places do not do: ask mountinfo. */
static int paths_at_usual_mounts(const char *v1, const char *v2, char **ret_dir1, char **ret_dir2) {
        const char *m1 = NULL, *m2 = NULL;
        if (!in_initial_cgroup_ns())
                return 0;
        if ((v1 && !(m1 = usual_v1_devices_mount())) || (v2 && !(m2 = usual_v2_mount())))
                return 0;
        _cleanup_free_ char *dir1 = NULL, *dir2 = NULL;
        if ((m1 && gj_cgroup_join(m1, "/", v1, &dir1) < 0) || (m2 && gj_cgroup_join(m2, "/", v2, &dir2) < 0))
                return -ENOMEM;
        *ret_dir1 = TAKE_PTR(dir1);
        *ret_dir2 = TAKE_PTR(dir2);
        return 1;
}

int gj_cgroup_paths_of_pid(pid_t pid, char **ret_v1_dir, char **ret_v2_dir) {
        _cleanup_(gj_cgroup_mounts_done) struct gj_cgroup_mounts m = {};
        _cleanup_free_ char *path = strprintf("/proc/%i/cgroup", (int)pid), *text = NULL,
                            *v1 = NULL, *v2 = NULL, *dir1 = NULL, *dir2 = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, &text, NULL, CGROUP_FILE_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", path);
        r = gj_cgroup_parse_proc_cgroup(text, &v1, &v2);
        if (r < 0)
                return log_error_errno(r, "cannot parse %s: %m", path);
        r = paths_at_usual_mounts(v1, v2, ret_v1_dir, ret_v2_dir);
        if (r != 0)
                return r < 0 ? r : 0;

        r = gj_cgroup_mounts_read(&m);
        if (r < 0)
                return r;
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

/* ---- a v1 controller's hierarchy (cpuset) ---- */

/* The first cgroup (v1) mount whose super options list `controller`. */
static int v1_mount_of(const char *mountinfo, const char *controller, char **ret_mnt,
                       char **ret_root) {
        _cleanup_free_ char *copy = strdup(mountinfo);
        if (!copy)
                return -ENOMEM;
        for (char *rest = copy, *line; (line = strsep(&rest, "\n"));) {
                struct mountinfo_line l;
                if (mountinfo_split(line, &l) && streq(l.fstype, "cgroup") &&
                    list_contains(l.super, controller))
                        return take_mount(ret_mnt, ret_root, l.mnt, l.root);
        }
        return 0;
}

int gj_cgroup_parse_v1_dir(const char *mountinfo, const char *proc_cgroup, const char *controller,
                           char **ret) {
        _cleanup_free_ char *mnt = NULL, *root = NULL, *path = NULL;
        int r;
        *ret = NULL;
        if ((r = v1_mount_of(mountinfo, controller, &mnt, &root)) < 0 ||
            (r = proc_cgroup_path(proc_cgroup, controller, &path)) < 0)
                return r;
        if (!mnt || !path)
                return 0;
        r = gj_cgroup_join(mnt, root, path, ret);
        return r == -ENOENT ? 0 : r;
}

/* /sys/fs/cgroup/cpuset when it is that hierarchy's root, in the initial cgroup
 * namespace (as paths_at_usual_mounts): then no mountinfo is read. 1 with *ret
 * (NULL if the process is in none), 0 to ask mountinfo. */
static int v1_cpuset_at_usual_mount(const char *proc_cgroup, char **ret) {
        static const char *const with[] = { "cpuset.cpus", "release_agent", NULL };
        const char *mnt = "/sys/fs/cgroup/cpuset";
        _cleanup_free_ char *path = NULL;
        if (!in_initial_cgroup_ns() || !cgroup_fs_at(mnt, CGROUP_SUPER_MAGIC, with, NULL))
                return 0;
        int r = proc_cgroup_path(proc_cgroup, "cpuset", &path);
        if (r < 0)
                return r;
        if (path && (r = gj_cgroup_join(mnt, "/", path, ret)) < 0)
                return r;
        return 1;
}

int gj_cgroup_v1_dir_of_self(const char *controller, char **ret) {
        _cleanup_free_ char *mountinfo = NULL, *proc_cgroup = NULL;
        int r;
        *ret = NULL;
        if ((r = read_full_file("/proc/self/cgroup", &proc_cgroup, NULL, CGROUP_FILE_MAX)) < 0)
                return log_error_errno(r, "cannot read /proc/self/cgroup: %m");
        if (streq(controller, "cpuset") && (r = v1_cpuset_at_usual_mount(proc_cgroup, ret)) != 0)
                return r < 0 ? log_error_errno(r, "cannot find the cpuset cgroup: %m") : 0;
        r = read_full_file("/proc/self/mountinfo", &mountinfo, NULL, 16 * CGROUP_FILE_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read /proc/self/mountinfo: %m");
        r = gj_cgroup_parse_v1_dir(mountinfo, proc_cgroup, controller, ret);
        return r < 0 ? log_error_errno(r, "cannot find the %s cgroup: %m", controller) : 0;
}
