/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommands of `gpujail`; each returns a process exit status. */
#pragma once

#include <stdbool.h>

int cmd_list(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_setup(int argc, char **argv);
int cmd_cdi(int argc, char **argv);
int cmd_oci(int argc, char **argv);
int cmd_runtime(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_configure(int argc, char **argv);
int cmd_slurm(int argc, char **argv);

/* Shared option handling: --proc-root is hidden and for tests only. */
struct gj_inventory;
struct gj_inventory_opts;
/* $GPUJAIL_PROC_ROOT (tests: read NVIDIA's /proc files below it), honoured for
 * root itself only: a user that sudo lets run gpujail must not point it at
 * files of their own. NULL when unset or ignored (said with a warning). */
const char *cli_proc_root(void);
/* Load the inventory, logging why on failure; returns an exit status on error or 0.
 * Module state (with_modules) is for `list`: the others only need devices and nodes. */
int cli_load_inventory(bool with_modules, struct gj_inventory **ret);
/* The options of a command whose only one is --json (list, ps): 0 to go on, 1
 * after printing --help, -EINVAL (said, with the usage on stderr) otherwise. */
#include <stdio.h>
int cli_parse_json_only(int argc, char **argv, const char *verb, void (*print_usage)(FILE *f), bool *json);
/* Print a json-c object to stdout, pretty, with a final newline. */
struct json_object;
int cli_print_json(struct json_object *obj);

/* Inject the plan for `selector` into a bundle read by gj_bundle_read() and
 * write its config.json back, atomically, with its mode (cli/cmd-oci.c; also
 * used by `gpujail runtime`). bundle->config is edited in place. `origin` names
 * where the selector came from, for messages. The NVIDIA driver's userspace
 * for `caps` (NULL: what config.json asks, gpujail/driver.h) goes in as mounts
 * and a createContainer hook at `hook_path` (NULL: the installed gpujail-hook).
 * Negative errno, logged. */
struct gj_bundle;
int cli_oci_inject_bundle(struct gj_bundle *bundle, const char *selector, unsigned select_flags,
                          const char *origin, const char *caps, const char *hook_path);
