/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail cdi generate|list: CDI specs for container engines. */
#include <getopt.h>
#include <json-c/json.h>

#include "cli.h"
#include "gpujail/cdi.h"
#include "gpujail/oci-config.h"
#include "gpujail/util.h"

static void cdi_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail cdi generate [--kind VENDOR/CLASS] [--format json|yaml] [--output FILE]\n"
                "                            [--allow-missing]\n"
                "       gpujail cdi list [--kind VENDOR/CLASS] [--spec FILE]\n"
                "\n"
                "Write a Container Device Interface spec for this host's accelerators, for podman\n"
                "(>= 4.1), CRI-O (>= 1.24), containerd (>= 1.7, enable_cdi), Docker (>= 25) and\n"
                "Kubernetes device plugins. Each GPU is a CDI device named by its index and again by\n"
                "its UUID (PCI bus id when it has none), plus 'all'; each lists every device node it\n"
                "needs (its own and the control nodes) with the cgroup permission 'rw'. Each MIG\n"
                "device is one too, named as NVIDIA names it ('2:0', GPU:MIG) and by its MIG-<uuid>\n"
                "when NVML knows it: its GPU's node, its two /dev/nvidia-caps nodes, the controls.\n"
                "\n"
                "  --kind K        default " GJ_CDI_KIND_DEFAULT
                ", which covers every accelerator and does\n"
                "                  not collide with NVIDIA's or AMD's own specs. nvidia.com/gpu,\n"
                "                  amd.com/gpu or intel.com/gpu make a drop-in for that vendor's spec:\n"
                "                  only its devices, numbered as the vendor numbers them.\n"
                "                  " GJ_CDI_KIND_IMEX " (NVIDIA's): the IMEX channels, named N.\n"
                "  --format F      json (default) or yaml.\n"
                "  --output FILE   write FILE atomically (mode 0644) instead of stdout; engines\n"
                "                  read /etc/cdi and /var/run/cdi.\n"
                "  --allow-missing describe nodes that are missing or wrong on this host anyway.\n"
                "  --spec FILE     (list) the names a spec file offers, instead of this host's.\n"
                "\n"
                "Example: gpujail cdi generate --output /var/run/cdi/gpujail.json\n"
                "         podman run --device " GJ_CDI_KIND_DEFAULT "=0 ...\n");
}

static int spec_text(struct json_object *spec, bool yaml, char **ret) {
        char *s;
        if (yaml)
                s = gj_cdi_spec_to_yaml(spec);
        else {
                const char *j = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
                s = j ? strprintf("%s\n", j) : NULL;
        }
        if (!s)
                return log_error_errno(-ENOMEM, "cannot format the CDI spec: %m");
        *ret = s;
        return 0;
}

static int build_spec(const char *kind, bool allow_missing, struct json_object **ret) {
        struct gj_inventory *inv = NULL;
        int r = cli_load_inventory(false, &inv);
        if (r != 0)
                return -EIO; /* logged */
        struct gj_cdi_opts opts = { .kind = kind, .allow_bad_nodes = allow_missing };
        r = gj_cdi_spec_build(inv, &opts, ret);
        gj_inventory_free(inv);
        return r;
}

static int cdi_generate(const char *kind, const char *format, const char *output, bool allow_missing) {
        bool yaml;
        if (streq(format, "json"))
                yaml = false;
        else if (streq(format, "yaml"))
                yaml = true;
        else
                return log_error_errno(-EINVAL, "unknown format '%s': expected json or yaml", format);

        struct json_object *spec = NULL;
        int r = build_spec(kind, allow_missing, &spec);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        r = spec_text(spec, yaml, &text);
        json_object_put(spec);
        if (r < 0)
                return r;
        if (!output) {
                fputs(text, stdout);
                return fflush(stdout) == 0 ? 0 : log_error_errno(-errno, "cannot write the CDI spec: %m");
        }
        r = write_file_atomic(output, text, strlen(text), 0644);
        if (r < 0)
                return log_error_errno(r, "cannot write the CDI spec to %s: %m", output);
        return 0;
}

static int read_spec_file(const char *path, struct json_object **ret) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_full_file(path, &text, &len, GJ_OCI_CONFIG_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read CDI spec %s: %m", path);
        /* YAML specs are read by engines; we list JSON ones (ours default to JSON). */
        return gj_oci_config_parse(path, text, len, ret);
}

static int cdi_list(const char *kind, const char *spec_path) {
        struct json_object *spec = NULL;
        int r = spec_path ? read_spec_file(spec_path, &spec) : build_spec(kind, true, &spec);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **names = NULL;
        r = gj_cdi_spec_names(spec, &names);
        json_object_put(spec);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s is not a CDI spec: it needs a valid \"kind\" and \"devices\" with valid names",
                                       spec_path ? spec_path : "the generated spec");
        if (r < 0)
                return log_error_errno(r, "cannot list CDI devices: %m");
        for (size_t i = 0; names[i]; i++)
                puts(names[i]);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int cmd_cdi(int argc, char **argv) {
        enum { ARG_ALLOW_MISSING = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "kind", required_argument, NULL, 'k' },
                { "format", required_argument, NULL, 'f' },
                { "output", required_argument, NULL, 'o' },
                { "spec", required_argument, NULL, 's' },
                { "allow-missing", no_argument, NULL, ARG_ALLOW_MISSING },
                {},
        };
        const char *kind = NULL, *format = "json", *output = NULL, *spec = NULL;
        bool allow_missing = false;
        int c;

        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                cdi_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? GJ_EXIT_FAILURE : 0;
        }
        const char *verb = argv[1];
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "hk:f:o:s:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        cdi_usage(stdout);
                        return 0;
                case 'k':
                        kind = optarg;
                        break;
                case 'f':
                        format = optarg;
                        break;
                case 'o':
                        output = optarg;
                        break;
                case 's':
                        spec = optarg;
                        break;
                case ARG_ALLOW_MISSING:
                        allow_missing = true;
                        break;
                default:
                        cdi_usage(stderr);
                        return GJ_EXIT_FAILURE;
                }
        if (optind < argc - 1) {
                log_error("unexpected argument '%s'; see 'gpujail cdi --help'", argv[optind + 1]);
                return GJ_EXIT_FAILURE;
        }

        int r;
        if (streq(verb, "generate"))
                r = cdi_generate(kind, format, output, allow_missing);
        else if (streq(verb, "list"))
                r = cdi_list(kind, spec);
        else {
                log_error("unknown 'cdi' command '%s': expected generate or list", verb);
                return GJ_EXIT_FAILURE;
        }
        return r < 0 ? GJ_EXIT_FAILURE : 0;
}
