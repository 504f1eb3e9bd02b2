/* SPDX-License-Identifier: Apache-2.0 */
/* The list --json format (docs/json.md) from a hand-built inventory: names, nulls, modes. */
#include <json-c/json.h>

#include "../tap.h"
#include "gpujail/inventory.h"
#include "gpujail/lockdown.h"
#include "gpujail/util.h"

static const char *get_str(struct json_object *o, const char *path0, const char *path1) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(o, path0, &v))
                return "(absent)";
        if (path1 && !json_object_object_get_ex(v, path1, &v))
                return "(absent)";
        return v ? json_object_get_string(v) : "(null)";
}

static bool is_null(struct json_object *o, const char *key) {
        struct json_object *v = (struct json_object *)1;
        return json_object_object_get_ex(o, key, &v) && v == NULL;
}

int main(void) {
        struct gj_node nv_nodes[1] = { {
                .path = (char *)"/dev/nvidia3", .type = 'c', .major = 195, .minor = 9, .mode = 0660,
                .uid = 0, .gid = 44, .state = GJ_NODE_WRONG_DEVNUM, .found_major = 195, .found_minor = 9,
        } };
        struct gj_node ctl = { .path = (char *)"/dev/nvidiactl", .type = 'c', .major = 195, .minor = 255,
                               .mode = 0666, .state = GJ_NODE_OK };
        struct gj_device devs[2] = {
                { .vendor = GJ_VENDOR_NVIDIA, .index = 0, .vendor_index = 0, .pci_bus_id = (char *)"0000:3b:00.0",
                  .driver = (char *)"nvidia", .model = (char *)"NVIDIA \"quoted\" H100", .uuid = NULL,
                  .numa_node = -1, .minor = 3, .nodes = nv_nodes, .n_nodes = 1,
                  .controls = 1u << GJ_CTL_NVIDIACTL },
                { .vendor = GJ_VENDOR_ACCEL, .index = 1, .vendor_index = 0, .pci_bus_id = NULL,
                  .driver = (char *)"", .model = NULL, .numa_node = 1, .minor = -1 },
        };
        struct gj_module mods[2] = { { .name = "nvidia", .loaded = false, .looked_up = true, .known = true },
                                     { .name = "nvidia_drm", .loaded = false } };
        char *warnings[] = { (char *)"/proc/devices: no \"nvidia-uvm\" line", NULL };
        struct gj_inventory inv = { .devices = devs, .n_devices = 2, .modules = mods, .n_modules = 2,
                                    .warnings = warnings };
        inv.controls[GJ_CTL_NVIDIACTL] = &ctl;

        struct json_object *o = gj_inventory_to_json(&inv);
        ok(o != NULL, "inventory serialises");
        if (!o)
                return done_testing();

        struct json_object *v;
        ok(json_object_object_get_ex(o, "version", &v) && json_object_get_int(v) == 1, "version 1");
        is_str(get_str(o, "driver", "nvidia"), "(null)", "unknown driver version is null");

        struct json_object *d0 = json_object_array_get_idx(json_object_object_get(o, "devices"), 0);
        struct json_object *d1 = json_object_array_get_idx(json_object_object_get(o, "devices"), 1);
        is_str(get_str(d0, "vendor", NULL), "nvidia", "vendor name");
        is_str(get_str(d0, "model", NULL), "NVIDIA \"quoted\" H100", "model with quotes round-trips");
        ok(is_null(d0, "uuid"), "unknown UUID is null");
        ok(is_null(d0, "numa_node"), "NUMA -1 is null");
        is_int(json_object_get_int(json_object_object_get(d0, "minor")), 3, "minor");
        ok(is_null(d1, "minor"), "minor -1 is null");
        ok(is_null(d1, "pci_bus_id"), "no PCI parent: null");
        ok(is_null(d1, "driver"), "empty driver: null");
        ok(is_null(d1, "model"), "no model: null");
        is_int(json_object_array_length(json_object_object_get(d1, "nodes")), 0, "no nodes: []");

        struct json_object *n0 = json_object_array_get_idx(json_object_object_get(d0, "nodes"), 0);
        is_str(get_str(n0, "mode", NULL), "0660", "mode is an octal string");
        is_str(get_str(n0, "type", NULL), "c", "type c");
        is_str(get_str(n0, "state", NULL), "wrong_devnum", "state name");
        is_int(json_object_get_int(json_object_object_get(n0, "found_minor")), 9, "found_minor with wrong_devnum");
        is_int(json_object_get_int(json_object_object_get(n0, "gid")), 44, "gid");
        is_str(json_object_get_string(json_object_array_get_idx(json_object_object_get(d0, "controls"), 0)),
               "nvidiactl", "device controls by name");

        is_str(get_str(json_object_object_get(o, "controls"), "nvidiactl", "path"), "/dev/nvidiactl",
               "top-level controls keyed by name");
        ok(!json_object_object_get_ex(json_object_object_get(o, "controls"), "nvidia-uvm", NULL),
           "absent control: no key");
        struct json_object *ok_node = json_object_object_get(json_object_object_get(o, "controls"), "nvidiactl");
        ok(!json_object_object_get_ex(ok_node, "found_major", NULL), "found_* only with wrong_devnum");

        struct json_object *m0 = json_object_array_get_idx(json_object_object_get(o, "modules"), 0);
        is_str(get_str(m0, "name", NULL), "nvidia", "module name");
        ok(!json_object_get_boolean(json_object_object_get(m0, "loaded")) &&
                   json_object_get_boolean(json_object_object_get(m0, "known")),
           "module loaded/known booleans");
        struct json_object *m1 = json_object_array_get_idx(json_object_object_get(o, "modules"), 1);
        ok(json_object_object_get_ex(m1, "known", NULL) && !json_object_object_get(m1, "known"),
           "a module neither loaded nor looked up: known is null, not false");
        is_str(json_object_get_string(json_object_array_get_idx(json_object_object_get(o, "warnings"), 0)),
               "/proc/devices: no \"nvidia-uvm\" line", "warnings carried");
        ok(!json_object_object_get_ex(o, "lockdown", NULL), "lockdown not looked at: no key");
        json_object_put(o);

        char *open_nodes[] = { (char *)"/dev/nvidia3", NULL };
        char *problems[] = { (char *)"/dev/nvidia3 is 0666 0:0, the lockdown gives it 0660 0:990", NULL };
        struct gj_lockdown_status partial = { .state = GJ_LOCKDOWN_PARTIAL, .group = (char *)"gpujail",
                                              .gid = 990, .open_nodes = open_nodes, .problems = problems };
        inv.lockdown = &partial;
        o = gj_inventory_to_json(&inv);
        struct json_object *l = json_object_object_get(o, "lockdown");
        is_str(get_str(l, "state", NULL), "partial", "lockdown: state");
        is_str(get_str(l, "group", NULL), "gpujail", "lockdown: group");
        is_int(json_object_get_int(json_object_object_get(l, "gid")), 990, "lockdown: gid");
        is_str(json_object_get_string(json_object_array_get_idx(json_object_object_get(l, "open_nodes"), 0)),
               "/dev/nvidia3", "lockdown: open_nodes");
        is_int(json_object_array_length(json_object_object_get(l, "problems")), 1, "lockdown: problems");
        json_object_put(o);

        struct gj_lockdown_status open = { .state = GJ_LOCKDOWN_OPEN };
        struct gj_inventory empty = { .lockdown = &open };
        o = gj_inventory_to_json(&empty);
        ok(o && json_object_array_length(json_object_object_get(o, "devices")) == 0 &&
                   json_object_array_length(json_object_object_get(o, "warnings")) == 0,
           "empty inventory: empty arrays, not nulls");
        l = json_object_object_get(o, "lockdown");
        is_str(get_str(l, "state", NULL), "open", "lockdown open: state");
        ok(is_null(l, "group") && is_null(l, "gid"), "lockdown open: group and gid null");
        ok(json_object_array_length(json_object_object_get(l, "open_nodes")) == 0 &&
                   json_object_array_length(json_object_object_get(l, "problems")) == 0,
           "lockdown open: empty arrays, not nulls");
        json_object_put(o);
        return done_testing();
}
