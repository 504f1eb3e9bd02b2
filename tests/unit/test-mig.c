/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIG devices and IMEX channels: the capability-file parsers, the selectors
 * (MIG-<uuid>, GPU:MIG, GPU:GI:CI, imex:N) and the plan they give, on the
 * 8-GPU fixture with GPUs 2 and 5 in MIG mode (caps minors not in order)
 * and GPU 6 in MIG mode without instances.
 */
#include "../tap.h"
#include "launcher-internal.h"
#include "plan-fixture.h"

#define CAPS_MAJOR 509u
#define IMEX_MAJOR 508u

static struct fixture fx;
static struct gj_mig migs[5];
static struct gj_node mig_nodes[5][2];
static struct gj_node imex[2];

static void mig_init(size_t k, size_t parent, unsigned index, unsigned gi, unsigned ci,
                     const char *uuid, unsigned gi_minor, unsigned ci_minor) {
        static char paths[5][2][48];
        unsigned minors[2] = { gi_minor, ci_minor };
        for (int j = 0; j < 2; j++) {
                snprintf(paths[k][j], sizeof(paths[k][j]), "/dev/nvidia-caps/nvidia-cap%u",
                         minors[j]);
                mig_nodes[k][j] = (struct gj_node){ .path = paths[k][j],
                                                    .type = 'c',
                                                    .major = CAPS_MAJOR,
                                                    .minor = minors[j],
                                                    .mode = 0444,
                                                    .state = GJ_NODE_OK };
        }
        migs[k] = (struct gj_mig){ .parent = parent,
                                   .index = index,
                                   .gi = gi,
                                   .ci = ci,
                                   .uuid = (char *)uuid,
                                   .nodes = mig_nodes[k],
                                   .n_nodes = 2 };
}

static void mig_fixture(void) {
        fixture_init(&fx);
        /* GPU 2 (minor 0): three MIG devices; GPU 5 (minor 7): two, one with an
         * unusable access file (no nodes). Minors as the driver hands them out. */
        mig_init(0, 2, 0, 1, 0, "MIG-11111111-aaaa-bbbb-cccc-000000000000", 21, 22);
        mig_init(1, 2, 1, 2, 0, "MIG-11111111-aaaa-bbbb-cccc-111111111111", 30, 31);
        mig_init(2, 2, 2, 2, 1, "MIG-22222222-aaaa-bbbb-cccc-222222222222", 30, 32);
        mig_init(3, 5, 0, 7, 0, "MIG-33333333-aaaa-bbbb-cccc-333333333333", 885, 886);
        mig_init(4, 5, 1, 8, 0, NULL, 0, 0);
        migs[4].n_nodes = 0;
        fx.devices[2].mig_mode = GJ_MIG_ENABLED;
        fx.devices[2].first_mig = 0;
        fx.devices[2].n_migs = 3;
        fx.devices[5].mig_mode = GJ_MIG_ENABLED;
        fx.devices[5].first_mig = 3;
        fx.devices[5].n_migs = 2;
        fx.devices[6].mig_mode = GJ_MIG_ENABLED; /* and no instance */
        fx.devices[6].first_mig = 5;
        fx.inv.migs = migs;
        fx.inv.n_migs = 5;
        fx.inv.nvml = true;
        imex[0] = (struct gj_node){ .path = (char *)"/dev/nvidia-caps-imex-channels/channel0",
                                    .type = 'c',
                                    .major = IMEX_MAJOR,
                                    .minor = 0,
                                    .mode = 0666,
                                    .state = GJ_NODE_OK };
        imex[1] = imex[0];
        imex[1].path = (char *)"/dev/nvidia-caps-imex-channels/channel7";
        imex[1].minor = 7;
        fx.inv.imex_channels = imex;
        fx.inv.n_imex_channels = 2;
}

/* ---- parsers ---- */

static void test_cap_parse(void) {
        struct gj_nvidia_cap cap;

        is_int(gj_nvidia_cap_parse(
                       "DeviceFileMinor: 21\nDeviceFileMode: 292\nDeviceFileModify: 1\n", &cap),
               0, "a real gi access file parses");
        is_int(cap.minor, 21, "its minor");
        is_int(cap.mode, 0444, "its mode (decimal 292 = 0444)");
        ok(cap.have_mode && cap.modify, "mode present, modify set");
        is_int(gj_nvidia_cap_parse("DeviceFileMinor: 1\nDeviceFileMode: 256\nDeviceFileModify: 0\n",
                                   &cap),
               0, "mig/config parses");
        ok(cap.mode == 0400 && !cap.modify, "config: 0400, not to be modified");
        is_int(gj_nvidia_cap_parse("DeviceFileMinor:\t7 \n", &cap), 0, "blanks around the value");
        is_int(cap.mode, 0444, "no mode: 0444");
        is_int(gj_nvidia_cap_parse("DeviceFileMinor: 3\nDeviceFileMinor: 4\n", &cap), 0,
               "repeated minor");
        is_int(cap.minor, 3, "the first minor counts");

        static const char *const bad[] = {
                "",
                "DeviceFileMinor: 21", /* no newline: truncated */
                "DeviceFileMinor: -1\n",
                "DeviceFileMinor: 0x10\n",
                "DeviceFileMinor: 1048576\n",
                "DeviceFileMinor: 99999999999\n",
                "DeviceFileMinor: +3\n",
                "DeviceFileMinor: 3a\n",
                "DeviceFileMinor: \n",
                "DeviceFileMode: 292\n",
                "Minor: 3\n",
                "DeviceFileMinor 3\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                is_int(gj_nvidia_cap_parse(bad[i], &cap), -EBADMSG,
                       "malformed access file #%zu is -EBADMSG", i);
        is_int(gj_nvidia_cap_parse("DeviceFileMinor: 1048575\nDeviceFileMode: 99999\n", &cap), 0,
               "largest minor");
        is_int(cap.mode, 0444, "an out-of-range mode is ignored");
}

static void test_numbered_names(void) {
        unsigned v;
        is_int(gj_nvidia_numbered_name("gi12", "gi", &v), 0, "gi12");
        is_int(v, 12, "-> 12");
        is_int(gj_nvidia_numbered_name("ci0", "ci", &v), 0, "ci0");
        is_int(gj_nvidia_numbered_name("channel2047", "channel", &v), 0, "channel2047");
        is_int(v, 2047, "-> 2047");
        static const char *const bad[] = { "gi",  "gi01",         "gi-1", "gi 1",   "gi1x", "GI1",
                                           "ci1", "gi1234567890", "gi+1", "access", "" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ok(gj_nvidia_numbered_name(bad[i], "gi", &v) < 0, "'%s' is not a gi name", bad[i]);
}

static void test_proc_devices_majors(void) {
        const char *text =
                "Character devices:\n195 nvidia\n508 nvidia-caps-imex-channels\n509 nvidia-caps\n"
                "510 nvidia-uvm\n\nBlock devices:\n507 nvidia-caps\n";
        unsigned m;
        is_int(gj_proc_devices_find_char(text, "nvidia-caps", &m), 0, "nvidia-caps found");
        is_int(m, 509, "its character major, not the block one");
        is_int(gj_proc_devices_find_char(text, "nvidia-caps-imex-channels", &m), 0,
               "imex channels found");
        is_int(m, 508, "its major");
        is_int(gj_proc_devices_find_char("Character devices:\n509 nvidia-caps-x\n", "nvidia-caps",
                                         &m),
               -ENOENT, "a longer name does not match");
}

/* ---- selectors ---- */

/* "2:0,5:0" for the MIG devices chosen, "" for none; NULL on error. */
static char *mig_selected(const char *spec, unsigned flags, size_t *n_devices, size_t *n_imex) {
        struct gj_selection sel;
        char buf[256] = "";
        size_t o = 0;

        capture_begin();
        int r = gj_select(&fx.inv, spec, flags, &sel);
        capture_end();
        if (r < 0)
                return NULL;
        for (size_t i = 0; i < sel.n_migs; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%zu:%u", i ? "," : "",
                                      sel.migs[i]->parent, sel.migs[i]->index);
        if (n_devices)
                *n_devices = sel.n_devices;
        if (n_imex)
                *n_imex = sel.n_imex;
        gj_selection_done(&sel);
        return strdup(buf);
}

static void check_mig(const char *spec, const char *want, size_t want_devices) {
        size_t n = 99;
        char *got = mig_selected(spec, GJ_SELECT_NVIDIA_INDEXES, &n, NULL);
        is_str(got, want, "'%s' selects MIG devices %s", spec, want);
        is_int(n, want_devices, "'%s' selects %zu whole device(s)", spec, want_devices);
        free(got);
}

static void check_mig_err(const char *spec, const char *needle) {
        struct gj_selection sel = { .n_migs = 99 };
        capture_begin();
        int r = gj_select(&fx.inv, spec, GJ_SELECT_NVIDIA_INDEXES, &sel);
        const char *msg = capture_end();
        ok(r < 0, "'%s' is an error: %.*s", spec, (int)strcspn(msg, "\n"), msg);
        ok(sel.n_migs == 0 && sel.n_devices == 0 && sel.n_imex == 0 && !sel.migs,
           "'%s' selects nothing", spec);
        ok(contains(msg, needle), "'%s': the message says '%s'", spec, needle);
}

static void test_selectors(void) {
        static const struct {
                const char *spec, *migs;
                size_t devices;
        } good[] = {
                { "MIG-11111111-aaaa-bbbb-cccc-111111111111", "2:1", 0 },
                { "mig-33333333-AAAA-bbbb-cccc-333333333333", "5:0", 0 },
                { "MIG-22222222", "2:2", 0 },
                { "2:0", "2:0", 0 },
                { "2:2,2:0", "2:0,2:2", 0 },
                { "2:2:1", "2:2", 0 },
                { "5:7:0", "5:0", 0 },
                { "2:1,2:2:0", "2:1", 0 },
                { "2:1,3", "2:1", 1 },
                { "all", "2:0,2:1,2:2,5:0,5:1", 8 },
                { "nvidia:all", "2:0,2:1,2:2,5:0,5:1", 8 },
                { "2", "", 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                check_mig(good[i].spec, good[i].migs, good[i].devices);
        size_t n_imex = 0;
        free(mig_selected("imex:7", 0, NULL, &n_imex));
        is_int(n_imex, 1, "imex:7 selects one channel");
        free(mig_selected("imex:all,0", 0, NULL, &n_imex));
        is_int(n_imex, 2, "imex:all selects both");

        check_mig_err("MIG-99999999-aaaa-bbbb-cccc-000000000000", "no MIG device has this UUID");
        check_mig_err("MIG-11111111", "ambiguous");
        check_mig_err("MIG-1111", "8 hex digits");
        check_mig_err("2:3", "GPU 2 has 2:0 (GI 1, CI 0), 2:1 (GI 2, CI 0), 2:2 (GI 2, CI 1)");
        check_mig_err("2:1:1", "GPU 2 has");
        check_mig_err("6:0", "is in MIG mode but has no MIG devices");
        check_mig_err("0:0", "has no MIG devices (MIG mode is off");
        check_mig_err("9:0", "no NVIDIA GPU with that index");
        check_mig_err("2:0:0:0", "expected");
        check_mig_err("2:", "expected");
        check_mig_err(":0", "expected");
        check_mig_err("2:-1", "expected");
        check_mig_err("imex:3", "unknown IMEX channel");
        check_mig_err("imex:07", "invalid IMEX channel");
        check_mig_err("imex:", "invalid IMEX channel");
        check_mig_err("2:0,MIG-99999999", "no MIG device");

        fx.inv.nvml = false;
        check_mig_err("MIG-99999999-aaaa-bbbb-cccc-000000000000", "known only through NVML");
        fx.inv.nvml = true;

        /* A whole GPU in MIG mode: given as NVIDIA gives it, with a warning. */
        struct gj_selection sel;
        capture_begin();
        int r = gj_select(&fx.inv, "2", GJ_SELECT_NVIDIA_INDEXES, &sel);
        const char *msg = capture_end();
        ok(r == 0 && sel.n_devices == 1 && sel.n_migs == 0,
           "GPU 2 as a whole: the GPU, no MIG device");
        ok(strstr(msg, "is in MIG mode") != NULL, "and a warning that CUDA will not see it: %.*s",
           (int)strcspn(msg, "\n"), msg);
        gj_selection_done(&sel);
}

/* ---- plan ---- */

static bool plan_has(const struct gj_plan *p, const char *path) {
        for (size_t i = 0; i < p->n_nodes; i++)
                if (streq(p->nodes[i].path, path))
                        return true;
        return false;
}

static bool plan_has_rule(const struct gj_plan *p, unsigned major, unsigned minor) {
        for (size_t i = 0; i < p->n_rules; i++)
                if (p->rules[i].type == 'c' && p->rules[i].major == major &&
                    p->rules[i].minor == minor)
                        return true;
        return false;
}

static const char *env_get(const struct gj_plan *p, const char *key) {
        size_t n = strlen(key);
        for (char **e = p->env; e && *e; e++)
                if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

static void test_plan(void) {
        struct gj_selection sel;
        struct gj_plan plan;
        struct gj_plan_opts opts = { .set_cuda_env = true };

        ok(gj_select(&fx.inv, "2:1", GJ_SELECT_NVIDIA_INDEXES, &sel) == 0, "select 2:1");
        ok(gj_plan_build(&fx.inv, &sel, &opts, &plan) == 0, "plan 2:1");
        is_int(plan.n_nodes, 6, "2:1: GPU node, 2 caps, 3 control nodes");
        ok(streq(plan.nodes[0].path, "/dev/nvidia0"), "the parent's node first: %s",
           plan.nodes[0].path);
        ok(plan_has(&plan, "/dev/nvidia-caps/nvidia-cap30") &&
                   plan_has(&plan, "/dev/nvidia-caps/nvidia-cap31"),
           "its GI and CI caps nodes");
        ok(!plan_has(&plan, "/dev/nvidia-caps/nvidia-cap32") &&
                   !plan_has(&plan, "/dev/nvidia-caps/nvidia-cap21"),
           "not another MIG device's, even in the same GI");
        ok(plan_has_rule(&plan, CAPS_MAJOR, 30) && plan_has_rule(&plan, CAPS_MAJOR, 31) &&
                   plan_has_rule(&plan, 195, 0) && !plan_has_rule(&plan, CAPS_MAJOR, 32),
           "cgroup rules match the nodes");
        ok(plan_has(&plan, "/dev/nvidiactl") && plan_has(&plan, "/dev/nvidia-uvm"),
           "the control nodes");
        is_str(env_get(&plan, "CUDA_VISIBLE_DEVICES"), "MIG-11111111-aaaa-bbbb-cccc-111111111111",
               "CUDA_VISIBLE_DEVICES names the MIG device");
        is_str(env_get(&plan, "GPUJAIL_DEVICES"), "MIG-11111111-aaaa-bbbb-cccc-111111111111",
               "GPUJAIL_DEVICES too");
        is_int(plan.n_migs, 1, "the plan lists the MIG device");
        ok(plan.mig_parents[0] == &fx.devices[2], "with its GPU");
        gj_plan_done(&plan);
        gj_selection_done(&sel);

        /* Two MIG devices sharing a GI: its caps node once. */
        ok(gj_select(&fx.inv, "2:1,2:2", GJ_SELECT_NVIDIA_INDEXES, &sel) == 0, "select 2:1,2:2");
        ok(gj_plan_build(&fx.inv, &sel, &opts, &plan) == 0, "plan it");
        is_int(plan.n_nodes, 7, "GPU node, caps 30, 31, 32, 3 controls");
        gj_plan_done(&plan);
        gj_selection_done(&sel);

        /* Without NVML's UUID: the GPU's UUID and the instance ids. */
        ok(gj_select(&fx.inv, "5:0", GJ_SELECT_NVIDIA_INDEXES, &sel) == 0, "select 5:0");
        migs[3].uuid = NULL;
        ok(gj_plan_build(&fx.inv, &sel, &opts, &plan) == 0, "plan 5:0 without its UUID");
        is_str(env_get(&plan, "GPUJAIL_DEVICES"),
               "GPU-5e000000-0000-1111-2222-333333333333/gi7/ci0",
               "GPUJAIL_DEVICES: GPU UUID and instance ids");
        is_str(env_get(&plan, "CUDA_VISIBLE_DEVICES"), "0", "CUDA_VISIBLE_DEVICES: by position");
        migs[3].uuid = (char *)"MIG-33333333-aaaa-bbbb-cccc-333333333333";
        gj_plan_done(&plan);
        gj_selection_done(&sel);

        /* Bad nodes: unknown caps nodes, a missing one: refused, nothing planned. */
        ok(gj_select(&fx.inv, "5:1", GJ_SELECT_NVIDIA_INDEXES, &sel) == 0, "select 5:1 (unusable)");
        struct gj_plan_opts bad_ok = { .allow_bad_nodes = true };
        capture_begin();
        int r = gj_plan_build(&fx.inv, &sel, &bad_ok, &plan);
        const char *msg = capture_end();
        ok(r == -ENODEV && plan.n_nodes == 0, "refused even with allow_bad_nodes");
        ok(strstr(msg, "nvidia-caps nodes are unknown") != NULL, "the message says why");
        gj_selection_done(&sel);

        mig_nodes[0][1].state = GJ_NODE_MISSING;
        ok(gj_select(&fx.inv, "2:0", GJ_SELECT_NVIDIA_INDEXES, &sel) == 0, "select 2:0");
        capture_begin();
        r = gj_plan_build(&fx.inv, &sel, &opts, &plan);
        msg = capture_end();
        ok(r == -ENODEV && plan.n_nodes == 0, "a missing caps node fails the plan");
        ok(strstr(msg, "/dev/nvidia-caps/nvidia-cap22") && strstr(msg, "gpujail setup"),
           "naming it and the fix");
        mig_nodes[0][1].state = GJ_NODE_OK;
        gj_selection_done(&sel);

        /* IMEX: the channel node alone. */
        ok(gj_select(&fx.inv, "imex:7", 0, &sel) == 0, "select imex:7");
        ok(gj_plan_build(&fx.inv, &sel, &opts, &plan) == 0, "plan imex:7");
        is_int(plan.n_nodes, 1, "one node");
        ok(plan.n_nodes == 1 &&
                   streq(plan.nodes[0].path, "/dev/nvidia-caps-imex-channels/channel7") &&
                   plan_has_rule(&plan, IMEX_MAJOR, 7),
           "channel7 and its rule");
        gj_plan_done(&plan);
        gj_selection_done(&sel);
}

/* ---- the launcher's policy: a MIG device is one GPU, granted with its GPU ---- */

static int check_gpus(const char *granted, unsigned max, const char *asked) {
        char *list[2] = { (char *)granted, NULL };
        struct gj_grant g = { .gpus = granted ? list : NULL, .max_gpus = max };
        struct gj_caller c = { .kind = GJ_CALLER_USER, .uid = 1000, .name = (char *)"alice" };
        struct gj_selection sel;
        capture_begin();
        if (gj_select(&fx.inv, asked, 0, &sel) < 0) {
                capture_end();
                return -99;
        }
        int r = gj_launcher_check_gpus(&c, &g, &fx.inv, &sel);
        capture_end();
        gj_selection_done(&sel);
        return r;
}

static void test_policy(void) {
        is_int(check_gpus("2", 8, "2:1"), 0, "granted GPU 2: its MIG device 2:1 may be used");
        is_int(check_gpus("2", 8, "2:1,2:2"), 0, "granted GPU 2: two of its MIG devices");
        is_int(check_gpus("3", 8, "2:1"), -EPERM, "granted GPU 3 only: GPU 2's MIG device refused");
        is_int(check_gpus("2:1", 8, "2:1"), 0, "granted MIG device 2:1 by name: it may be used");
        is_int(check_gpus("2:1", 8, "2:2"), -EPERM, "granted 2:1: its sibling 2:2 refused");
        is_int(check_gpus("2:1", 8, "2"), -EPERM, "granted 2:1: the whole GPU 2 refused");
        is_int(check_gpus(NULL, 1, "2:1,2:2"), -EPERM, "max_gpus 1: two MIG devices are two GPUs");
        is_int(check_gpus(NULL, 1, "2:1"), 0, "max_gpus 1: one MIG device");
        is_int(check_gpus("2", 8, "imex:7"), -EPERM, "granted GPU 2: an IMEX channel refused");
        is_int(check_gpus("all", 8, "imex:7"), -EPERM, "granted all GPUs: an IMEX channel still refused");
        is_int(check_gpus("imex:7", 8, "imex:7"), 0, "granted imex:7 by name: it may be used");
        is_int(check_gpus("imex:all", 8, "imex:0,imex:7"), 0, "granted imex:all: both channels");
        is_int(check_gpus(NULL, 8, "imex:7"), 0, "no gpus line (every device): an IMEX channel too");
}

int main(void) {
        mig_fixture();
        test_cap_parse();
        test_numbered_names();
        test_proc_devices_majors();
        test_selectors();
        test_plan();
        test_policy();
        free(capture_buf);
        return done_testing();
}
