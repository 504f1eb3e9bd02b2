/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail plan: what a selection would inject, without touching anything. */
#include <getopt.h>
#include <json-c/json.h>

#include "cli.h"
#include "gpujail/inventory.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

static void plan_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail plan --gpu SEL [--json] [OPTIONS]\n"
                "\n"
                "Show what giving the selected accelerators to a job or a container means on this\n"
                "host: the device nodes placed in its /dev, the device-cgroup rules that allow them\n"
                "(everything else is denied), and the environment it gets. Changes nothing; any\n"
                "user may run it. 'gpujail run', gpujail-hook and 'gpujail cdi' apply this plan.\n"
                "\n"
                "Options:\n"
                "  -g, --gpu SEL         the selection (see below); required\n"
                "      --json            print the plan as JSON (OCI/CDI field names)\n"
                "      --nvidia-indexes  bare numbers count NVIDIA GPUs only, 'all' means every\n"
                "                        NVIDIA GPU: how NVIDIA_VISIBLE_DEVICES is read\n"
                "      --cuda-env        also set CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES\n"
                "      --allow-mknod     add 'm' to the cgroup rules\n"
                "      --allow-bad-nodes plan even where a node is missing or has the wrong\n"
                "                        major:minor (injection would refuse; see 'gpujail list')\n"
                "  -h, --help            this text\n"
                "\n"
                "Selectors: a comma-separated list; spaces around items are ignored.\n"
                "  0,2             inventory indexes, as 'gpujail list' numbers them (NVIDIA first,\n"
                "                  in PCI bus order as nvidia-smi shows them, then AMD, Intel, accel)\n"
                "  all             every accelerator of the host\n"
                "  nvidia:1        the second NVIDIA GPU; also amd:N, intel:N, accel:N\n"
                "  nvidia:all      every NVIDIA GPU (amd:all, ...)\n"
                "  GPU-8f3a...     a UUID, or a unique prefix of it (8 hex digits at least)\n"
                "  0000:3b:00.0    a PCI bus id; 3b:00.0 and 00000000:3B:00.0 work too\n"
                "  none            no GPU, but the NVIDIA control nodes (nvidiactl, nvidia-uvm)\n"
                "  void, \"\"        nothing at all\n"
                "An item that matches nothing, or more than one GPU, is an error that says what\n"
                "this host has; gpujail never falls back to 'all'. Duplicates count once.\n"
                "\n"
                "Examples:\n"
                "  gpujail plan --gpu 0\n"
                "  gpujail plan --gpu 0000:3b:00.0,GPU-8f3a1c2e --json\n"
                "  gpujail plan --nvidia-indexes --gpu \"$NVIDIA_VISIBLE_DEVICES\" --cuda-env\n"
                "\n"
                "Exit status: 0 when the plan was shown, 125 on any error (unknown selector, a\n"
                "node that is missing or not what the driver says, ...).\n");
}

static void print_devices(const struct gj_plan *plan, const struct gj_selection *sel) {
        if (sel->none) {
                printf("Devices: none (%s)\n", sel->want_controls ? "'none': the NVIDIA control nodes only"
                                                                  : "'void': nothing at all");
                return;
        }
        printf("Devices:\n");
        for (size_t i = 0; i < plan->n_devices; i++) {
                const struct gj_device *d = plan->devices[i];
                char name[32];
                snprintf(name, sizeof(name), "%s:%u", gj_vendor_name(d->vendor), d->vendor_index);
                printf("  %-3u %-10s %-13s %-40s %s\n", d->index, name,
                       d->pci_bus_id ? d->pci_bus_id : "-", d->uuid ? d->uuid : "-",
                       d->model ? d->model : "");
        }
        for (size_t i = 0; i < plan->n_migs; i++) {
                const struct gj_mig *m = plan->migs[i];
                const struct gj_device *d = plan->mig_parents[i];
                printf("  MIG %u:%u (GI %u, CI %u) of GPU %u %s %s\n", d->vendor_index, m->index,
                       m->gi, m->ci, d->index, m->uuid ? m->uuid : "-", m->name ? m->name : "");
        }
}

static void print_rule(const struct gj_cgroup_rule *r) {
        char maj[16], min[16];
        if (r->major == GJ_WILDCARD)
                strcpy(maj, "*");
        else
                snprintf(maj, sizeof(maj), "%u", r->major);
        if (r->minor == GJ_WILDCARD)
                strcpy(min, "*");
        else
                snprintf(min, sizeof(min), "%u", r->minor);
        printf("  %c %s:%s %s\n", r->type, maj, min, r->access);
}

static void print_plan(const struct gj_plan *plan, const struct gj_selection *sel) {
        print_devices(plan, sel);

        printf("\nDevice nodes (same path inside as on the host):\n");
        if (plan->n_nodes == 0)
                printf("  (none)\n");
        for (size_t i = 0; i < plan->n_nodes; i++) {
                const struct gj_plan_node *n = &plan->nodes[i];
                char devnum[32];
                snprintf(devnum, sizeof(devnum), "%c %u:%u", n->type, n->major, n->minor);
                printf("  %-28s %-11s mode %04o uid %u gid %u\n", n->path, devnum,
                       (unsigned)(n->mode & 07777), (unsigned)n->uid, (unsigned)n->gid);
        }

        printf("\nDevice cgroup: deny all, then allow:\n");
        if (plan->n_rules == 0)
                printf("  (nothing)\n");
        for (size_t i = 0; i < plan->n_rules; i++)
                print_rule(&plan->rules[i]);

        printf("\nEnvironment:\n");
        if (strv_length(plan->env) == 0)
                printf("  (unchanged)\n");
        for (size_t i = 0; plan->env && plan->env[i]; i++)
                printf("  %s\n", plan->env[i]);
}

int cmd_plan(int argc, char **argv) {
        enum { ARG_JSON = 0x100, ARG_NVIDIA, ARG_CUDA, ARG_MKNOD, ARG_BAD };
        static const struct option options[] = {
                { "gpu", required_argument, NULL, 'g' },
                { "json", no_argument, NULL, ARG_JSON },
                { "nvidia-indexes", no_argument, NULL, ARG_NVIDIA },
                { "cuda-env", no_argument, NULL, ARG_CUDA },
                { "allow-mknod", no_argument, NULL, ARG_MKNOD },
                { "allow-bad-nodes", no_argument, NULL, ARG_BAD },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct gj_plan_opts opts = {};
        const char *spec = NULL;
        bool json = false;
        unsigned flags = 0;
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "+g:h", options, NULL)) >= 0) {
                switch (c) {
                case 'g':
                        spec = optarg;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_NVIDIA:
                        flags |= GJ_SELECT_NVIDIA_INDEXES;
                        break;
                case ARG_CUDA:
                        opts.set_cuda_env = true;
                        break;
                case ARG_MKNOD:
                        opts.allow_mknod = true;
                        break;
                case ARG_BAD:
                        opts.allow_bad_nodes = true;
                        break;
                case 'h':
                        plan_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "See 'gpujail plan --help'.\n");
                        return GJ_EXIT_FAILURE;
                }
        }
        if (optind < argc) {
                log_error("unexpected argument '%s'; see 'gpujail plan --help'", argv[optind]);
                return GJ_EXIT_FAILURE;
        }
        /* No default selection: "give me nothing" must be said (--gpu void), never guessed. */
        if (!spec) {
                log_error("which GPUs? give --gpu SEL (e.g. --gpu 0, --gpu all, --gpu none); "
                          "see 'gpujail plan --help'");
                return GJ_EXIT_FAILURE;
        }

        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        int r = cli_load_inventory(false, &inv);
        if (r != 0)
                return r;

        _cleanup_(gj_selection_done) struct gj_selection sel = {};
        if (gj_select(inv, spec, flags, &sel) < 0)
                return GJ_EXIT_FAILURE;
        _cleanup_(gj_plan_done) struct gj_plan plan = {};
        if (gj_plan_build(inv, &sel, &opts, &plan) < 0)
                return GJ_EXIT_FAILURE;

        if (json)
                return cli_print_json(gj_plan_to_json(&plan));
        print_plan(&plan, &sel);
        return fflush(stdout) == 0 ? 0 : GJ_EXIT_FAILURE;
}
