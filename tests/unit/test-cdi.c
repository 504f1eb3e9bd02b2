/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CDI specs from a hand-built inventory: names (the CDI spec's syntax, which
 * its JSON schema does not check), one device per GPU by index and by UUID
 * plus "all", full deviceNodes from the plan (own nodes + control nodes),
 * vendor drop-in kinds, refusal of bad kinds and bad nodes, the YAML form.
 */
#include <json-c/json.h>

#include "../tap.h"
#include "gpujail/cdi.h"
#include "plan-fixture.h"

static struct fixture fx;

static struct json_object *get(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *v = get(o, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static struct json_object *device_named(struct json_object *spec, const char *name) {
        struct json_object *devs = get(spec, "devices");
        for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
                struct json_object *d = json_object_array_get_idx(devs, i);
                if (streq_ptr(get_str(d, "name"), name))
                        return d;
        }
        return NULL;
}

/* "path path ..." of a device's deviceNodes. */
static char *node_paths(struct json_object *dev) {
        struct json_object *nodes = get(get(dev, "containerEdits"), "deviceNodes");
        char buf[2048] = "";
        size_t o = 0;
        for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "",
                                      get_str(json_object_array_get_idx(nodes, i), "path"));
        return strdup(buf);
}

static bool every_node_complete(struct json_object *dev) {
        static const char *const keys[] = { "path", "hostPath", "type", "major", "minor",
                                            "permissions", "fileMode", "uid", "gid" };
        struct json_object *nodes = get(get(dev, "containerEdits"), "deviceNodes");
        if (!nodes || json_object_array_length(nodes) == 0)
                return false;
        for (size_t i = 0; i < json_object_array_length(nodes); i++) {
                struct json_object *n = json_object_array_get_idx(nodes, i);
                for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                        if (!get(n, keys[k]))
                                return false;
                if (!streq_ptr(get_str(n, "permissions"), "rw") || !streq_ptr(get_str(n, "type"), "c"))
                        return false;
        }
        return true;
}

static void test_names(void) {
        ok(gj_cdi_kind_valid("gpujail.io/gpu") == 0, "kind gpujail.io/gpu valid");
        ok(gj_cdi_kind_valid("nvidia.com/gpu") == 0, "kind nvidia.com/gpu valid");
        ok(gj_cdi_kind_valid("foo.bar.baz/foo-bar123_B") == 0, "kind with dots in vendor, -/_ in class valid");
        static const char *const bad_kinds[] = {
                "gpu", "/gpu", "vendor.com/", "vendor.com/gpu/x", "1vendor.com/gpu", "vendor.com/1gpu",
                "vendor.com/gpu-", "vendor-/gpu", "vendor.com/g.pu", "ven dor/gpu", "vendor.com/gpu=0", "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_kinds); i++)
                ok(gj_cdi_kind_valid(bad_kinds[i]) == -EINVAL, "kind '%s' refused", bad_kinds[i]);
        ok(gj_cdi_kind_valid(NULL) == -EINVAL, "NULL kind refused");

        static const char *const good_names[] = { "0", "17", "all", "GPU-aaaaaaaa-1111-2222-3333-444444444444",
                                                  "0000:3b:00.0", "a_b.c:d-e" };
        for (size_t i = 0; i < ELEMENTSOF(good_names); i++)
                ok(gj_cdi_device_name_valid(good_names[i]) == 0, "device name '%s' valid", good_names[i]);
        static const char *const bad_names[] = { "", "-0", "0-", "GPU 1", "a/b", "a=b", "x:", ".x", "é" };
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++)
                ok(gj_cdi_device_name_valid(bad_names[i]) == -EINVAL, "device name '%s' refused", bad_names[i]);

        char *k = NULL, *n = NULL;
        ok(gj_cdi_parse_qualified("gpujail.io/gpu=GPU-aaaa", &k, &n) == 0, "qualified name parses");
        is_str(k, "gpujail.io/gpu", "qualified name: kind");
        is_str(n, "GPU-aaaa", "qualified name: device");
        free(k), free(n);
        ok(gj_cdi_parse_qualified("gpujail.io/gpu", &k, &n) == -EINVAL, "no '=': refused");
        ok(gj_cdi_parse_qualified("gpujail.io/gpu=", &k, &n) == -EINVAL, "empty device name: refused");
        ok(gj_cdi_parse_qualified("gpujail.io=0", &k, &n) == -EINVAL, "no class: refused");
        ok(gj_cdi_parse_qualified("gpujail.io/gpu=0,1", &k, &n) == -EINVAL, "',' in name: refused");

        is_int(gj_cdi_kind_vendor("nvidia.com/gpu"), GJ_VENDOR_NVIDIA, "nvidia.com/* is NVIDIA's");
        is_int(gj_cdi_kind_vendor("amd.com/gpu"), GJ_VENDOR_AMD, "amd.com/* is AMD's");
        is_int(gj_cdi_kind_vendor("gpujail.io/gpu"), -1, "ours covers every vendor");
        is_int(gj_cdi_kind_vendor("nvidia.community/gpu"), -1, "a prefix lookalike is not NVIDIA's");

        char *s = NULL;
        ok(gj_cdi_name_to_selector("nvidia.com/gpu", "3", &s) == 0, "nvidia.com/gpu=3 -> selector");
        is_str(s, "nvidia:3", "vendor kind: index is the vendor's");
        free(s);
        ok(gj_cdi_name_to_selector("amd.com/gpu", "all", &s) == 0, "amd.com/gpu=all -> selector");
        is_str(s, "amd:all", "vendor kind: all is the vendor's");
        free(s);
        ok(gj_cdi_name_to_selector("gpujail.io/gpu", "3", &s) == 0, "gpujail.io/gpu=3 -> selector");
        is_str(s, "3", "our kind: inventory index");
        free(s);
        ok(gj_cdi_name_to_selector("nvidia.com/gpu", "GPU-aaaaaaaa-1111", &s) == 0, "UUID name -> selector");
        is_str(s, "GPU-aaaaaaaa-1111", "UUID passes through");
        free(s);
        ok(gj_cdi_name_to_selector("gpujail.io/gpu", "0,1", &s) == -EINVAL, "a list is not a device name");
}

static void test_nvidia_dropin(void) {
        struct json_object *spec = NULL;
        struct gj_cdi_opts opts = { .kind = "nvidia.com/gpu" };
        int r = gj_cdi_spec_build(&fx.inv, &opts, &spec);
        is_int(r, 0, "nvidia.com/gpu spec builds (the bad Intel node is not in it)");
        if (r < 0)
                return;
        is_str(get_str(spec, "cdiVersion"), "0.5.0", "cdiVersion 0.5.0 (hostPath, names starting with a digit)");
        is_str(get_str(spec, "kind"), "nvidia.com/gpu", "kind as asked");
        is_int(json_object_array_length(get(spec, "devices")), FX_N_NVIDIA * 2 + 1,
               "8 GPUs by index and by UUID, plus all");
        ok(!get(spec, "containerEdits"), "no spec-wide edits: controls belong to the devices that need them");

        struct json_object *d0 = device_named(spec, "0");
        char *paths = node_paths(d0);
        is_str(paths, "/dev/nvidia2 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools",
               "device 0: its node (driver minor 2) then the control nodes");
        free(paths);
        ok(every_node_complete(d0), "device 0: every node has path, hostPath, type, major, minor, "
                                    "permissions rw, fileMode, uid, gid");
        struct json_object *n0 = json_object_array_get_idx(get(get(d0, "containerEdits"), "deviceNodes"), 0);
        is_int(json_object_get_int64(get(n0, "major")), 195, "device 0: major 195");
        is_int(json_object_get_int64(get(n0, "minor")), 2, "device 0: minor 2");
        is_int(json_object_get_int64(get(n0, "fileMode")), 0666, "device 0: fileMode 0666");
        is_str(get_str(n0, "hostPath"), "/dev/nvidia2", "device 0: hostPath");

        struct json_object *du = device_named(spec, fx_nvidia_uuid[0]);
        ok(du && json_object_equal(get(d0, "containerEdits"), get(du, "containerEdits")),
           "the UUID name gives exactly what the index name gives");
        struct json_object *env = get(get(d0, "containerEdits"), "env");
        ok(env && json_object_array_length(env) >= 1 &&
                   startswith(json_object_get_string(json_object_array_get_idx(env, 0)), "GPUJAIL_DEVICES="),
           "device 0: env GPUJAIL_DEVICES");

        struct json_object *all = device_named(spec, "all");
        paths = node_paths(all);
        ok(paths && strstr(paths, "/dev/nvidia0 ") && strstr(paths, "/dev/nvidia7 ") &&
                   !strstr(paths, "/dev/dri") && !strstr(paths, "/dev/kfd"),
           "all: every NVIDIA GPU, nothing of the other vendors");
        is_int(json_object_array_length(get(get(all, "containerEdits"), "deviceNodes")), FX_N_NVIDIA + 3,
               "all: 8 GPUs + 3 control nodes, each once");
        free(paths);

        char **names = NULL;
        is_int(gj_cdi_spec_names(spec, &names), 0, "spec names list");
        is_str(names ? names[0] : NULL, "nvidia.com/gpu=0", "first qualified name");
        bool all_parse = names != NULL;
        for (size_t i = 0; names && names[i]; i++) {
                char *k, *n;
                if (gj_cdi_parse_qualified(names[i], &k, &n) < 0)
                        all_parse = false;
                else
                        free(k), free(n);
        }
        ok(all_parse, "every name the spec offers is a valid qualified CDI name");
        strv_free(names);

        char *yaml = gj_cdi_spec_to_yaml(spec);
        ok(yaml && startswith(yaml, "---\ncdiVersion: \"0.5.0\"\nkind: \"nvidia.com/gpu\"\ndevices:\n  - name: \"0\"\n"),
           "YAML: block style, quoted strings");
        ok(yaml && strstr(yaml, "\n        - path: \"/dev/nvidia2\"\n          hostPath: \"/dev/nvidia2\"\n"),
           "YAML: deviceNodes as a sequence of mappings");
        ok(yaml && strstr(yaml, "          major: 195\n"), "YAML: numbers plain");
        free(yaml);
        json_object_put(spec);
}

static void test_default_kind(void) {
        struct json_object *spec = NULL;
        capture_begin();
        int r = gj_cdi_spec_build(&fx.inv, NULL, &spec);
        const char *log = capture_end();
        is_int(r, -ENODEV, "default kind: a wrong node on the host fails the spec");
        ok(contains(log, "/dev/dri/renderD129"), "... naming the node");

        struct gj_cdi_opts opts = { .allow_bad_nodes = true };
        r = gj_cdi_spec_build(&fx.inv, &opts, &spec);
        is_int(r, 0, "default kind with allow_bad_nodes builds");
        if (r < 0)
                return;
        is_str(get_str(spec, "kind"), GJ_CDI_KIND_DEFAULT, "kind gpujail.io/gpu");
        is_int(json_object_array_length(get(spec, "devices")), FX_N_DEVICES * 2 + 1,
               "11 devices by index and by UUID or bus id, plus all");
        char *paths = node_paths(device_named(spec, "8"));
        is_str(paths, "/dev/dri/card1 /dev/dri/renderD128 /dev/kfd", "AMD device 8: its nodes and kfd, no nvidiactl");
        free(paths);
        ok(device_named(spec, "0000:c3:00.0") != NULL, "AMD device also named by its PCI bus id");
        paths = node_paths(device_named(spec, "10"));
        is_str(paths, "/dev/accel/accel0", "accel device 10: just its node");
        free(paths);
        json_object_put(spec);
}

static void test_refusals(void) {
        struct json_object *spec = NULL;
        struct gj_cdi_opts opts = { .kind = "Not a kind" };
        capture_begin();
        int r = gj_cdi_spec_build(&fx.inv, &opts, &spec);
        const char *log = capture_end();
        is_int(r, -EINVAL, "invalid kind refused");
        ok(contains(log, "invalid CDI kind 'Not a kind'"), "... with a message naming it");

        struct gj_inventory nv_only = fx.inv;
        nv_only.n_devices = FX_N_NVIDIA;
        opts.kind = "amd.com/gpu";
        capture_begin();
        r = gj_cdi_spec_build(&nv_only, &opts, &spec);
        log = capture_end();
        is_int(r, -ENOENT, "amd.com/gpu on a host without AMD: refused, not an empty spec");
        ok(contains(log, "amd"), "... saying why");

        opts.kind = "amd.com/gpu";
        r = gj_cdi_spec_build(&fx.inv, &opts, &spec);
        is_int(r, 0, "amd.com/gpu drop-in builds");
        char *paths = r == 0 ? node_paths(device_named(spec, "0")) : NULL;
        is_str(paths, "/dev/dri/card1 /dev/dri/renderD128 /dev/kfd", "amd.com/gpu=0 is the AMD card");
        free(paths);
        if (r == 0)
                json_object_put(spec);

        struct json_object *bad = json_tokener_parse("{\"kind\":\"x.com/gpu\",\"devices\":[{\"name\":\"a b\"}]}");
        char **names = NULL;
        is_int(gj_cdi_spec_names(bad, &names), -EBADMSG, "a spec with an invalid device name is refused");
        json_object_put(bad);
        bad = json_tokener_parse("[1,2]");
        is_int(gj_cdi_spec_names(bad, &names), -EBADMSG, "a JSON array is not a spec");
        json_object_put(bad);
}

static void test_yaml_escaping(void) {
        struct json_object *o = json_tokener_parse(
                "{\"on\": \"a\\\"b\\nc: d # e\", \"key with space\": [], \"x\": {}, \"y\": [[1, \"/p\"], true, null],"
                " \"ok_key-1\": -5}");
        char *y = o ? gj_cdi_spec_to_yaml(o) : NULL;
        is_str(y,
               "---\n"
               "\"on\": \"a\\\"b\\nc: d # e\"\n"
               "\"key with space\": []\n"
               "x: {}\n"
               "\"y\":\n"
               "  -\n"
               "    - 1\n"
               "    - \"/p\"\n"
               "  - true\n"
               "  - null\n"
               "ok_key-1: -5\n",
               "YAML: YAML 1.1 booleans and odd keys quoted, strings escaped, '/' not, nesting, empties");
        free(y);
        json_object_put(o);
}

int main(void) {
        fixture_init(&fx);
        test_yaml_escaping();
        test_names();
        test_nvidia_dropin();
        test_default_kind();
        test_refusals();
        return done_testing();
}
