/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail: give a job or a container exactly the accelerators it asked for. */
#include <getopt.h>
#include <json-c/json.h>

#include "cli.h"
#include "gpujail/inventory.h"
#include "gpujail/launcher.h"
#include "gpujail/util.h"
#include "gpujail/version.h"

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
        { "ps", cmd_ps, "show who holds which GPU (leases), and GPU nodes opened outside gpujail" },
        { "setup", cmd_setup, "load missing NVIDIA modules and create missing nodes (root)" },
        { "cdi", cmd_cdi, "generate or list a CDI spec for container engines" },
        { "oci", cmd_oci, "edit an OCI bundle's config.json to include the selected GPUs" },
        { "runtime", cmd_runtime, "OCI runtime wrapper: inject into config.json, then exec runc" },
        { "policy", cmd_policy, "check the shared-host policy: what callers who are not root may ask" },
        { "configure", cmd_configure, "wire gpujail into podman, CRI-O, containerd or Docker (their drop-ins)" },
        { "slurm", cmd_slurm, "Slurm: gres.conf lines in gpujail's GPU order (gres-conf)" },
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail COMMAND [OPTIONS]\n"
                "       gpujail help COMMAND | --help | --version\n"
                "\n"
                "Give a job or a container exactly the accelerators it asked for, and nothing else\n"
                "of the host's devices: the selected GPUs' nodes and the control nodes they need in\n"
                "a curated /dev, and a device cgroup that denies every other device.\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
        fprintf(f,
                "\n"
                "'gpujail COMMAND --help' (or 'gpujail help COMMAND') tells more about one command.\n"
                "\n"
                "Selectors (--gpu SEL): a comma-separated list of\n"
                "  0,2            indexes as 'gpujail list' shows them (PCI order, like nvidia-smi)\n"
                "  nvidia:1       per vendor: nvidia, amd, intel, accel; nvidia:all for all of one\n"
                "  GPU-8f3a...    a UUID or a unique prefix of it (8 hex digits at least)\n"
                "  0000:3b:00.0   a PCI bus id (3b:00.0 works too)\n"
                "  2:1, MIG-...   a MIG device, as NVIDIA names it (GPU 2's MIG device 1) or\n"
                "                 by UUID; 2:3:0 by GPU, GPU instance and compute instance\n"
                "  imex:0         an IMEX channel\n"
                "  auto, auto:N   (run) N free GPUs among those you may use, leased to the job\n"
                "  all            every accelerator (and every MIG device)\n"
                "  none           no GPU, only the NVIDIA control nodes (as NVIDIA_VISIBLE_DEVICES)\n"
                "  void           nothing at all\n"
                "An unknown or ambiguous selector is an error that lists what the host has; it\n"
                "never means 'all'.\n"
                "\n"
                "Examples:\n"
                "  gpujail list\n"
                "  gpujail plan --gpu 0\n"
                "  sudo gpujail run --gpu 0 -- python train.py\n"
                "  sudo gpujail run --gpu auto:2 --wait -- python train.py\n"
                "  gpujail ps\n"
                "  sudo gpujail cdi generate --output /var/run/cdi/gpujail.json\n"
                "\n"
                "Exit status: 0 on success; 125 when gpujail itself fails (bad selector, missing\n"
                "node, cgroup not writable, ...); for 'run' the command's own status, 126 if it\n"
                "cannot be executed, 127 if it is not found, 128+N if killed by signal N.\n"
                "\n"
                "See also: gpujail-hook --help, the OCI hook for container engines; docs/gpujail.md.\n");
}

static const struct command *find_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(name, commands[i].name))
                        return &commands[i];
        return NULL;
}

const char *cli_proc_root(void) {
        const char *dir = getenv("GPUJAIL_PROC_ROOT");
        struct gj_caller caller;
        if (!dir || gj_caller_identify(&caller) < 0)
                return NULL;
        bool root = caller.kind == GJ_CALLER_ROOT;
        gj_caller_done(&caller);
        if (!root)
                log_warning("ignoring GPUJAIL_PROC_ROOT: only root may point gpujail at another /proc");
        return root ? dir : NULL;
}

int cli_load_inventory(bool with_modules, struct gj_inventory **ret) {
        struct gj_inventory_opts opts = {
                .proc_root = cli_proc_root(),
                .skip_modules = !with_modules,
        };
        int r = gj_inventory_load(&opts, ret);
        if (r < 0)
                return log_error_errno(r, "cannot discover the host's accelerators: %m"), GJ_EXIT_FAILURE;
        return 0;
}

int cli_parse_json_only(int argc, char **argv, const char *verb, void (*print_usage)(FILE *f), bool *json) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        *json = true;
                        break;
                case 'h':
                        print_usage(stdout);
                        return 1;
                default:
                        print_usage(stderr);
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("%s: unexpected argument '%s'; see 'gpujail %s --help'", verb, argv[optind], verb);
                return -EINVAL;
        }
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
        if (!isempty(getenv("GPUJAIL_DEBUG")) && !streq(getenv("GPUJAIL_DEBUG"), "0"))
                log_set_max_level(GJ_LOG_DEBUG);
        if (argc < 2) {
                usage(stderr);
                return GJ_EXIT_FAILURE;
        }
        const char *verb = argv[1];
        if (streq(verb, "--help") || streq(verb, "-h") || (streq(verb, "help") && argc == 2)) {
                usage(stdout);
                return 0;
        }
        if (streq(verb, "--version") || streq(verb, "-V") || streq(verb, "version")) {
                printf("gpujail %s (%s)\n", GPUJAIL_VERSION, gj_version_describe());
                return 0;
        }
        if (streq(verb, "help")) {
                /* "gpujail help run" = "gpujail run --help" */
                const struct command *c = find_command(argv[2]);
                if (!c) {
                        log_error("unknown command '%s'; see 'gpujail --help'", argv[2]);
                        return GJ_EXIT_FAILURE;
                }
                char *help_argv[] = { (char *)c->name, (char *)"--help", NULL };
                return c->run(2, help_argv);
        }

        const struct command *c = find_command(verb);
        if (c)
                return c->run(argc - 1, argv + 1);
        log_error("unknown command '%s'; see 'gpujail --help'", verb);
        return GJ_EXIT_FAILURE;
}
