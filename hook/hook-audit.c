/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's audit trail: one key=value line per injection, stderr and syslog. */
#include "hook-audit.h"
#include "gpujail/util.h"

static char *plan_node_paths(const struct gj_plan *plan) {
        _cleanup_strv_free_ char **v = NULL;
        for (size_t i = 0; i < plan->n_nodes; i++)
                if (strv_push(&v, strdup(plan->nodes[i].path)) < 0)
                        return NULL;
        return v ? strv_join(v, ",") : strdup("-");
}

void gj_hook_audit(const char *id, enum gj_hook_stage stage, const char *origin,
                   const struct gj_plan *plan, const char *cgroup_mechanism) {
        _cleanup_free_ char *devices = gj_plan_devices_string(plan);
        _cleanup_free_ char *nodes = plan_node_paths(plan);

        /* Values never hold spaces except the origin, which is quoted. The id
         * comes from the engine, so %s of it is bounded by the logger. */
        log_info("inject id=%s stage=%s request=\"%s\" devices=%s nodes=%s cgroup=%s driver=%zu",
                 id, gj_hook_stage_name(stage), origin ? origin : "-",
                 isempty(devices) ? "-" : devices, nodes ? nodes : "?", cgroup_mechanism,
                 plan->driver.n_files);
}

void gj_hook_audit_ignored(const char *id, enum gj_hook_stage stage, const char *ignored,
                           const struct gj_hook_config *config) {
        _cleanup_free_ char *accept = gj_hook_accept_string(config->accept);

        log_info("ignore id=%s stage=%s request=\"%s\" accept=%s config=%s", id, gj_hook_stage_name(stage),
                 ignored, accept ? accept : "?", config->path);
}
