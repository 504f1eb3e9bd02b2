/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device cgroup enforcement (hook/cgroup.c, hook/bpf-devices.c).
 *
 * Default deny plus one allow rule per node placed in /dev.
 *  - cgroup v1: "a" written to devices.deny, then each rule to devices.allow.
 *  - cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program built from raw
 *    instructions (no libbpf). In hook mode the runtime already attached one:
 *    we never weaken it: its rules (read back from the program the runtime
 *    attached is not possible, so we take them from config.json's
 *    linux.resources.devices) are kept and ours added, and the new program
 *    replaces the old one with BPF_F_REPLACE.
 */
#pragma once

#include <sys/types.h>

#include "gpujail/plan.h"

/* ---- pure: rules -> eBPF instructions (hook/bpf-devices.c) ---- */
struct bpf_insn;
/* Build a device program: default deny, allow `rules` in order (OCI semantics:
 * later rules win, so evaluation runs from last to first). Returns the number
 * of instructions in *ret (malloc'ed). */
int gj_bpf_devices_build(const struct gj_cgroup_rule *rules, size_t n_rules,
                         struct bpf_insn **ret, size_t *ret_len);

/* ---- cgroup v1 ---- */
int gj_cgroup_v1_deny_all(const char *devices_dir);
int gj_cgroup_v1_allow(const char *devices_dir, const struct gj_cgroup_rule *rules, size_t n);

/* ---- cgroup v2 ---- */
/* Load a program for `rules` and attach it to cgroup_dir. If `replace_fd` >= 0
 * it is the prog fd of a program to replace atomically (BPF_F_REPLACE);
 * otherwise the new program is attached with BPF_F_ALLOW_MULTI. Returns the
 * new program's fd (the caller keeps or closes it; the attachment stays). */
int gj_cgroup_v2_attach(const char *cgroup_dir, const struct gj_cgroup_rule *rules, size_t n,
                        int replace_fd);
/* Detach and close every device program we know by fd (job cgroup teardown). */
int gj_cgroup_v2_detach(const char *cgroup_dir, int prog_fd);

/* ---- a job's cgroup (the launcher) ---- */
struct gj_job_cgroup {
        char *v1_dir;  /* /sys/fs/cgroup/devices/gpujail/<id>, NULL if no v1 devices */
        char *v2_dir;  /* <cgroup2 mount>/gpujail/<id> (or a delegated subtree), NULL if none */
        int v2_prog_fd;
};
/* Create the job's cgroups, deny all devices, allow `rules`. Nothing is left
 * behind on failure. */
int gj_job_cgroup_create(const char *id, const struct gj_cgroup_rule *rules, size_t n,
                         struct gj_job_cgroup *ret);
int gj_job_cgroup_enter(const struct gj_job_cgroup *cg, pid_t pid);
/* Remove what create made (waits for the cgroups to empty). */
void gj_job_cgroup_destroy(struct gj_job_cgroup *cg);

/* ---- a container's cgroup (the hook) ---- */
/* Read /proc/<pid>/cgroup and return the devices v1 dir and the v2 dir (either may be NULL). */
int gj_cgroup_paths_of_pid(pid_t pid, char **ret_v1_dir, char **ret_v2_dir);
