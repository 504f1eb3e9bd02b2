/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail-hook, the OCI hook.
 *
 * Pure parts (devices/oci-state.c): the state the runtime writes on the
 * hook's stdin, and what config.json says about the rootfs and the device
 * cgroup rules the runtime compiled.
 *
 * Kernel parts (hook/oci-hook.c, hook/container-ns.c, hook/hook-audit.c):
 * enter the container's mount namespace, bind the plan's nodes into
 * <rootfs>/dev, allow them in the container's device cgroup.
 *
 * Stages (runc 1.1, checked on this machine):
 *  - prestart, createRuntime: run in the runtime's namespaces; state.pid is the
 *    container init's pid as the host's /proc sees it; the rootfs is mounted in
 *    the container's mount namespace, not yet pivoted: we setns() into it.
 *  - createContainer: runs in the container's mount, pid (and cgroup)
 *    namespaces, before pivot_root; state.pid is 1 *in the container's pid
 *    namespace*, which the host /proc mounted there does not know: we act on
 *    ourselves (/proc/self), already in the right mount namespace and cgroup.
 *  - startContainer and later: after pivot_root; refused.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "gpujail/plan.h"

struct json_object;

#define GJ_OCI_STATE_MAX (1u << 20)  /* the state is a few hundred bytes */
/* GJ_OCI_CONFIG_MAX: the one bound on config.json, from oci-config.h. */
#include "gpujail/oci-config.h"

enum gj_hook_stage {
        GJ_HOOK_PRESTART,
        GJ_HOOK_CREATE_RUNTIME,
        GJ_HOOK_CREATE_CONTAINER,
        _GJ_HOOK_STAGE_MAX,
};
/* NULL (no argument) = prestart, as runc's legacy hooks. -EINVAL otherwise. */
int gj_hook_stage_from_string(const char *s);
const char *gj_hook_stage_name(enum gj_hook_stage stage);

/* ---- pure (devices/oci-state.c) ---- */

struct gj_oci_state {
        char *id;
        pid_t pid;
        char *bundle; /* absolute */
        char *status;
        struct json_object *annotations; /* borrowed from json, may be NULL */
        struct json_object *json;        /* the whole document (owned) */
};
/* Parse the state JSON. -EBADMSG (logged, naming the field) when id, pid (> 0)
 * or an absolute bundle path is missing or of the wrong type. */
int gj_oci_state_parse(const char *text, struct gj_oci_state *ret);
void gj_oci_state_done(struct gj_oci_state *state);

/* root.path of config.json; relative paths are relative to the bundle. */
int gj_oci_config_root_path(struct json_object *config, const char *bundle, char **ret);

/*
 * The device rules the runtime put into the container's cgroup, as far as
 * config.json lets us know them: linux.resources.devices (allow rules in
 * order; a leading deny-all is the default-deny baseline) + runc's
 * always-allowed defaults (null, zero, full, random, urandom, tty, ptmx, pts,
 * tun, mknod of anything). Nodes of linux.devices get no rule: runc 1.1 makes
 * them but does not allow them either. A deny rule after
 * an allow rule cannot be kept in an allow-list program: -EOPNOTSUPP (logged),
 * so that a replacement is never weaker than what the runtime attached.
 */
int gj_oci_config_device_rules(struct json_object *config, struct gj_cgroup_rule **ret,
                               size_t *ret_n);

/* ---- the hook (hook/oci-hook.c) ---- */

struct gj_hook_opts {
        enum gj_hook_stage stage;
        const char *cdi_kind; /* NULL: gpujail.io/gpu */
};

/* Run the hook: read the state from state_fd, inject what config.json asks for.
 * 0 also when nothing was asked. Negative errno, logged once, otherwise. */
int gj_hook_run(const struct gj_hook_opts *opts, int state_fd);

/* ---- hook/container-ns.c ---- */

/* The pid of the calling process as the mounted /proc names it (differs from
 * getpid() when we run in a child pid namespace under the host's /proc). */
int gj_proc_self_pid(pid_t *ret);
/* Join the mount namespace of pid: pidfd_open() + setns(CLONE_NEWNS), falling
 * back to /proc/<pid>/ns/mnt where pidfd_open is missing. Refuses (-EPERM,
 * logged) a pid whose mount namespace is our own: binding into a rootfs that
 * no private namespace holds would change the host's mount table. */
int gj_enter_mount_ns_of(pid_t pid);
/* The same check alone, for use before anything is changed. */
int gj_refuse_own_mount_ns(pid_t pid);

/* ---- hook/hook-audit.c ---- */
/* One structured line per injection, to stderr and syslog:
 * gpujail-hook: inject id=<id> stage=<stage> source=<origin> devices=<uuids>
 *   nodes=<paths> cgroup=<v1|v2|v1+v2|none> */
void gj_hook_audit(const char *id, enum gj_hook_stage stage, const char *origin,
                   const struct gj_plan *plan, const char *cgroup_mechanism);
