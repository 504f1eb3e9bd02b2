/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail-hook: give an OCI container the accelerators it asked for.
 *
 * state (stdin) + config.json -> request -> inventory -> plan -> nodes bound
 * into <rootfs>/dev inside the container's mount namespace + allow rules in
 * its device cgroup. Every step fails closed: the runtime refuses a container
 * whose hook exits non-zero.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "gpujail/bundle.h"
#include "gpujail/cgroup.h"
#include "gpujail/container-ns.h"
#include "gpujail/devfs.h"
#include "gpujail/driver-inject.h"
#include "gpujail/hook-config.h"
#include "gpujail/inventory.h"
#include "gpujail/oci-hook.h"
#include "gpujail/plan.h"
#include "gpujail/proc-nvidia.h"
#include "gpujail/safepath.h"
#include "gpujail/util.h"
#include "hook-audit.h"

struct hook_ctx {
        const struct gj_hook_opts *opts;
        struct gj_oci_state state;
        struct gj_hook_config config; /* which request sources we honour */
        struct gj_bundle bundle; /* config.json and the request in it */
        struct gj_inventory *inv;
        struct gj_selection sel;
        struct gj_plan plan;
        pid_t pid; /* the container's process, as our /proc names it */
        char *cgroup_v1;
        char *cgroup_v2;
};

static void hook_ctx_done(struct hook_ctx *c) {
        free(c->cgroup_v1);
        free(c->cgroup_v2);
        gj_plan_done(&c->plan);
        gj_selection_done(&c->sel);
        gj_inventory_free(c->inv);
        gj_bundle_done(&c->bundle);
        gj_hook_config_done(&c->config);
        gj_oci_state_done(&c->state);
}

static int read_state(int fd, struct gj_oci_state *ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_fd(fd, &text, NULL, GJ_OCI_STATE_MAX);
        if (r == -EFBIG)
                return log_error_errno(r, "OCI state on stdin is larger than %u bytes", GJ_OCI_STATE_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read the OCI state from stdin: %m");
        return gj_oci_state_parse(text, ret);
}

/*
 * A hook registered without its own "env" inherits the runtime's, and runc
 * runs createContainer hooks from the container's init, whose environment is
 * the image's. The dynamic loader has then already honoured LD_PRELOAD and
 * friends before main(): we cannot undo that, but we can refuse to act on a
 * container whose loader variables reached us, and say how to register the
 * hook properly.
 */
static int refuse_leaked_loader_env(struct json_object *config) {
        static const char *const loader_vars[] = {
                "LD_PRELOAD=", "LD_LIBRARY_PATH=", "LD_AUDIT=", "GCONV_PATH=", "LD_DEBUG_OUTPUT=",
        };
        struct json_object *process, *env;

        if (!json_object_object_get_ex(config, "process", &process) ||
            !json_object_object_get_ex(process, "env", &env) || !json_object_is_type(env, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(env); i++) {
                const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
                if (!kv)
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(loader_vars); k++) {
                        if (!startswith(kv, loader_vars[k]))
                                continue;
                        const char *mine = getenv(strndupa(kv, strlen(loader_vars[k]) - 1));
                        if (mine && streq(mine, kv + strlen(loader_vars[k])))
                                return log_error_errno(-EPERM,
                                                       "the container's %.*s reached the hook: register "
                                                       "gpujail-hook with its own \"env\" (see examples/)",
                                                       (int)strlen(loader_vars[k]) - 1, kv);
                }
        }
        return 0;
}

static int plan_request(struct hook_ctx *c) {
        /* gj_select and gj_plan_build log their one line (unknown selector,
         * missing or wrong node); ours would repeat it. */
        const struct gj_oci_request *req = &c->bundle.request;
        log_debug("container %s: %s asks for '%s'", c->state.id, req->origin, req->selector);
        /* Module state is for `gpujail list`; injection needs only nodes, and asked by
         * index, only those of the GPUs asked for. */
        _cleanup_free_ unsigned *only = NULL;
        size_t n_only;
        int r = gj_selector_plain_indexes(req->selector, &only, &n_only);
        if (r < 0)
                return log_error_errno(r, "cannot read the selector: %m");
        struct gj_inventory_opts opts = {
                .skip_modules = true,
                .details_only = only,
                .n_details_only = n_only,
                .details_by_nvidia_index = req->select_flags & GJ_SELECT_NVIDIA_INDEXES,
        };
        r = gj_inventory_load(&opts, &c->inv);
        if (r < 0)
                return log_error_errno(r, "cannot enumerate the host's accelerators: %m");
        r = gj_select(c->inv, req->selector, req->select_flags, &c->sel);
        if (r < 0)
                return r;
        r = gj_plan_build(c->inv, &c->sel, &(struct gj_plan_opts){}, &c->plan);
        if (r < 0)
                return r;
        unsigned caps;
        if ((r = gj_driver_caps_from_config(c->bundle.config, &caps)) < 0)
                return r;
        return gj_plan_add_driver(&c->plan, c->inv, caps);
}

/*
 * Which process stands for the container, and get into its mount namespace.
 * createContainer runs inside it already, and state.pid (1) is a pid of the
 * container's pid namespace that the host /proc still mounted there does not
 * know: we use ourselves. The other stages run in the runtime's namespaces.
 */
static int locate_container(struct hook_ctx *c) {
        pid_t self;
        int r = gj_proc_self_pid(&self);
        if (r < 0)
                return r;
        bool in_child_pidns = self != getpid();

        if (c->opts->stage == GJ_HOOK_CREATE_CONTAINER) {
                c->pid = self;
                return 0;
        }
        if (in_child_pidns)
                return log_error_errno(-EINVAL,
                                       "running inside the container's pid namespace as a %s hook: "
                                       "register gpujail-hook for this stage as createContainer",
                                       gj_hook_stage_name(c->opts->stage));
        c->pid = c->state.pid;
        /* Checked before the cgroup is touched, not only at setns() time. */
        return gj_refuse_own_mount_ns(c->pid);
}

/*
 * The container's /proc/driver/nvidia: its GPUs' entries alone, and params
 * with ModifyDeviceFiles: 0. runc mounted the container's /proc before any
 * hook runs (prestart, createRuntime and createContainer all run after
 * mountToRootfs, before pivot_root); its masked paths come later. A root whose
 * proc is no procfs (no /proc mount in config.json) shows no driver: nothing
 * to hide there.
 */
static int restrict_container_proc(struct hook_ctx *c, int rootfd, char *const *keep) {
        _cleanup_close_ int procfd = gj_open_in_root(rootfd, "proc", O_PATH | O_DIRECTORY, 0);
        struct statfs sfs;
        if (procfd == -ENOENT || procfd == -ENOTDIR)
                return 0;
        if (procfd < 0)
                return log_error_errno(procfd, "cannot open %s/proc: %m", c->bundle.root);
        if (fstatfs(procfd, &sfs) < 0)
                return log_error_errno(-errno, "cannot statfs %s/proc: %m", c->bundle.root);
        if (sfs.f_type != PROC_SUPER_MAGIC) {
                log_debug("%s/proc is not a procfs: no /proc/driver to restrict", c->bundle.root);
                return 0;
        }
        int r = gj_proc_bind_host_driver(procfd);
        if (r < 0)
                return r;
        return gj_proc_nvidia_restrict(procfd, keep);
}

/* The nodes into <rootfs>/dev, and the driver's userspace into the rootfs. */
static int fill_root(struct hook_ctx *c) {
        const char *root = c->bundle.root;
        if (!root)
                return log_error_errno(-EBADMSG, "%s: no string \"root.path\"", c->bundle.config_path);

        /* The rootfs path itself is the engine's; what is below it is the image's. */
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return log_error_errno(-errno, "cannot open rootfs %s: %m", root);
        _cleanup_close_ int devfd = gj_mkdir_p_in_root(rootfd, "dev", 0755);
        if (devfd < 0)
                return log_error_errno(devfd, "cannot use %s/dev: %m", root);
        int r = gj_devfs_bind_plan(devfd, &c->plan);
        if (r < 0)
                return r;
        if ((r = gj_driver_inject(rootfd, &c->plan.driver, root, 0)) < 0)
                return r;
        _cleanup_strv_free_ char **keep = NULL;
        if ((r = gj_plan_proc_gpus(&c->plan, &keep)) < 0)
                return log_error_errno(r, "cannot list the container's GPUs: %m");
        return restrict_container_proc(c, rootfd, keep);
}

/* A container in the root cgroup of a hierarchy (a cgroup namespace seen
 * from inside, or a runtime bug) would have us open devices for the whole
 * host: its parent directory is on another mount. */
static int refuse_hierarchy_root(const char *dir) {
        struct stat st, parent;
        _cleanup_free_ char *up = strprintf("%s/..", dir);
        if (!up)
                return -ENOMEM;
        if (stat(dir, &st) < 0 || stat(up, &parent) < 0)
                return log_error_errno(-errno, "cannot stat cgroup %s: %m", dir);
        if (st.st_dev != parent.st_dev)
                return log_error_errno(-EPERM, "the container's cgroup %s is the root of its hierarchy: "
                                       "refusing to change device access for the whole host", dir);
        return 0;
}

/*
 * Whether cgroup2 polices this container's devices, so that our nodes must be
 * added there: yes when the runtime attached a device program (pure v2 hosts),
 * or when there is no v1 devices controller at all (then the runtime meant to
 * police through v2, and config.json's rules say how). On a hybrid host where
 * the runtime attached nothing to cgroup2, v1 alone polices: adding a program
 * there would only change what the runtime chose.
 */
static int want_v2_program(struct hook_ctx *c) {
        _cleanup_free_ uint32_t *ids = NULL;
        size_t n = 0;
        uint32_t flags = 0;

        if (!c->cgroup_v1)
                return 1;
        int r = gj_cgroup_v2_query_devices(c->cgroup_v2, &ids, &n, &flags);
        if (r < 0)
                return r;
        return n > 0;
}

static int allow_in_cgroups(struct hook_ctx *c, const char **ret_mechanism) {
        int r;

        r = gj_cgroup_paths_of_pid(c->pid, &c->cgroup_v1, &c->cgroup_v2);
        if (r < 0)
                return r;
        if ((c->cgroup_v1 && (r = refuse_hierarchy_root(c->cgroup_v1)) < 0) ||
            (c->cgroup_v2 && (r = refuse_hierarchy_root(c->cgroup_v2)) < 0))
                return r;

        if (c->cgroup_v1) {
                r = gj_cgroup_v1_allow(c->cgroup_v1, c->plan.rules, c->plan.n_rules);
                if (r < 0)
                        return r;
        }

        bool v2 = false;
        if (c->cgroup_v2) {
                r = want_v2_program(c);
                if (r < 0)
                        return r;
                v2 = r > 0;
        }
        if (v2) {
                /* Ours in front of the runtime's own program: never weaker, never
                 * more. config.json's rules (checked on every v2 host alike) only
                 * stand in for a program where the runtime attached none. */
                _cleanup_free_ struct gj_cgroup_rule *runtime_rules = NULL;
                size_t n = 0;
                r = gj_oci_config_device_rules(c->bundle.config, &runtime_rules, &n);
                if (r < 0)
                        return r;
                r = gj_cgroup_v2_replace_devices(c->cgroup_v2, c->plan.rules, c->plan.n_rules, runtime_rules, n);
                if (r < 0)
                        return r;
        }

        *ret_mechanism = c->cgroup_v1 && v2 ? "v1+v2" : v2 ? "v2" : c->cgroup_v1 ? "v1" : "none";
        if (!c->cgroup_v1 && !v2)
                return log_error_errno(-ENODEV,
                                       "container %s: no device cgroup found for process %d: "
                                       "refusing to give it devices nobody polices",
                                       c->state.id, (int)c->pid);
        return 0;
}

/* --link SONAME=PATH...: the libraries a CDI spec mounted, as a driver plan. */
static int links_plan(char *const *links, struct gj_driver_plan *ret) {
        size_t n = strv_length(links);
        ret->files = calloc(n, sizeof(*ret->files));
        if (!ret->files)
                return log_error_errno(-ENOMEM, "cannot parse --link: %m");
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(links[i], '=');
                if (!eq || eq == links[i] || memchr(links[i], '/', (size_t)(eq - links[i])) ||
                    eq[1] != '/')
                        return log_error_errno(
                                -EINVAL, "--link %s: expected SONAME=/PATH/IN/CONTAINER", links[i]);
                struct gj_driver_file *f = &ret->files[ret->n_files++];
                *f = (struct gj_driver_file){ .kind = GJ_DRIVER_LIB,
                                              .soname = strndup(links[i], (size_t)(eq - links[i])),
                                              .path = strdup(eq + 1),
                                              .host_path = strdup(eq + 1) };
                if (!f->soname || !f->path || !f->host_path)
                        return log_error_errno(-ENOMEM, "cannot parse --link: %m");
        }
        return 0;
}

/* --proc-gpus BUS,...: names of gpus/ entries, never a path. */
static int parse_proc_gpus(const char *list, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        _cleanup_free_ char *copy = strdup(list);
        if (!copy)
                return log_error_errno(-ENOMEM, "cannot parse --proc-gpus: %m");
        char *save = NULL;
        for (char *bus = strtok_r(copy, ",", &save); bus; bus = strtok_r(NULL, ",", &save)) {
                if (strchr(bus, '/') || streq(bus, ".") || streq(bus, ".."))
                        return log_error_errno(-EINVAL, "--proc-gpus %s: '%s' is not a PCI bus id",
                                               list, bus);
                if (strv_push(&v, strdup(bus)) < 0)
                        return log_error_errno(-ENOMEM, "cannot parse --proc-gpus: %m");
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* The CDI spec's createContainer hook: the runtime mounted the driver's
 * libraries; make their SONAME links and enter them in the image's cache. */
static int run_links(struct hook_ctx *c) {
        int r = links_plan(c->opts->links, &c->plan.driver);
        if (r < 0)
                return r;
        if ((r = gj_bundle_read(c->state.bundle, &(struct gj_bundle_opts){}, &c->bundle)) < 0)
                return r;
        if ((r = refuse_leaked_loader_env(c->bundle.config)) < 0)
                return r;
        if ((r = locate_container(c)) < 0)
                return r;
        if (c->opts->stage != GJ_HOOK_CREATE_CONTAINER && (r = gj_enter_mount_ns_of(c->pid)) < 0)
                return r;
        const char *root = c->bundle.root;
        if (!root)
                return log_error_errno(-EBADMSG, "%s: no string \"root.path\"",
                                       c->bundle.config_path);
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return log_error_errno(-errno, "cannot open rootfs %s: %m", root);
        r = gj_driver_inject(rootfd, &c->plan.driver, root, GJ_DRIVER_INJECT_NO_BIND);
        if (r < 0 || !c->opts->proc_gpus)
                return r;
        _cleanup_strv_free_ char **keep = NULL;
        if ((r = parse_proc_gpus(c->opts->proc_gpus, &keep)) < 0)
                return r;
        return restrict_container_proc(c, rootfd, keep);
}

int gj_hook_run(const struct gj_hook_opts *opts, int state_fd) {
        _cleanup_(hook_ctx_done) struct hook_ctx c = { .opts = opts };
        int r;

        r = read_state(state_fd, &c.state);
        if (r < 0)
                return r;
        if (opts->links)
                return run_links(&c);
        /* Before config.json: what a container may ask through is the host's
         * decision, and a file root cannot vouch for stops every container. */
        r = gj_hook_config_load(GJ_HOOK_CONFIG_PATH, &c.config);
        if (r < 0)
                return r;
        r = gj_bundle_read(c.state.bundle,
                           &(struct gj_bundle_opts){ .request = true,
                                                     .cdi_kind = opts->cdi_kind,
                                                     .refuse = GJ_REQUEST_ALL & ~c.config.accept },
                           &c.bundle);
        if (r < 0)
                return r;
        if (c.bundle.request.ignored)
                gj_hook_audit_ignored(c.state.id, opts->stage, c.bundle.request.ignored, &c.config);
        if (gj_oci_request_is_void(&c.bundle.request)) {
                log_debug("container %s: nothing requested", c.state.id);
                return 0;
        }

        r = refuse_leaked_loader_env(c.bundle.config);
        if (r < 0)
                return r;
        /* From here on nothing we do may depend on who started us. */
        if (clearenv() != 0 || setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0)
                return log_error_errno(-ENOMEM, "cannot reset the environment: %m");
        r = plan_request(&c);
        if (r < 0)
                return r;
        r = locate_container(&c);
        if (r < 0)
                return r;

        /* Before setns: the cgroup files are the host's either way, and
         * /proc/<pid> must be read while the pid means what the runtime said. */
        const char *mechanism = "none";
        r = allow_in_cgroups(&c, &mechanism);
        if (r < 0)
                return r;

        if (opts->stage != GJ_HOOK_CREATE_CONTAINER) {
                r = gj_enter_mount_ns_of(c.pid);
                if (r < 0)
                        return r;
        }
        r = fill_root(&c);
        if (r < 0)
                return r;

        gj_hook_audit(c.state.id, opts->stage, c.bundle.request.origin, &c.plan, mechanism);
        return 0;
}
