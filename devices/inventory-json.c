/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stable `gpujail list --json` format, documented in docs/json.md.
 * Add fields freely; never rename, retype or remove one without bumping "version".
 */
#include <json-c/json.h>

#include "gpujail/inventory.h"
#include "gpujail/lockdown.h"
#include "gpujail/util.h"

#define GJ_INVENTORY_JSON_VERSION 1

static void json_object_putp(struct json_object **o) { json_object_put(*o); }
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Adds v under key, taking v; false when v is NULL (allocation failed) or adding fails. */
static bool add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return false;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

/* Strings may be NULL: null in JSON ("unknown"), never "". */
static bool add_string(struct json_object *o, const char *key, const char *s) {
        if (!s)
                return json_object_object_add(o, key, NULL) >= 0;
        return add(o, key, json_object_new_string(s));
}

static bool add_int_or_null(struct json_object *o, const char *key, long long v, bool known) {
        if (!known)
                return json_object_object_add(o, key, NULL) >= 0;
        return add(o, key, json_object_new_int64(v));
}

static bool add_bool_or_null(struct json_object *o, const char *key, bool v, bool known) {
        if (!known)
                return json_object_object_add(o, key, NULL) >= 0;
        return add(o, key, json_object_new_boolean(v));
}

static bool append(struct json_object *a, struct json_object *v) {
        if (!v)
                return false;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

struct json_object *gj_node_to_json(const struct gj_node *n) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        char type[2] = { n->type, 0 }, mode[8];

        if (!o)
                return NULL;
        snprintf(mode, sizeof(mode), "%04o", (unsigned)(n->mode & 07777));
        if (!add_string(o, "path", n->path) || !add_string(o, "type", type) ||
            !add(o, "major", json_object_new_int64(n->major)) ||
            !add(o, "minor", json_object_new_int64(n->minor)) || !add_string(o, "mode", mode) ||
            !add(o, "uid", json_object_new_int64(n->uid)) ||
            !add(o, "gid", json_object_new_int64(n->gid)) ||
            !add_string(o, "state", gj_node_state_name(n->state)))
                return NULL;
        if (n->state == GJ_NODE_WRONG_DEVNUM &&
            (!add(o, "found_major", json_object_new_int64(n->found_major)) ||
             !add(o, "found_minor", json_object_new_int64(n->found_minor))))
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *device_controls_to_json(unsigned controls) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (unsigned c = 0; c < _GJ_CTL_MAX; c++)
                if (controls & (1u << c) && !append(a, json_object_new_string(gj_control_name(c))))
                        return NULL;
        return TAKE_PTR(a);
}

static struct json_object *device_to_json(const struct gj_device *d) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *nodes = json_object_new_array();

        if (!o || !nodes)
                return NULL;
        for (size_t i = 0; i < d->n_nodes; i++)
                if (!append(nodes, gj_node_to_json(&d->nodes[i])))
                        return NULL;
        if (!add(o, "index", json_object_new_int64(d->index)) ||
            !add_string(o, "vendor", gj_vendor_name(d->vendor)) ||
            !add(o, "vendor_index", json_object_new_int64(d->vendor_index)) ||
            !add_string(o, "model", d->model) || !add_string(o, "pci_bus_id", d->pci_bus_id) ||
            !add_int_or_null(o, "numa_node", d->numa_node, d->numa_node >= 0) ||
            !add_string(o, "uuid", d->uuid) ||
            !add_int_or_null(o, "minor", d->minor, d->minor >= 0) ||
            !add_string(o, "driver", isempty(d->driver) ? NULL : d->driver) ||
            !add(o, "nodes", TAKE_PTR(nodes)) ||
            !add(o, "controls", device_controls_to_json(d->controls)))
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *controls_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        for (unsigned c = 0; c < _GJ_CTL_MAX; c++)
                if (inv->controls[c] && !add(o, gj_control_name(c), gj_node_to_json(inv->controls[c])))
                        return NULL;
        return TAKE_PTR(o);
}

static struct json_object *modules_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < inv->n_modules; i++) {
                _cleanup_json_ struct json_object *m = json_object_new_object();
                if (!m || !add_string(m, "name", inv->modules[i].name) ||
                    !add(m, "loaded", json_object_new_boolean(inv->modules[i].loaded)) ||
                    !add_bool_or_null(m, "known", inv->modules[i].known,
                                      inv->modules[i].loaded || inv->modules[i].looked_up) ||
                    !append(a, TAKE_PTR(m)))
                        return NULL;
        }
        return TAKE_PTR(a);
}

static struct json_object *strv_to_json(char *const *v) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; v && v[i]; i++)
                if (!append(a, json_object_new_string(v[i])))
                        return NULL;
        return TAKE_PTR(a);
}

/* Present only when the caller looked (gpujail list); group and gid null when not configured. */
static bool add_lockdown(struct json_object *o, const struct gj_lockdown_status *s) {
        if (!s)
                return true;
        _cleanup_json_ struct json_object *l = json_object_new_object();
        if (!l || !add_string(l, "state", gj_lockdown_state_name(s->state)) ||
            !add_string(l, "group", s->group) || !add_int_or_null(l, "gid", s->gid, s->group != NULL) ||
            !add(l, "open_nodes", strv_to_json(s->open_nodes)) ||
            !add(l, "problems", strv_to_json(s->problems)))
                return false;
        return add(o, "lockdown", TAKE_PTR(l));
}

struct json_object *gj_inventory_to_json(const struct gj_inventory *inv) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *driver = json_object_new_object();
        _cleanup_json_ struct json_object *devices = json_object_new_array();

        if (!o || !driver || !devices)
                return NULL;
        if (!add_string(driver, "nvidia", inv->nvidia_driver_version))
                return NULL;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (!append(devices, device_to_json(&inv->devices[i])))
                        return NULL;
        if (!add(o, "version", json_object_new_int(GJ_INVENTORY_JSON_VERSION)) ||
            !add(o, "driver", TAKE_PTR(driver)) || !add(o, "devices", TAKE_PTR(devices)) ||
            !add(o, "controls", controls_to_json(inv)) || !add(o, "modules", modules_to_json(inv)) ||
            !add(o, "warnings", strv_to_json(inv->warnings)) || !add_lockdown(o, inv->lockdown))
                return NULL;
        return TAKE_PTR(o);
}
