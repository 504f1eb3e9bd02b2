/* SPDX-License-Identifier: Apache-2.0 */
/*
 * selection -> plan against a hand-built inventory: nodes and their order,
 * control nodes (each once), cgroup rules (one per node, nothing wider),
 * environment, refusal of bad nodes, and the JSON form.
 */
#include <json-c/json.h>

#include "../tap.h"
#include "plan-fixture.h"

static struct fixture fx;

static int build(const char *spec, unsigned flags, const struct gj_plan_opts *opts, struct gj_plan *plan) {
        struct gj_selection sel;
        int r = gj_select(&fx.inv, spec, flags, &sel);
        if (r < 0)
                return r;
        r = gj_plan_build(&fx.inv, &sel, opts, plan);
        gj_selection_done(&sel);
        return r;
}

/* "path1 path2 ..." of the plan's nodes. */
static char *node_paths(const struct gj_plan *plan) {
        char buf[1024] = "";
        size_t o = 0;
        for (size_t i = 0; i < plan->n_nodes; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "", plan->nodes[i].path);
        return strdup(buf);
}

static char *rule_strings(const struct gj_plan *plan) {
        char buf[1024] = "";
        size_t o = 0;
        for (size_t i = 0; i < plan->n_rules; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%c %u:%u %s", i ? ", " : "",
                                      plan->rules[i].type, plan->rules[i].major, plan->rules[i].minor,
                                      plan->rules[i].access);
        return strdup(buf);
}

static const char *env_get(const struct gj_plan *plan, const char *key) {
        size_t n = strlen(key);
        for (size_t i = 0; plan->env && plan->env[i]; i++)
                if (strncmp(plan->env[i], key, n) == 0 && plan->env[i][n] == '=')
                        return plan->env[i] + n + 1;
        return NULL;
}

/* Every node has exactly its own rule, in the same order, and nothing else is allowed. */
static void check_rules_match_nodes(const struct gj_plan *plan, const char *what) {
        bool same = plan->n_rules == plan->n_nodes;
        for (size_t i = 0; same && i < plan->n_nodes; i++) {
                const struct gj_cgroup_rule *r = &plan->rules[i];
                same = r->type == plan->nodes[i].type && r->major == plan->nodes[i].major &&
                       r->minor == plan->nodes[i].minor && r->major != GJ_WILDCARD &&
                       r->minor != GJ_WILDCARD && r->type != 'a';
        }
        ok(same, "%s: one exact cgroup rule per node, no wildcard", what);
        bool host = true;
        for (size_t i = 0; i < plan->n_nodes; i++)
                host = host && streq(plan->nodes[i].path, plan->nodes[i].host_path);
        ok(host, "%s: container path = host path", what);
}

static void test_one_gpu(void) {
        struct gj_plan plan;
        int r = build("3", 0, NULL, &plan);
        is_int(r, 0, "plan for GPU 3");
        char *p = node_paths(&plan);
        /* GPU 3's minor is 1: the node is named after the driver's minor, not the index */
        is_str(p, "/dev/nvidia1 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools", "GPU 3: its node, then controls");
        free(p);
        p = rule_strings(&plan);
        is_str(p, "c 195:1 rw, c 195:255 rw, c 511:0 rw, c 511:1 rw", "GPU 3: rules");
        free(p);
        check_rules_match_nodes(&plan, "GPU 3");
        is_int(plan.n_devices, 1, "one device");
        ok(plan.n_devices == 1 && plan.devices[0] == &fx.devices[3], "the device is GPU 3");
        is_str(env_get(&plan, "GPUJAIL_DEVICES"), fx_nvidia_uuid[3], "GPUJAIL_DEVICES is its UUID");
        ok(!env_get(&plan, "CUDA_VISIBLE_DEVICES"), "no CUDA_VISIBLE_DEVICES unless asked");
        ok(!env_get(&plan, "NVIDIA_VISIBLE_DEVICES"), "no NVIDIA_VISIBLE_DEVICES unless asked");
        is_int(strv_length(plan.env), 1, "one env entry");
        is_int(plan.nodes[0].mode, 0666, "mode from the inventory");
        is_int(plan.nodes[0].type, 'c', "char node");
        gj_plan_done(&plan);
        ok(!plan.nodes && !plan.rules && !plan.env && plan.n_nodes == 0, "plan_done clears");
}

static void test_several(void) {
        struct gj_plan plan;
        int r = build("6, 1,2,1,nvidia:6", 0, NULL, &plan);
        is_int(r, 0, "plan for 6,1,2,1,nvidia:6");
        char *p = node_paths(&plan);
        is_str(p, "/dev/nvidia3 /dev/nvidia0 /dev/nvidia4 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools",
               "index order, duplicates once, controls once at the end");
        free(p);
        check_rules_match_nodes(&plan, "1,2,6");
        char want[256];
        snprintf(want, sizeof(want), "%s,%s,%s", fx_nvidia_uuid[1], fx_nvidia_uuid[2], fx_nvidia_uuid[6]);
        is_str(env_get(&plan, "GPUJAIL_DEVICES"), want, "GPUJAIL_DEVICES lists the UUIDs in order");
        char *s = gj_plan_devices_string(&plan);
        is_str(s, want, "gj_plan_devices_string");
        free(s);
        gj_plan_done(&plan);

        r = build("all", GJ_SELECT_NVIDIA_INDEXES, NULL, &plan);
        is_int(r, 0, "plan for all NVIDIA GPUs");
        is_int(plan.n_nodes, 8 + 3, "8 GPU nodes + 3 controls");
        p = node_paths(&plan);
        is_str(p, "/dev/nvidia2 /dev/nvidia3 /dev/nvidia0 /dev/nvidia1 /dev/nvidia6 /dev/nvidia7 "
                  "/dev/nvidia4 /dev/nvidia5 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools",
               "all NVIDIA: PCI order (minors out of order), then controls");
        free(p);
        check_rules_match_nodes(&plan, "all NVIDIA");
        ok(!strstr(p = node_paths(&plan), "modeset"), "nvidia-modeset only when a device asks for it");
        free(p);
        gj_plan_done(&plan);
}

static void test_other_vendors(void) {
        struct gj_plan plan;
        struct gj_plan_opts opts = { .set_cuda_env = true };
        int r = build("amd:0", 0, &opts, &plan);
        is_int(r, 0, "plan for amd:0");
        char *p = node_paths(&plan);
        is_str(p, "/dev/dri/card1 /dev/dri/renderD128 /dev/kfd", "AMD: card, render, kfd");
        free(p);
        check_rules_match_nodes(&plan, "amd:0");
        is_str(env_get(&plan, "GPUJAIL_DEVICES"), "0000:c3:00.0", "no UUID: the PCI bus id");
        is_str(env_get(&plan, "CUDA_VISIBLE_DEVICES"), "", "no NVIDIA GPU: CUDA sees none");
        is_str(env_get(&plan, "NVIDIA_VISIBLE_DEVICES"), "none", "no NVIDIA GPU: NVIDIA_VISIBLE_DEVICES=none");
        is_str(env_get(&plan, "ROCR_VISIBLE_DEVICES"), "0", "AMD GPU: ROCm numbers it 0 in the jail");
        is_str(env_get(&plan, "HIP_VISIBLE_DEVICES"), "0", "AMD GPU: HIP_VISIBLE_DEVICES too");
        gj_plan_done(&plan);

        r = build("amd:0", 0, NULL, &plan);
        is_int(r, 0, "plan for amd:0 without the CUDA-style variables");
        ok(!env_get(&plan, "ROCR_VISIBLE_DEVICES") && !env_get(&plan, "HIP_VISIBLE_DEVICES"),
           "ROCm's variables only when asked for, like CUDA's");
        gj_plan_done(&plan);

        r = build("accel:0,nvidia:0", 0, NULL, &plan);
        is_int(r, 0, "plan for accel:0,nvidia:0");
        p = node_paths(&plan);
        is_str(p, "/dev/nvidia2 /dev/accel/accel0 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools",
               "mixed: devices in index order, then controls");
        free(p);
        char want[128];
        snprintf(want, sizeof(want), "%s,0000:d8:00.0", fx_nvidia_uuid[0]);
        is_str(env_get(&plan, "GPUJAIL_DEVICES"), want, "mixed GPUJAIL_DEVICES");
        gj_plan_done(&plan);
}

static void test_cuda_env(void) {
        struct gj_plan plan;
        struct gj_plan_opts opts = { .set_cuda_env = true };
        int r = build("5,3", 0, &opts, &plan);
        is_int(r, 0, "plan with CUDA env");
        char want[128];
        snprintf(want, sizeof(want), "%s,%s", fx_nvidia_uuid[3], fx_nvidia_uuid[5]);
        is_str(env_get(&plan, "CUDA_VISIBLE_DEVICES"), want, "CUDA_VISIBLE_DEVICES: UUIDs, not host indexes");
        is_str(env_get(&plan, "NVIDIA_VISIBLE_DEVICES"), want, "NVIDIA_VISIBLE_DEVICES: the same UUIDs");
        gj_plan_done(&plan);

        /* Without UUIDs: CUDA numbers what it can open from 0. */
        char *u3 = fx.devices[3].uuid;
        fx.devices[3].uuid = NULL;
        r = build("5,3,amd:0", 0, &opts, &plan);
        is_int(r, 0, "plan with a GPU without UUID");
        is_str(env_get(&plan, "CUDA_VISIBLE_DEVICES"), "0,1", "no UUID: CUDA indexes 0..n-1 of the jail");
        snprintf(want, sizeof(want), "0000:3e:00.0,%s,0000:c3:00.0", fx_nvidia_uuid[5]);
        is_str(env_get(&plan, "GPUJAIL_DEVICES"), want, "no UUID: GPUJAIL_DEVICES uses the bus id");
        gj_plan_done(&plan);
        fx.devices[3].uuid = u3;
}

static void test_none_void(void) {
        struct gj_plan plan;
        struct gj_plan_opts opts = { .set_cuda_env = true };
        int r = build("none", 0, &opts, &plan);
        is_int(r, 0, "plan for none");
        char *p = node_paths(&plan);
        is_str(p, "/dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools", "none: the NVIDIA control nodes only");
        free(p);
        check_rules_match_nodes(&plan, "none");
        is_int(plan.n_devices, 0, "none: no device");
        is_str(env_get(&plan, "GPUJAIL_DEVICES"), "", "none: GPUJAIL_DEVICES empty");
        is_str(env_get(&plan, "CUDA_VISIBLE_DEVICES"), "", "none: CUDA sees nothing");
        is_str(env_get(&plan, "NVIDIA_VISIBLE_DEVICES"), "none", "none: NVIDIA_VISIBLE_DEVICES=none");
        gj_plan_done(&plan);

        const char *voids[] = { "void", "", NULL };
        for (size_t i = 0; i < ELEMENTSOF(voids); i++) {
                r = build(voids[i], 0, &opts, &plan);
                is_int(r, 0, "plan for '%s'", voids[i] ? voids[i] : "(unset)");
                ok(plan.n_nodes == 0 && plan.n_rules == 0 && plan.n_devices == 0 && !plan.env,
                   "'%s': nothing at all: no node, no rule, no env", voids[i] ? voids[i] : "(unset)");
                gj_plan_done(&plan);
        }

        /* "none" on a host without the NVIDIA driver: nothing to give, not an error. */
        struct gj_inventory saved = fx.inv;
        fx.inv.controls[GJ_CTL_NVIDIACTL] = fx.inv.controls[GJ_CTL_NVIDIA_UVM] =
                fx.inv.controls[GJ_CTL_NVIDIA_UVM_TOOLS] = NULL;
        r = build("none", 0, NULL, &plan);
        is_int(r, 0, "none without the NVIDIA driver");
        is_int(plan.n_nodes, 0, "none without the NVIDIA driver: no node");
        gj_plan_done(&plan);
        fx.inv = saved;
}

static void test_mknod(void) {
        struct gj_plan plan;
        struct gj_plan_opts opts = { .allow_mknod = true };
        int r = build("0", 0, &opts, &plan);
        is_int(r, 0, "plan with allow_mknod");
        char *p = rule_strings(&plan);
        is_str(p, "c 195:2 rwm, c 195:255 rwm, c 511:0 rwm, c 511:1 rwm", "allow_mknod adds m");
        free(p);
        gj_plan_done(&plan);
}

static void test_bad_nodes(void) {
        struct gj_plan plan = { .n_nodes = 77 };
        capture_begin();
        int r = build("intel:0", 0, NULL, &plan);
        const char *m = capture_end();
        is_int(r, -ENODEV, "a node with the wrong major:minor fails the plan");
        ok(plan.n_nodes == 0 && !plan.nodes && !plan.rules && !plan.env, "a failed plan is empty");
        ok(contains(m, "/dev/dri/renderD129") && contains(m, "226:200") && contains(m, "226:129") &&
           contains(m, "intel:0"),
           "the message names the path, what was found and what the driver says: %.*s",
           (int)strcspn(m, "\n"), m);

        capture_begin();
        r = build("all", 0, NULL, &plan);
        capture_end();
        is_int(r, -ENODEV, "'all' with one bad node fails as a whole");

        struct gj_plan_opts opts = { .allow_bad_nodes = true };
        r = build("intel:0", 0, &opts, &plan);
        is_int(r, 0, "allow_bad_nodes plans it anyway (list/plan/cdi for another host)");
        char *p = node_paths(&plan);
        is_str(p, "/dev/dri/card0 /dev/dri/renderD129", "allow_bad_nodes: the driver's numbers");
        free(p);
        is_int(plan.nodes[1].minor, 129, "the driver's minor, not the one found");
        gj_plan_done(&plan);

        /* A missing GPU node and a missing control node. */
        fx.nodes[0].state = GJ_NODE_MISSING;
        capture_begin();
        r = build("0", 0, NULL, &plan);
        m = capture_end();
        is_int(r, -ENODEV, "a missing GPU node fails the plan");
        ok(contains(m, "/dev/nvidia2") && contains(m, "missing"), "names it: %.*s", (int)strcspn(m, "\n"), m);
        fx.nodes[0].state = GJ_NODE_NOT_CHAR;
        capture_begin();
        r = build("0", 0, NULL, &plan);
        m = capture_end();
        is_int(r, -ENODEV, "a GPU node that is not a char device fails the plan");
        ok(contains(m, "/dev/nvidia2") && contains(m, "not a character device"), "says so: %.*s",
           (int)strcspn(m, "\n"), m);
        fx.nodes[0].state = GJ_NODE_UNCHECKED;
        capture_begin();
        r = build("0", 0, NULL, &plan);
        capture_end();
        is_int(r, -ENODEV, "an unchecked GPU node fails the plan");
        fx.nodes[0].state = GJ_NODE_OK;

        fx.controls[GJ_CTL_NVIDIACTL].state = GJ_NODE_MISSING;
        capture_begin();
        r = build("1", 0, NULL, &plan);
        m = capture_end();
        is_int(r, -ENODEV, "a missing control node fails the plan");
        ok(contains(m, "/dev/nvidiactl"), "names it: %.*s", (int)strcspn(m, "\n"), m);
        capture_begin();
        r = build("none", 0, NULL, &plan);
        capture_end();
        is_int(r, -ENODEV, "'none' with a bad nvidiactl fails too");
        fx.controls[GJ_CTL_NVIDIACTL].state = GJ_NODE_OK;

        /* A selected device without any node. */
        fx.devices[4].n_nodes = 0;
        capture_begin();
        r = build("4", 0, NULL, &plan);
        m = capture_end();
        is_int(r, -ENODEV, "a device without a node fails the plan");
        ok(contains(m, "nvidia:4") && contains(m, "device node is unknown"), "names it: %.*s", (int)strcspn(m, "\n"), m);
        r = build("4", 0, &opts, &plan);
        is_int(r, 0, "allow_bad_nodes: plans the controls only");
        is_int(plan.n_nodes, 3, "allow_bad_nodes: 3 controls");
        gj_plan_done(&plan);
        fx.devices[4].n_nodes = 1;

        fx.inv.controls[GJ_CTL_NVIDIA_UVM] = NULL;
        capture_begin();
        r = build("1", 0, NULL, &plan);
        m = capture_end();
        is_int(r, -ENODEV, "a control node the host lacks fails the plan");
        ok(contains(m, "nvidia-uvm") && contains(m, "gpujail setup"), "names it and the fix: %.*s",
           (int)strcspn(m, "\n"), m);
        r = build("1", 0, &opts, &plan);
        is_int(r, 0, "allow_bad_nodes: plan without it");
        p = node_paths(&plan);
        is_str(p, "/dev/nvidia3 /dev/nvidiactl /dev/nvidia-uvm-tools", "allow_bad_nodes: the rest");
        free(p);
        gj_plan_done(&plan);
        fx.inv.controls[GJ_CTL_NVIDIA_UVM] = &fx.controls[GJ_CTL_NVIDIA_UVM];
}

static void test_add_node(void) {
        struct gj_plan plan;
        int r = build("2", 0, NULL, &plan);
        is_int(r, 0, "plan for 2");
        struct gj_plan_node extra = {
                .path = (char *)"/dev/fuse", .host_path = (char *)"/dev/fuse", .type = 'c',
                .major = 10, .minor = 229, .mode = 0666,
        };
        r = gj_plan_add_node(&plan, &extra, false);
        is_int(r, 0, "add /dev/fuse");
        is_int(plan.n_nodes, 5, "appended");
        is_str(plan.nodes[4].path, "/dev/fuse", "at the end");
        ok(plan.nodes[4].path != extra.path, "copied, not borrowed");
        check_rules_match_nodes(&plan, "with /dev/fuse");
        r = gj_plan_add_node(&plan, &extra, false);
        is_int(r, 0, "the same node again is fine");
        is_int(plan.n_nodes, 5, "and not duplicated");
        is_int(plan.n_rules, 5, "nor its rule");

        struct gj_plan_node clash = extra;
        clash.minor = 230;
        capture_begin();
        r = gj_plan_add_node(&plan, &clash, false);
        const char *m = capture_end();
        is_int(r, -EEXIST, "another device under the same path is refused");
        ok(contains(m, "/dev/fuse"), "and named: %.*s", (int)strcspn(m, "\n"), m);
        is_int(plan.n_rules, 5, "no rule was added for it");

        /* GPU 2's node is /dev/nvidia0: adding it again is a no-op. */
        struct gj_plan_node relative = { .path = (char *)"dev/null", .type = 'c', .major = 1, .minor = 3 };
        capture_begin();
        r = gj_plan_add_node(&plan, &relative, false);
        capture_end();
        is_int(r, -EINVAL, "a relative path is refused");

        clash = (struct gj_plan_node){ .path = (char *)"/dev/nvidia0", .type = 'c', .major = 195, .minor = 0 };
        r = gj_plan_add_node(&plan, &clash, true);
        is_int(r, 0, "adding a node the plan has is fine");
        is_int(plan.n_nodes, 5, "and adds nothing");

        clash = (struct gj_plan_node){
                .path = (char *)"/dev/nvidia-caps/nvidia-cap1", .type = 'c', .major = 508, .minor = 1, .mode = 0400,
        };
        r = gj_plan_add_node(&plan, &clash, true);
        is_int(r, 0, "add a node without host_path");
        is_str(plan.nodes[5].host_path, "/dev/nvidia-caps/nvidia-cap1", "host_path defaults to path");
        is_str(plan.rules[5].access, "rwm", "allow_mknod on that node");

        /* Another name for a device already there: its own node and its own rule,
         * so rules[i] stays the rule of nodes[i]. */
        struct gj_plan_node alias = { .path = (char *)"/dev/nvidia-alias", .type = 'c', .major = 195, .minor = 0 };
        r = gj_plan_add_node(&plan, &alias, false);
        is_int(r, 0, "add a second name for 195:0");
        ok(plan.n_nodes == 7 && plan.n_rules == 7, "nodes and rules stay parallel (%zu, %zu)", plan.n_nodes,
           plan.n_rules);
        check_rules_match_nodes(&plan, "with an alias");
        gj_plan_done(&plan);
}

static void test_json(void) {
        struct gj_plan plan;
        struct gj_plan_opts opts = { .set_cuda_env = true };
        int r = build("3,amd:0", 0, &opts, &plan);
        is_int(r, 0, "plan for json");
        struct json_object *j = gj_plan_to_json(&plan);
        ok(j, "gj_plan_to_json");

        struct json_object *devices, *nodes, *rules, *env, *o, *v;
        ok(json_object_object_get_ex(j, "devices", &devices) && json_object_array_length(devices) == 2,
           "json: 2 devices");
        o = json_object_array_get_idx(devices, 0);
        ok(json_object_object_get_ex(o, "uuid", &v) && streq(json_object_get_string(v), fx_nvidia_uuid[3]),
           "json: device uuid");
        ok(json_object_object_get_ex(o, "vendor", &v) && streq(json_object_get_string(v), "nvidia"),
           "json: device vendor");
        o = json_object_array_get_idx(devices, 1);
        ok(json_object_object_get_ex(o, "uuid", &v) && json_object_is_type(v, json_type_null),
           "json: no uuid is null");

        ok(json_object_object_get_ex(j, "nodes", &nodes) && json_object_array_length(nodes) == plan.n_nodes,
           "json: every node");
        o = json_object_array_get_idx(nodes, 0);
        ok(json_object_object_get_ex(o, "path", &v) && streq(json_object_get_string(v), "/dev/nvidia1"), "json: path");
        ok(json_object_object_get_ex(o, "hostPath", &v) && streq(json_object_get_string(v), "/dev/nvidia1"), "json: hostPath");
        ok(json_object_object_get_ex(o, "type", &v) && streq(json_object_get_string(v), "c"), "json: type");
        ok(json_object_object_get_ex(o, "major", &v) && json_object_get_int(v) == 195, "json: major");
        ok(json_object_object_get_ex(o, "minor", &v) && json_object_get_int(v) == 1, "json: minor");
        ok(json_object_object_get_ex(o, "fileMode", &v) && json_object_get_int(v) == 0666, "json: fileMode 438");
        ok(json_object_object_get_ex(o, "uid", &v) && json_object_get_int(v) == 0, "json: uid");

        ok(json_object_object_get_ex(j, "cgroup_rules", &rules) && json_object_array_length(rules) == plan.n_rules,
           "json: every rule");
        o = json_object_array_get_idx(rules, 0);
        ok(json_object_object_get_ex(o, "allow", &v) && json_object_get_boolean(v), "json: allow");
        ok(json_object_object_get_ex(o, "access", &v) && streq(json_object_get_string(v), "rw"), "json: access");

        ok(json_object_object_get_ex(j, "env", &env) && json_object_array_length(env) == 5, "json: env (GPUJAIL_, CUDA_, NVIDIA_, ROCR_, HIP_)");
        v = json_object_array_get_idx(env, 0);
        ok(v && startswith(json_object_get_string(v), "GPUJAIL_DEVICES="), "json: env entries are KEY=VALUE");
        json_object_put(j);
        gj_plan_done(&plan);

        r = build("void", 0, NULL, &plan);
        j = gj_plan_to_json(&plan);
        ok(j && json_object_object_get_ex(j, "nodes", &nodes) && json_object_array_length(nodes) == 0 &&
           json_object_object_get_ex(j, "env", &env) && json_object_array_length(env) == 0,
           "json of void: empty arrays");
        json_object_put(j);
        gj_plan_done(&plan);
}

int main(void) {
        fixture_init(&fx);
        test_one_gpu();
        test_several();
        test_other_vendors();
        test_cuda_env();
        test_none_void();
        test_mknod();
        test_bad_nodes();
        test_add_node();
        test_json();
        free(capture_buf);
        return done_testing();
}
