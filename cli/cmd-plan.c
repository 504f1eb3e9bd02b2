/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail plan: what a selection would inject, without touching anything. */
#include <getopt.h>
#include <json-c/json.h>

#include "cli.h"
#include "gpujail/inventory.h"
#include "gpujail/json-util.h"
#include "gpujail/launcher.h"
#include "gpujail/lease.h"
#include "gpujail/numa.h"
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
                "  -g, --gpu SEL         the selection (see below); required. auto or auto:N:\n"
                "                        what 'gpujail run --gpu auto:N' would pick now, and why\n"
                "                        (JSON: \"auto\": {\"request\", \"picked\", \"reason\"}); takes nothing\n"
                "      --json            print the plan as JSON (OCI/CDI field names)\n"
                "      --nvidia-indexes  bare numbers count NVIDIA GPUs only, 'all' means every\n"
                "                        NVIDIA GPU: how NVIDIA_VISIBLE_DEVICES is read\n"
                "      --cuda-env        also set CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES\n"
                "      --allow-mknod     add 'm' to the cgroup rules\n"
                "      --allow-bad-nodes plan even where a node is missing or has the wrong\n"
                "                        major:minor (injection would refuse; see 'gpujail list')\n"
                "      --caps LIST       also show the NVIDIA driver userspace a container with\n"
                "                        these capabilities gets (compute,utility,video,graphics,\n"
                "                        display,ngx,compat32,all): docs/driver.md\n"
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

static void print_driver(const struct gj_driver_plan *d) {
        if (!d->version) {
                printf("\nDriver userspace: none (no NVIDIA node, or no NVIDIA module loaded)\n");
                return;
        }
        _cleanup_free_ char *caps = gj_driver_caps_format(d->caps);
        printf("\nDriver userspace (module %s, %s), bound read-only:\n", d->version, caps ?: "?");
        if (d->n_files == 0)
                printf("  (none found on this host)\n");
        for (size_t i = 0; i < d->n_files; i++) {
                const struct gj_driver_file *f = &d->files[i];
                printf("  %-9s %s -> %s\n", gj_driver_file_kind_name(f->kind), f->soname ?: f->path,
                       f->host_path);
        }
}

/* --gpu auto[:N]: what `run` would pick now (free GPUs the caller may use), taking nothing. */
static int select_or_preview(const struct gj_inventory *inv, const char *spec, unsigned flags,
                             struct gj_selection *sel, const char **why) {
        unsigned want;
        int r = gj_lease_parse_auto(spec, &want);
        if (r < 0)
                return log_error_errno(r, "--gpu %s: expected auto or auto:N (N from 1 to %u)",
                                       spec, GJ_LEASE_AUTO_MAX);
        if (r == 0)
                return gj_select(inv, spec, flags, sel);
        return gj_launch_preview_auto(inv, want, false, sel, why);
}

/* plan --json of an auto selection also says what was picked and why. */
static struct json_object *with_auto(struct json_object *o, const char *spec,
                                     const struct gj_selection *sel, const char *why) {
        if (!o || !why)
                return o;
        _cleanup_json_ struct json_object *a = json_object_new_object();
        _cleanup_json_ struct json_object *idx = json_object_new_array();
        if (!a || !idx)
                return json_object_put(o), NULL;
        for (size_t i = 0; i < sel->n_devices; i++)
                if (gj_json_append(idx, json_object_new_int64(sel->devices[i]->index)) < 0)
                        return json_object_put(o), NULL;
        if (gj_json_add_string(a, "request", spec) < 0 ||
            gj_json_add(a, "picked", TAKE_PTR(idx)) < 0 ||
            gj_json_add_string(a, "reason", why) < 0 || gj_json_add(o, "auto", TAKE_PTR(a)) < 0)
                return json_object_put(o), NULL;
        return o;
}

/* plan --json: "numa": the CPUs and memory nodes `run` would bind the job to, or why not. */
static struct json_object *with_numa(struct json_object *o, const struct gj_plan *plan) {
        _cleanup_(gj_numa_bind_done) struct gj_numa_bind b = { 0 };
        if (!o || gj_launch_preview_numa(plan, &b) < 0)
                return json_object_put(o), NULL;
        _cleanup_json_ struct json_object *n = json_object_new_object();
        if (!n || gj_json_add_bool(n, "bound", b.cpus != NULL) < 0 ||
            gj_json_add_string(n, "cpus", b.cpus) < 0 ||
            gj_json_add_string(n, "mems", b.mems) < 0 ||
            gj_json_add_string(n, "reason", b.why) < 0 || gj_json_add(o, "numa", TAKE_PTR(n)) < 0)
                return json_object_put(o), NULL;
        return o;
}

int cmd_plan(int argc, char **argv) {
        enum { ARG_JSON = 0x100, ARG_NVIDIA, ARG_CUDA, ARG_MKNOD, ARG_BAD, ARG_CAPS };
        static const struct option options[] = {
                { "gpu", required_argument, NULL, 'g' },
                { "json", no_argument, NULL, ARG_JSON },
                { "nvidia-indexes", no_argument, NULL, ARG_NVIDIA },
                { "cuda-env", no_argument, NULL, ARG_CUDA },
                { "allow-mknod", no_argument, NULL, ARG_MKNOD },
                { "allow-bad-nodes", no_argument, NULL, ARG_BAD },
                { "caps", required_argument, NULL, ARG_CAPS },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct gj_plan_opts opts = {};
        const char *spec = NULL;
        bool json = false, driver = false;
        unsigned flags = 0, caps = 0;
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
                case ARG_CAPS:
                        if (gj_driver_caps_parse(optarg, &caps) < 0)
                                return GJ_EXIT_FAILURE;
                        driver = true;
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
        const char *why = NULL;
        if (select_or_preview(inv, spec, flags, &sel, &why) < 0)
                return GJ_EXIT_FAILURE;
        _cleanup_(gj_plan_done) struct gj_plan plan = {};
        if (gj_plan_build(inv, &sel, &opts, &plan) < 0)
                return GJ_EXIT_FAILURE;
        if (driver && gj_plan_add_driver(&plan, inv, caps) < 0)
                return GJ_EXIT_FAILURE;

        if (json)
                return cli_print_json(
                        with_numa(with_auto(gj_plan_to_json(&plan), spec, &sel, why), &plan));
        if (why)
                printf("--gpu %s would pick, now: %s\n\n", spec, why);
        print_plan(&plan, &sel);
        if (driver)
                print_driver(&plan.driver);
        return fflush(stdout) == 0 ? 0 : GJ_EXIT_FAILURE;
}
