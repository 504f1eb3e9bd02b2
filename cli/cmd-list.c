/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail list: what the host has, and whether its device nodes are right. */
#include <json-c/json.h>

#include "cli.h"
#include "gpujail/inventory.h"
#include "gpujail/lease-lock.h"
#include "gpujail/lockdown.h"
#include "gpujail/util.h"

static void list_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail list [--json]\n"
                "\n"
                "Show the accelerators of this host in index order (NVIDIA first, then AMD, Intel\n"
                "and DRM accel devices; PCI bus order within each, as nvidia-smi numbers them),\n"
                "with their device nodes and whether each node on the host is right:\n"
                "  ok            a character device with the major:minor the driver says\n"
                "  missing       no such file: 'gpujail setup' creates NVIDIA nodes\n"
                "  wrong_devnum  a character device with other numbers: refused for injection\n"
                "  not_char      a symlink, file or block device where the node should be\n"
                "  unchecked     could not be stat()ed\n"
                "The index is what --gpu 0,1 selects; the NVIDIA minor (/dev/nvidiaN) may differ.\n"
                "LEASE: free, held:USER or shared:N (jobs); 'gpujail ps' tells who and since when.\n"
                "\n"
                "Options:\n"
                "  --json    the stable machine-readable form (docs/json.md), for scripts and jq:\n"
                "              gpujail list --json | jq -r '.devices[] | .uuid'\n"
                "  -h, --help\n"
                "\n"
                "Then whether the host is locked down (gpujail setup --lockdown): open, partial\n"
                "(and why) or locked; a GPU node that any user can open is a warning, as it lets\n"
                "users bypass gpujail.\n"
                "\n"
                "Problems with one file (a truncated /proc/driver/nvidia/gpus/*/information, a\n"
                "missing nvidia-uvm) are warnings: the rest is still listed. Exit status 0, or 125\n"
                "when gpujail cannot look at the host at all.\n");
}

/* "ok" when all are, else the first bad node and its state. */
static void device_state(const struct gj_device *d, char *buf, size_t size) {
        if (d->vendor == GJ_VENDOR_NVIDIA && d->minor < 0) {
                snprintf(buf, size, "unknown minor");
                return;
        }
        for (size_t i = 0; i < d->n_nodes; i++) {
                const struct gj_node *n = &d->nodes[i];
                if (n->state == GJ_NODE_WRONG_DEVNUM) {
                        snprintf(buf, size, "%s wrong_devnum (%u:%u, want %u:%u)", n->path,
                                 n->found_major, n->found_minor, n->major, n->minor);
                        return;
                }
                if (n->state != GJ_NODE_OK) {
                        snprintf(buf, size, "%s %s", n->path, gj_node_state_name(n->state));
                        return;
                }
        }
        snprintf(buf, size, "ok");
}

static char *device_nodes(const struct gj_device *d) {
        _cleanup_free_ const char **paths = calloc(d->n_nodes + 1, sizeof(char *));
        if (!paths)
                return NULL;
        for (size_t i = 0; i < d->n_nodes; i++)
                paths[i] = d->nodes[i].path;
        return d->n_nodes ? strv_join((char *const *)paths, ",") : strdup("-");
}

/* "free", "held:alice", "shared:2" ('gpujail ps' says more). */
static void device_lease(int dir_fd, const struct gj_device *d, char *buf, size_t size) {
        enum gj_lease_state state;
        struct gj_lease_holder *h = NULL;
        size_t n = 0;
        if (gj_lease_query(dir_fd, d, &state, &h, &n) < 0)
                snprintf(buf, size, "?");
        else if (state == GJ_LEASE_HELD && n == 1)
                snprintf(buf, size, "held:%s", h[0].user ?: "?");
        else if (state == GJ_LEASE_SHARED)
                snprintf(buf, size, "shared:%zu", n);
        else
                snprintf(buf, size, "%s", gj_lease_state_name(state));
        gj_lease_holders_free(h, n);
}

/* "ok", the first bad caps node, or "unusable" when its caps nodes are unknown. */
static void mig_state(const struct gj_mig *m, char *buf, size_t size) {
        if (m->n_nodes < 2) {
                snprintf(buf, size, "unusable (see the warnings)");
                return;
        }
        for (size_t i = 0; i < m->n_nodes; i++)
                if (m->nodes[i].state != GJ_NODE_OK) {
                        snprintf(buf, size, "%s %s", m->nodes[i].path,
                                 gj_node_state_name(m->nodes[i].state));
                        return;
                }
        snprintf(buf, size, "ok");
}

/* MIG devices under their GPU's index, as NVIDIA names them ("2:0"), and IMEX channels. */
static void print_mig_and_imex(const struct gj_inventory *inv) {
        bool header = false;
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct gj_device *d = &inv->devices[i];
                if (d->mig_mode == GJ_MIG_ENABLED && d->n_migs == 0)
                        printf("%sGPU %u is in MIG mode with no MIG devices\n", header ? "" : "\n",
                               d->vendor_index);
                for (size_t k = 0; k < d->n_migs; k++) {
                        const struct gj_mig *m = &inv->migs[d->first_mig + k];
                        char name[32], caps[64] = "-", state[160];
                        if (!header)
                                printf("\nMIG devices (select as GPU:MIG, GPU:GI:CI or MIG-<uuid>):\n"
                                       "%-6s %-8s %-40s %-28s %-34s %s\n",
                                       "NAME", "GI:CI", "UUID", "MODEL", "CAPS NODES", "STATE");
                        header = true;
                        snprintf(name, sizeof(name), "%u:%u", d->vendor_index, m->index);
                        if (m->n_nodes == 2)
                                snprintf(caps, sizeof(caps), "nvidia-cap%u,nvidia-cap%u",
                                         m->nodes[0].minor, m->nodes[1].minor);
                        char ids[24];
                        snprintf(ids, sizeof(ids), "%u:%u", m->gi, m->ci);
                        mig_state(m, state, sizeof(state));
                        printf("%-6s %-8s %-40s %-28s %-34s %s\n", name, ids, m->uuid ?: "-",
                               m->name ?: "-", caps, state);
                }
        }
        if (inv->n_imex_channels > 0)
                printf("\nIMEX channels (select as imex:N):");
        for (size_t k = 0; k < inv->n_imex_channels; k++)
                printf(" %u%s", inv->imex_channels[k].minor,
                       inv->imex_channels[k].state == GJ_NODE_OK ? "" : " (bad node)");
        if (inv->n_imex_channels > 0)
                printf("\n");
}

static void print_lockdown(const struct gj_lockdown_status *s) {
        printf("\nLockdown: %s", gj_lockdown_state_name(s->state));
        if (s->group)
                printf(" (group %s)", s->group);
        if (s->state == GJ_LOCKDOWN_OPEN)
                printf(": GPU nodes are not kept for gpujail's jobs (see 'gpujail setup --lockdown')");
        printf("\n");
        for (size_t i = 0; s->problems && s->problems[i]; i++)
                printf("  %s\n", s->problems[i]);
        /* stderr, as every warning: scripts that read the table see it too. */
        if (s->bypass)
                log_warning("%s", s->bypass);
}

static int print_table(const struct gj_inventory *inv) {
        _cleanup_close_ int lease_dir = -1;
        (void)gj_lease_dir_open(false, &lease_dir); /* none: every GPU is free */
        if (inv->nvidia_driver_version)
                printf("NVIDIA driver %s\n", inv->nvidia_driver_version);
        if (inv->n_devices == 0)
                printf("No accelerators found on this host (no PCI GPU bound to nvidia, amdgpu, i915 "
                       "or xe, and no /sys/class/accel device).\n");
        else
                printf("%-3s %-6s %-24s %-12s %-4s %-40s %-30s %-14s %s\n", "IDX", "VENDOR",
                       "MODEL", "PCI", "NUMA", "UUID", "NODES", "LEASE", "STATE");
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct gj_device *d = &inv->devices[i];
                _cleanup_free_ char *nodes = device_nodes(d);
                char numa[16], state[256], lease[64];
                if (!nodes)
                        return -ENOMEM;
                if (d->numa_node >= 0)
                        snprintf(numa, sizeof(numa), "%d", d->numa_node);
                else
                        snprintf(numa, sizeof(numa), "-");
                device_state(d, state, sizeof(state));
                device_lease(lease_dir, d, lease, sizeof(lease));
                printf("%-3u %-6s %-24s %-12s %-4s %-40s %-30s %-14s %s\n", d->index,
                       gj_vendor_name(d->vendor), d->model ?: "-", d->pci_bus_id ?: "-", numa,
                       d->uuid ?: "-", nodes, lease, state);
        }
        print_mig_and_imex(inv);
        bool header = false;
        for (unsigned c = 0; c < _GJ_CTL_MAX; c++) {
                const struct gj_node *n = inv->controls[c];
                if (!n)
                        continue;
                if (!header)
                        printf("\nShared control nodes:\n");
                header = true;
                printf("  %-22s %3u:%-3u %04o %s\n", n->path, n->major, n->minor, (unsigned)n->mode,
                       gj_node_state_name(n->state));
        }
        if (inv->n_modules > 0) {
                printf("\nModules:");
                for (size_t i = 0; i < inv->n_modules; i++)
                        printf(" %s (%s)", inv->modules[i].name,
                               inv->modules[i].loaded                                   ? "loaded"
                               : !inv->modules[i].looked_up || inv->modules[i].known ? "not loaded"
                                                                                      : "not installed");
                printf("\n");
        }
        print_lockdown(inv->lockdown);
        size_t nw = strv_length(inv->warnings);
        if (nw > 0)
                printf("\n%zu warning%s (see above, or 'gpujail list --json' .warnings)\n", nw,
                       nw == 1 ? "" : "s");
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int cmd_list(int argc, char **argv) {
        _cleanup_(gj_lockdown_status_done) struct gj_lockdown_status lockdown = {};
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        bool json = false;
        int r;

        if ((r = cli_parse_json_only(argc, argv, "list", list_usage, &json)) != 0)
                return r > 0 ? 0 : GJ_EXIT_FAILURE;

        r = cli_load_inventory(true, &inv);
        if (r != 0)
                return r;
        r = gj_lockdown_inspect(inv, &lockdown);
        if (r < 0)
                return log_error_errno(r, "cannot tell whether the host is locked down: %m"), GJ_EXIT_FAILURE;
        inv->lockdown = &lockdown;
        if (json)
                return cli_print_json(gj_inventory_to_json(inv));
        r = print_table(inv);
        if (r < 0)
                return log_error_errno(r, "cannot print the list: %m"), GJ_EXIT_FAILURE;
        return 0;
}
