/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's CPUs and memory follow its GPUs (issue 11): the GPUs' NUMA
 * node(s) from the inventory, each node's CPUs from sysfs, the caller's own
 * limits from /proc/self/status (gpujail/numa.h computes), the job cgroup's
 * cpuset (gj_job_cgroup_cpuset writes). See docs/shared-hosts.md §9.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpujail/cgroup.h"
#include "gpujail/numa.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

#define NODE_DIR "/sys/devices/system/node"
#define LIST_MAX (64 * 1024)

/* A file's text, or NULL where it cannot be read (no NUMA in sysfs, a node gone). */
static char *read_or_null(const char *path) {
        char *text = NULL;
        return read_full_file(path, &text, NULL, LIST_MAX) < 0 ? NULL : text;
}

/* The value of a "Key:\tvalue" line of /proc/self/status, malloc'ed, or NULL. */
static char *status_field(const char *status, const char *key) {
        size_t len = strlen(key);
        for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, key, len) == 0 && p[len] == ':') {
                        const char *v = p + len + 1;
                        v += strspn(v, " \t");
                        return strndup(v, strcspn(v, "\n"));
                }
        return NULL;
}

/* The nodes of the job's GPUs (a MIG device's GPU counts as its GPU). */
static int gpu_nodes(const struct gj_plan *plan, int **ret, size_t *ret_n) {
        size_t n = 0;
        int *v = calloc(plan->n_devices + plan->n_migs + 1, sizeof(int));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_devices; i++)
                v[n++] = plan->devices[i]->numa_node;
        for (size_t i = 0; i < plan->n_migs; i++)
                v[n++] = plan->mig_parents[i]->numa_node;
        *ret = v;
        *ret_n = n;
        return 0;
}

struct numa_texts {
        char *online, *has_memory, *status, *caller_cpus, *caller_mems;
        char **node_cpus;
        size_t n_node_cpus;
};

static void numa_texts_done(struct numa_texts *t) {
        for (size_t i = 0; i < t->n_node_cpus; i++)
                free(t->node_cpus[i]);
        free(t->node_cpus);
        free(t->online);
        free(t->has_memory);
        free(t->status);
        free(t->caller_cpus);
        free(t->caller_mems);
}

/* What sysfs and /proc/self/status say, for the nodes the GPUs sit on. */
static int read_texts(const int *nodes, size_t n, struct numa_texts *t) {
        int max = -1;
        for (size_t i = 0; i < n; i++)
                max = nodes[i] > max ? nodes[i] : max;
        t->has_memory = read_or_null(NODE_DIR "/has_memory");
        t->status = read_or_null("/proc/self/status");
        if (t->status) {
                t->caller_cpus = status_field(t->status, "Cpus_allowed_list");
                t->caller_mems = status_field(t->status, "Mems_allowed_list");
        }
        t->node_cpus = calloc((size_t)max + 1, sizeof(char *));
        if (!t->node_cpus)
                return -ENOMEM;
        t->n_node_cpus = (size_t)max + 1;
        for (size_t i = 0; i < n; i++) {
                if (nodes[i] < 0 || t->node_cpus[nodes[i]])
                        continue;
                char path[96];
                snprintf(path, sizeof(path), NODE_DIR "/node%d/cpulist", nodes[i]);
                t->node_cpus[nodes[i]] = read_or_null(path);
        }
        return 0;
}

/* Unpinned: the job keeps the caller's CPUs. A cpuset made ready before the clone
 * starts from its parent's CPUs, which may be more than the caller's affinity
 * (taskset): it gets the caller's, as the init would have had without it. */
static int unpinned(const struct gj_job *job, struct gj_job_cgroup *cg, const char *why,
                    const char *caller_cpus) {
        const char *unused;
        log_full_errno(job->opts->verbose ? GJ_LOG_INFO : GJ_LOG_DEBUG, 0,
                       "NUMA: running unpinned: %s", why);
        if ((cg->cpuset_v2 || cg->cpuset_dir) && caller_cpus)
                return gj_job_cgroup_cpuset(cg, caller_cpus, NULL, &unused);
        return 0;
}

/* Read what the binding needs for the plan's GPUs and compute it (t keeps the texts:
 * the caller's CPUs are needed for an unpinned job). Logged. */
static int compute(const struct gj_plan *plan, struct numa_texts *t, struct gj_numa_bind *ret) {
        _cleanup_free_ int *nodes = NULL;
        size_t n;
        int r = gpu_nodes(plan, &nodes, &n);
        if (r < 0 || (r = read_texts(nodes, n, t)) < 0)
                return r;
        struct gj_numa_host h = {
                .online = t->online,
                .has_memory = t->has_memory,
                .node_cpus = (const char *const *)t->node_cpus,
                .n_node_cpus = t->n_node_cpus,
                .caller_cpus = t->caller_cpus,
                .caller_mems = t->caller_mems,
        };
        if ((r = gj_numa_bind_compute(nodes, n, &h, ret)) < 0)
                return log_error_errno(r,
                                       "cannot compute the job's NUMA binding from %s and "
                                       "/proc/self/status: %m",
                                       NODE_DIR);
        return 0;
}

static int bind_job(const struct gj_job *job, struct gj_job_cgroup *cg, struct numa_texts *t) {
        _cleanup_(gj_numa_bind_done) struct gj_numa_bind b = { 0 };
        int r = compute(job->plan, t, &b);
        if (r < 0)
                return r;
        if (!b.cpus)
                return unpinned(job, cg, b.why, t->caller_cpus);
        const char *why_not = NULL;
        if ((r = gj_job_cgroup_cpuset(cg, b.cpus, b.mems, &why_not)) < 0)
                return r;
        if (r == 0)
                return unpinned(job, cg, why_not, NULL);
        log_full_errno(job->opts->verbose ? GJ_LOG_INFO : GJ_LOG_DEBUG, 0,
                       "NUMA: CPUs %s, memory nodes %s%s%s%s", b.cpus, b.mems ?: "unbound",
                       b.why ? " (" : "", b.why ?: "", b.why ? ")" : "");
        return 0;
}

/* More than one node online: "0-1", "0,2"; "0" alone or no file: nothing to choose. */
static bool numa_host(char **ret_online) {
        _cleanup_free_ char *online = read_or_null(NODE_DIR "/online");
        if (!online || !strpbrk(online, ",-"))
                return false;
        if (ret_online)
                *ret_online = TAKE_PTR(online);
        return true;
}

bool gj_launcher_numa_wanted(const struct gj_job *job) {
        if (job->userns || job->opts->no_numa_bind)
                return false; /* no job cgroup; or asked not to */
        if (numa_host(NULL))
                return true;
        log_debug("NUMA: one node online (%s): unpinned", NODE_DIR "/online");
        return false;
}

int gj_launcher_numa_bind(const struct gj_job *job, struct gj_job_cgroup *cg) {
        _cleanup_(numa_texts_done) struct numa_texts t = { 0 };

        if (job->userns)
                return 0;
        if (job->opts->no_numa_bind) {
                log_full_errno(job->opts->verbose ? GJ_LOG_INFO : GJ_LOG_DEBUG, 0,
                               "NUMA: running unpinned: --no-numa-bind");
                return 0;
        }
        if (!numa_host(&t.online))
                return 0; /* said by gj_launcher_numa_wanted */
        return bind_job(job, cg, &t);
}

int gj_launch_preview_numa(const struct gj_plan *plan, struct gj_numa_bind *ret) {
        _cleanup_(numa_texts_done) struct numa_texts t = { 0 };
        *ret = (struct gj_numa_bind){ 0 };
        if (!numa_host(&t.online)) {
                ret->why = "the host has one NUMA node";
                return 0;
        }
        return compute(plan, &t, ret);
}
