/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Editing an OCI bundle's config.json (devices/oci-config.c). Pure: text in,
 * json-c document, text out; gj_bundle_read() (gpujail/bundle.h) reads the
 * file, the caller writes it.
 *
 * Putting the devices into the spec itself (rather than only adding them
 * from a hook) makes the runtime create the nodes and the cgroup rules, so
 * they survive what re-applies the cgroup policy from the spec (systemd's
 * daemon-reload, `runc update`).
 */
#pragma once

#include <stddef.h>

#include "gpujail/plan.h"

struct json_object;

/* Largest config.json we read: podman/CRI-O configs are tens of KiB. */
#define GJ_OCI_CONFIG_MAX (16u * 1024 * 1024)

/* Parse config.json text (`what` names it in messages). -EBADMSG (logged,
 * with the offset and json-c's reason) when it is not exactly one JSON object:
 * malformed, truncated, trailing garbage. */
int gj_oci_config_parse(const char *what, const char *text, size_t len, struct json_object **ret);

/* Add the plan: linux.devices entries for its nodes (an entry at the same
 * path is replaced in place), linux.resources.devices allow rules for exactly
 * its rules (appended after whatever is there, so they win over an earlier
 * deny-all; an identical earlier allow rule is removed first), and its env in
 * process.env (replacing the same variable). Idempotent: injecting the same
 * plan twice gives the same document as once. -EBADMSG (logged) when a field
 * it must edit has the wrong type. */
int gj_oci_config_inject(struct json_object *config, const struct gj_plan *plan);

/* The NVIDIA driver's userspace (gpujail/driver.h) into config.json: a bind
 * mount per file (mounts[], options as in a CDI spec) and a createContainer
 * hook, hook_path with gj_driver_hook_args() and its own env, for the
 * libraries' links and cache entries. Idempotent: an earlier mount at the
 * same destination and an earlier such hook are replaced. Nothing for an
 * empty plan. proc_gpus as for gj_driver_hook_args(): the hook then also
 * shows the container only these GPUs in /proc/driver/nvidia/gpus.
 * -EBADMSG (logged) when mounts or hooks have the wrong type. */
struct gj_driver_plan;
int gj_oci_config_inject_driver(struct json_object *config, const struct gj_driver_plan *driver,
                                const char *hook_path, const char *proc_gpus);

/* The document as text (pretty, final newline), malloc'ed; NULL on OOM. */
char *gj_oci_config_format(struct json_object *config);
