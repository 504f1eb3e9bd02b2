/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVIDIA devices beyond whole GPUs: MIG devices and IMEX channels.
 *
 * The driver describes every MIG device under /proc/driver/nvidia/capabilities:
 * gpu<minor>/mig/gi<G>/access for a GPU instance and gi<G>/ci<C>/access for each of
 * its compute instances, each naming the minor of a /dev/nvidia-caps/nvidia-cap<N>
 * node (major "nvidia-caps" in /proc/devices). A process may use a MIG device when it
 * can open its parent's /dev/nvidia<minor> and both of these nodes. Only NVML knows the
 * MIG UUIDs and NVIDIA's MIG device index; when libnvidia-ml.so.1 is there (nvml.c) it
 * supplies them, else the index follows (gi, ci) order and the UUID is unknown.
 *
 * IMEX channels are /dev/nvidia-caps-imex-channels/channel<N>, minor N of the
 * "nvidia-caps-imex-channels" major; the ones that exist are the ones a host offers.
 *
 * Read-only towards the host, like the rest of the inventory.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "inventory-internal.h"

#define CAPS_FILE_MAX 4096
#define CAPS_DEV_DIR "/dev/nvidia-caps"
#define IMEX_DEV_DIR "/dev/nvidia-caps-imex-channels"

static const char *const mig_mode_names[] = {
        [GJ_MIG_UNKNOWN] = "unknown",
        [GJ_MIG_DISABLED] = "disabled",
        [GJ_MIG_ENABLED] = "enabled",
};

const char *gj_mig_mode_name(enum gj_mig_mode m) {
        return (unsigned)m < ELEMENTSOF(mig_mode_names) ? mig_mode_names[m] : "unknown";
}

struct caps_ctx {
        struct gj_inventory *inv;
        const char *proc_root;
        const char *dev_root;
        unsigned caps_major; /* 0: not in /proc/devices */
        bool warned_major;
};

static int cmp_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
        return x < y ? -1 : x > y;
}

/* The numbers N of the entries "<prefix>N" of dir, ascending. 0 and no list when dir
 * does not exist; -errno otherwise. */
static int numbered_entries(const char *dir, const char *prefix, unsigned **ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        _cleanup_free_ unsigned *v = NULL;
        size_t n = 0;
        struct dirent *de;

        *ret = NULL;
        *ret_n = 0;
        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        while ((de = readdir(d))) {
                unsigned id;
                if (gj_nvidia_numbered_name(de->d_name, prefix, &id) < 0)
                        continue;
                unsigned *nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv)
                        return -ENOMEM;
                v = nv;
                v[n++] = id;
        }
        if (n > 1)
                qsort(v, n, sizeof(*v), cmp_unsigned);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 1;
}

/* One access file -> its node. 1 with *node filled, 0 when unusable (warned), -ENOMEM. */
static int cap_node(struct caps_ctx *c, const char *rel, struct gj_node *node) {
        _cleanup_free_ char *path = strprintf("%s/%s", c->proc_root, rel);
        _cleanup_free_ char *text = NULL;
        struct gj_nvidia_cap cap;
        char dev[64];

        if (!path)
                return -ENOMEM;
        int r = read_full_file(path, &text, NULL, CAPS_FILE_MAX);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return inv_warn(c->inv, r, "cannot read /proc/%s", rel);
        if (gj_nvidia_cap_parse(text, &cap) < 0)
                return inv_warn(c->inv, 0,
                                "/proc/%s: no valid \"DeviceFileMinor:\" line (malformed "
                                "or truncated): its MIG device is not usable",
                                rel);
        if (c->caps_major == 0) {
                if (c->warned_major)
                        return 0;
                c->warned_major = true;
                return inv_warn(c->inv, 0,
                                "/proc/devices: no \"nvidia-caps\" line: MIG devices "
                                "are listed but not usable");
        }
        snprintf(dev, sizeof(dev), CAPS_DEV_DIR "/nvidia-cap%u", cap.minor);
        r = node_init(node, dev, c->caps_major, cap.minor, cap.mode, 0, 0);
        if (r < 0)
                return r;
        node_check_at(c->dev_root, node);
        return 1;
}

static void mig_free_contents(struct gj_mig *m) {
        free(m->uuid);
        free(m->name);
        for (size_t i = 0; i < m->n_nodes; i++)
                free(m->nodes[i].path);
        free(m->nodes);
}

static struct gj_mig *inv_new_mig(struct gj_inventory *inv) {
        struct gj_mig *v = realloc(inv->migs, (inv->n_migs + 1) * sizeof(*v));
        if (!v)
                return NULL;
        inv->migs = v;
        v = &inv->migs[inv->n_migs++];
        *v = (struct gj_mig){};
        return v;
}

/* A MIG device with both its nodes, or none when either is unusable. */
static int add_mig(struct caps_ctx *c, size_t parent, unsigned gi, unsigned ci,
                   const struct gj_node *gi_node, bool gi_ok, const char *ci_rel) {
        struct gj_node ci_node = {};
        int r = cap_node(c, ci_rel, &ci_node);
        if (r < 0)
                return r;
        struct gj_mig *m = inv_new_mig(c->inv);
        if (!m) {
                free(ci_node.path);
                return -ENOMEM;
        }
        *m = (struct gj_mig){ .parent = parent, .gi = gi, .ci = ci };
        if (!gi_ok || r == 0) {
                free(ci_node.path);
                return 0;
        }
        m->nodes = calloc(2, sizeof(*m->nodes));
        if (!m->nodes) {
                free(ci_node.path);
                return -ENOMEM;
        }
        m->nodes[0] = *gi_node;
        m->nodes[0].path = strdup(gi_node->path);
        m->nodes[1] = ci_node;
        m->n_nodes = m->nodes[0].path ? 2 : 1;
        return m->nodes[0].path ? 0 : -ENOMEM;
}

static int gpu_instance_add(struct caps_ctx *c, size_t parent, const char *mig_rel, unsigned gi) {
        _cleanup_free_ char *gi_rel = strprintf("%s/gi%u/access", mig_rel, gi);
        _cleanup_free_ char *ci_dir = strprintf("%s/%s/gi%u", c->proc_root, mig_rel, gi);
        _cleanup_free_ unsigned *cis = NULL;
        struct gj_node gi_node = {};
        size_t n_cis;

        if (!gi_rel || !ci_dir)
                return -ENOMEM;
        int r = cap_node(c, gi_rel, &gi_node);
        if (r < 0)
                return r;
        bool gi_ok = r > 0;
        r = numbered_entries(ci_dir, "ci", &cis, &n_cis);
        for (size_t k = 0; r >= 0 && k < n_cis; k++) {
                _cleanup_free_ char *ci_rel = strprintf("%s/gi%u/ci%u/access", mig_rel, gi, cis[k]);
                r = ci_rel ? add_mig(c, parent, gi, cis[k], &gi_node, gi_ok, ci_rel) : -ENOMEM;
        }
        free(gi_node.path);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return inv_warn(c->inv, r, "cannot read /proc/%s/gi%u", mig_rel, gi);
        return 0;
}

/* 1 if the GPU has a capabilities/gpu<minor>/mig directory (MIG-capable driver view). */
static int gpu_add_migs(struct caps_ctx *c, size_t di) {
        struct gj_device *d = &c->inv->devices[di];
        _cleanup_free_ unsigned *gis = NULL;
        size_t n_gis;

        d->first_mig = c->inv->n_migs;
        if (d->vendor != GJ_VENDOR_NVIDIA || d->minor < 0)
                return 0;
        _cleanup_free_ char *mig_rel = strprintf("driver/nvidia/capabilities/gpu%d/mig", d->minor);
        _cleanup_free_ char *dir = mig_rel ? strprintf("%s/%s", c->proc_root, mig_rel) : NULL;
        if (!dir)
                return -ENOMEM;
        int r = numbered_entries(dir, "gi", &gis, &n_gis);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return inv_warn(c->inv, r, "cannot read /proc/%s", mig_rel);
        if (r == 0)
                return 0;
        for (size_t k = 0; k < n_gis; k++) {
                r = gpu_instance_add(c, di, mig_rel, gis[k]);
                if (r < 0)
                        return r;
        }
        d = &c->inv->devices[di];
        d->n_migs = c->inv->n_migs - d->first_mig;
        if (n_gis > 0)
                d->mig_mode = GJ_MIG_ENABLED; /* GPU instances exist only in MIG mode */
        for (size_t k = 0; k < d->n_migs; k++)
                c->inv->migs[d->first_mig + k].index = (unsigned)k;
        return 1;
}

/* ---- NVML: MIG mode, UUIDs, names and NVIDIA's index order ---- */

static int cmp_mig_index(const void *a, const void *b) {
        const struct gj_mig *x = a, *y = b;
        return x->index < y->index ? -1 : x->index > y->index;
}

static struct gj_mig *find_mig(struct gj_inventory *inv, const struct gj_device *d, unsigned gi,
                               unsigned ci) {
        for (size_t k = 0; k < d->n_migs; k++) {
                struct gj_mig *m = &inv->migs[d->first_mig + k];
                if (m->gi == gi && m->ci == ci)
                        return m;
        }
        return NULL;
}

static int gpu_merge_nvml(struct gj_inventory *inv, struct gj_device *d, const struct nvml_gpu *g) {
        bool *seen = calloc(d->n_migs + 1, sizeof(bool));
        int r = 0;

        if (!seen)
                return -ENOMEM;
        if (g->mig_mode >= 0)
                d->mig_mode = g->mig_mode ? GJ_MIG_ENABLED : GJ_MIG_DISABLED;
        for (size_t j = 0; j < g->n_migs && r >= 0; j++) {
                struct gj_mig *m = find_mig(inv, d, g->migs[j].gi, g->migs[j].ci);
                if (!m) {
                        r = inv_warn(inv, 0,
                                     "NVML lists MIG device %u:%u (GI %u, CI %u) of GPU %s, "
                                     "which /proc/driver/nvidia/capabilities does not",
                                     d->vendor_index, g->migs[j].index, g->migs[j].gi,
                                     g->migs[j].ci, d->pci_bus_id);
                        continue;
                }
                seen[m - &inv->migs[d->first_mig]] = true;
                m->index = g->migs[j].index;
                free(m->uuid);
                free(m->name);
                m->uuid = g->migs[j].uuid[0] ? strdup(g->migs[j].uuid) : NULL;
                m->name = g->migs[j].name[0] ? strdup(g->migs[j].name) : NULL;
                if ((g->migs[j].uuid[0] && !m->uuid) || (g->migs[j].name[0] && !m->name))
                        r = -ENOMEM;
        }
        /* What only /proc knows (created since NVML looked) goes last, in (gi, ci) order. */
        unsigned next = g->n_migs > 0 ? g->migs[g->n_migs - 1].index + 1 : 0;
        for (size_t k = 0; k < d->n_migs && r >= 0; k++)
                if (!seen[k])
                        inv->migs[d->first_mig + k].index = next++;
        free(seen);
        if (r < 0)
                return r;
        if (d->n_migs > 1)
                qsort(&inv->migs[d->first_mig], d->n_migs, sizeof(*inv->migs), cmp_mig_index);
        return 0;
}

static int inv_ask_nvml(struct gj_inventory *inv, const bool *mig_capable) {
        struct nvml_session *s = nvml_open();
        int r = 0;

        if (!s)
                return 0;
        inv->nvml = true;
        for (size_t i = 0; i < inv->n_devices && r >= 0; i++) {
                struct nvml_gpu g = {};
                if (!mig_capable[i] || !inv->devices[i].pci_bus_id)
                        continue;
                int q = nvml_query_gpu(s, inv->devices[i].pci_bus_id, &g);
                if (q == -ENOMEM)
                        r = q;
                else if (q < 0)
                        r = inv_warn(inv, q, "NVML does not know GPU %s",
                                     inv->devices[i].pci_bus_id);
                else
                        r = gpu_merge_nvml(inv, &inv->devices[i], &g);
                nvml_gpu_done(&g);
        }
        nvml_close(s);
        return r;
}

/* ---- IMEX channels ---- */

static int cmp_node_minor(const void *a, const void *b) {
        const struct gj_node *x = a, *y = b;
        return x->minor < y->minor ? -1 : x->minor > y->minor;
}

static int inv_add_imex(struct caps_ctx *c, unsigned major) {
        _cleanup_free_ char *dir = strprintf("%s%s", c->dev_root, IMEX_DEV_DIR + strlen("/dev"));
        _cleanup_free_ unsigned *ids = NULL;
        size_t n;

        if (!dir)
                return -ENOMEM;
        int r = numbered_entries(dir, "channel", &ids, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return inv_warn(c->inv, r, "cannot read " IMEX_DEV_DIR);
        if (n > 0 && major == 0)
                return inv_warn(c->inv, 0,
                                "/proc/devices: no \"nvidia-caps-imex-channels\" line: "
                                "the nodes in " IMEX_DEV_DIR " are not usable");
        if (n == 0)
                return 0;
        c->inv->imex_channels = calloc(n, sizeof(struct gj_node));
        if (!c->inv->imex_channels)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                struct gj_node *node = &c->inv->imex_channels[k];
                char path[64];
                struct stat st;
                snprintf(path, sizeof(path), IMEX_DEV_DIR "/channel%u", ids[k]);
                if (node_init(node, path, major, ids[k], 0666, 0, 0) < 0)
                        return -ENOMEM;
                c->inv->n_imex_channels++;
                node_check_at(c->dev_root, node);
                /* Permissions are the administrator's (nvidia-modprobe -i or by hand). */
                _cleanup_free_ char *host = strprintf("%s/channel%u", dir, ids[k]);
                if (node->state == GJ_NODE_OK && host && stat(host, &st) == 0) {
                        node->mode = st.st_mode & 07777;
                        node->uid = st.st_uid;
                        node->gid = st.st_gid;
                }
        }
        qsort(c->inv->imex_channels, n, sizeof(struct gj_node), cmp_node_minor);
        return 0;
}

/* ---- the whole ---- */

static void find_caps_majors(struct caps_ctx *c, const char *text, unsigned *imex_major) {
        *imex_major = 0;
        c->caps_major = 0;
        if (!text)
                return; /* inventory.c already warned about /proc/devices */
        if (gj_proc_devices_find_char(text, "nvidia-caps", &c->caps_major) < 0)
                c->caps_major = 0;
        if (gj_proc_devices_find_char(text, "nvidia-caps-imex-channels", imex_major) < 0)
                *imex_major = 0;
}

int inv_add_nvidia_caps(struct gj_inventory *inv, const char *proc_devices, const char *proc_root,
                        const char *dev_root, bool use_nvml) {
        struct caps_ctx c = { .inv = inv, .proc_root = proc_root, .dev_root = dev_root };
        _cleanup_free_ bool *mig_capable = calloc(inv->n_devices + 1, sizeof(bool));
        bool any_capable = false;
        unsigned imex_major;
        int r;

        if (!mig_capable)
                return -ENOMEM;
        bool any_nvidia = false;
        for (size_t i = 0; i < inv->n_devices; i++)
                any_nvidia = any_nvidia || inv->devices[i].vendor == GJ_VENDOR_NVIDIA;
        if (!any_nvidia)
                return 0;
        find_caps_majors(&c, proc_devices, &imex_major);
        for (size_t i = 0; i < inv->n_devices; i++) {
                r = gpu_add_migs(&c, i);
                if (r < 0)
                        return r;
                mig_capable[i] = r > 0;
                any_capable = any_capable || r > 0;
        }
        /* NVML costs its dlopen and nvmlInit: only where the driver shows MIG at all. */
        if (use_nvml && any_capable) {
                r = inv_ask_nvml(inv, mig_capable);
                if (r < 0)
                        return r;
        }
        return inv_add_imex(&c, imex_major);
}

void inv_free_nvidia_caps(struct gj_inventory *inv) {
        for (size_t i = 0; i < inv->n_migs; i++)
                mig_free_contents(&inv->migs[i]);
        free(inv->migs);
        for (size_t i = 0; i < inv->n_imex_channels; i++)
                free(inv->imex_channels[i].path);
        free(inv->imex_channels);
}
