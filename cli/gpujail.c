/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail: give a job or a container exactly the accelerators it asked for. */
#include <json-c/json.h>

#include "cli.h"
#include "gpujail/inventory.h"
#include "gpujail/util.h"

#ifndef GPUJAIL_VERSION
#define GPUJAIL_VERSION "0"
#endif

static const struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} commands[] = {
        { "list", cmd_list, "show the accelerators of this host and the state of their nodes" },
        { "plan", cmd_plan, "show what a selection would inject (nodes, cgroup rules, env)" },
        { "run", cmd_run, "run a command with exactly the selected GPUs (curated /dev, device cgroup)" },
        { "setup", cmd_setup, "load missing NVIDIA modules and create missing nodes (root)" },
        { "cdi", cmd_cdi, "generate or list a CDI spec for container engines" },
        { "oci", cmd_oci, "edit an OCI bundle's config.json to include the selected GPUs" },
        { "runtime", cmd_runtime, "OCI runtime wrapper: inject into config.json, then exec runc" },
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail COMMAND [OPTIONS]\n"
                "\n"
                "Give a job or a container exactly the accelerators it asked for, and nothing else\n"
                "of the host's devices.\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
        fprintf(f,
                "\n"
                "  gpujail COMMAND --help   tells more about one command.\n"
                "\n"
                "Selectors (--gpu): 0,2 | all | none | void | GPU-<uuid> | 0000:3b:00.0 | 3b:00.0 |\n"
                "  nvidia:1 | amd:0 | intel:0 | accel:0. An unknown selector is an error, never 'all'.\n"
                "\n"
                "Exit status: 0 on success; 125 when gpujail itself fails; for 'run', the command's\n"
                "status (126 cannot execute, 127 not found, 128+N killed by signal N).\n"
                "\n"
                "Also: gpujail-hook(1), the OCI hook. Documentation: docs/ in the source tree.\n");
}

int cli_load_inventory(struct gj_inventory **ret) {
        struct gj_inventory_opts opts = {
                .proc_root = getenv("GPUJAIL_PROC_ROOT"),
        };
        int r = gj_inventory_load(&opts, ret);
        if (r < 0)
                return log_error_errno(r, "cannot discover the host's accelerators: %m"), GJ_EXIT_FAILURE;
        return 0;
}

int cli_print_json(struct json_object *obj) {
        if (!obj)
                return log_error_errno(-ENOMEM, "cannot build JSON: %m"), GJ_EXIT_FAILURE;
        puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(obj);
        return fflush(stdout) == 0 ? 0 : GJ_EXIT_FAILURE;
}

int main(int argc, char **argv) {
        log_set_program("gpujail");
        if (argc < 2) {
                usage(stderr);
                return GJ_EXIT_FAILURE;
        }
        const char *verb = argv[1];
        if (streq(verb, "--help") || streq(verb, "-h") || streq(verb, "help")) {
                usage(stdout);
                return 0;
        }
        if (streq(verb, "--version") || streq(verb, "version")) {
                printf("gpujail %s\n", GPUJAIL_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(verb, commands[i].name))
                        return commands[i].run(argc - 1, argv + 1);

        log_error("unknown command '%s'; see 'gpujail --help'", verb);
        return GJ_EXIT_FAILURE;
}
