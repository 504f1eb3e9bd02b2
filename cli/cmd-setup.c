/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail setup: what nvidia-modprobe does, without forking it. Load the
 * NVIDIA modules that are missing (libkmod), then create the NVIDIA nodes
 * that are missing, with the driver's numbers and /proc/driver/nvidia/params'
 * mode and owner. A wrong node is reported and left alone unless --fix.
 *
 * gpujail setup --lockdown GROUP: no GPU node opens outside gpujail any more
 * (docs/shared-hosts.md); --undo gives the nodes back to the driver and udev.
 */
#include <getopt.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cli.h"
#include "gpujail/host-lockdown.h"
#include "gpujail/host-nodes.h"
#include "gpujail/lockdown.h"
#include "gpujail/modules.h"
#include "gpujail/inventory.h"
#include "gpujail/util.h"

struct setup_opts {
        bool dry_run;
        bool fix;
        bool modules;
        bool nodes;
        bool lockdown;
        bool undo;
        const char *group;
};

static void setup_usage(FILE *f) {
        fprintf(f,
                "Usage: sudo gpujail setup [--dry-run] [--fix] [--no-modules] [--no-nodes]\n"
                "       sudo gpujail setup --lockdown GROUP [--dry-run]\n"
                "       sudo gpujail setup --lockdown --undo [GROUP] [--dry-run]\n"
                "\n"
                "Make an NVIDIA host ready, as nvidia-modprobe does (without forking it):\n"
                "  1. load the modules nvidia, nvidia_uvm and nvidia_modeset if they are not\n"
                "     loaded (libkmod: dependencies and modprobe.d options apply);\n"
                "  2. create the missing nodes /dev/nvidiaN (one per GPU, N = the driver's minor),\n"
                "     /dev/nvidiactl, /dev/nvidia-modeset, /dev/nvidia-uvm, /dev/nvidia-uvm-tools,\n"
                "     with the driver's major:minor and the mode/uid/gid of\n"
                "     /proc/driver/nvidia/params (DeviceFileMode/UID/GID), or the lockdown's;\n"
                "  3. create the missing /dev/nvidia-caps/nvidia-capN of every MIG device (and\n"
                "     /dev/nvidia-caps), with the minor and mode of the driver's\n"
                "     /proc/driver/nvidia/capabilities/gpuM/mig/giG[/ciC]/access, as\n"
                "     nvidia-modprobe -f does;\n"
                "  4. link /dev/char/MAJOR:MINOR to each of those nodes where no link is, as udev\n"
                "     does for the nodes it hears of (it never hears of these): systemd's\n"
                "     DeviceAllow= and runc's and crun's systemd cgroup driver need the links.\n"
                "A node that exists but is wrong (other major:minor, not a character device, other\n"
                "mode or owner) is reported and left alone: gpujail run and the hook refuse it.\n"
                "\n"
                "Options:\n"
                "  --dry-run     say what would be done, change nothing (no root needed)\n"
                "  --fix         also replace wrong nodes (atomically; a symlink is replaced, never\n"
                "                followed; a directory is never touched)\n"
                "  --no-modules  do not load modules\n"
                "  --no-nodes    do not create nodes\n"
                "  --lockdown GROUP\n"
                "                no GPU node opens outside gpujail any more: every GPU node becomes\n"
                "                0660 root:GROUP, now and from then on (the NVIDIA driver's parameters\n"
                "                in " GJ_LOCKDOWN_MODPROBE_CONF ",\n"
                "                a udev rule in " GJ_LOCKDOWN_UDEV_RULES " for DRM,\n"
                "                kfd and accel nodes). gpujail run gives its jobs GROUP for the nodes\n"
                "                they get. GROUP: a dedicated group that owns nothing else and has no\n"
                "                members (groupadd --system gpujail); never root. Only this is done.\n"
                "  --undo        with --lockdown: remove both files and give the nodes that carry the\n"
                "                lockdown's group back the driver's and udev's defaults\n"
                "  -h, --help\n"
                "\n"
                "AMD, Intel and accel nodes are udev's: setup leaves them to it, --lockdown aside.\n"
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

/* /dev/char/MAJ:MIN of a node that is right (or will be): udev never hears of ours. */
static int setup_char_link(const struct gj_node *n, const struct setup_opts *o) {
        int r = gj_host_char_link_ensure(NULL, n, o->dry_run);
        if (r > 0)
                printf("%s /dev/char/%u:%u -> ..%s\n", o->dry_run ? "would link" : "linked", n->major,
                       n->minor, n->path + strlen("/dev"));
        return r < 0 ? r : 0;
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
                return 0;
        }
        }
        return setup_char_link(n, o);
}

/* A lockdown outlives the loaded module's parameters until it is loaded again: its
 * permissions win, or setup --fix would open the nodes the lockdown closed. */
static struct gj_node wanted_node(const struct gj_node *n, const struct gj_lockdown_config *lc) {
        struct gj_node w = *n;
        const char *group;
        gid_t gid;

        if (gj_lockdown_config_group(lc, &group, &gid)) {
                w.mode = GJ_LOCKDOWN_MODE;
                w.uid = 0;
                w.gid = gid;
        }
        return w;
}

/* A capability node as the access file gives it (what nvidia-modprobe -f makes), or as
 * a lockdown leaves it: the group gets what others had, others nothing. */
static struct gj_node wanted_cap_node(const struct gj_node *n,
                                      const struct gj_lockdown_config *lc) {
        struct gj_node w = *n;
        const char *group;
        gid_t gid;

        if (gj_lockdown_config_group(lc, &group, &gid)) {
                struct gj_gpu_node g = { .kind = GJ_GPU_NODE_NVIDIA_CAP,
                                         .found = { n->mode, n->uid, n->gid } };
                struct gj_perms p = gj_lockdown_perms(&g, gid);
                w.mode = p.mode;
                w.uid = p.uid;
                w.gid = p.gid;
        }
        return w;
}

/*
 * The nvidia-cap nodes of every MIG device, with the mode the driver's access file
 * gives (what nvidia-modprobe -f does), or the lockdown's; /dev/nvidia-caps first when
 * it is missing.
 */
/* A GPU instance's node is every one of its compute instances' first node: once is enough. */
static bool cap_node_seen(const struct gj_inventory *inv, size_t k, const struct gj_node *n) {
        for (size_t i = 0; i < k; i++)
                for (size_t j = 0; j < inv->migs[i].n_nodes; j++)
                        if (inv->migs[i].nodes[j].minor == n->minor)
                                return true;
        return false;
}

static int setup_mig_nodes(const struct gj_inventory *inv, const struct gj_lockdown_config *lc,
                           const struct setup_opts *o, bool *left_wrong) {
        int made_dir = -1, ret = 0;

        for (size_t k = 0; k < inv->n_migs; k++)
                for (size_t j = 0; j < inv->migs[k].n_nodes; j++) {
                        const struct gj_node *n = &inv->migs[k].nodes[j];
                        if (cap_node_seen(inv, k, n))
                                continue;
                        if (made_dir < 0) {
                                made_dir = gj_host_node_dir_ensure(NULL, n->path, o->dry_run);
                                if (made_dir < 0)
                                        return made_dir;
                                if (made_dir > 0)
                                        printf("%s /dev/nvidia-caps (0755)\n",
                                               o->dry_run ? "would create" : "created");
                        }
                        struct gj_node want = wanted_cap_node(n, lc);
                        if (made_dir > 0 && o->dry_run) {
                                printf("would create %s (c %u:%u, %04o, %u:%u)\n", n->path,
                                       n->major, n->minor, (unsigned)want.mode, (unsigned)want.uid,
                                       (unsigned)want.gid);
                                continue;
                        }
                        int r = setup_node(&want, o, left_wrong);
                        if (r < 0 && ret == 0)
                                ret = r;
                }
        return ret;
}

static int setup_nodes(const struct setup_opts *o) {
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        _cleanup_(gj_lockdown_config_done) struct gj_lockdown_config lc = {};
        bool left_wrong = false, any = false;
        struct gj_node want;
        int r, ret = 0;

        if (cli_load_inventory(false, &inv) != 0)
                return -EIO;
        r = gj_lockdown_config_read(&lc);
        if (r < 0)
                return log_error_errno(r, "cannot read the lockdown's files: %m");
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
                want = wanted_node(&d->nodes[0], &lc);
                r = setup_node(&want, o, &left_wrong);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        for (unsigned c = 0; c < _GJ_CTL_MAX; c++) {
                if (!inv->controls[c] || c == GJ_CTL_KFD)
                        continue;
                want = wanted_node(inv->controls[c], &lc);
                r = setup_node(&want, o, &left_wrong);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        r = setup_mig_nodes(inv, &lc, o, &left_wrong);
        if (r < 0 && ret == 0)
                ret = r;
        if (!any)
                printf("no GPU bound to the nvidia driver: no NVIDIA nodes to create\n");
        if (ret == 0 && left_wrong)
                ret = -EEXIST;
        return ret;
}

/* ---- --lockdown ---- */

static int warn_members(const struct group *g) {
        _cleanup_free_ char *who = strv_join(g->gr_mem, ", ");
        if (!who)
                return -ENOMEM;
        log_warning("group %s has members (%s): they open every GPU without gpujail; the lockdown's group "
                    "should have none (gpasswd -d USER %s)", g->gr_name, who, g->gr_name);
        return 0;
}

/* The lockdown's group, by name or number: it must exist, and never be root's. */
static int lockdown_group(const char *arg, bool warn, char **ret_name, gid_t *ret_gid) {
        struct group *g = getgrnam(arg);
        unsigned id;

        if (!g && safe_atou(arg, &id) >= 0)
                g = getgrgid((gid_t)id);
        if (!g)
                return log_error_errno(-ENOENT, "group '%s' does not exist: create a dedicated group for "
                                       "gpujail's jobs first, e.g. 'groupadd --system gpujail'", arg);
        if (g->gr_gid == 0)
                return log_error_errno(-EPERM, "refusing group %s (gid 0): the lockdown needs a dedicated group "
                                       "without members, e.g. 'groupadd --system gpujail'", g->gr_name);
        if (!gj_lockdown_group_name_ok(g->gr_name))
                return log_error_errno(-EINVAL, "refusing group name '%s': only letters, digits, '_', '.' and "
                                       "'-' go into a udev rule", g->gr_name);
        if (warn && strv_length(g->gr_mem) > 0 && warn_members(g) < 0)
                return -ENOMEM;
        *ret_gid = g->gr_gid;
        *ret_name = strdup(g->gr_name);
        return *ret_name ? 0 : -ENOMEM;
}

/* One line for what was (or would be) done to a file. */
static void say_file(const char *path, enum gj_host_file_result res, bool dry_run) {
        switch (res) {
        case GJ_HOST_FILE_OK:
                printf("%s: ok\n", path);
                break;
        case GJ_HOST_FILE_ABSENT:
                printf("%s: absent\n", path);
                break;
        case GJ_HOST_FILE_WRITTEN:
                printf("%s %s\n", dry_run ? "would write" : "wrote", path);
                break;
        case GJ_HOST_FILE_REMOVED:
                printf("%s %s\n", dry_run ? "would remove" : "removed", path);
                break;
        }
}

static int lockdown_write(const char *path, char *text, const struct setup_opts *o) {
        _cleanup_free_ char *t = text;
        enum gj_host_file_result res;

        if (!t)
                return log_error_errno(-ENOMEM, "cannot write %s: %m", path);
        int r = gj_host_file_write(path, t, o->dry_run, &res);
        if (r >= 0)
                say_file(path, res, o->dry_run);
        return r;
}

static int lockdown_remove(const char *path, const struct setup_opts *o) {
        enum gj_host_file_result res;
        int r = gj_host_file_remove(path, o->dry_run, &res);
        if (r >= 0)
                say_file(path, res, o->dry_run);
        return r;
}

static int set_node(const struct gj_gpu_node *n, struct gj_perms want, bool undo, const struct setup_opts *o) {
        const char *verb = o->dry_run ? (undo ? "would restore" : "would set") : (undo ? "restored" : "set");
        enum gj_host_node_result res;
        int r = gj_host_node_set_perms(n->path, want, o->dry_run, &res);
        if (r < 0)
                return r;
        if (res == GJ_HOST_NODE_OK)
                printf("%s: ok (%04o %u:%u)\n", n->path, (unsigned)want.mode, (unsigned)want.uid,
                       (unsigned)want.gid);
        else
                printf("%s %s to %04o %u:%u (was %04o %u:%u%s)\n", verb, n->path,
                       (unsigned)want.mode, (unsigned)want.uid, (unsigned)want.gid, (unsigned)n->found.mode,
                       (unsigned)n->found.uid, (unsigned)n->found.gid, n->acl ? ", and an ACL" : "");
        return 0;
}

/* Lock (d NULL) or give back (d: the defaults) the GPU nodes; on undo only those of the group. */
static int lockdown_nodes(const struct gj_inventory *inv, gid_t gid, const struct gj_undo_defaults *d,
                          const struct setup_opts *o) {
        struct gj_gpu_node *nodes = NULL;
        size_t n = 0;
        int r = gj_gpu_nodes_find(inv, &nodes, &n);
        if (r < 0)
                return log_error_errno(r, "cannot look at the GPU nodes: %m");
        for (size_t i = 0; i < n; i++) {
                if (d && nodes[i].found.gid != gid)
                        continue;
                int k = d ? set_node(&nodes[i], gj_lockdown_undo_perms(&nodes[i], d), true, o)
                          : set_node(&nodes[i], gj_lockdown_perms(&nodes[i], gid), false, o);
                if (k < 0 && r >= 0)
                        r = k;
        }
        gj_gpu_nodes_free(nodes, n);
        return r;
}

/* What gpujail list will say, and why; the lockdown's problems are warnings here. */
static int lockdown_summary(const struct gj_inventory *inv) {
        _cleanup_(gj_lockdown_status_done) struct gj_lockdown_status st = {};
        int r = gj_lockdown_inspect(inv, &st);
        if (r < 0)
                return log_error_errno(r, "cannot look at the lockdown: %m");
        for (size_t i = 0; st.problems && st.problems[i]; i++)
                log_warning("%s", st.problems[i]);
        printf("lockdown: %s", gj_lockdown_state_name(st.state));
        if (st.group)
                printf(" (group %s: gpujail run gives it to its jobs for the GPU nodes they get)", st.group);
        printf("\n");
        return 0;
}

static int setup_lockdown(const struct setup_opts *o) {
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        _cleanup_free_ char *group = NULL;
        gid_t gid;

        int r = lockdown_group(o->group, o->dry_run, &group, &gid);
        if (r < 0)
                return r;
        if (cli_load_inventory(false, &inv) != 0)
                return -EIO;
        /* The rules first: a node that comes or changes meanwhile gets the new ones. */
        r = lockdown_write(GJ_LOCKDOWN_MODPROBE_CONF, gj_lockdown_modprobe_conf(group, gid), o);
        if (r >= 0)
                r = lockdown_write(GJ_LOCKDOWN_UDEV_RULES, gj_lockdown_udev_rules(group, gid), o);
        if (r >= 0)
                r = lockdown_nodes(inv, gid, NULL, o);
        if (r >= 0 && !o->dry_run)
                r = lockdown_summary(inv);
        return r;
}

/* Until it is loaded again, the module gives its nodes the lockdown's permissions. */
static void undo_driver_note(const struct gj_inventory *inv, gid_t gid) {
        const struct gj_node *ctl = inv->controls[GJ_CTL_NVIDIACTL];
        if (ctl && (ctl->mode & 07777) == GJ_LOCKDOWN_MODE && ctl->uid == 0 && ctl->gid == gid)
                log_warning("the loaded nvidia module still gives its nodes %04o 0:%u, and nvidia-modprobe "
                            "(set-uid root, run by CUDA) puts that back: reload the NVIDIA modules or reboot",
                            GJ_LOCKDOWN_MODE, (unsigned)gid);
}

static int setup_lockdown_undo(const struct setup_opts *o) {
        _cleanup_(gj_lockdown_config_done) struct gj_lockdown_config lc = {};
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        _cleanup_free_ char *named = NULL;
        struct gj_undo_defaults d = {};
        const char *group = NULL;

        int r = gj_lockdown_config_read(&lc);
        if (r < 0)
                return log_error_errno(r, "cannot read the lockdown's files: %m");
        if (o->group) {
                r = lockdown_group(o->group, false, &named, &d.lockdown_gid);
                group = named;
        } else if (!gj_lockdown_config_group(&lc, &group, &d.lockdown_gid))
                group = NULL;
        if (r < 0)
                return r;
        r = lockdown_remove(GJ_LOCKDOWN_MODPROBE_CONF, o);
        if (r >= 0)
                r = lockdown_remove(GJ_LOCKDOWN_UDEV_RULES, o);
        if (r < 0)
                return r;
        if (!group) {
                printf("no lockdown group named by the files: GPU nodes left as they are "
                       "('gpujail setup --lockdown --undo GROUP' gives back those of GROUP)\n");
                return 0;
        }
        if (cli_load_inventory(false, &inv) != 0)
                return -EIO;
        gj_undo_defaults_read(&d);
        r = lockdown_nodes(inv, d.lockdown_gid, &d, o);
        undo_driver_note(inv, d.lockdown_gid);
        if (r >= 0 && !o->dry_run)
                r = lockdown_summary(inv);
        return r;
}

static int check_setup_opts(const struct setup_opts *o) {
        if (o->undo && !o->lockdown)
                return log_error_errno(-EINVAL, "setup: --undo goes with --lockdown");
        if (o->lockdown && (o->fix || !o->modules || !o->nodes))
                return log_error_errno(-EINVAL, "setup: --lockdown does the lockdown only: run "
                                       "'gpujail setup' with --fix, --no-modules or --no-nodes on its own");
        if (o->lockdown && !o->undo && isempty(o->group))
                return log_error_errno(-EINVAL, "setup --lockdown: which group? A dedicated one, e.g. "
                                       "'groupadd --system gpujail && gpujail setup --lockdown gpujail'");
        if (o->dry_run || geteuid() == 0)
                return 0;
        if (o->lockdown)
                return log_error_errno(-EPERM, "setup --lockdown changes device nodes and files in /etc: run "
                                       "it as root (or see what it would do with --dry-run)");
        return log_error_errno(-EPERM, "setup loads kernel modules and creates nodes in /dev: run it as root "
                               "(or see what it would do with --dry-run)");
}

int cmd_setup(int argc, char **argv) {
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, 'n' },
                { "fix", no_argument, NULL, 'f' },
                { "no-modules", no_argument, NULL, 'M' },
                { "no-nodes", no_argument, NULL, 'N' },
                { "lockdown", optional_argument, NULL, 'L' },
                { "undo", no_argument, NULL, 'U' },
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
                case 'L':
                        o.lockdown = true;
                        o.group = optarg;
                        break;
                case 'U':
                        o.undo = true;
                        break;
                case 'h':
                        setup_usage(stdout);
                        return 0;
                default:
                        setup_usage(stderr);
                        return GJ_EXIT_FAILURE;
                }
        /* --lockdown GROUP as well as --lockdown=GROUP */
        if (o.lockdown && !o.group && optind < argc)
                o.group = argv[optind++];
        if (optind < argc) {
                log_error("setup: unexpected argument '%s'; see 'gpujail setup --help'", argv[optind]);
                return GJ_EXIT_FAILURE;
        }
        r = check_setup_opts(&o);
        if (r < 0)
                return GJ_EXIT_FAILURE;
        if (o.lockdown)
                return (o.undo ? setup_lockdown_undo(&o) : setup_lockdown(&o)) < 0 ? GJ_EXIT_FAILURE : 0;

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
