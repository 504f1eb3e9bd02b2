/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail-hook: the OCI hook. The runtime writes the container's state on
 * stdin; the stage is the first argument (none = prestart).
 */
#include <getopt.h>

#include "gpujail/hook-config.h"
#include "gpujail/oci-hook.h"
#include "gpujail/util.h"

static void help(void) {
        printf("Usage: gpujail-hook [OPTIONS] [prestart|createRuntime|createContainer]\n"
               "\n"
               "OCI hook: gives a container the accelerators its config.json asks for.\n"
               "The runtime passes the container state on stdin. First match wins:\n"
               "  annotation gpujail.io/gpus=SELECTOR   (\"0,2\", \"all\", \"GPU-...\", \"none\")\n"
               "  annotations cdi.k8s.io/*=gpujail.io/gpu=NAME[,...]\n"
               "  env NVIDIA_VISIBLE_DEVICES            (NVIDIA semantics: all, none, void,\n"
               "                                         NVIDIA indexes, UUIDs)\n"
               "among the sources that %s accepts (root-owned;\n"
               "\"accept = annotation, cdi, env\"). Default: annotation, cdi; the image's\n"
               "env is not accepted. A request from another source is ignored (logged).\n"
               "Nothing requested: exits 0 at once. Any failure: exit %d, one line on\n"
               "stderr, and the runtime refuses the container.\n"
               "\n"
               "Options:\n"
               "  --cdi-kind KIND   CDI kind whose names are ours (default gpujail.io/gpu)\n"
               "  --link SONAME=PATH  instead: the library the runtime mounted at PATH in\n"
               "                    the container (a CDI spec's mounts) gets its SONAME link,\n"
               "                    an entry in the image's /etc/ld.so.cache and a drop-in in\n"
               "                    /etc/ld.so.conf.d (repeatable; written by 'gpujail cdi\n"
               "                    generate'; nothing is executed)\n"
               "  --proc-gpus BUS,...  with --link: the container's /proc/driver/nvidia/gpus\n"
               "                    lists these PCI bus ids alone (\"\": none), and its\n"
               "                    params says ModifyDeviceFiles: 0 (written by 'gpujail\n"
               "                    oci inject' and 'gpujail runtime')\n"
               "  --debug           log what is decided\n"
               "  -h, --help        this text\n"
               "  --version         print the version\n"
               "\n"
               "Register it with its own \"env\" (see examples/hooks.d and\n"
               "examples/runc-config-hooks.json): a hook without one inherits the\n"
               "runtime's environment, which for createContainer is the image's.\n",
               GJ_HOOK_CONFIG_PATH, GJ_EXIT_FAILURE);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "cdi-kind", required_argument, NULL, 'k' }, { "debug", no_argument, NULL, 'd' },
                { "link", required_argument, NULL, 'l' },     { "help", no_argument, NULL, 'h' },
                { "proc-gpus", required_argument, NULL, 'p' },
                { "version", no_argument, NULL, 'V' },        {},
        };
        _cleanup_strv_free_ char **links = NULL;
        struct gj_hook_opts opts = {};
        int c;

        log_set_program("gpujail-hook");
        /* The runtime may drop a hook's stderr: errors and the audit line go to syslog too. */
        log_set_syslog(true);

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'k':
                        opts.cdi_kind = optarg;
                        break;
                case 'd':
                        log_set_max_level(GJ_LOG_DEBUG);
                        break;
                case 'l':
                        if (strv_push(&links, strdup(optarg)) < 0) {
                                log_error("out of memory");
                                return GJ_EXIT_FAILURE;
                        }
                        break;
                case 'p':
                        opts.proc_gpus = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("gpujail-hook %s\n", GPUJAIL_VERSION);
                        return 0;
                default:
                        return GJ_EXIT_FAILURE;
                }
        }
        if (argc - optind > 1) {
                log_error("too many arguments; usage: gpujail-hook [STAGE] < state.json");
                return GJ_EXIT_FAILURE;
        }
        int stage = gj_hook_stage_from_string(optind < argc ? argv[optind] : NULL);
        if (stage < 0) {
                log_error("unknown hook stage '%s': use prestart, createRuntime or createContainer",
                          argv[optind]);
                return GJ_EXIT_FAILURE;
        }
        opts.stage = (enum gj_hook_stage)stage;
        opts.links = links;
        if (opts.proc_gpus && !links) {
                log_error("--proc-gpus goes with --link");
                return GJ_EXIT_FAILURE;
        }

        return gj_hook_run(&opts, STDIN_FILENO) < 0 ? GJ_EXIT_FAILURE : 0;
}
