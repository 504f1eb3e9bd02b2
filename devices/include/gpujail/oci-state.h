/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an OCI runtime tells a hook (devices/oci-state.c): pure, no syscalls.
 * The state the runtime writes on the hook's stdin, the hook stages, and what
 * config.json says about the device cgroup rules the runtime compiled
 * (config.json itself is read by gpujail/bundle.h).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "gpujail/plan.h"

struct json_object;

#define GJ_OCI_STATE_MAX (1u << 20)  /* the state is a few hundred bytes */

enum gj_hook_stage {
        GJ_HOOK_PRESTART,
        GJ_HOOK_CREATE_RUNTIME,
        GJ_HOOK_CREATE_CONTAINER,
        _GJ_HOOK_STAGE_MAX,
};
/* NULL (no argument) = prestart, as runc's legacy hooks. -EINVAL otherwise. */
int gj_hook_stage_from_string(const char *s);
const char *gj_hook_stage_name(enum gj_hook_stage stage);

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

/*
 * The most linux.resources.devices entries the hook accepts. Real specs hold
 * tens (a privileged container one). Where the hook must build the cgroup v2
 * program from these rules, all of them, runc's 11 defaults and the planned
 * nodes may form one run of equal type and access, which one jump must skip:
 * at most 8,191 rules (gj_bpf_devices_build). 4,096 leaves the other half to
 * the defaults and the plan, so an accepted spec always builds.
 */
#define GJ_OCI_MAX_DEVICE_RULES 4096u

/*
 * The device rules the runtime put into the container's cgroup, as far as
 * config.json lets us know them: linux.resources.devices (allow rules in
 * order; a leading deny-all is the default-deny baseline) + runc 1.1's
 * always-allowed defaults (null, zero, full, random, urandom, tty, ptmx, pts,
 * tun, mknod of anything). Nodes of linux.devices get no rule: runc 1.1 makes
 * them but does not allow them either. Only a stand-in for a cgroup v2 host
 * where the runtime attached no program (where it did, its own instructions
 * are kept): later runtimes (runc 1.2.0-1.2.3, crun) do not all allow tun.
 * Refused (logged): more than GJ_OCI_MAX_DEVICE_RULES entries (-E2BIG); an
 * empty "access" (-EBADMSG: runc and crun allow nothing for it, an omitted one
 * is read as "rwm"); a deny rule after an allow rule, which an allow-list
 * program cannot keep (-EOPNOTSUPP).
 */
int gj_oci_config_device_rules(struct json_object *config, struct gj_cgroup_rule **ret,
                               size_t *ret_n);
