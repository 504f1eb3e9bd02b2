/* SPDX-License-Identifier: Apache-2.0 */
/*
 * selection -> plan: the nodes to place, one cgroup allow rule per node, and
 * the environment. Pure code: no syscalls; node states come from the
 * inventory, which stat()ed them.
 *
 * Order is stable and meaningful: each selected device's own nodes in
 * selection (= inventory index) order, then the control nodes the selection
 * needs, once each, in enum gj_control order.
 *
 * The container path is the host path: the NVIDIA driver names a GPU's node
 * after its minor (/dev/nvidia<minor>) and CUDA opens exactly that name, so
 * renumbering nodes inside the jail would break CUDA. What the job sees as
 * "GPU 0" is decided by CUDA's own enumeration of the nodes it can open.
 */
#include "gpujail/plan.h"
#include "gpujail/util.h"

/* What NVIDIA's "none" gives: the driver's compute control nodes, no GPU. */
#define NVIDIA_COMPUTE_CONTROLS                                                                    \
        ((1u << GJ_CTL_NVIDIACTL) | (1u << GJ_CTL_NVIDIA_UVM) | (1u << GJ_CTL_NVIDIA_UVM_TOOLS))

static void plan_node_done(struct gj_plan_node *n) {
        free(n->path);
        free(n->host_path);
}

/* Room for one more node and its rule. Both arrays grow before either is
 * filled, so that on failure the plan is unchanged: rules[i] is always the rule
 * of nodes[i], and consumers may walk them together. */
static int plan_reserve(struct gj_plan *plan) {
        struct gj_plan_node *n = realloc(plan->nodes, (plan->n_nodes + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        plan->nodes = n;
        struct gj_cgroup_rule *r = realloc(plan->rules, (plan->n_rules + 1) * sizeof(*r));
        if (!r)
                return -ENOMEM;
        plan->rules = r;
        return 0;
}

/* Appends a node and its rule. A second node with the same container path is
 * a no-op when it is the same device, and -EEXIST when it is not: two devices
 * must never race for one name. */
static int plan_append(struct gj_plan *plan, const struct gj_plan_node *node, bool allow_mknod) {
        for (size_t i = 0; i < plan->n_nodes; i++) {
                const struct gj_plan_node *o = &plan->nodes[i];
                if (!streq(o->path, node->path))
                        continue;
                if (o->type == node->type && o->major == node->major && o->minor == node->minor)
                        return 0;
                return log_error_errno(-EEXIST, "two devices want %s: %c %u:%u and %c %u:%u",
                                       node->path, o->type, o->major, o->minor, node->type,
                                       node->major, node->minor);
        }

        struct gj_plan_node copy = *node;
        copy.path = strdup(node->path);
        copy.host_path = strdup(node->host_path ? node->host_path : node->path);
        if (!copy.path || !copy.host_path || plan_reserve(plan) < 0) {
                plan_node_done(&copy);
                return log_error_errno(-ENOMEM, "cannot plan %s: %m", node->path);
        }

        struct gj_cgroup_rule rule = {
                .type = node->type,
                .major = node->major,
                .minor = node->minor,
        };
        strcpy(rule.access, allow_mknod ? "rwm" : "rw");
        plan->nodes[plan->n_nodes++] = copy;
        plan->rules[plan->n_rules++] = rule;
        return 0;
}

int gj_plan_add_node(struct gj_plan *plan, const struct gj_plan_node *node, bool allow_mknod) {
        if (isempty(node->path) || node->path[0] != '/')
                return log_error_errno(-EINVAL, "cannot add a device node without an absolute path");
        return plan_append(plan, node, allow_mknod);
}

/* "GPU 3 (0000:3b:00.0)" or "control node" for messages. */
static void describe_owner(const struct gj_device *d, char *buf, size_t size) {
        if (!d)
                snprintf(buf, size, "control node");
        else
                snprintf(buf, size, "%s:%u (GPU %u, %s)", gj_vendor_name(d->vendor), d->vendor_index,
                         d->index, d->pci_bus_id ? d->pci_bus_id : "no PCI address");
}

/* Fail closed on a node that is not what the driver says, naming what we found. */
static int check_node_state(const struct gj_node *node, const struct gj_device *owner) {
        char who[128];

        if (node->state == GJ_NODE_OK)
                return 0;
        describe_owner(owner, who, sizeof(who));
        switch (node->state) {
        case GJ_NODE_WRONG_DEVNUM:
                return log_error_errno(-ENODEV,
                                       "refusing %s of %s: it is %c %u:%u, but the driver says %c %u:%u "
                                       "(see 'gpujail list')",
                                       node->path, who, node->type, node->found_major,
                                       node->found_minor, node->type, node->major, node->minor);
        case GJ_NODE_MISSING:
                return log_error_errno(-ENODEV,
                                       "refusing %s of %s: it is missing (create it with 'gpujail setup')",
                                       node->path, who);
        case GJ_NODE_NOT_CHAR:
                return log_error_errno(-ENODEV,
                                       "refusing %s of %s: it is not a character device (see 'gpujail list')",
                                       node->path, who);
        default:
                return log_error_errno(-ENODEV, "refusing %s of %s: it could not be checked (%s)",
                                       node->path, who, gj_node_state_name(node->state));
        }
}

static int plan_add_inventory_node(struct gj_plan *plan, const struct gj_node *node,
                                   const struct gj_device *owner, const struct gj_plan_opts *opts) {
        if (!opts->allow_bad_nodes) {
                int r = check_node_state(node, owner);
                if (r < 0)
                        return r;
        }
        struct gj_plan_node pn = {
                .path = node->path, /* container path = host path: see the top of this file */
                .host_path = node->path,
                .type = node->type ? node->type : 'c',
                .major = node->major,
                .minor = node->minor,
                .mode = node->mode,
                .uid = node->uid,
                .gid = node->gid,
        };
        return plan_append(plan, &pn, opts->allow_mknod);
}

/* A selected device without a node would be "given" and yet not there: the
 * job would start without the GPU it asked for. */
static int check_device_has_nodes(const struct gj_device *d, const struct gj_plan_opts *opts) {
        char who[128];

        if (d->n_nodes > 0 || opts->allow_bad_nodes)
                return 0;
        describe_owner(d, who, sizeof(who));
        return log_error_errno(-ENODEV, "refusing %s: its device node is unknown (see the warnings of 'gpujail list')",
                               who);
}

static unsigned selection_controls(const struct gj_inventory *inv, const struct gj_selection *sel) {
        unsigned mask = 0;
        if (!sel->want_controls)
                return 0;
        if (sel->none)
                return NVIDIA_COMPUTE_CONTROLS;
        for (size_t i = 0; i < sel->n_devices; i++)
                mask |= sel->devices[i]->controls;
        for (size_t i = 0; i < sel->n_migs; i++)
                mask |= inv->devices[sel->migs[i]->parent].controls;
        return mask;
}

static int plan_add_controls(struct gj_plan *plan, const struct gj_inventory *inv,
                             const struct gj_selection *sel, const struct gj_plan_opts *opts) {
        unsigned mask = selection_controls(inv, sel);

        for (int c = 0; c < _GJ_CTL_MAX; c++) {
                if (!(mask & (1u << c)))
                        continue;
                const struct gj_node *node = inv->controls[c];
                if (!node) {
                        /* "none" asks for what the driver has; a GPU asks for what it needs. */
                        if (sel->none || opts->allow_bad_nodes)
                                continue;
                        return log_error_errno(-ENODEV,
                                               "the selected devices need the control node %s, which "
                                               "this host lacks (is its kernel module loaded? see "
                                               "'gpujail setup')",
                                               gj_control_name((enum gj_control)c));
                }
                int r = plan_add_inventory_node(plan, node, NULL, opts);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- MIG devices and IMEX channels ---- */

/* "MIG device 0:1 (GI 3, CI 0) of GPU 0 (0000:1b:00.0)" for messages. */
static void describe_mig(const struct gj_device *parent, const struct gj_mig *m, char *buf,
                         size_t size) {
        snprintf(buf, size, "MIG device %u:%u (GI %u, CI %u) of GPU %u (%s)", parent->vendor_index,
                 m->index, m->gi, m->ci, parent->vendor_index,
                 parent->pci_bus_id ? parent->pci_bus_id : "no PCI address");
}

/* The parent's /dev/nvidia<minor> (not its DRM nodes: NVIDIA gives a MIG device none),
 * then the GPU instance's and the compute instance's nvidia-cap nodes. */
static int plan_add_mig(struct gj_plan *plan, const struct gj_inventory *inv,
                        const struct gj_mig *m, const struct gj_plan_opts *opts) {
        const struct gj_device *parent = &inv->devices[m->parent];
        char who[160];

        describe_mig(parent, m, who, sizeof(who));
        if (parent->minor < 0 || parent->n_nodes == 0)
                return log_error_errno(-ENODEV,
                                       "refusing %s: the GPU's device node is unknown (see the "
                                       "warnings of 'gpujail list')",
                                       who);
        if (m->n_nodes < 2)
                return log_error_errno(
                        -ENODEV,
                        "refusing %s: its /dev/nvidia-caps nodes are unknown (see the "
                        "warnings of 'gpujail list')",
                        who);
        int r = plan_add_inventory_node(plan, &parent->nodes[0], parent, opts);
        for (size_t k = 0; r >= 0 && k < m->n_nodes; k++)
                r = plan_add_inventory_node(plan, &m->nodes[k], parent, opts);
        return r;
}

static int plan_add_migs_and_imex(struct gj_plan *plan, const struct gj_inventory *inv,
                                  const struct gj_selection *sel, const struct gj_plan_opts *opts) {
        if (sel->n_migs > 0) {
                plan->migs = calloc(sel->n_migs, sizeof(*plan->migs));
                plan->mig_parents = calloc(sel->n_migs, sizeof(*plan->mig_parents));
                if (!plan->migs || !plan->mig_parents)
                        return log_error_errno(-ENOMEM, "cannot build the plan: %m");
        }
        for (size_t i = 0; i < sel->n_migs; i++) {
                int r = plan_add_mig(plan, inv, sel->migs[i], opts);
                if (r < 0)
                        return r;
                plan->migs[plan->n_migs] = sel->migs[i];
                plan->mig_parents[plan->n_migs++] = &inv->devices[sel->migs[i]->parent];
        }
        for (size_t i = 0; i < sel->n_imex; i++) {
                int r = plan_add_inventory_node(plan, sel->imex[i], NULL, opts);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A MIG device's name inside and outside the jail: its UUID, or "<GPU id>/gi<G>/ci<C>". */
static char *mig_id(const struct gj_plan *plan, size_t i) {
        const struct gj_mig *m = plan->migs[i];
        const struct gj_device *p = plan->mig_parents[i];
        if (m->uuid)
                return strdup(m->uuid);
        return strprintf("%s/gi%u/ci%u", p->uuid ?: p->pci_bus_id ?: "nvidia", m->gi, m->ci);
}

static int push_mig_ids(const struct gj_plan *plan, char ***v) {
        for (size_t i = 0; i < plan->n_migs; i++) {
                int r = strv_push(v, mig_id(plan, i));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The name of a device that means the same inside and outside the jail. */
static const char *device_id(const struct gj_device *d, char *buf, size_t size) {
        if (d->uuid)
                return d->uuid;
        if (d->pci_bus_id)
                return d->pci_bus_id;
        snprintf(buf, size, "%s:%u", gj_vendor_name(d->vendor), d->vendor_index);
        return buf;
}

static char *devices_string(const struct gj_device *const *devs, size_t n, bool nvidia_only) {
        _cleanup_strv_free_ char **v = NULL;
        char buf[64];

        for (size_t i = 0; i < n; i++) {
                if (nvidia_only && devs[i]->vendor != GJ_VENDOR_NVIDIA)
                        continue;
                if (strv_push(&v, strdup(device_id(devs[i], buf, sizeof(buf)))) < 0)
                        return NULL;
        }
        return strv_join(v, ",");
}

/* devices_string, then the MIG devices' ids. */
static char *with_mig_ids(const struct gj_plan *plan, char *s) {
        _cleanup_strv_free_ char **v = NULL;
        _cleanup_free_ char *base = s;
        if (!base || plan->n_migs == 0)
                return TAKE_PTR(base);
        if ((*base && strv_push(&v, strdup(base)) < 0) || push_mig_ids(plan, &v) < 0)
                return NULL;
        return strv_join(v, ",");
}

static int push_bus_once(char ***v, const char *bus) {
        if (!bus || strv_contains(*v, bus))
                return 0;
        return strv_push(v, strdup(bus));
}

int gj_plan_proc_gpus(const struct gj_plan *plan, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        int r;
        for (size_t i = 0; i < plan->n_devices; i++)
                if (plan->devices[i]->vendor == GJ_VENDOR_NVIDIA &&
                    (r = push_bus_once(&v, plan->devices[i]->pci_bus_id)) < 0)
                        return r;
        /* a MIG device's GPU stays visible too (once, even for two of its MIG devices) */
        for (size_t i = 0; i < plan->n_migs; i++)
                if ((r = push_bus_once(&v, plan->mig_parents[i]->pci_bus_id)) < 0)
                        return r;
        *ret = TAKE_PTR(v);
        return 0;
}

char *gj_plan_devices_string(const struct gj_plan *plan) {
        return with_mig_ids(plan, devices_string(plan->devices, plan->n_devices, false));
}

static int env_push(char ***env, const char *key, const char *value) {
        if (!value)
                return -ENOMEM;
        return strv_push(env, strprintf("%s=%s", key, value));
}

/*
 * CUDA_VISIBLE_DEVICES: UUIDs, not indexes. Inside the jail CUDA numbers the
 * GPUs it can open from 0, in an order that depends on CUDA_DEVICE_ORDER
 * (fastest first by default), so "GPU 3 of the host" is "0" there and any
 * index we wrote would be a guess. A UUID names the same GPU everywhere; CUDA
 * has accepted them since 8.0. Only when a selected GPU has no known UUID do
 * we fall back to 0..n-1, which is right for the set, if not for the order.
 */
static char *cuda_visible_devices(const struct gj_plan *plan) {
        size_t n = 0;
        bool all_uuids = true;

        for (size_t i = 0; i < plan->n_devices; i++)
                if (plan->devices[i]->vendor == GJ_VENDOR_NVIDIA) {
                        n++;
                        all_uuids = all_uuids && plan->devices[i]->uuid;
                }
        for (size_t i = 0; i < plan->n_migs; i++, n++)
                all_uuids = all_uuids && plan->migs[i]->uuid;
        if (all_uuids)
                return with_mig_ids(plan, devices_string(plan->devices, plan->n_devices, true));

        _cleanup_strv_free_ char **v = NULL;
        for (size_t i = 0; i < n; i++)
                if (strv_push(&v, strprintf("%zu", i)) < 0)
                        return NULL;
        return strv_join(v, ",");
}

/*
 * ROCR_VISIBLE_DEVICES and HIP_VISIBLE_DEVICES: "0,..,n-1" for the selected AMD
 * GPUs. ROCm numbers from 0 the GPUs whose render nodes it can open, and in the
 * jail those are exactly the selected ones (AMD's container guide relies on the
 * same); the inventory knows no AMD UUID that would name them more exactly.
 * NULL when no AMD GPU is selected (nothing to say), or on OOM (*oom).
 */
static char *rocm_visible_devices(const struct gj_plan *plan, bool *oom) {
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0;
        for (size_t i = 0; i < plan->n_devices; i++)
                if (plan->devices[i]->vendor == GJ_VENDOR_AMD && strv_push(&v, strprintf("%zu", n++)) < 0)
                        return *oom = true, NULL;
        if (n == 0)
                return NULL;
        char *s = strv_join(v, ",");
        *oom = !s;
        return s;
}

static int plan_push_rocm_env(struct gj_plan *plan) {
        bool oom = false;
        _cleanup_free_ char *rocm = rocm_visible_devices(plan, &oom);
        if (!rocm)
                return oom ? -ENOMEM : 0;
        int r = env_push(&plan->env, "ROCR_VISIBLE_DEVICES", rocm);
        if (r < 0)
                return r;
        return env_push(&plan->env, "HIP_VISIBLE_DEVICES", rocm);
}

static int plan_push_env(struct gj_plan *plan, const struct gj_plan_opts *opts) {
        _cleanup_free_ char *ids = gj_plan_devices_string(plan);
        int r = env_push(&plan->env, "GPUJAIL_DEVICES", ids);
        if (r < 0 || !opts->set_cuda_env)
                return r;
        _cleanup_free_ char *cuda = cuda_visible_devices(plan);
        r = env_push(&plan->env, "CUDA_VISIBLE_DEVICES", cuda);
        if (r < 0)
                return r;
        if ((r = env_push(&plan->env, "NVIDIA_VISIBLE_DEVICES", *cuda ? cuda : "none")) < 0)
                return r;
        return plan_push_rocm_env(plan);
}

static int plan_add_env(struct gj_plan *plan, const struct gj_selection *sel,
                        const struct gj_plan_opts *opts) {
        /* "void" means nothing at all: no nodes, and no word about GPUs either. */
        if (sel->none && !sel->want_controls)
                return 0;
        int r = plan_push_env(plan, opts);
        if (r < 0)
                return log_error_errno(r, "cannot build the environment: %m");
        return 0;
}

int gj_plan_build(const struct gj_inventory *inv, const struct gj_selection *sel,
                  const struct gj_plan_opts *opts, struct gj_plan *ret) {
        static const struct gj_plan_opts defaults = {};
        _cleanup_(gj_plan_done) struct gj_plan plan = {};
        int r;

        if (!opts)
                opts = &defaults;
        *ret = (struct gj_plan){};

        if (sel->n_devices > 0) {
                plan.devices = calloc(sel->n_devices, sizeof(*plan.devices));
                if (!plan.devices)
                        return log_error_errno(-ENOMEM, "cannot build the plan: %m");
                memcpy(plan.devices, sel->devices, sel->n_devices * sizeof(*plan.devices));
                plan.n_devices = sel->n_devices;
        }

        for (size_t i = 0; i < sel->n_devices; i++) {
                const struct gj_device *d = sel->devices[i];
                r = check_device_has_nodes(d, opts);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < d->n_nodes; k++) {
                        r = plan_add_inventory_node(&plan, &d->nodes[k], d, opts);
                        if (r < 0)
                                return r;
                }
        }
        r = plan_add_migs_and_imex(&plan, inv, sel, opts);
        if (r < 0)
                return r;
        r = plan_add_controls(&plan, inv, sel, opts);
        if (r < 0)
                return r;
        r = plan_add_env(&plan, sel, opts);
        if (r < 0)
                return r;

        *ret = plan;
        plan = (struct gj_plan){};
        return 0;
}

int gj_plan_add_driver(struct gj_plan *plan, const struct gj_inventory *inv, unsigned caps) {
        bool nvidia = false;
        for (size_t i = 0; i < plan->n_nodes; i++)
                nvidia |= startswith(plan->nodes[i].host_path ?: plan->nodes[i].path,
                                     "/dev/nvidia") != NULL;
        if (!nvidia || caps == 0)
                return 0;
        gj_driver_plan_done(&plan->driver);
        return gj_driver_plan_host(inv ? inv->nvidia_driver_version : NULL, caps, &plan->driver);
}

void gj_plan_done(struct gj_plan *plan) {
        if (!plan)
                return;
        gj_driver_plan_done(&plan->driver);
        for (size_t i = 0; i < plan->n_nodes; i++)
                plan_node_done(&plan->nodes[i]);
        free(plan->nodes);
        free(plan->rules);
        strv_free(plan->env);
        free(plan->devices);
        free(plan->migs);
        free(plan->mig_parents);
        *plan = (struct gj_plan){};
}
