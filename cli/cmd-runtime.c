/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail runtime: an OCI runtime wrapper. Engines register it as their
 * runtime; on create/run it reads the container's request from config.json
 * (the same reader as the hook), injects the plan into config.json, and
 * execs the real runtime with the same arguments. Every other verb goes
 * straight through untouched.
 */
#include "cli.h"
#include "gpujail/bundle.h"
#include "gpujail/launcher.h"
#include "gpujail/slurm.h"
#include "gpujail/util.h"

static void runtime_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail runtime [--runtime PATH] [--kind VENDOR/CLASS] [--ignore-env] [--]\n"
                "                       RUNTIME-ARGS...\n"
                "\n"
                "An OCI runtime wrapper for container engines (podman --runtime, containerd\n"
                "runtimes, Docker daemon.json \"runtimes\"). Engines call it with runc's arguments;\n"
                "for 'create' and 'run' it reads the request from the bundle's config.json, first\n"
                "match wins: annotation gpujail.io/gpus, cdi.k8s.io/* annotations naming devices of\n"
                "the CDI kind (default gpujail.io/gpu), NVIDIA_VISIBLE_DEVICES in process.env. It\n"
                "puts the GPUs into config.json (as 'gpujail oci inject'), then execs the runtime\n"
                "with the same arguments. Other verbs, and containers that ask for nothing, go\n"
                "straight through. A request it cannot satisfy fails the container (exit 125).\n"
                "\n"
                "Run by a Slurm task (srun --container, RunTimeRun in oci.conf), a container that\n"
                "asks for nothing gets exactly the GPUs Slurm allocated to the task: read from the\n"
                "task's device cgroup (spank_gpujail.so), else SLURM_STEP_GPUS. Slurm passes no\n"
                "GPU variable into the container itself; with --ignore-env, a CUDA image's\n"
                "NVIDIA_VISIBLE_DEVICES=all gets the task's GPUs too. See docs/slurm.md.\n"
                "\n"
                "  --runtime PATH  the real runtime (default: runc, from PATH)\n"
                "  --kind K        the CDI kind whose names cdi.k8s.io annotations may use\n"
                "  --ignore-env    do not honour NVIDIA_VISIBLE_DEVICES: it comes from the image\n"
                "                  (NVIDIA's CUDA images say 'all'), annotations from the engine\n"
                "\n"
                "Engines take one executable, so install a two-line wrapper, e.g.\n"
                "  #!/bin/sh\n"
                "  exec gpujail runtime --runtime /usr/sbin/runc \"$@\"\n");
}

static const char *option_name(const char *arg) {
        if (arg[0] != '-')
                return NULL;
        return arg + (arg[1] == '-' ? 2 : 1);
}

static bool name_in(const char *name, const char *const *list) {
        size_t n = strcspn(name, "=");
        for (; *list; list++)
                if (strlen(*list) == n && strncmp(name, *list, n) == 0)
                        return true;
        return false;
}

/* runc's (and crun's) global options that take a value: skipped to find the verb. */
static const char *const global_with_value[] = {
        "log", "log-format", "log-level", "root", "criu", "rootless", "cgroup-manager", NULL,
};

/* Index of the verb in args, or -1. */
static int find_verb(int n, char **args) {
        for (int i = 0; i < n; i++) {
                const char *name = option_name(args[i]);
                if (!name)
                        return i;
                if (streq(args[i], "--"))
                        return i + 1 < n ? i + 1 : -1;
                if (!strchr(name, '=') && name_in(name, global_with_value))
                        i++;
        }
        return -1;
}

/* create/run options that take a value, so that their value is not taken for a bundle flag. */
static const char *const create_with_value[] = {
        "bundle", "b", "console-socket", "pid-file", "preserve-fds", NULL,
};

static const char *find_bundle(int n, char **args) {
        for (int i = 0; i < n; i++) {
                static const char *const bundle_names[] = { "bundle", "b", NULL };
                const char *name = option_name(args[i]);
                if (streq(args[i], "--"))
                        break;
                if (!name || !name_in(name, create_with_value))
                        continue;
                const char *eq = strchr(name, '=');
                bool is_bundle = name_in(name, bundle_names);
                const char *value = eq ? eq + 1 : (i + 1 < n ? args[i + 1] : NULL);
                if (!eq)
                        i++;
                if (is_bundle)
                        return value;
        }
        return NULL;
}

/* A container that asks for nothing, run by a Slurm task (srun --container with
 * examples/slurm/oci.conf): Slurm passes no GPU variable into the container, but we run in
 * the task's device cgroup, which spank_gpujail.so made default-deny. Inject exactly the
 * task's GPUs, so that runc's own device rules keep them (else it denies them in the
 * container's cgroup) and their nodes are in the container's /dev. Outside a job,
 * nothing. */
static int slurm_inject(struct gj_bundle *bundle) {
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        _cleanup_(gj_selection_done) struct gj_selection allowed = {};
        const char *from = NULL;

        if (!gj_launcher_in_slurm_job())
                return 0; /* the usual case, before any inventory */
        if (cli_load_inventory(false, &inv) != 0)
                return -EIO; /* logged */
        int r = gj_launcher_slurm_allowed(inv, &allowed, &from);
        if (r <= 0 || allowed.n_devices == 0)
                return r;
        _cleanup_free_ char *gpus = gj_selection_nvidia_indexes(&allowed);
        _cleanup_free_ char *origin = strprintf("the Slurm task's allocation (%s)", from);
        if (!gpus || !origin)
                return log_error_errno(-ENOMEM, "cannot note the Slurm allocation: %m");
        log_debug("no request in config.json; Slurm allocated GPU(s) %s (%s)", gpus, from);
        return cli_oci_inject_bundle(bundle, gpus, GJ_SELECT_NVIDIA_INDEXES, origin, NULL, NULL);
}

/* Inject the bundle's request, if it has one; under Slurm, else the task's allocation. */
static int prepare_bundle(int n, char **args, const char *kind, bool ignore_env) {
        int v = find_verb(n, args);
        if (v < 0 || !(streq(args[v], "create") || streq(args[v], "run")))
                return 0;
        const char *dir = find_bundle(n - v - 1, args + v + 1);
        _cleanup_(gj_bundle_done) struct gj_bundle bundle = {};
        /* Read once: the request and the document it is injected into are the same text. */
        int r = gj_bundle_read(dir ? dir : ".", &(struct gj_bundle_opts){ .request = true, .cdi_kind = kind },
                               &bundle);
        if (r < 0)
                return r;
        const struct gj_oci_request *req = &bundle.request;
        if (req->source == GJ_REQUEST_ENV && ignore_env) {
                log_debug("ignoring %s (--ignore-env)", req->origin);
                /* A CUDA image's "all", under Slurm: the task's GPUs. */
                return slurm_inject(&bundle);
        }
        if (req->source == GJ_REQUEST_NONE)
                return slurm_inject(&bundle);
        return cli_oci_inject_bundle(&bundle, req->selector, req->select_flags, req->origin, NULL,
                                     NULL);
}

int cmd_runtime(int argc, char **argv) {
        const char *runtime = "runc", *kind = NULL;
        bool ignore_env = false;
        int i = 1;

        for (; i < argc; i++) {
                const char *a = argv[i], *v;
                if (streq(a, "--")) {
                        i++;
                        break;
                } else if (streq(a, "--help") || streq(a, "-h")) {
                        runtime_usage(stdout);
                        return 0;
                } else if (streq(a, "--ignore-env"))
                        ignore_env = true;
                else if ((v = startswith(a, "--runtime=")))
                        runtime = v;
                else if ((v = startswith(a, "--kind=")))
                        kind = v;
                else if ((streq(a, "--runtime") || streq(a, "--kind")) && i + 1 < argc)
                        *(streq(a, "--runtime") ? &runtime : &kind) = argv[++i];
                else
                        break;
        }
        if (i >= argc) {
                runtime_usage(stderr);
                return GJ_EXIT_FAILURE;
        }

        if (prepare_bundle(argc - i, argv + i, kind, ignore_env) < 0)
                return GJ_EXIT_FAILURE;

        /* The runtime gets our argv from the first runtime argument on, behind its own name. */
        argv[i - 1] = (char *)runtime;
        execvp(runtime, argv + i - 1);
        int r = log_error_errno(-errno, "cannot execute the runtime %s: %m", runtime);
        return r == -ENOENT ? GJ_EXIT_NOT_FOUND : GJ_EXIT_CANNOT_EXEC;
}
