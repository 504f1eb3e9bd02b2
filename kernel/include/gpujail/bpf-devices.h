/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 device programs (kernel/bpf-devices.c): BPF_PROG_TYPE_CGROUP_DEVICE
 * programs built from raw instructions (no libbpf), loaded, attached,
 * replaced. In hook mode the runtime already attached one, and we never grant
 * more than it did: our allow checks go in front of the runtime's own
 * instructions (read back from the kernel), which decide everything else, and
 * the new program replaces the old one with BPF_F_REPLACE.
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
 * or access letter; -E2BIG when a jump cannot reach past a run of rules of
 * one type and access (more than 8,191 of them in a row): never a wrapped
 * offset. The instructions are malloc'ed into *ret, their count in *ret_len.
 * The checks use R0, R2-R5 as scratch, never R1 (the context). */
int gj_bpf_devices_build(const struct gj_cgroup_rule *rules, size_t n_rules,
                         struct bpf_insn **ret, size_t *ret_len);
/* The same checks, but where none matches `runtime` (n_runtime > 0, as
 * gj_bpf_devices_adopt left it) decides instead of the default deny: an
 * access our rules allow returns 1, any other runs the runtime's instructions
 * unchanged (its jumps are relative, its exits its own), R1 and R10 as at
 * entry. Rules that allow everything leave the runtime's part out. Errors as
 * gj_bpf_devices_build; -EINVAL for n_runtime 0. */
int gj_bpf_devices_build_before(const struct gj_cgroup_rule *rules, size_t n_rules,
                                const struct bpf_insn *runtime, size_t n_runtime,
                                struct bpf_insn **ret, size_t *ret_len);
/* Make a program's instructions as the kernel shows them (BPF_OBJ_GET_INFO_BY_FD,
 * xlated_prog_insns) loadable again, in place: only the kernel's zero-extension
 * marker is turned back into a plain mov32. -EOPNOTSUPP for an instruction that
 * would not mean the same loaded again: a helper or subprogram call, a map or
 * other pseudo 64-bit load, R11 (blinded constants, the verifier's rewrites), a
 * speculation barrier, an opcode not known here; *ret_bad (may be NULL) is its
 * index and *ret_why (may be NULL) says what it is. Pure, silent. */
int gj_bpf_devices_adopt(struct bpf_insn *insns, size_t n, size_t *ret_bad, const char **ret_why);
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
/* The hook on cgroup v2: let the container open what the runtime's program
 * allowed plus `rules` (ours), nothing more. The runtime (runc 1.1 attaches a
 * single program with BPF_F_ALLOW_MULTI) left one program: a new one = our
 * allow checks in front of that program's own instructions
 * (gj_bpf_devices_build_before) replaces it atomically with BPF_F_REPLACE
 * (kernels without it: ours attached first, then the old one detached, so the
 * cgroup is never less strict); one whose instructions cannot be read back or
 * carried over (gj_bpf_devices_adopt) is left in place: -EPERM or -EOPNOTSUPP.
 * None attached: a program for `runtime_rules` (the runtime's rules as
 * config.json states them) then ours, default deny. More than one: -EBUSY,
 * nothing changed, since we cannot tell which holds the runtime's rules and
 * removing the others would weaken the container. Running it twice allows
 * the same devices as once. Returns 1 when the program is in place (the cgroup
 * is policed), or a negative errno, logged. */
int gj_cgroup_v2_replace_devices(const char *cgroup_dir, const struct gj_cgroup_rule *rules, size_t n,
                                 const struct gj_cgroup_rule *runtime_rules, size_t n_runtime);
