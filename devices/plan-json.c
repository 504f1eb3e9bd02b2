/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `gpujail plan --json`. Nodes and rules use the OCI runtime spec's field
 * names (linux.devices, linux.resources.devices) plus CDI's "hostPath", so a
 * consumer can copy them into a config.json or a CDI spec unchanged; devices
 * use the names of `gpujail list --json`. Pure code: no syscalls.
 *
 * {
 *   "devices": [ { "index", "vendor", "vendor_index", "pci_bus_id", "uuid", "model" } ],
 *   "nodes":   [ { "path", "hostPath", "type", "major", "minor", "fileMode", "uid", "gid" } ],
 *   "cgroup_rules": [ { "allow": true, "type", "major", "minor", "access" } ],
 *   "env": [ "KEY=VALUE" ]
 * }
 * fileMode is the permission bits as a number (OCI: 438 = 0666); a wildcard
 * major or minor is -1 (OCI leaves it out; we never produce one from a plan).
 */
#include <json-c/json.h>

#include "gpujail/plan.h"
#include "gpujail/util.h"

/* Takes val, also on failure (json-c leaves it with the caller then). NULL is JSON null. */
static int add(struct json_object *obj, const char *key, struct json_object *val) {
        if (json_object_object_add(obj, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *type_string(char type) {
        char s[2] = { type, 0 };
        return json_object_new_string(s);
}

static struct json_object *devnum(unsigned n) {
        return json_object_new_int64(n == GJ_WILDCARD ? -1 : (int64_t)n);
}

static struct json_object *device_to_json(const struct gj_device *d) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        int r = add(o, "index", json_object_new_int64(d->index));
        if (r >= 0)
                r = add(o, "vendor", json_object_new_string(gj_vendor_name(d->vendor)));
        if (r >= 0)
                r = add(o, "vendor_index", json_object_new_int64(d->vendor_index));
        if (r >= 0)
                r = add(o, "pci_bus_id", string_or_null(d->pci_bus_id));
        if (r >= 0)
                r = add(o, "uuid", string_or_null(d->uuid));
        if (r >= 0)
                r = add(o, "model", string_or_null(d->model));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *plan_node_to_json(const struct gj_plan_node *n) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        int r = add(o, "path", json_object_new_string(n->path));
        if (r >= 0)
                r = add(o, "hostPath", json_object_new_string(n->host_path));
        if (r >= 0)
                r = add(o, "type", type_string(n->type));
        if (r >= 0)
                r = add(o, "major", devnum(n->major));
        if (r >= 0)
                r = add(o, "minor", devnum(n->minor));
        if (r >= 0)
                r = add(o, "fileMode", json_object_new_int64(n->mode & 07777));
        if (r >= 0)
                r = add(o, "uid", json_object_new_int64(n->uid));
        if (r >= 0)
                r = add(o, "gid", json_object_new_int64(n->gid));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *rule_to_json(const struct gj_cgroup_rule *rule) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        int r = add(o, "allow", json_object_new_boolean(1));
        if (r >= 0)
                r = add(o, "type", type_string(rule->type));
        if (r >= 0)
                r = add(o, "major", devnum(rule->major));
        if (r >= 0)
                r = add(o, "minor", devnum(rule->minor));
        if (r >= 0)
                r = add(o, "access", json_object_new_string(rule->access));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* Append to an array; a NULL element (allocation failure) fails the whole document. */
static int array_add(struct json_object *a, struct json_object *e) {
        if (!e)
                return -ENOMEM;
        if (json_object_array_add(a, e) < 0) {
                json_object_put(e);
                return -ENOMEM;
        }
        return 0;
}

struct json_object *gj_plan_to_json(const struct gj_plan *plan) {
        struct json_object *root = json_object_new_object();
        struct json_object *devices = json_object_new_array();
        struct json_object *nodes = json_object_new_array();
        struct json_object *rules = json_object_new_array();
        struct json_object *env = json_object_new_array();
        int r = 0;

        for (size_t i = 0; devices && r >= 0 && i < plan->n_devices; i++)
                r = array_add(devices, device_to_json(plan->devices[i]));
        for (size_t i = 0; nodes && r >= 0 && i < plan->n_nodes; i++)
                r = array_add(nodes, plan_node_to_json(&plan->nodes[i]));
        for (size_t i = 0; rules && r >= 0 && i < plan->n_rules; i++)
                r = array_add(rules, rule_to_json(&plan->rules[i]));
        for (size_t i = 0; env && r >= 0 && plan->env && plan->env[i]; i++)
                r = array_add(env, json_object_new_string(plan->env[i]));

        if (!root || !devices || !nodes || !rules || !env || r < 0) {
                json_object_put(root);
                json_object_put(devices);
                json_object_put(nodes);
                json_object_put(rules);
                json_object_put(env);
                return NULL;
        }
        /* From here each add hands its array to root; one failure frees what root holds. */
        r = add(root, "devices", devices);
        if (r >= 0)
                r = add(root, "nodes", nodes);
        else
                json_object_put(nodes);
        if (r >= 0)
                r = add(root, "cgroup_rules", rules);
        else
                json_object_put(rules);
        if (r >= 0)
                r = add(root, "env", env);
        else
                json_object_put(env);
        if (r < 0) {
                json_object_put(root);
                return NULL;
        }
        return root;
}
