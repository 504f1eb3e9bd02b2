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
