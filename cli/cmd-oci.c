/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail oci inject: put the selected GPUs into a bundle's config.json. */
#include <getopt.h>

#include "cli.h"
#include "gpujail/bundle.h"
#include "gpujail/inventory.h"
#include "gpujail/oci-config.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

static void oci_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail oci inject --gpu SELECTOR [--bundle DIR] [--nvidia-indexes]\n"
                "                          [--caps LIST] [--hook PATH]\n"
                "\n"
                "Edit an OCI bundle's config.json so that the runtime itself gives the container the\n"
                "selected GPUs: linux.devices for exactly the plan's nodes (the GPUs' own and their\n"
                "control nodes), linux.resources.devices allow rules for them (after the runtime's\n"
                "deny-all), and GPUJAIL_DEVICES in process.env. Devices in the spec survive what\n"
                "re-applies cgroup policy (systemctl daemon-reload), unlike hook-only injection.\n"
                "Running it twice gives the same file as once. The file is replaced atomically and\n"
                "keeps its mode; on any error it is left as it was.\n"
                "\n"
                "  --gpu SEL          0,2 | all | none | GPU-<uuid> | 0000:3b:00.0 | nvidia:1 ...\n"
                "  --bundle DIR       the bundle (default: the current directory)\n"
                "  --nvidia-indexes   bare indexes count NVIDIA GPUs only (NVIDIA_VISIBLE_DEVICES)\n"
                "  --caps LIST        the NVIDIA driver userspace to add with NVIDIA GPUs (mounts,\n"
                "                     and a createContainer hook for its links and ld.so.cache\n"
                "                     entries): compute,utility,video,graphics,display,ngx,\n"
                "                     compat32, all or none. Default: the bundle's annotation\n"
                "                     gpujail.io/capabilities, else its NVIDIA_DRIVER_CAPABILITIES,\n"
                "                     else utility,compute\n"
                "  --hook PATH        gpujail-hook as the runtime will run it (default\n"
                "                     " GPUJAIL_BINDIR "/gpujail-hook)\n");
}

static int plan_for(const struct gj_inventory *inv, const char *selector, unsigned flags, const char *origin,
                    struct gj_plan *ret) {
        struct gj_selection sel = {};
        int r = gj_select(inv, selector, flags, &sel); /* logs what is wrong with which item */
        if (r < 0)
                return r;
        log_debug("selected %zu device(s) from %s", sel.n_devices, origin);
        struct gj_plan_opts opts = {};
        r = gj_plan_build(inv, &sel, &opts, ret);
        gj_selection_done(&sel);
        return r;
}

int cli_oci_inject_bundle(struct gj_bundle *bundle, const char *selector, unsigned select_flags,
                          const char *origin, const char *caps_text, const char *hook_path) {
        unsigned caps;
        int r = caps_text ? gj_driver_caps_parse(caps_text, &caps)
                          : gj_driver_caps_from_config(bundle->config, &caps);
        if (r < 0)
                return r;
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        if (cli_load_inventory(false, &inv) != 0)
                return -EIO; /* logged */
        _cleanup_(gj_plan_done) struct gj_plan plan = {};
        if ((r = plan_for(inv, selector, select_flags, origin, &plan)) < 0 ||
            (r = gj_plan_add_driver(&plan, inv, caps)) < 0)
                return r;
        /* the hook shows the container these GPUs alone in /proc/driver/nvidia */
        _cleanup_strv_free_ char **gpus = NULL;
        if ((r = gj_plan_proc_gpus(&plan, &gpus)) < 0)
                return log_error_errno(r, "cannot list the container's GPUs: %m");
        _cleanup_free_ char *proc_gpus = gpus ? strv_join(gpus, ",") : strdup("");
        if (!proc_gpus)
                return log_error_errno(-ENOMEM, "cannot list the container's GPUs: %m");
        /* On error the document is dropped by the caller: never written half-edited. */
        if ((r = gj_oci_config_inject(bundle->config, &plan)) < 0 ||
            (r = gj_oci_config_inject_driver(bundle->config, &plan.driver,
                                             hook_path ?: GPUJAIL_BINDIR "/gpujail-hook",
                                             proc_gpus)) < 0)
                return r;
        _cleanup_free_ char *text = gj_oci_config_format(bundle->config);
        if (!text)
                return log_error_errno(-ENOMEM, "cannot format %s: %m", bundle->config_path);
        /* No fsync: the bundle does not outlive a crash, and this is on the container-start path. */
        r = write_file_atomic_flags(bundle->config_path, text, strlen(text), bundle->mode, WRITE_ATOMIC_NO_SYNC);
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %m", bundle->config_path);
        return 0;
}

static int oci_inject(const char *dir, const char *selector, unsigned select_flags,
                      const char *caps, const char *hook) {
        _cleanup_(gj_bundle_done) struct gj_bundle bundle = {};
        /* Read before planning: a broken config.json is reported as such. */
        int r = gj_bundle_read(dir, &(struct gj_bundle_opts){}, &bundle);
        if (r < 0)
                return r;
        return cli_oci_inject_bundle(&bundle, selector, select_flags, "--gpu", caps, hook);
}

int cmd_oci(int argc, char **argv) {
        enum { ARG_NVIDIA_INDEXES = 0x100, ARG_CAPS, ARG_HOOK };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "gpu", required_argument, NULL, 'g' },
                { "bundle", required_argument, NULL, 'b' },
                { "nvidia-indexes", no_argument, NULL, ARG_NVIDIA_INDEXES },
                { "caps", required_argument, NULL, ARG_CAPS },
                { "hook", required_argument, NULL, ARG_HOOK },
                {},
        };
        const char *gpu = NULL, *bundle = ".", *caps = NULL, *hook = NULL;
        unsigned flags = 0;
        int c;

        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                oci_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? GJ_EXIT_FAILURE : 0;
        }
        if (!streq(argv[1], "inject")) {
                log_error("unknown 'oci' command '%s': expected inject", argv[1]);
                return GJ_EXIT_FAILURE;
        }
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "hg:b:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        oci_usage(stdout);
                        return 0;
                case 'g':
                        gpu = optarg;
                        break;
                case 'b':
                        bundle = optarg;
                        break;
                case ARG_NVIDIA_INDEXES:
                        flags |= GJ_SELECT_NVIDIA_INDEXES;
                        break;
                case ARG_CAPS:
                        caps = optarg;
                        break;
                case ARG_HOOK:
                        if (optarg[0] != '/') {
                                log_error("--hook %s: expected an absolute path", optarg);
                                return GJ_EXIT_FAILURE;
                        }
                        hook = optarg;
                        break;
                default:
                        oci_usage(stderr);
                        return GJ_EXIT_FAILURE;
                }
        if (optind < argc - 1) {
                log_error("unexpected argument '%s'; see 'gpujail oci --help'", argv[optind + 1]);
                return GJ_EXIT_FAILURE;
        }
        if (!gpu) {
                log_error("'gpujail oci inject' needs --gpu SELECTOR (e.g. --gpu 0, --gpu all)");
                return GJ_EXIT_FAILURE;
        }
        return oci_inject(bundle, gpu, flags, caps, hook) < 0 ? GJ_EXIT_FAILURE : 0;
}
