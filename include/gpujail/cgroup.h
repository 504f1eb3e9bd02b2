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

#include <stdint.h>
#include <sys/types.h>

#include "gpujail/plan.h"

/* ---- pure: rules -> eBPF instructions (hook/bpf-devices.c) ---- */
struct bpf_insn;
/* Build a device program: default deny, allow `rules` (all allow rules: the
 * OCI deny rules before the first allow only restate the default; the hook
 * refuses others). A rule matches when it covers every access asked for
 * (cgroup v1 semantics); an empty access means "rwm". -EINVAL for a bad type
 * or access letter. The instructions are malloc'ed into *ret, their count in
 * *ret_len. */
int gj_bpf_devices_build(const struct gj_cgroup_rule *rules, size_t n_rules,
                         struct bpf_insn **ret, size_t *ret_len);
/* Build and BPF_PROG_LOAD it (the verifier's log is logged on failure): a prog fd. */
int gj_bpf_devices_load(const struct gj_cgroup_rule *rules, size_t n_rules);
/* The kernel's id of a loaded program (what BPF_PROG_QUERY lists). */
int gj_bpf_prog_id(int prog_fd, uint32_t *ret);

/* ---- cgroup v1 ---- */
/* Each write is logged on failure naming the file ("cannot write 'c 195:0 rw'
 * to <dir>/devices.allow: ..."). */
int gj_cgroup_v1_deny_all(const char *devices_dir);
int gj_cgroup_v1_allow(const char *devices_dir, const struct gj_cgroup_rule *rules, size_t n);

/* ---- cgroup v2 ---- */
/* Load a program for `rules` and attach it to cgroup_dir. If `replace_fd` >= 0
 * it is the prog fd of a program to replace atomically (BPF_F_REPLACE);
 * otherwise the new program is attached with BPF_F_ALLOW_MULTI. Returns the
 * new program's fd (the caller keeps or closes it; the attachment stays). */
int gj_cgroup_v2_attach(const char *cgroup_dir, const struct gj_cgroup_rule *rules, size_t n,
                        int replace_fd);
/* Detach the program `prog_fd` from cgroup_dir. Does not close prog_fd. */
int gj_cgroup_v2_detach(const char *cgroup_dir, int prog_fd);
/* The ids of the device programs attached directly to cgroup_dir (malloc'ed;
 * may be NULL) and the cgroup's attach flags (BPF_F_ALLOW_MULTI...). */
int gj_cgroup_v2_query_devices(const char *cgroup_dir, uint32_t **ret_ids, size_t *ret_n,
                               uint32_t *ret_flags);
/* The hook on cgroup v2: make `rules` (the container's linux.resources.devices,
 * which is what the runtime compiled, followed by ours) the one device program
 * of cgroup_dir. The runtime (runc 1.1 attaches a single program with
 * BPF_F_ALLOW_MULTI) left one: it is replaced atomically with BPF_F_REPLACE
 * (kernels without it: ours attached first, then the old one detached, so the
 * cgroup is never less strict). None attached: ours is attached. More than
 * one: -EBUSY, nothing changed, since we cannot tell which holds the runtime's
 * rules and removing the others would weaken the container. Running it twice
 * with the same rules leaves the same single program behaviour: idempotent.
 * Returns 1 when the program is in place (the cgroup is policed), or a
 * negative errno, logged. */
int gj_cgroup_v2_replace_devices(const char *cgroup_dir, const struct gj_cgroup_rule *rules,
                                 size_t n);

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

/* ---- a container's cgroup (the hook) ---- */
/* Read /proc/<pid>/cgroup and return the devices v1 dir and the v2 dir (either
 * may be NULL: no such hierarchy mounted, or the pid is in none). Mount points
 * come from the caller's /proc/self/mountinfo: call it in the host's mount
 * namespace (the hook: before setns). Logs its errors. */
int gj_cgroup_paths_of_pid(pid_t pid, char **ret_v1_dir, char **ret_v2_dir);

/* ---- pure parts, unit-tested ---- */
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
