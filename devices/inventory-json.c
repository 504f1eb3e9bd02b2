/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stable `gpujail list --json` format, documented in docs/json.md.
 * Add fields freely; never rename, retype or remove one without bumping "version".
 */
#include <json-c/json.h>

#include "gpujail/inventory.h"
#include "gpujail/json-util.h"
#include "gpujail/lockdown.h"
#include "gpujail/util.h"

#define GJ_INVENTORY_JSON_VERSION 1

struct json_object *gj_node_to_json(const struct gj_node *n) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        char type[2] = { n->type, 0 }, mode[8];

        snprintf(mode, sizeof(mode), "%04o", (unsigned)(n->mode & 07777));
        if (!o || gj_json_add_string(o, "path", n->path) < 0 ||
            gj_json_add_string(o, "type", type) < 0 || gj_json_add_int(o, "major", n->major) < 0 ||
            gj_json_add_int(o, "minor", n->minor) < 0 || gj_json_add_string(o, "mode", mode) < 0 ||
            gj_json_add_int(o, "uid", n->uid) < 0 || gj_json_add_int(o, "gid", n->gid) < 0 ||
            gj_json_add_string(o, "state", gj_node_state_name(n->state)) < 0)
                return NULL;
        if (n->state == GJ_NODE_WRONG_DEVNUM &&
            (gj_json_add_int(o, "found_major", n->found_major) < 0 ||
             gj_json_add_int(o, "found_minor", n->found_minor) < 0))
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *nodes_to_json(const struct gj_device *d) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < d->n_nodes; i++)
                if (gj_json_append(a, gj_node_to_json(&d->nodes[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static struct json_object *device_controls_to_json(unsigned controls) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (unsigned c = 0; c < _GJ_CTL_MAX; c++)
                if (controls & (1u << c) && gj_json_append_string(a, gj_control_name(c)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static struct json_object *node_array_to_json(const struct gj_node *nodes, size_t n) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (gj_json_append(a, gj_node_to_json(&nodes[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* One MIG device: "<gpu>:<index>", its ids, NVML's names (null without NVML), its nodes. */
static struct json_object *mig_to_json(const struct gj_device *d, const struct gj_mig *m) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *name = strprintf("%u:%u", d->vendor_index, m->index);
        if (!o || !name || gj_json_add_string(o, "name", name) < 0 ||
            gj_json_add_int(o, "index", m->index) < 0 || gj_json_add_int(o, "gi", m->gi) < 0 ||
            gj_json_add_int(o, "ci", m->ci) < 0 || gj_json_add_string(o, "uuid", m->uuid) < 0 ||
            gj_json_add_string(o, "model", m->name) < 0 ||
            gj_json_add(o, "nodes", node_array_to_json(m->nodes, m->n_nodes)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* "mig": null for a GPU without MIG as far as we know; else its mode and MIG devices. */
static int add_mig(struct json_object *o, const struct gj_inventory *inv,
                   const struct gj_device *d) {
        if (d->mig_mode == GJ_MIG_UNKNOWN && d->n_migs == 0)
                return gj_json_add_null(o, "mig");
        _cleanup_json_ struct json_object *mig = json_object_new_object();
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!mig || !a || gj_json_add_string(mig, "mode", gj_mig_mode_name(d->mig_mode)) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < d->n_migs; k++)
                if (gj_json_append(a, mig_to_json(d, &inv->migs[d->first_mig + k])) < 0)
                        return -ENOMEM;
        if (gj_json_add(mig, "devices", TAKE_PTR(a)) < 0)
                return -ENOMEM;
        return gj_json_add(o, "mig", TAKE_PTR(mig));
}

static struct json_object *device_to_json(const struct gj_inventory *inv,
                                          const struct gj_device *d) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_int(o, "index", d->index) < 0 ||
            gj_json_add_string(o, "vendor", gj_vendor_name(d->vendor)) < 0 ||
            gj_json_add_int(o, "vendor_index", d->vendor_index) < 0 ||
            gj_json_add_string(o, "model", d->model) < 0 ||
            gj_json_add_string(o, "pci_bus_id", d->pci_bus_id) < 0 ||
            gj_json_add_int_or_null(o, "numa_node", d->numa_node, d->numa_node >= 0) < 0 ||
            gj_json_add_string(o, "uuid", d->uuid) < 0 ||
            gj_json_add_int_or_null(o, "minor", d->minor, d->minor >= 0) < 0 ||
            gj_json_add_string(o, "driver", isempty(d->driver) ? NULL : d->driver) < 0 ||
            gj_json_add(o, "nodes", nodes_to_json(d)) < 0 ||
            gj_json_add(o, "controls", device_controls_to_json(d->controls)) < 0 ||
            add_mig(o, inv, d) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *devices_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (gj_json_append(a, device_to_json(inv, &inv->devices[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static struct json_object *driver_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_string(o, "nvidia", inv->nvidia_driver_version) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *controls_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        for (unsigned c = 0; c < _GJ_CTL_MAX; c++)
                if (inv->controls[c] &&
                    gj_json_add(o, gj_control_name(c), gj_node_to_json(inv->controls[c])) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

static struct json_object *module_to_json(const struct gj_module *m) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_string(o, "name", m->name) < 0 ||
            gj_json_add_bool(o, "loaded", m->loaded) < 0 ||
            gj_json_add_bool_or_null(o, "known", m->known, m->loaded || m->looked_up) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *modules_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < inv->n_modules; i++)
                if (gj_json_append(a, module_to_json(&inv->modules[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* Present only when the caller looked (gpujail list); group and gid null when not configured. */
/* "lockdown": whether GPU nodes are kept for gpujail's jobs (docs/json.md). */
static int add_lockdown(struct json_object *o, const struct gj_lockdown_status *s) {
        if (!s)
                return 0;
        _cleanup_json_ struct json_object *l = json_object_new_object();
        if (!l || gj_json_add_string(l, "state", gj_lockdown_state_name(s->state)) < 0 ||
            gj_json_add_string(l, "group", s->group) < 0 ||
            gj_json_add_int_or_null(l, "gid", s->gid, s->group != NULL) < 0 ||
            gj_json_add(l, "open_nodes", gj_json_new_strv(s->open_nodes)) < 0 ||
            gj_json_add(l, "problems", gj_json_new_strv(s->problems)) < 0)
                return -ENOMEM;
        return gj_json_add(o, "lockdown", TAKE_PTR(l));
}

struct json_object *gj_inventory_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_int(o, "version", GJ_INVENTORY_JSON_VERSION) < 0 ||
            gj_json_add(o, "driver", driver_to_json(inv)) < 0 ||
            gj_json_add(o, "devices", devices_to_json(inv)) < 0 ||
            gj_json_add(o, "controls", controls_to_json(inv)) < 0 ||
            gj_json_add(o, "modules", modules_to_json(inv)) < 0 ||
            gj_json_add(o, "imex_channels",
                        node_array_to_json(inv->imex_channels, inv->n_imex_channels)) < 0 ||
            gj_json_add(o, "warnings", gj_json_new_strv(inv->warnings)) < 0 ||
            add_lockdown(o, inv->lockdown) < 0)
                return NULL;
        return TAKE_PTR(o);
}
