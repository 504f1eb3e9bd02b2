/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `gpujail run`: the standalone launcher (launcher/launcher*.c).
 *
 * Process tree and who does what:
 *
 *   gpujail (host namespaces)            clones first, then, while the child
 *     |                                  builds: discovers, plans, hands the plan
 *     |                                  down, creates the job cgroup and moves
 *     |                                  the child into it, says go; then forwards
 *     |                                  signals, waits, removes the cgroup
 *     +-- init  (PID 1 of a new pid ns,  builds the plan-free part of the root,
 *          new mount ns [, net, user])   then /dev and /proc from the plan; waits
 *          |                             for go (it is in the job cgroup then),
 *          |                             pivot_root; reaps orphans, forwards signals
 *          +-- the job                   (CLONE_VM|CLONE_VFORK) user switch, caps,
 *                                        no_new_privs, the TIOCSTI filter,
 *                                        close_range, execvp
 *
 * The overlap is for speed (docs/gpujail.md, bench/run.sh); the order that
 * matters holds: the device rules are in force before pivot_root and before
 * anything of the job runs. In a user namespace the child first waits for its
 * id maps, and there is no cgroup.
 *
 * Every mount is made in the child's private mount namespace: the host's
 * mount table never changes. The job cgroup is removed by gpujail when init
 * is gone; when gpujail itself is SIGKILLed, init dies with it
 * (PR_SET_PDEATHSIG), the kernel empties the pid namespace, and the next run
 * removes the empty cgroup (gj_launcher_sweep_stale(): ids carry the pid of
 * the gpujail that made them, and only cgroups of dead gpujails are removed).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "gpujail/inventory.h"
#include "gpujail/plan.h"

struct gj_bind {
        char *source; /* host path */
        char *dest;   /* path in the job's root */
        bool read_only;
};

enum gj_net_mode {
        GJ_NET_HOST,
        GJ_NET_NONE,
};

struct gj_launch_opts {
        const char *gpus;          /* selector list; NULL = "void": no accelerator, no control node */
        const char *rootfs;        /* NULL: the host's root, read-only */
        struct gj_bind *binds;
        size_t n_binds;
        char **devices;            /* --device PATH: extra host nodes */
        char **cap_add;            /* capability names ("CAP_SYS_PTRACE" or "sys_ptrace") */
        bool has_user;             /* --user given */
        uid_t uid;
        gid_t gid;
        bool has_gid;
        enum gj_net_mode net;
        bool dev_minimal;
        bool mask_proc;
        bool set_cuda_env;
        bool allow_mknod;          /* 'm' in the cgroup rules */
        unsigned driver_caps; /* with rootfs: the NVIDIA userspace to bind in (gpujail/driver.h) */
        bool share;                /* --share: lease the GPUs shared, not exclusively */
        bool wait;                 /* --wait: queue until the GPUs are free */
        bool verbose;              /* --verbose: say which GPUs auto picked, and why; the NUMA binding */
        bool no_numa_bind;         /* --no-numa-bind: CPUs and memory not bound to the GPUs' nodes */
        long wait_timeout_ms;      /* --wait=TIMEOUT; 0: no limit */
        const char *wait_spec;     /* TIMEOUT as given, for messages */
        char **argv;               /* the command, NULL-terminated, argv[0] looked up in PATH */
};

/*
 * Who is calling (launcher/launcher-caller.c). gpujail runs as root in two
 * cases that must not be confused: root itself (an administrator: every
 * option), and root acting on a user's behalf (sudo and the like): then
 * everything the user names is checked as that user would be, and the
 * privileged options need the policy (gpujail/policy.h).
 */
enum gj_caller_kind {
        GJ_CALLER_ROOT,         /* root itself */
        GJ_CALLER_USER,         /* a user for whom root runs gpujail */
        GJ_CALLER_UNPRIVILEGED, /* not root at all: a user namespace, no device cgroup */
};

struct gj_caller {
        enum gj_caller_kind kind;
        const char *via;     /* GJ_CALLER_USER: "sudo", "pkexec", "doas" or "setuid" */
        uid_t uid;
        gid_t gid;
        char *name;          /* from the password database; NULL for root and unprivileged */
        gid_t *groups;       /* GJ_CALLER_USER: every group of the user, gid first */
        int n_groups;
        char **group_names;  /* the same groups by name (a gid without a name is left out) */
};

/* Who runs us: the real uid when it is not 0 (a setuid install), else
 * SUDO_UID/SUDO_GID/SUDO_USER, PKEXEC_UID or DOAS_USER, verified against the
 * password database. -EPERM (logged, naming the variable) when they do not
 * agree with it or more than one tool claims the caller. */
int gj_caller_identify(struct gj_caller *ret);
void gj_caller_done(struct gj_caller *c);
bool gj_caller_has_group(const struct gj_caller *c, gid_t gid);
/* The groups of user `name` whose primary group is gid: getgrouplist() with a
 * buffer that grows until it fits (*ret is realloc()ed). -E2BIG logged. */
int gj_user_groups(const char *name, gid_t gid, gid_t **ret, int *ret_n);

/* Parse "SRC:DST[:ro|:rw]" (DST defaults to SRC when it is "SRC" alone). */
int gj_bind_parse(const char *spec, struct gj_bind *ret);
void gj_bind_done(struct gj_bind *b);

/* Run the command as described; returns the process exit status for gpujail:
 * the command's, 128+N for signal N, 126/127 when it cannot be executed or is
 * not found, GJ_EXIT_FAILURE (125) when gpujail itself fails (logged). */
int gj_launch(const struct gj_launch_opts *opts, const struct gj_inventory_opts *iopts);

/* Inside a Slurm job, the GPUs it was allocated (its device cgroup as spank_gpujail.so
 * made it, else SLURM_STEP_GPUS/SLURM_JOB_GPUS; see gj_slurm_allowed_gpus), for `gpujail
 * run` and `gpujail runtime`: 0 when not in a Slurm job or nothing tells (*ret
 * untouched), 1 with *ret and *ret_from naming the source, negative errno logged. */
int gj_launcher_slurm_allowed(const struct gj_inventory *inv, struct gj_selection *ret, const char **ret_from);
/* Whether we run in a Slurm job (SLURM_JOB_ID, or a Slurm job's device cgroup): cheap,
 * no inventory; logs nothing. */
bool gj_launcher_in_slurm_job(void);

/* What `gpujail run --gpu auto:N` (shared: --share) would pick now, for the
 * caller (root: any GPU; a user: the policy's), taking nothing: `gpujail
 * plan --gpu auto:N`. *reason as gj_lease_pick() says it. -EBUSY (logged)
 * when not enough are free; other errors logged. */
int gj_launch_preview_auto(const struct gj_inventory *inv, unsigned want, bool shared,
                           struct gj_selection *ret, const char **reason);

/* The CPUs and memory nodes `run` would bind a job with this plan to (its
 * GPUs' NUMA nodes, within the caller's own cpuset; see numa.h), or why it
 * would run unpinned; for `gpujail plan --json`. Whether the host has a cpuset
 * controller is not looked at. Errors logged. */
struct gj_numa_bind;
int gj_launch_preview_numa(const struct gj_plan *plan, struct gj_numa_bind *ret);

/* Remove the empty job cgroups left by gpujail processes that no longer exist. */
void gj_launcher_sweep_stale(bool cpuset); /* cpuset: also the v1 cpuset hierarchy */
