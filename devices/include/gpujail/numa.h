/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binding a job's CPUs and memory to its GPUs' NUMA nodes (devices/numa.c):
 * kernel CPU/node lists ("0-3,8,10-11") as sets, and the binding computed from
 * what sysfs and the caller's /proc/self/status say. Pure: no file is read
 * here; the launcher reads, kernel/cgroup.c writes (gj_job_cgroup_cpuset).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GJ_CPUSET_MAX 8192 /* CPUs or nodes: the kernel's largest NR_CPUS */

struct gj_cpuset {
        uint64_t bits[GJ_CPUSET_MAX / 64];
};

/* "0-3,8\n" (a trailing newline and an empty list are fine): 0, or -EINVAL
 * (malformed, a range upside down), -ERANGE (a number >= GJ_CPUSET_MAX). *ret
 * is cleared first. Not logged. */
int gj_cpuset_parse(const char *list, struct gj_cpuset *ret);
/* The kernel's form, ranges folded ("0-3,8"); "" for an empty set. NULL: ENOMEM. */
char *gj_cpuset_format(const struct gj_cpuset *s);
void gj_cpuset_add(struct gj_cpuset *s, unsigned i);
bool gj_cpuset_has(const struct gj_cpuset *s, unsigned i);
void gj_cpuset_and(struct gj_cpuset *s, const struct gj_cpuset *other);
void gj_cpuset_or(struct gj_cpuset *s, const struct gj_cpuset *other);
bool gj_cpuset_empty(const struct gj_cpuset *s);

/* What the binding starts from: each text as the kernel writes it. */
struct gj_numa_host {
        const char *online;     /* /sys/devices/system/node/online; NULL: no NUMA in sysfs */
        const char *has_memory; /* /sys/devices/system/node/has_memory; NULL: every online node */
        const char *const *node_cpus; /* nodeN/cpulist, indexed by N; NULL entries unknown */
        size_t n_node_cpus;
        const char *caller_cpus; /* the caller's Cpus_allowed_list (/proc/self/status) */
        const char *caller_mems; /* the caller's Mems_allowed_list */
};

/* The binding: cpus and mems in the kernel's list form, or both NULL with
 * `why` saying why the job runs unpinned ("one NUMA node", ...). mems NULL
 * alone: the GPUs' nodes have no memory the caller may use (memoryless nodes):
 * only the CPUs are bound, and `why` says so. */
struct gj_numa_bind {
        char *cpus;
        char *mems;
        const char *why; /* static; NULL when both are bound */
};
void gj_numa_bind_done(struct gj_numa_bind *b);

/* Bind to the union of `gpu_nodes` (each a GPU's numa_node; n may be 0),
 * never wider than the caller is allowed: cpus = the nodes' CPUs & the
 * caller's, mems = the nodes & has_memory & the caller's. Unpinned (0, both
 * NULL, why set) when the host has one node online or none known, no GPU, a
 * GPU's node unknown (-1), a node's CPU list unknown, or nothing left after
 * the intersection. -EINVAL for a malformed list, -ENOMEM. Not logged. */
int gj_numa_bind_compute(const int *gpu_nodes, size_t n, const struct gj_numa_host *h,
                         struct gj_numa_bind *ret);
