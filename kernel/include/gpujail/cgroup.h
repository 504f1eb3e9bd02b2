/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device cgroup enforcement (kernel/cgroup.c): default deny plus one allow
 * rule per node placed in /dev.
 *  - cgroup v1: "a" written to devices.deny, then each rule to devices.allow.
 *  - cgroup v2: a device program (gpujail/bpf-devices.h).
 * Where the cgroups are: gpujail/cgroup-paths.h.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gpujail/bpf-devices.h"
#include "gpujail/cgroup-paths.h"
#include "gpujail/plan.h"

/* ---- cgroup v1 ---- */
/* Each write is logged on failure naming the file ("cannot write 'c 195:0 rw'
 * to <dir>/devices.allow: ..."). */
int gj_cgroup_v1_deny_all(const char *devices_dir);
int gj_cgroup_v1_allow(const char *devices_dir, const struct gj_cgroup_rule *rules, size_t n);

/* ---- a job's cgroup (the launcher); see docs/cgroups.md ---- */
struct gj_job_cgroup {
        char *v1_dir;  /* <v1 devices>/<our cgroup>/gpujail/<id>, NULL if not used */
        char *v2_dir;  /* <cgroup2>/<our cgroup>/gpujail/<id>, NULL if not used */
        int v2_prog_fd; /* -1 if none */
        int v1_tasks_fd; /* <v1_dir>/tasks, for the job's init to move itself; -1 if none */
        int v2_dir_fd;   /* v2_dir, for clone3(CLONE_INTO_CGROUP); -1 if none */
        bool v2_joined;  /* the init was born in v2_dir (gj_job_cgroup_clone) */
        bool cpuset_v2;  /* cpuset in v2_dir (GJ_CGROUP_CPUSET, where cgroup2 has it) */
        char *cpuset_dir;    /* else v1: <cpuset>/<our cgroup>/gpujail/<id>, NULL if not used */
        int cpuset_tasks_fd; /* <cpuset_dir>/tasks, for the init; -1 if none */
};
#define GJ_JOB_CGROUP_INIT                                                                         \
        {                                                                                          \
                .v1_dir = NULL, .v2_dir = NULL, .v2_prog_fd = -1, .v1_tasks_fd = -1,               \
                .v2_dir_fd = -1, .cpuset_dir = NULL, .cpuset_tasks_fd = -1                         \
        }

enum gj_cgroup_mechanism {
        GJ_CGROUP_V1 = 1 << 0,     /* v1 devices controller: devices.deny/devices.allow */
        GJ_CGROUP_V2 = 1 << 1,     /* cgroup2: an eBPF device program */
        GJ_CGROUP_CPUSET = 1 << 2, /* also get a cpuset ready (gj_job_cgroup_cpuset) */
};
/* Create the job's cgroups below the cgroup the caller runs in, deny all
 * devices, allow `rules` (give it plan->rules plus gj_devfs_default_rules).
 * Uses every mechanism the host has (both, on a hybrid host: the kernel
 * enforces both). -EOPNOTSUPP (logged) if none. Nothing is left behind on
 * failure; *ret is always initialised (GJ_JOB_CGROUP_INIT on failure). */
int gj_job_cgroup_create(const char *id, const struct gj_cgroup_rule *rules, size_t n,
                         struct gj_job_cgroup *ret);
/* The same, limited to `mechanisms` (GJ_CGROUP_V1|GJ_CGROUP_V2): for tests and
 * a --cgroup option. -EOPNOTSUPP if none of them is available. */
int gj_job_cgroup_create_with(const char *id, const struct gj_cgroup_rule *rules, size_t n,
                              unsigned mechanisms, struct gj_job_cgroup *ret);
/* Move pid into the job's cgroups (before it execs the command). */
int gj_job_cgroup_enter(const struct gj_job_cgroup *cg, pid_t pid);

/*
 * The same in steps, for a job's init that joins its cgroups without being
 * moved by pid (a move by pid write-locks the kernel's global threadgroup
 * rwsem, which waits for an RCU grace period: the launcher's long tail):
 *  1. gj_job_cgroup_make: before the init exists, the cgroups, v1 denying
 *     every device, v2 with no program yet (nothing runs there yet);
 *  2. gj_job_cgroup_clone: the init, born in the v2 cgroup (clone3 with
 *     CLONE_INTO_CGROUP) where the kernel has it, else a plain clone;
 *  3. gj_job_cgroup_restrict: the allow rules, v1 and v2, once planned;
 *  4. gj_job_cgroup_join_self, in the init before it runs anything of the job:
 *     the v1 cgroup by writing "0" to `tasks` (a thread moving itself skips
 *     the rwsem: cgroup_procs_write_start), v2 by "0" to cgroup.procs unless
 *     born there.
 * make: errors as gj_job_cgroup_create; *ret always initialised, nothing left
 * behind on failure. restrict: errors logged, naming the file. */
int gj_job_cgroup_make(const char *id, unsigned mechanisms, struct gj_job_cgroup *ret);
int gj_job_cgroup_restrict(struct gj_job_cgroup *cg, const struct gj_cgroup_rule *rules, size_t n);
/* Step 3b, with the rules, before the init's go: bind the job's CPUs and memory
 * nodes (kernel list form; mems NULL: the parent's), where make had
 * GJ_CGROUP_CPUSET. cgroup2 when its cpuset controller is there for gpujail/
 * (`+cpuset` is then written to the subtree_control of <our cgroup>/gpujail,
 * gpujail's own, removed with it; never to the caller's cgroup):
 * cpuset.cpus and cpuset.mems of v2_dir, which the kernel applies to the
 * born-in init at once. Else the v1 cpuset hierarchy: make created
 * <cpuset>/<our cgroup>/gpujail/<id> before the clone (gpujail/ and it given
 * their parent's cpus and mems, as a new v1 cpuset has none) and the init
 * joins it in gj_job_cgroup_join_self, after the go.
 * Returns 1 when bound, 0 when no cpuset is available here (*ret_why, static,
 * says why; nothing changed), a negative errno logged naming the file. */
int gj_job_cgroup_cpuset(struct gj_job_cgroup *cg, const char *cpus, const char *mems,
                         const char **ret_why);
/* clone(2) with `flags` (namespaces; SIGCHLD is added), like fork: returns the
 * child's pid, 0 in the child, -errno (not logged) on failure. Born in the v2
 * cgroup when cg has one and the kernel takes CLONE_INTO_CGROUP (>= 5.7; not
 * under seccomp profiles that refuse clone3, nor valgrind): sets v2_joined. */
pid_t gj_job_cgroup_clone(struct gj_job_cgroup *cg, unsigned long flags);
/* In the child: join what it was not born in, close the fds it inherited for
 * that. Returns 0 or a negative errno, logged. */
int gj_job_cgroup_join_self(struct gj_job_cgroup *cg);
/* Remove what create made: waits (~2 s, SIGKILLing what is left after 0.5 s)
 * for the cgroups to empty, rmdirs them and the shared gpujail/ parent when
 * empty, closes the program fd. Safe on a GJ_JOB_CGROUP_INIT value and twice. */
void gj_job_cgroup_destroy(struct gj_job_cgroup *cg);
