/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device cgroup enforcement (kernel/cgroup.c): default deny plus one allow
 * rule per node placed in /dev.
 *  - cgroup v1: "a" written to devices.deny, then each rule to devices.allow.
 *  - cgroup v2: a device program (gpujail/bpf-devices.h).
 * Where the cgroups are: gpujail/cgroup-paths.h.
 */
#pragma once

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
};
#define GJ_JOB_CGROUP_INIT { .v1_dir = NULL, .v2_dir = NULL, .v2_prog_fd = -1 }

enum gj_cgroup_mechanism {
        GJ_CGROUP_V1 = 1 << 0, /* v1 devices controller: devices.deny/devices.allow */
        GJ_CGROUP_V2 = 1 << 1, /* cgroup2: an eBPF device program */
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
/* Remove what create made: waits (~2 s, SIGKILLing what is left after 0.5 s)
 * for the cgroups to empty, rmdirs them and the shared gpujail/ parent when
 * empty, closes the program fd. Safe on a GJ_JOB_CGROUP_INIT value and twice. */
void gj_job_cgroup_destroy(struct gj_job_cgroup *cg);
