/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a process's device cgroups are (kernel/cgroup-paths.c): parsers of
 * /proc/self/mountinfo and /proc/<pid>/cgroup text (pure, unit-tested), and
 * the reads that feed them.
 */
#pragma once

#include <sys/types.h>

/* ---- a container's cgroup (the hook) ---- */
/* Read /proc/<pid>/cgroup and return the devices v1 dir and the v2 dir (either
 * may be NULL: no such hierarchy mounted, or the pid is in none). Mount points
 * come from the caller's /proc/self/mountinfo: call it in the host's mount
 * namespace (the hook: before setns). Logs its errors. */
int gj_cgroup_paths_of_pid(pid_t pid, char **ret_v1_dir, char **ret_v2_dir);

/* The calling process's cgroup in the v1 hierarchy of `controller` ("cpuset"):
 * 0 with *ret NULL when no such hierarchy is mounted or reachable here. Logs
 * its errors. */
int gj_cgroup_v1_dir_of_self(const char *controller, char **ret);

/* ---- pure parts, unit-tested ---- */
/* The same from the texts of mountinfo and /proc/<pid>/cgroup; -ENOMEM. */
int gj_cgroup_parse_v1_dir(const char *mountinfo, const char *proc_cgroup, const char *controller,
                           char **ret);
struct gj_cgroup_mounts {
        char *v1_devices;      /* mount point of the v1 devices hierarchy, or NULL */
        char *v1_devices_root; /* the hierarchy path mounted there ("/" normally) */
        char *v2;              /* mount point of cgroup2, or NULL */
        char *v2_root;
};
int gj_cgroup_parse_mountinfo(const char *text, struct gj_cgroup_mounts *ret);
void gj_cgroup_mounts_done(struct gj_cgroup_mounts *m);
int gj_cgroup_mounts_read(struct gj_cgroup_mounts *ret); /* /proc/self/mountinfo; logs */
/* From /proc/<pid>/cgroup text: the devices v1 path and the v2 ("0::") path. */
int gj_cgroup_parse_proc_cgroup(const char *text, char **ret_v1_devices, char **ret_v2);
/* mnt + path, where the mount shows the hierarchy from mnt_root: -ENOENT if
 * path is not below mnt_root. */
int gj_cgroup_join(const char *mnt, const char *mnt_root, const char *path, char **ret);
