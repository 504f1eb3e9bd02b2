/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail setup: what nvidia-modprobe does, without forking it. Load the
 * NVIDIA modules that are missing (libkmod), then create the NVIDIA nodes
 * that are missing, with the driver's numbers and /proc/driver/nvidia/params'
 * mode and owner. A wrong node is reported and left alone unless --fix.
 */
#include <getopt.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cli.h"
#include "gpujail/host-nodes.h"
#include "gpujail/modules.h"
#include "gpujail/inventory.h"
#include "gpujail/util.h"

struct setup_opts {
        bool dry_run;
        bool fix;
        bool modules;
        bool nodes;
};

static void setup_usage(FILE *f) {
        fprintf(f,
                "Usage: sudo gpujail setup [--dry-run] [--fix] [--no-modules] [--no-nodes]\n"
                "\n"
                "Make an NVIDIA host ready, as nvidia-modprobe does (without forking it):\n"
                "  1. load the modules nvidia, nvidia_uvm and nvidia_modeset if they are not\n"
                "     loaded (libkmod: dependencies and modprobe.d options apply);\n"
                "  2. create the missing nodes /dev/nvidiaN (one per GPU, N = the driver's minor),\n"
                "     /dev/nvidiactl, /dev/nvidia-modeset, /dev/nvidia-uvm, /dev/nvidia-uvm-tools,\n"
                "     with the driver's major:minor and the mode/uid/gid of\n"
                "     /proc/driver/nvidia/params (DeviceFileMode/UID/GID).\n"
                "A node that exists but is wrong (other major:minor, not a character device, other\n"
                "mode or owner) is reported and left alone: gpujail run and the hook refuse it.\n"
                "\n"
                "Options:\n"
                "  --dry-run     say what would be done, change nothing (no root needed)\n"
                "  --fix         also replace wrong nodes (atomically; a symlink is replaced, never\n"
                "                followed; a directory is never touched)\n"
                "  --no-modules  do not load modules\n"
                "  --no-nodes    do not create nodes\n"
                "  -h, --help\n"
                "\n"
                "AMD, Intel and accel nodes are udev's: setup leaves them to it.\n"
                "Exit status: 0 when everything is (now) in place, 125 otherwise.\n");
}

/* Is what the module provides already there (built in, or a simulated host)? */
static bool module_function_present(const char *name) {
        _cleanup_free_ char *devices = NULL;
        unsigned major;

        if (streq(name, "nvidia"))
                return access("/proc/driver/nvidia", F_OK) >= 0;
        if (streq(name, "nvidia_uvm"))
                return read_full_file("/proc/devices", &devices, NULL, 1024 * 1024) >= 0 &&
                       gj_proc_devices_find_char(devices, "nvidia-uvm", &major) >= 0;
        return false;
}

static int setup_module(const struct gj_module *m, const struct setup_opts *o) {
        if (m->loaded) {
                printf("module %s: loaded\n", m->name);
                return 0;
        }
        if (!m->known) {
                if (module_function_present(m->name)) {
                        printf("module %s: not a module of this kernel, but the driver is there "
                               "(built in?): nothing to load\n", m->name);
                        return 0;
                }
                if (streq(m->name, "nvidia_modeset")) {
                        /* Display only: compute jobs do not need it. */
                        log_warning("module %s: not known to this kernel: /dev/nvidia-modeset will not work",
                                    m->name);
                        return 0;
                }
                return log_error_errno(-ENOENT,
                                       "module %s: not known to this kernel (not in modules.dep of the "
                                       "running kernel): is the NVIDIA driver installed for it?",
                                       m->name);
        }
        if (o->dry_run) {
                printf("would load module %s\n", m->name);
                return 0;
        }
        int r = gj_module_load(m->name);
        if (r < 0)
                return r;
        printf("loaded module %s\n", m->name);
        return 0;
}

static int setup_modules(const struct setup_opts *o) {
        const char *const *names = gj_nvidia_setup_modules;
        _cleanup_free_ struct gj_module *mods = NULL;
        size_t n = 0;
        int r, ret = 0;

        r = gj_modules_query(names, strv_length((char **)names), NULL, &mods, &n);
        if (r < 0)
                return log_error_errno(r, "cannot read the kernel module index: %m");
        for (size_t i = 0; i < n; i++) {
                r = setup_module(&mods[i], o);
                if (r < 0 && ret == 0)
                        ret = r;
                /* Without nvidia itself the others cannot load. */
                if (r < 0 && i == 0)
                        break;
        }
        return ret;
}

static void describe(const struct gj_node *n, char *buf, size_t size) {
        snprintf(buf, size, "c %u:%u, %04o, %u:%u", n->major, n->minor, (unsigned)(n->mode & 07777),
                 (unsigned)n->uid, (unsigned)n->gid);
}

static int setup_node(const struct gj_node *n, const struct setup_opts *o, bool *left_wrong) {
        enum gj_host_node_result res;
        char want[96];
        int r;

        r = gj_host_node_ensure(NULL, n, o->fix, o->dry_run, &res);
        if (r < 0)
                return r;
        describe(n, want, sizeof(want));
        const char *would = o->dry_run ? "would " : "";
        switch (res) {
        case GJ_HOST_NODE_OK:
                printf("%s: ok (%s)\n", n->path, want);
                break;
        case GJ_HOST_NODE_CREATED:
                printf("%s%s %s (%s)\n", would, o->dry_run ? "create" : "created", n->path, want);
                break;
        case GJ_HOST_NODE_REPLACED:
                printf("%s%s %s (%s)\n", would, o->dry_run ? "replace" : "replaced", n->path, want);
                break;
        case GJ_HOST_NODE_PERMS_SET:
                printf("%sset mode and owner of %s (%s)\n", would, n->path, want);
                break;
        case GJ_HOST_NODE_LEFT_WRONG: {
                struct stat st;
                char found[96] = "not a character device";
                if (lstat(n->path, &st) >= 0 && S_ISCHR(st.st_mode))
                        snprintf(found, sizeof(found), "c %u:%u, %04o, %u:%u", major(st.st_rdev),
                                 minor(st.st_rdev), (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
                                 (unsigned)st.st_gid);
                log_error("%s is wrong: found %s, the driver says %s; left as it is "
                          "(gpujail setup --fix replaces it)", n->path, found, want);
                *left_wrong = true;
                break;
        }
        }
        return 0;
}

static int setup_nodes(const struct setup_opts *o) {
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        bool left_wrong = false, any = false;
        int r, ret = 0;

        if (cli_load_inventory(false, &inv) != 0)
                return -EIO;
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct gj_device *d = &inv->devices[i];
                if (d->vendor != GJ_VENDOR_NVIDIA)
                        continue;
                any = true;
                if (d->minor < 0) {
                        log_error("GPU %u (%s): its minor is unknown (see the warnings above): no node "
                                  "for it", d->index, d->pci_bus_id);
                        ret = -EBADMSG;
                        continue;
                }
                /* The GPU's own node leads its nodes; drm nodes are udev's. */
                r = setup_node(&d->nodes[0], o, &left_wrong);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        for (unsigned c = 0; c < _GJ_CTL_MAX; c++) {
                if (!inv->controls[c] || c == GJ_CTL_KFD)
                        continue;
                r = setup_node(inv->controls[c], o, &left_wrong);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (!any)
                printf("no GPU bound to the nvidia driver: no NVIDIA nodes to create\n");
        if (ret == 0 && left_wrong)
                ret = -EEXIST;
        return ret;
}

int cmd_setup(int argc, char **argv) {
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, 'n' },
                { "fix", no_argument, NULL, 'f' },
                { "no-modules", no_argument, NULL, 'M' },
                { "no-nodes", no_argument, NULL, 'N' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct setup_opts o = { .modules = true, .nodes = true };
        int c, r = 0;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        o.dry_run = true;
                        break;
                case 'f':
                        o.fix = true;
                        break;
                case 'M':
                        o.modules = false;
                        break;
                case 'N':
                        o.nodes = false;
                        break;
                case 'h':
                        setup_usage(stdout);
                        return 0;
                default:
                        setup_usage(stderr);
                        return GJ_EXIT_FAILURE;
                }
        if (optind < argc) {
                log_error("setup: unexpected argument '%s'; see 'gpujail setup --help'", argv[optind]);
                return GJ_EXIT_FAILURE;
        }
        if (!o.dry_run && geteuid() != 0) {
                log_error("setup loads kernel modules and creates nodes in /dev: run it as root "
                          "(or see what it would do with --dry-run)");
                return GJ_EXIT_FAILURE;
        }

        if (o.modules)
                r = setup_modules(&o);
        /* Nodes even when a module failed: what is there gets its nodes. */
        if (o.nodes) {
                int k = setup_nodes(&o);
                if (r == 0)
                        r = k;
        }
        return r < 0 ? GJ_EXIT_FAILURE : 0;
}
