/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommands of `gpujail`; each returns a process exit status. */
#pragma once

int cmd_list(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_setup(int argc, char **argv);
int cmd_cdi(int argc, char **argv);
int cmd_oci(int argc, char **argv);
int cmd_runtime(int argc, char **argv);

/* Shared option handling: --proc-root is hidden and for tests only. */
struct gj_inventory;
struct gj_inventory_opts;
/* Load the inventory, logging why on failure; returns an exit status on error or 0. */
int cli_load_inventory(struct gj_inventory **ret);
/* Print a json-c object to stdout, pretty, with a final newline. */
struct json_object;
int cli_print_json(struct json_object *obj);
