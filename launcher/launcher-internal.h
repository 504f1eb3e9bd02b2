/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of the launcher share. Everything the child needs is computed
 * by the parent before clone (NSS lookups, the plan, the cwd): after
 * pivot_root the host's /etc may be gone, and a failure found early costs no
 * namespace.
 */
#pragma once

#include <stdbool.h>
#include <sys/capability.h>
#include <sys/types.h>

#include "gpujail/creds.h"
#include "gpujail/launcher.h"
#include "gpujail/lease-lock.h"
#include "gpujail/plan.h"
#include "gpujail/policy.h"

struct gj_job {
        const struct gj_launch_opts *opts;
        const struct gj_caller *caller; /* who asked (root, or a user root acts for) */
        const struct gj_grant *grant;   /* the policy's word for a user; NULL for root */
        bool refused;                   /* the policy refused it (for the audit line) */
        const struct gj_plan *plan;
        char *cwd;               /* where the job starts (and, in the default view, bound rw) */
        char **keep_gpus;        /* PCI bus ids whose /proc/driver/nvidia/gpus entry stays */
        char **env;              /* "KEY=VALUE" added to the job's environment */
        bool userns;             /* not root: a user namespace, no device cgroup */
        struct gj_cgroup_rule *rules; /* as root: the job cgroup's allow list (/dev's nodes) */
        size_t n_rules;
        int *lease_fds; /* the leases' fds: the init keeps them open (not owned) */
        size_t n_lease_fds;

        /* who the job runs as */
        bool switch_user;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        int n_groups;
        bool set_groups;         /* false in a user namespace (setgroups is denied there) */
        cap_value_t *caps;       /* kept capabilities (--cap-add) */
        size_t n_caps;
};

/* Whose rights gpujail uses to open what the caller named (bind sources, the
 * rootfs, the working directory) and to create mount points: NULL for root
 * itself and in a user namespace (we are the caller there). */
static inline bool gj_job_acts_for_user(const struct gj_job *job) {
        return job->caller && job->caller->kind == GJ_CALLER_USER;
}
static inline struct gj_identity gj_caller_identity(const struct gj_caller *c) {
        return (struct gj_identity){ .uid = c->uid, .gid = c->gid, .groups = c->groups, .n_groups = c->n_groups };
}

/* launcher-policy.c: a caller who is not root, checked against the policy.
 * -EPERM, logged naming the option and the policy line that would allow it. */
int gj_launcher_check_options(const struct gj_caller *c, const struct gj_launch_opts *o,
                              const struct gj_grant *g);
int gj_launcher_check_gpus(const struct gj_caller *c, const struct gj_grant *g,
                           const struct gj_inventory *inv, const struct gj_selection *sel);
/* Refuse a selection with a GPU Slurm did not allocate: -EPERM, logged, naming it
 * and the allocated ones; 0 when allowed or not in a Slurm job. */
int gj_launcher_check_slurm(const struct gj_inventory *inv, const struct gj_selection *sel);
/* One audit line (syslog; stderr with GPUJAIL_DEBUG) for a user's run:
 * decision "allowed", "refused" (by the policy) or "failed" (gpujail's error).
 * Nothing for root itself. */
void gj_launcher_audit(const struct gj_job *job, const char *decision);

/* The GPUs this caller may use, resolved on this host: every GPU for root
 * (grant NULL), the policy's gpus for a user; inside a Slurm job, only those
 * of them Slurm allocated (gj_launcher_slurm_allowed). The one place that
 * decides it for `--gpu auto`; an explicit selection is held to the same two
 * by gj_launcher_check_gpus and gj_launcher_check_slurm, each refusal naming
 * its source. On a host without accelerators, an empty selection. Logged. */
int gj_launcher_allowed_gpus(const struct gj_caller *c, const struct gj_grant *g,
                             const struct gj_inventory *inv, struct gj_selection *ret);

/* launcher-lease.c: the job's leases (gpujail/lease.h). The fds in v hold
 * them: closing them (gj_job_leases_done) releases them. */
struct gj_job_leases {
        int dir_fd;
        struct gj_lease *v;
        size_t n;
        struct gj_lease_holder me; /* what we wrote into each lease */
        const char *reason;        /* why auto picked these (static) */
        int interrupted;           /* the signal that ended --wait (Ctrl-C: SIGINT); 0 */
};
#define GJ_JOB_LEASES_INIT { .dir_fd = -1 }
void gj_job_leases_done(struct gj_job_leases *l);
/* --gpu auto:N: take `want` free GPUs among `allowed` (all or none) and
 * return them as a selection (sorted by index). -EBUSY, logged with who
 * holds each allowed GPU, when there are not enough free. init: the job's
 * init on the host, for the record. Other errors logged. */
int gj_launcher_lease_auto(const struct gj_job *job, const struct gj_selection *allowed,
                           unsigned want, pid_t init, struct gj_job_leases *l,
                           struct gj_selection *ret);
/* An explicit selection: take every selected GPU's lease or none; -EBUSY,
 * logged naming who holds the first one held. Nothing for an empty one. */
int gj_launcher_lease_selected(const struct gj_job *job, const struct gj_selection *sel, pid_t init,
                               struct gj_job_leases *l);
/* The leases' fds, for the init (*ret replaced; the fds stay l's). -ENOMEM. */
int gj_launcher_lease_fds(const struct gj_job_leases *l, int **ret, size_t *ret_n);
/* Write the job's cgroup into its leases' records. Logged. */
int gj_launcher_lease_cgroup(struct gj_job_leases *l, const char *cgroup);

/* launcher-numa.c: bind the job cgroup's cpuset to the NUMA node(s) of the
 * plan's GPUs (gpujail/numa.h), on a host with more than one node unless
 * --no-numa-bind; what it bound, or why not, under --verbose. Runs unpinned
 * where a GPU's node is unknown, no cpuset is available or nothing is left of
 * the caller's own cpuset. Errors (a write the kernel refuses) logged. */
struct gj_job_cgroup;
int gj_launcher_numa_bind(const struct gj_job *job, struct gj_job_cgroup *cg);
/* Before the clone: whether to get a cpuset ready (GJ_CGROUP_CPUSET): as root, on
 * a host with more than one node online, without --no-numa-bind. */
bool gj_launcher_numa_wanted(const struct gj_job *job);

/* launcher-root.c: in the child, in its new mount namespace, the job's root in
 * two halves: what needs no plan (the tree stacked on "/", /tmp, binds, /proc,
 * /sys), built while the parent still discovers and plans; then the plan's part
 * (/dev, and /proc/driver/nvidia/gpus listing the given GPUs only). Then
 * pivot_root into it. Each logs what failed. */
struct gj_job_root {
        int fd;       /* the new root */
        int proc_fd;  /* its /proc */
        int masks_fd; /* the empty tmpfs that masked paths are covered with */
        int dev_fd;   /* its /dev, made before the plan came: the plan's nodes go there */
        /* For a user (gj_job_acts_for_user): the mounts where gpujail may create
         * mount points, as the user: the job's /tmp, and a --rootfs they own. 0: none. */
        uint64_t tmp_mnt_id;
        uint64_t own_rootfs_mnt_id;
};
#define GJ_JOB_ROOT_INIT { .fd = -1, .proc_fd = -1, .masks_fd = -1, .dev_fd = -1 }
int gj_launcher_build_root(const struct gj_job *job, struct gj_job_root *root);
int gj_launcher_finish_root(const struct gj_job *job, struct gj_job_root *root);
int gj_launcher_pivot_root(int rootfd);
void gj_job_root_done(struct gj_job_root *root);

/* launcher-handoff.c: the plan's part the child needs (nodes, kept GPUs, env;
 * the lease fds where fd is a socket), sent by the parent once it has it,
 * taken by the child into job and plan.
 * -EPIPE without a word when the other end is gone (it failed and said why);
 * other errors logged. */
#define GJ_HANDOFF_MAX_FDS 253 /* SCM_MAX_FD: more leases stay gpujail's alone */
int gj_handoff_send(int fd, const struct gj_job *job);
int gj_handoff_receive(int fd, struct gj_job *job, struct gj_plan *plan);

/* launcher-init.c: PID 1: fork the job, forward signals, reap; never returns. */
_Noreturn void gj_launcher_init(const struct gj_job *job);

/* launcher-creds.c: in the job, just before exec: user, groups, capabilities,
 * no_new_privs, the filter that keeps the job from typing into the
 * caller's terminal (kernel/seccomp-tty.c). */
int gj_launcher_drop_privileges(const struct gj_job *job);
/* launcher-creds.c, in the child once it has the plan: the group of each of
 * the job's nodes that it could open only through that group (0660
 * root:GROUP, a lockdown) joins the job's supplementary groups. The device
 * cgroup, not the group, is what confines the job to its own GPUs. */
int gj_launcher_add_node_groups(struct gj_job *job);
/* Parse a capability name ("CAP_SYS_ADMIN", "sys_admin"); -EINVAL (logged). */
int gj_launcher_parse_cap(const char *name, cap_value_t *ret);
