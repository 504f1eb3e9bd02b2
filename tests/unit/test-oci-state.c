/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's inputs (devices/oci-state.c): state, runtime device rules, stages.
 * config.json's root path: test-bundle.c. */
#include <json-c/json.h>

#include "gpujail/oci-state.h"
#include "gpujail/util.h"
#include "../tap.h"

static void state_bad(const char *text, const char *what) {
        struct gj_oci_state s = {};
        is_int(gj_oci_state_parse(text, &s), -EBADMSG, "state refused: %s", what);
        ok(!s.json && !s.id, "state refused: %s: nothing returned", what);
}

static void test_state(void) {
        struct gj_oci_state s = {};
        int r = gj_oci_state_parse("{\"ociVersion\":\"1.0.2-dev\",\"id\":\"t1\",\"status\":\"creating\","
                                   "\"pid\":20250,\"bundle\":\"/tmp/b\",\"annotations\":{\"a\":\"b\"}}",
                                   &s);
        is_int(r, 0, "runc's state parses");
        is_str(s.id, "t1", "id");
        is_int(s.pid, 20250, "pid");
        is_str(s.bundle, "/tmp/b", "bundle");
        is_str(s.status, "creating", "status");
        ok(s.annotations && json_object_is_type(s.annotations, json_type_object), "annotations");
        gj_oci_state_done(&s);

        r = gj_oci_state_parse("{\"id\":\"x\",\"pid\":1,\"bundle\":\"/b\"}", &s);
        is_int(r, 0, "minimal state parses (createContainer's pid 1)");
        ok(!s.status && !s.annotations, "optional fields absent");
        gj_oci_state_done(&s);

        state_bad("", "empty input");
        state_bad("{\"id\":\"x\",\"pid\":1,", "truncated");
        state_bad("[1,2]", "not an object");
        state_bad("{\"pid\":1,\"bundle\":\"/b\"}", "no id");
        state_bad("{\"id\":\"\",\"pid\":1,\"bundle\":\"/b\"}", "empty id");
        state_bad("{\"id\":\"x\",\"bundle\":\"/b\"}", "no pid (stopped container)");
        state_bad("{\"id\":\"x\",\"pid\":0,\"bundle\":\"/b\"}", "pid 0");
        state_bad("{\"id\":\"x\",\"pid\":-5,\"bundle\":\"/b\"}", "negative pid");
        state_bad("{\"id\":\"x\",\"pid\":99999999999,\"bundle\":\"/b\"}", "pid past PID_MAX_LIMIT");
        state_bad("{\"id\":\"x\",\"pid\":\"12\",\"bundle\":\"/b\"}", "pid a string");
        state_bad("{\"id\":\"x\",\"pid\":1,\"bundle\":\"b\"}", "relative bundle");
        state_bad("{\"id\":7,\"pid\":1,\"bundle\":\"/b\"}", "id a number");
        state_bad("{\"id\":\"x\",\"pid\":1,\"bundle\":\"/b\",\"annotations\":[]}", "annotations an array");
}

static void test_stages(void) {
        is_int(gj_hook_stage_from_string(NULL), GJ_HOOK_PRESTART, "no stage = prestart");
        is_int(gj_hook_stage_from_string("prestart"), GJ_HOOK_PRESTART, "prestart");
        is_int(gj_hook_stage_from_string("createRuntime"), GJ_HOOK_CREATE_RUNTIME, "createRuntime");
        is_int(gj_hook_stage_from_string("createContainer"), GJ_HOOK_CREATE_CONTAINER, "createContainer");
        is_int(gj_hook_stage_from_string("startContainer"), -EINVAL, "startContainer refused (after pivot_root)");
        is_int(gj_hook_stage_from_string("poststop"), -EINVAL, "poststop refused");
        is_str(gj_hook_stage_name(GJ_HOOK_CREATE_RUNTIME), "createRuntime", "stage name");
}

static int rules_of(const char *text, struct gj_cgroup_rule **rules, size_t *n) {
        struct json_object *c = json_tokener_parse(text);
        int r = gj_oci_config_device_rules(c, rules, n);
        json_object_put(c);
        return r;
}

static bool has_rule(const struct gj_cgroup_rule *rules, size_t n, char type, unsigned major,
                     unsigned minor, const char *access) {
        for (size_t i = 0; i < n; i++)
                if (rules[i].type == type && rules[i].major == major && rules[i].minor == minor &&
                    streq(rules[i].access, access))
                        return true;
        return false;
}

static void test_rules(void) {
        struct gj_cgroup_rule *rules = NULL;
        size_t n = 0;

        /* What `runc spec` writes, plus a device node and an explicit allow. */
        int r = rules_of("{\"linux\":{\"resources\":{\"devices\":["
                         "{\"allow\":false,\"access\":\"rwm\"},"
                         "{\"allow\":true,\"type\":\"c\",\"major\":195,\"minor\":3,\"access\":\"rw\"}]},"
                         "\"devices\":[{\"path\":\"/dev/nvidia7\",\"type\":\"c\",\"major\":195,\"minor\":7},"
                         "{\"path\":\"/dev/fifo\",\"type\":\"p\"}]}}",
                         &rules, &n);
        is_int(r, 0, "runc-style rules parse");
        is_int(n, 1 + 11, "leading deny-all dropped, runc defaults added");
        ok(n > 0 && rules[0].type == 'c' && rules[0].major == 195 && rules[0].minor == 3 &&
                   streq(rules[0].access, "rw"),
           "config's own rule first, in order");
        ok(!has_rule(rules, n, 'c', 195, 7, "rwm"), "linux.devices node not allowed (as runc)");
        ok(has_rule(rules, n, 'c', 1, 3, "rwm"), "runc default /dev/null");
        ok(has_rule(rules, n, 'c', 136, GJ_WILDCARD, "rwm"), "runc default pts wildcard");
        ok(has_rule(rules, n, 'b', GJ_WILDCARD, GJ_WILDCARD, "m"), "runc default mknod of block");
        ok(!has_rule(rules, n, 'a', GJ_WILDCARD, GJ_WILDCARD, "rwm"), "no allow-all anywhere");
        free(rules);
        rules = NULL;

        r = rules_of("{}", &rules, &n);
        is_int(r, 0, "no linux section");
        is_int(n, 11, "only the runtime defaults");
        free(rules);
        rules = NULL;

        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":-1,"
                     "\"access\":\"m\"}]}}}",
                     &rules, &n);
        is_int(r, 0, "wildcards");
        ok(n > 0 && rules[0].major == GJ_WILDCARD && rules[0].minor == GJ_WILDCARD, "-1 and absent = *");
        free(rules);
        rules = NULL;

        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"c\",\"access\":\"rwm\"},"
                     "{\"allow\":false,\"type\":\"c\",\"major\":195,\"minor\":1}]}}}",
                     &rules, &n);
        is_int(r, -EOPNOTSUPP, "a deny after an allow cannot be kept: refused, never dropped");
        ok(!rules, "nothing returned");

        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"type\":\"c\"}]}}}", &rules, &n);
        is_int(r, -EBADMSG, "rule without allow");
        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}}", &rules, &n);
        is_int(r, -EBADMSG, "bad access");
        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"q\"}]}}}", &rules, &n);
        is_int(r, -EBADMSG, "bad type");
        r = rules_of("{\"linux\":{\"resources\":{\"devices\":{}}}}", &rules, &n);
        is_int(r, -EBADMSG, "devices not an array");
        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":2000000}]}}}",
                     &rules, &n);
        is_int(r, -EBADMSG, "major out of range");

        /* runc and crun allow nothing for an empty access: never read as "rwm". */
        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":10,"
                     "\"minor\":200,\"access\":\"\"}]}}}", &rules, &n);
        is_int(r, -EBADMSG, "empty access refused");
        ok(!rules, "empty access: nothing returned");
        r = rules_of("{\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"\"}]}}}", &rules, &n);
        is_int(r, -EBADMSG, "empty access refused on a deny rule too");
}

/* linux.resources.devices of `n` allow rules "b 8:i rwm". */
static int many_rules_of(size_t n, size_t *ret_n) {
        _cleanup_free_ struct gj_cgroup_rule *rules = NULL;
        struct json_object *devs = json_object_new_array(), *c = json_object_new_object(), *l = json_object_new_object(),
                           *res = json_object_new_object();
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_new_object();
                json_object_object_add(d, "allow", json_object_new_boolean(1));
                json_object_object_add(d, "type", json_object_new_string("b"));
                json_object_object_add(d, "major", json_object_new_int(8));
                json_object_object_add(d, "minor", json_object_new_int((int)i));
                json_object_object_add(d, "access", json_object_new_string("rwm"));
                json_object_array_add(devs, d);
        }
        json_object_object_add(res, "devices", devs);
        json_object_object_add(l, "resources", res);
        json_object_object_add(c, "linux", l);
        int r = gj_oci_config_device_rules(c, &rules, ret_n);
        json_object_put(c);
        return r;
}

static void test_rules_bound(void) {
        size_t n = 0;
        is_int(many_rules_of(GJ_OCI_MAX_DEVICE_RULES, &n), 0, "%u rules accepted", GJ_OCI_MAX_DEVICE_RULES);
        is_int(n, GJ_OCI_MAX_DEVICE_RULES + 11, "... with the runtime's defaults");
        is_int(many_rules_of(GJ_OCI_MAX_DEVICE_RULES + 1, &n), -E2BIG, "%u rules refused (-E2BIG)",
               GJ_OCI_MAX_DEVICE_RULES + 1);
        is_int(many_rules_of(16385, &n), -E2BIG, "16,385 rules (issue 13) refused");
}

int main(void) {
        log_set_max_level(GJ_LOG_ERROR);
        test_stages();
        test_state();
        test_rules();
        test_rules_bound();
        return done_testing();
}
