/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `gpujail plan --json`. Nodes and rules use the OCI runtime spec's field
 * names (linux.devices, linux.resources.devices) plus CDI's "hostPath", so a
 * consumer can copy them into a config.json or a CDI spec unchanged; devices
 * use the names of `gpujail list --json`. Pure code: no syscalls.
 *
 * {
 *   "devices": [ { "index", "vendor", "vendor_index", "pci_bus_id", "uuid", "model" } ],
 *   "mig_devices": [ { "name", "gpu_index", "gi", "ci", "uuid" } ],
 *   "nodes":   [ { "path", "hostPath", "type", "major", "minor", "fileMode", "uid", "gid" } ],
 *   "cgroup_rules": [ { "allow": true, "type", "major", "minor", "access" } ],
 *   "env": [ "KEY=VALUE" ]
 * }
 * fileMode is the permission bits as a number (OCI: 438 = 0666); a wildcard
 * major or minor is -1 (OCI leaves it out; we never produce one from a plan).
 */
#include <json-c/json.h>

#include "gpujail/json-util.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

/* A wildcard is -1, as OCI's int64 fields have it. */
static int add_devnum(struct json_object *o, const char *key, unsigned n) {
        return gj_json_add_int(o, key, n == GJ_WILDCARD ? -1 : (int64_t)n);
}

static int add_type(struct json_object *o, char type) {
        char s[2] = { type, 0 };
        return gj_json_add_string(o, "type", s);
}

static struct json_object *device_to_json(const struct gj_device *d) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_int(o, "index", d->index) < 0 ||
            gj_json_add_string(o, "vendor", gj_vendor_name(d->vendor)) < 0 ||
            gj_json_add_int(o, "vendor_index", d->vendor_index) < 0 ||
            gj_json_add_string(o, "pci_bus_id", d->pci_bus_id) < 0 ||
            gj_json_add_string(o, "uuid", d->uuid) < 0 ||
            gj_json_add_string(o, "model", d->model) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *gj_plan_node_to_json(const struct gj_plan_node *n, bool with_host_path,
                                         const char *permissions) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_string(o, "path", n->path) < 0 ||
            (with_host_path && gj_json_add_string(o, "hostPath", n->host_path ?: n->path) < 0) ||
            add_type(o, n->type) < 0 || add_devnum(o, "major", n->major) < 0 ||
            add_devnum(o, "minor", n->minor) < 0 ||
            (permissions && gj_json_add_string(o, "permissions", permissions) < 0) ||
            gj_json_add_int(o, "fileMode", n->mode & 07777) < 0 ||
            gj_json_add_int(o, "uid", n->uid) < 0 || gj_json_add_int(o, "gid", n->gid) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *rule_to_json(const struct gj_cgroup_rule *rule) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_bool(o, "allow", true) < 0 || add_type(o, rule->type) < 0 ||
            add_devnum(o, "major", rule->major) < 0 || add_devnum(o, "minor", rule->minor) < 0 ||
            gj_json_add_string(o, "access", rule->access) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *devices_to_json(const struct gj_plan *plan) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < plan->n_devices; i++)
                if (gj_json_append(a, device_to_json(plan->devices[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* MIG devices as `gpujail list --json` names them ("2:1"), with their GPU's inventory index. */
static struct json_object *migs_to_json(const struct gj_plan *plan) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < plan->n_migs; i++) {
                const struct gj_mig *m = plan->migs[i];
                const struct gj_device *d = plan->mig_parents[i];
                _cleanup_free_ char *name = strprintf("%u:%u", d->vendor_index, m->index);
                _cleanup_json_ struct json_object *o = json_object_new_object();
                if (!name || !o || gj_json_add_string(o, "name", name) < 0 ||
                    gj_json_add_int(o, "gpu_index", d->index) < 0 ||
                    gj_json_add_int(o, "gi", m->gi) < 0 || gj_json_add_int(o, "ci", m->ci) < 0 ||
                    gj_json_add_string(o, "uuid", m->uuid) < 0 ||
                    gj_json_append(a, TAKE_PTR(o)) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static struct json_object *nodes_to_json(const struct gj_plan *plan) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < plan->n_nodes; i++)
                if (gj_json_append(a, gj_plan_node_to_json(&plan->nodes[i], true, NULL)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static struct json_object *rules_to_json(const struct gj_plan *plan) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < plan->n_rules; i++)
                if (gj_json_append(a, rule_to_json(&plan->rules[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* "driver": only when one was planned (gpujail plan --caps). */
static struct json_object *driver_to_json(const struct gj_driver_plan *d) {
        _cleanup_free_ char *caps = gj_driver_caps_format(d->caps);
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *files = json_object_new_array();
        if (!caps || !o || !files || gj_json_add_string(o, "version", d->version) < 0 ||
            gj_json_add_string(o, "capabilities", caps) < 0)
                return NULL;
        for (size_t i = 0; i < d->n_files; i++) {
                const struct gj_driver_file *f = &d->files[i];
                _cleanup_json_ struct json_object *e = json_object_new_object();
                if (!e || gj_json_add_string(e, "kind", gj_driver_file_kind_name(f->kind)) < 0 ||
                    gj_json_add_string(e, "hostPath", f->host_path) < 0 ||
                    gj_json_add_string(e, "path", f->path) < 0 ||
                    gj_json_add_string(e, "soname", f->soname) < 0 ||
                    gj_json_append(files, TAKE_PTR(e)) < 0)
                        return NULL;
        }
        if (gj_json_add(o, "files", TAKE_PTR(files)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *gj_plan_to_json(const struct gj_plan *plan) {
        _cleanup_json_ struct json_object *root = json_object_new_object();
        if (!root || gj_json_add(root, "devices", devices_to_json(plan)) < 0 ||
            gj_json_add(root, "mig_devices", migs_to_json(plan)) < 0 ||
            gj_json_add(root, "nodes", nodes_to_json(plan)) < 0 ||
            gj_json_add(root, "cgroup_rules", rules_to_json(plan)) < 0 ||
            gj_json_add(root, "env", gj_json_new_strv(plan->env)) < 0)
                return NULL;
        if (plan->driver.version && gj_json_add(root, "driver", driver_to_json(&plan->driver)) < 0)
                return NULL;
        return TAKE_PTR(root);
}
