/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Placing device nodes into a container's /dev (kernel/devfs.c).
 *
 * A node is never mknod()ed in the container: the host node is opened,
 * its st_rdev checked against the plan, cloned with open_tree() and attached
 * with move_mount() onto an empty file created (O_EXCL|O_NOFOLLOW) inside
 * the target directory, then made nosuid,noexec. Both the launcher and the
 * OCI hook use these. The host path is opened in the caller's current mount
 * namespace (the hook: after setns, before pivot_root, where it is the host's).
 * Nodes are never chmod()ed or chown()ed: a bind shares the host inode.
 * Errors are logged here, naming the host node and the target directory.
 */
#pragma once

#include "gpujail/plan.h"

/* Bind one host node onto <devfd>/<node->path without "/dev/"> (subdirectories
 * such as dri/ are created inside devfd). -EEXIST-safe: if the target is
 * already a mount of the same device (hook run twice), succeeds. Refuses a
 * host node whose type or major:minor differs from the plan (-ENODEV, logged). */
int gj_devfs_bind_node(int devfd, const struct gj_plan_node *node);

/* All nodes of a plan. (A failure leaves the nodes bound so far in place:
 * the launcher's namespace dies with it; the hook's container is not started.) */
int gj_devfs_bind_plan(int devfd, const struct gj_plan *plan);

/* The launcher's curated /dev on <rootfd>/dev: a fresh tmpfs
 * (nosuid,noexec,mode=0755) with the OCI default nodes (null, zero, full,
 * random, urandom, tty) bound from the host, the plan's nodes, and unless
 * minimal: pts (newinstance) + ptmx link, shm (tmpfs nosuid,nodev,noexec),
 * fd/stdin/stdout/stderr links. */
enum gj_devfs_flags {
        GJ_DEVFS_MINIMAL = 1 << 0,
};
int gj_devfs_setup(int rootfd, const struct gj_plan *plan, unsigned flags);

/* The same in two steps: all of it but the plan's nodes, returning the new
 * /dev's fd, then gj_devfs_bind_plan() on that fd once a plan is known (the
 * launcher's init builds the plan-free part while its parent discovers). */
int gj_devfs_make(int rootfd, unsigned flags);

/* The OCI default device set: what every container (and job) gets besides accelerators. */
extern const char *const gj_devfs_default_nodes[]; /* NULL-terminated: "null", "zero", ... */

/* The cgroup allow rules (access "rw") for what gj_devfs_setup() adds besides
 * the plan: the default nodes, ptmx and pts/N. The launcher passes these plus
 * plan->rules to gj_job_cgroup_create(), or the job cannot open /dev/null. */
extern const struct gj_cgroup_rule gj_devfs_default_rules[];
extern const size_t gj_devfs_n_default_rules;

/* For tests: pretend the kernel lacks open_tree/move_mount/fsopen and use
 * mount(2) through /proc/self/fd/N. */
void gj_devfs_force_fallback(bool on);
