/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail cdi generate|list: CDI specs for container engines. */
#include <getopt.h>
#include <json-c/json.h>

#include "cli.h"
#include "gpujail/cdi.h"
#include "gpujail/driver.h"
#include "gpujail/inventory.h"
#include "gpujail/json-util.h"
#include "gpujail/oci-config.h"
#include "gpujail/util.h"

static void cdi_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail cdi generate [--kind VENDOR/CLASS] [--format json|yaml] [--output FILE]\n"
                "                            [--allow-missing] [--caps LIST] [--hook PATH]\n"
                "       gpujail cdi list [--kind VENDOR/CLASS] [--spec FILE]\n"
                "       gpujail cdi check --spec FILE\n"
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
                "  --caps LIST     the NVIDIA driver userspace every device of the spec brings\n"
                "                  (NVIDIA_DRIVER_CAPABILITIES words: compute, utility, video,\n"
                "                  graphics, display, ngx, compat32, all; or none). Default\n"
                "                  utility,compute: libcuda, libnvidia-ml, nvidia-smi... of the\n"
                "                  loaded module's version, mounted read-only at their host paths,\n"
                "                  and a createContainer hook (gpujail-hook --link) that gives\n"
                "                  them their SONAME links and ld.so.cache entries in the image.\n"
                "  --hook PATH     gpujail-hook as the engine will run it (default\n"
                "                  " GPUJAIL_BINDIR "/gpujail-hook).\n"
                "  --spec FILE     (list) the names a spec file offers, instead of this host's;\n"
                "                  (check) the installed spec to check.\n"
                "\n"
                "check says whether an installed spec still describes this host: every device\n"
                "node exists with the numbers it names, every mounted file exists and a driver\n"
                "library is of the loaded module's version, and the host offers the same device\n"
                "names. One line per difference; exit status 0 when it matches, 1 when it is\n"
                "stale (regenerate it: systemctl restart gpujail-cdi), 125 on error.\n"
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

struct cdi_args {
        const char *kind, *format, *output, *spec, *hook;
        bool allow_missing;
        unsigned caps;
};

static bool has_nvidia(const struct gj_inventory *inv) {
        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i].vendor == GJ_VENDOR_NVIDIA)
                        return true;
        return false;
}

static int build_spec(const struct cdi_args *a, struct json_object **ret) {
        struct gj_inventory *inv = NULL;
        int r = cli_load_inventory(false, &inv);
        if (r != 0)
                return -EIO; /* logged */
        struct gj_driver_plan driver = { 0 };
        int vendor = gj_cdi_kind_vendor(a->kind ?: GJ_CDI_KIND_DEFAULT);
        if (a->caps && (vendor < 0 || vendor == GJ_VENDOR_NVIDIA) && has_nvidia(inv))
                r = gj_driver_plan_host(inv->nvidia_driver_version, a->caps, &driver);
        struct gj_cdi_opts opts = { .kind = a->kind,
                                    .allow_bad_nodes = a->allow_missing,
                                    .driver = &driver,
                                    .hook_path = a->hook };
        if (r >= 0)
                r = gj_cdi_spec_build(inv, &opts, ret);
        gj_driver_plan_done(&driver);
        gj_inventory_free(inv);
        return r;
}

static int cdi_generate(const struct cdi_args *a) {
        const char *format = a->format, *output = a->output;
        bool yaml;
        if (streq(format, "json"))
                yaml = false;
        else if (streq(format, "yaml"))
                yaml = true;
        else
                return log_error_errno(-EINVAL, "unknown format '%s': expected json or yaml", format);

        struct json_object *spec = NULL;
        int r = build_spec(a, &spec);
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

static int cdi_list(const struct cdi_args *a) {
        const char *spec_path = a->spec;
        struct json_object *spec = NULL;
        struct cdi_args all = { .kind = a->kind, .allow_missing = true };
        int r = spec_path ? read_spec_file(spec_path, &spec) : build_spec(&all, &spec);
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

/* Names in a but not in b, as problem lines: "device NAME is WHERE". */
static int names_missing(char **a, char **b, const char *where, char ***problems) {
        for (char **n = a; n && *n; n++)
                if (!strv_contains(b, *n) &&
                    strv_push(problems, strprintf("device %s is %s", *n, where)) < 0)
                        return -ENOMEM;
        return 0;
}

static int module_version(char **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file("/proc/driver/nvidia/version", &text, NULL, 64 * 1024);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "cannot read /proc/driver/nvidia/version: %m");
        return gj_nvidia_version_parse(text, ret);
}

/* 0: matches, 1: stale, negative: error (logged). */
static int cdi_check(const struct cdi_args *a) {
        if (!a->spec)
                return log_error_errno(-EINVAL, "'gpujail cdi check' needs --spec FILE");
        _cleanup_json_ struct json_object *spec = NULL;
        int r = read_spec_file(a->spec, &spec);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **problems = NULL, **theirs = NULL, **ours = NULL;
        _cleanup_free_ char *version = NULL;
        if ((r = module_version(&version)) < 0)
                return r;
        if ((r = gj_cdi_spec_check(spec, version, &problems)) < 0 ||
            (r = gj_cdi_spec_names(spec, &theirs)) < 0)
                return log_error_errno(r, "%s is not a CDI spec: %m", a->spec);
        struct json_object *kind = json_object_object_get(spec, "kind");
        struct cdi_args host = { .kind = json_object_get_string(kind), .allow_missing = true };
        _cleanup_json_ struct json_object *fresh = NULL;
        if ((r = build_spec(&host, &fresh)) < 0 && r != -ENOENT)
                return r;
        if (fresh && (r = gj_cdi_spec_names(fresh, &ours)) < 0)
                return log_error_errno(r, "cannot list this host's CDI devices: %m");
        if ((r = names_missing(ours, theirs, "on this host but not in the spec", &problems)) < 0 ||
            (r = names_missing(theirs, ours, "in the spec but not on this host", &problems)) < 0)
                return log_error_errno(r, "cannot check %s: %m", a->spec);
        for (char **p = problems; p && *p; p++)
                printf("%s: %s\n", a->spec, *p);
        if (!problems)
                printf("%s matches this host\n", a->spec);
        if (fflush(stdout) != 0)
                return -EIO;
        return problems ? 1 : 0;
}

int cmd_cdi(int argc, char **argv) {
        enum { ARG_ALLOW_MISSING = 0x100, ARG_CAPS, ARG_HOOK };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "kind", required_argument, NULL, 'k' },
                { "format", required_argument, NULL, 'f' },
                { "output", required_argument, NULL, 'o' },
                { "spec", required_argument, NULL, 's' },
                { "allow-missing", no_argument, NULL, ARG_ALLOW_MISSING },
                { "caps", required_argument, NULL, ARG_CAPS },
                { "hook", required_argument, NULL, ARG_HOOK },
                {},
        };
        struct cdi_args a = { .format = "json", .caps = GJ_DRIVER_CAPS_DEFAULT };
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
                        a.kind = optarg;
                        break;
                case 'f':
                        a.format = optarg;
                        break;
                case 'o':
                        a.output = optarg;
                        break;
                case 's':
                        a.spec = optarg;
                        break;
                case ARG_ALLOW_MISSING:
                        a.allow_missing = true;
                        break;
                case ARG_CAPS:
                        if (gj_driver_caps_parse(optarg, &a.caps) < 0)
                                return GJ_EXIT_FAILURE;
                        break;
                case ARG_HOOK:
                        if (optarg[0] != '/') {
                                log_error("--hook %s: expected an absolute path", optarg);
                                return GJ_EXIT_FAILURE;
                        }
                        a.hook = optarg;
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
                r = cdi_generate(&a);
        else if (streq(verb, "list"))
                r = cdi_list(&a);
        else if (streq(verb, "check")) {
                r = cdi_check(&a);
                return r < 0 ? GJ_EXIT_FAILURE : r;
        } else {
                log_error("unknown 'cdi' command '%s': expected generate, list or check", verb);
                return GJ_EXIT_FAILURE;
        }
        return r < 0 ? GJ_EXIT_FAILURE : 0;
}
