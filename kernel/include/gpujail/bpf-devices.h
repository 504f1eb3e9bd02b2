/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 device programs (kernel/bpf-devices.c): BPF_PROG_TYPE_CGROUP_DEVICE
 * programs built from raw instructions (no libbpf), loaded, attached,
 * replaced. In hook mode the runtime already attached one: we never weaken it:
 * its rules (read back from the program the runtime attached is not possible,
 * so we take them from config.json's linux.resources.devices) are kept and
 * ours added, and the new program replaces the old one with BPF_F_REPLACE.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "gpujail/plan.h"

/* ---- pure: rules -> eBPF instructions  ---- */
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
