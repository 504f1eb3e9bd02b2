/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's audit line (hook/hook-audit.c); internal to gpujail-hook. */
#pragma once

#include "gpujail/hook-config.h"
#include "gpujail/oci-state.h"

/* One structured line per injection, to stderr and syslog:
 * gpujail-hook: inject id=<id> stage=<stage> source=<origin> devices=<uuids>
 *   nodes=<paths> cgroup=<v1|v2|v1+v2|none> driver=<files>
 * (driver: how many of the driver's files were injected: libraries,
 * binaries, firmware, sockets; 0 with capabilities "none" or no driver) */
void gj_hook_audit(const char *id, enum gj_hook_stage stage, const char *origin,
                   const struct gj_plan *plan, const char *cgroup_mechanism);

/* One line per container whose request came from a source the configuration
 * does not accept (nothing injected for it):
 * gpujail-hook: ignore id=<id> stage=<stage> request="<origins>"
 *   accept=<sources> config=<path|<built-in>> */
void gj_hook_audit_ignored(const char *id, enum gj_hook_stage stage, const char *ignored,
                           const struct gj_hook_config *config);
