/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail run: option parsing; the launcher is launcher/. */
#include <getopt.h>

#include "cli.h"
#include "gpujail/launcher.h"
#include "gpujail/util.h"

static void help(FILE *f) {
        fprintf(f,
                "Usage: gpujail run [OPTIONS] -- COMMAND [ARG...]\n"
                "\n"
                "Run COMMAND with exactly the selected accelerators: it sees, and can open, their\n"
                "device nodes and nothing else of the host's devices.\n"
                "\n"
                "  sudo gpujail run --gpu 0 -- python train.py\n"
                "\n"
                "What the job gets:\n"
                "  - the host's root read-only (nosuid,nodev), the current directory read-write at\n"
                "    the same path, a private /tmp, its own /proc (OCI masks), /sys read-only;\n"
                "  - a curated /dev: null, zero, full, random, urandom, tty, the GPUs' nodes and the\n"
                "    control nodes they need, pts, shm, fd links;\n"
                "  - a device cgroup (v1 and v2) that allows exactly those nodes;\n"
                "  - your identity (SUDO_UID/SUDO_GID and your groups), no capabilities,\n"
                "    no_new_privs, no file descriptor of gpujail's; your environment plus\n"
                "    GPUJAIL_DEVICES (the UUIDs granted);\n"
                "  - your terminal, but no TIOCSTI or TIOCLINUX (seccomp): it cannot type into it.\n"
                "\n"
                "Options:\n"
                "  -g, --gpu SEL          accelerators to give: 0,2 | all | none | GPU-<uuid> |\n"
                "                         0000:3b:00.0 | nvidia:1 ... (default: no GPU and\n"
                "                         no control node; 'none' gives NVIDIA's control nodes)\n"
                "                         auto | auto:N: N free GPUs among those you may use\n"
                "      --share            lease the GPUs shared with other --share jobs, not\n"
                "                         exclusively (a user needs the policy's allow = share)\n"
                "      --wait[=TIMEOUT]   when the GPUs are held or other jobs wait for GPUs,\n"
                "                         queue until it is this job's turn and they are free\n"
                "                         (first come, first served; says its place on stderr;\n"
                "                         Ctrl-C leaves the queue); TIMEOUT: 30, 90s, 5m, 2h.\n"
                "                         Without --wait, a request that finds jobs waiting is\n"
                "                         refused\n"
                "      --verbose          say which GPUs --gpu auto picked, and why (one NUMA\n"
                "                         node, one PCIe switch, or the lowest free indexes),\n"
                "                         and which CPUs and memory nodes the job is bound to\n"
                "      --no-numa-bind     do not bind the job's CPUs and memory to its GPUs' NUMA\n"
                "                         node(s); bound by default on a host with more than one\n"
                "                         node, never wider than your own cpuset\n"
                "      --rootfs DIR       run in DIR (an unpacked image) instead of the host's root;\n"
                "                         with NVIDIA GPUs the host's driver userspace is bound\n"
                "                         in (libcuda, nvidia-smi...: see --caps); DIR itself is\n"
                "                         not written: the directories that receive it are\n"
                "                         covered by a tmpfs overlay for the job\n"
                "      --caps LIST        which driver userspace --rootfs gets, NVIDIA's words:\n"
                "                         compute,utility,video,graphics,display,ngx,compat32,\n"
                "                         all, or none (default: utility,compute)\n"
                "  -v, --bind SRC[:DST][:ro]  bind a host path (repeatable; rw unless :ro)\n"
                "      --device PATH      also give this host device node (repeatable)\n"
                "      --net host|none    the host's network (default) or only loopback\n"
                "      --dev-minimal      /dev holds only device nodes (no pts, shm, fd links)\n"
                "      --mask-proc        also hide host-wide counters (/proc/loadavg, /proc/stat...)\n"
                "  -u, --user UID[:GID]   run as this user instead of the one who ran sudo\n"
                "                         (a user may name only themselves and their groups)\n"
                "      --cap-add CAP      keep this capability (repeatable; default: none)\n"
                "      --allow-mknod      let the cgroup allow mknod of the given nodes\n"
                "      --set-cuda-env     also set CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES,\n"
                "                         and ROCR_/HIP_VISIBLE_DEVICES for AMD GPUs (left as\n"
                "                         you set them otherwise)\n"
                "  -h, --help             show this help\n"
                "\n"
                "GPU leases: every GPU a job gets is leased to it until it ends, however it\n"
                "ends; no other job gets it meanwhile. --gpu auto:2 picks two free GPUs (on one\n"
                "NUMA node when it can); --gpu 3 on a GPU another job holds is refused, naming\n"
                "who holds it; 'gpujail ps' shows who holds what.\n"
                "\n"
                "On a shared host, users run it through sudo (a sudoers line that grants only\n"
                "'gpujail run *'). Then the job runs as you, with your own groups; --bind\n"
                "sources, --rootfs and the working directory are opened with your rights, and\n"
                "mount points are made, as you, only in the job's /tmp or in a --rootfs you own;\n"
                "--user (as anyone else), --cap-add, --allow-mknod and --device are refused\n"
                "unless the administrator's /etc/gpujail/policy.conf allows them, and the GPUs\n"
                "you may ask for are the policy's. Each run is logged to syslog (authpriv).\n"
                "See 'gpujail policy check --user NAME' and docs/shared-hosts.md.\n"
                "\n"
                "Without root, gpujail uses a user namespace: the same /dev view, but the device\n"
                "cgroup is not enforced, and it says so.\n"
                "\n"
                "Exit status: COMMAND's; 128+N if it was killed by signal N; 126 if it cannot be\n"
                "executed, 127 if it is not found; 125 if gpujail itself failed.\n"
                "\n"
                "See 'gpujail plan --gpu SEL' for what a selection gives, 'gpujail list' for the GPUs.\n"
                "GPUJAIL_DEBUG=1 prints a timeline of the start-up on stderr.\n");
}

enum {
        OPT_ROOTFS = 0x100,
        OPT_DEVICE,
        OPT_NET,
        OPT_DEV_MINIMAL,
        OPT_MASK_PROC,
        OPT_CAP_ADD,
        OPT_ALLOW_MKNOD,
        OPT_SET_CUDA_ENV,
        OPT_CAPS,
        OPT_SHARE,
        OPT_WAIT,
        OPT_VERBOSE,
        OPT_NO_NUMA_BIND,
};

static const struct option options[] = {
        { "gpu", required_argument, NULL, 'g' },
        { "gpus", required_argument, NULL, 'g' },
        { "rootfs", required_argument, NULL, OPT_ROOTFS },
        { "bind", required_argument, NULL, 'v' },
        { "device", required_argument, NULL, OPT_DEVICE },
        { "net", required_argument, NULL, OPT_NET },
        { "dev-minimal", no_argument, NULL, OPT_DEV_MINIMAL },
        { "mask-proc", no_argument, NULL, OPT_MASK_PROC },
        { "user", required_argument, NULL, 'u' },
        { "cap-add", required_argument, NULL, OPT_CAP_ADD },
        { "allow-mknod", no_argument, NULL, OPT_ALLOW_MKNOD },
        { "set-cuda-env", no_argument, NULL, OPT_SET_CUDA_ENV },
        { "caps", required_argument, NULL, OPT_CAPS },
        { "share", no_argument, NULL, OPT_SHARE },
        { "wait", optional_argument, NULL, OPT_WAIT },
        { "verbose", no_argument, NULL, OPT_VERBOSE },
        { "no-numa-bind", no_argument, NULL, OPT_NO_NUMA_BIND },
        { "help", no_argument, NULL, 'h' },
        {},
};

static int parse_user(const char *s, struct gj_launch_opts *o) {
        _cleanup_free_ char *u = strdup(s);
        if (!u)
                return -ENOMEM;
        char *g = strchr(u, ':');
        if (g)
                *g++ = 0;
        unsigned uid, gid = 0;
        if (safe_atou(u, &uid) < 0 || (g && safe_atou(g, &gid) < 0))
                return log_error_errno(-EINVAL, "--user %s: expected UID[:GID] (numbers)", s);
        o->has_user = true;
        o->uid = uid;
        o->has_gid = g != NULL;
        o->gid = gid;
        return 0;
}

/* --wait[=TIMEOUT]: seconds, or a number with s, m or h. */
static int parse_wait(const char *s, struct gj_launch_opts *o) {
        o->wait = true;
        o->wait_spec = s ?: "forever";
        if (!s)
                return 0;
        char *end;
        errno = 0;
        long n = strtol(s, &end, 10);
        long unit = streq(end, "") || streq(end, "s") ? 1000 : streq(end, "m") ? 60000 : streq(end, "h") ? 3600000 : 0;
        if (errno || end == s || n <= 0 || unit == 0 || n > 30L * 24 * 3600)
                return log_error_errno(-EINVAL, "--wait=%s: expected a time: seconds, or N with s, m or h (30, 90s, 5m, 2h)", s);
        o->wait_timeout_ms = n * unit;
        return 0;
}

static int add_bind(const char *spec, struct gj_launch_opts *o) {
        struct gj_bind *b = realloc(o->binds, (o->n_binds + 1) * sizeof(*b));
        if (!b)
                return -ENOMEM;
        o->binds = b;
        int r = gj_bind_parse(spec, &o->binds[o->n_binds]);
        if (r >= 0)
                o->n_binds++;
        return r;
}

static int parse_options(int argc, char **argv, struct gj_launch_opts *o) {
        int c, r = 0;
        optind = 0;
        while (r >= 0 && (c = getopt_long(argc, argv, "+g:v:u:h", options, NULL)) != -1) {
                switch (c) {
                case 'g': o->gpus = optarg; break;
                case OPT_ROOTFS: o->rootfs = optarg; break;
                case 'v': r = add_bind(optarg, o); break;
                case OPT_DEVICE: r = strv_push(&o->devices, strdup(optarg)); break;
                case OPT_NET:
                        if (streq(optarg, "none"))
                                o->net = GJ_NET_NONE;
                        else if (streq(optarg, "host"))
                                o->net = GJ_NET_HOST;
                        else
                                r = log_error_errno(-EINVAL, "--net %s: expected 'host' or 'none'", optarg);
                        break;
                case OPT_DEV_MINIMAL: o->dev_minimal = true; break;
                case OPT_MASK_PROC: o->mask_proc = true; break;
                case 'u': r = parse_user(optarg, o); break;
                case OPT_CAP_ADD: r = strv_push(&o->cap_add, strdup(optarg)); break;
                case OPT_ALLOW_MKNOD: o->allow_mknod = true; break;
                case OPT_SET_CUDA_ENV: o->set_cuda_env = true; break;
                case OPT_CAPS:
                        r = gj_driver_caps_parse(optarg, &o->driver_caps);
                        break;
                case OPT_SHARE: o->share = true; break;
                case OPT_WAIT: r = parse_wait(optarg, o); break;
                case OPT_VERBOSE: o->verbose = true; break;
                case OPT_NO_NUMA_BIND: o->no_numa_bind = true; break;
                case 'h': help(stdout); return 1;
                default: return -EINVAL;
                }
        }
        if (r < 0)
                return r;
        if (optind >= argc)
                return log_error_errno(-EINVAL, "no command given; see 'gpujail run --help'");
        o->argv = argv + optind;
        return 0;
}

int cmd_run(int argc, char **argv) {
        struct gj_launch_opts o = { .driver_caps = GJ_DRIVER_CAPS_DEFAULT };
        int r = parse_options(argc, argv, &o), status = GJ_EXIT_FAILURE;
        if (r > 0)
                status = 0;
        else if (r == 0) {
                /* module state (libkmod) is for list/setup: a launch only needs the nodes */
                struct gj_inventory_opts iopts = {
                        .proc_root = cli_proc_root(),
                        .skip_modules = true,
                };
                status = gj_launch(&o, &iopts);
        }
        for (size_t i = 0; i < o.n_binds; i++)
                gj_bind_done(&o.binds[i]);
        free(o.binds);
        strv_free(o.devices);
        strv_free(o.cap_add);
        return status;
}
