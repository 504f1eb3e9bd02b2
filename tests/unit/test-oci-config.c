/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json editing and request reading, pure: parse errors (malformed,
 * truncated, trailing data, not an object), injection of exactly the plan's
 * nodes/rules/env, idempotence, replacement of a stale entry, wrong types
 * refused; the request order (gpujail annotation, cdi.k8s.io, env) and its
 * failures.
 */
#include <json-c/json.h>

#include "../tap.h"
#include "gpujail/oci-config.h"
#include "gpujail/oci-request.h"
#include "plan-fixture.h"

static struct fixture fx;

/* What `runc spec` writes, cut down to what we touch. */
static const char runc_config[] =
        "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],"
        "\"env\":[\"PATH=/usr/bin:/bin\",\"TERM=xterm\"]},\"root\":{\"path\":\"rootfs\"},"
        "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
        "\"namespaces\":[{\"type\":\"mount\"}]}}";

static struct json_object *parse(const char *text) {
        struct json_object *o = NULL;
        return gj_oci_config_parse("test", text, strlen(text), &o) < 0 ? NULL : o;
}

static int plan_for(const char *sel_spec, struct gj_plan *plan) {
        struct gj_selection sel;
        int r = gj_select(&fx.inv, sel_spec, 0, &sel);
        if (r < 0)
                return r;
        struct gj_plan_opts opts = {};
        r = gj_plan_build(&fx.inv, &sel, &opts, plan);
        gj_selection_done(&sel);
        return r;
}

static struct json_object *at(struct json_object *o, const char *a, const char *b, const char *c) {
        const char *keys[] = { a, b, c };
        for (size_t i = 0; o && i < 3 && keys[i]; i++)
                if (!json_object_object_get_ex(o, keys[i], &o))
                        return NULL;
        return o;
}

static void test_parse(void) {
        struct json_object *o = NULL;
        ok((o = parse(runc_config)) != NULL, "a runc config parses");
        json_object_put(o);
        static const struct {
                const char *text, *why, *msg;
        } bad[] = {
                { "", "empty", "truncated" },
                { "{\"ociVersion\": \"1.0\", \"process\": {", "truncated", "truncated" },
                { "{\"a\": 1,}", "malformed", "malformed JSON at byte" },
                { "{\"a\": 1} {", "trailing data", "at byte" },
                { "[1, 2]", "an array", "not a JSON object" },
                { "\"config\"", "a string", "not a JSON object" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                capture_begin();
                int r = gj_oci_config_parse("/b/config.json", bad[i].text, strlen(bad[i].text), &o);
                const char *log = capture_end();
                is_int(r, -EBADMSG, "%s config.json refused", bad[i].why);
                ok(contains(log, "/b/config.json") && contains(log, bad[i].msg), "... saying where and why");
        }
        /* A NUL inside: json-c stops there; what follows must not be ignored. */
        static const char with_nul[] = "{\"a\":1}\0{\"b\":2}";
        capture_begin();
        int r = gj_oci_config_parse("x", with_nul, sizeof(with_nul) - 1, &o);
        capture_end();
        is_int(r, -EBADMSG, "data after an embedded NUL is not ignored");
}

static void test_inject(void) {
        struct gj_plan plan = {};
        struct json_object *c = parse(runc_config);
        int r = plan_for("0", &plan);
        is_int(r, 0, "plan for GPU 0");
        if (r < 0 || !c)
                return;
        is_int(gj_oci_config_inject(c, &plan), 0, "inject");
        struct json_object *devs = at(c, "linux", "devices", NULL);
        is_int(devs ? json_object_array_length(devs) : 0, plan.n_nodes, "linux.devices: exactly the plan's nodes");
        struct json_object *d0 = devs ? json_object_array_get_idx(devs, 0) : NULL;
        is_str(json_object_get_string(at(d0, "path", NULL, NULL)), "/dev/nvidia2", "first: GPU 0's node");
        is_int(json_object_get_int64(at(d0, "minor", NULL, NULL)), 2, "... minor 2");
        is_int(json_object_get_int64(at(d0, "fileMode", NULL, NULL)), 0666, "... fileMode");
        ok(at(d0, "uid", NULL, NULL) && at(d0, "gid", NULL, NULL), "... uid and gid");

        struct json_object *rules = at(c, "linux", "resources", "devices");
        is_int(rules ? json_object_array_length(rules) : 0, plan.n_nodes + 1, "resources: deny-all + one allow per node");
        struct json_object *first = rules ? json_object_array_get_idx(rules, 0) : NULL;
        ok(first && !json_object_get_boolean(at(first, "allow", NULL, NULL)), "the runtime's deny-all stays first");
        struct json_object *r1 = rules ? json_object_array_get_idx(rules, 1) : NULL;
        ok(r1 && json_object_get_boolean(at(r1, "allow", NULL, NULL)) &&
                   streq_ptr(json_object_get_string(at(r1, "access", NULL, NULL)), "rw") &&
                   json_object_get_int64(at(r1, "major", NULL, NULL)) == 195 &&
                   json_object_get_int64(at(r1, "minor", NULL, NULL)) == 2,
           "then allow c 195:2 rw (no m, no wildcard)");

        struct json_object *env = at(c, "process", "env", NULL);
        bool has = false;
        for (size_t i = 0; env && i < json_object_array_length(env); i++)
                has |= !!startswith(json_object_get_string(json_object_array_get_idx(env, i)),
                                    "GPUJAIL_DEVICES=GPU-aaaaaaaa-1111");
        ok(has, "process.env: GPUJAIL_DEVICES");
        ok(env && json_object_array_length(env) == 3, "process.env: the image's env kept");

        char *once = gj_oci_config_format(c);
        is_int(gj_oci_config_inject(c, &plan), 0, "inject again");
        char *twice = gj_oci_config_format(c);
        is_str(twice, once, "twice = once (no duplicate devices, rules or env)");
        free(once);
        free(twice);
        json_object_put(c);

        /* A stale entry at our path (another minor), twice: replaced in place, duplicate dropped. */
        c = parse("{\"process\":{\"cwd\":\"/\",\"env\":[\"GPUJAIL_DEVICES=stale\"]},\"linux\":{\"devices\":["
                  "{\"path\":\"/dev/null\",\"type\":\"c\",\"major\":1,\"minor\":3},"
                  "{\"path\":\"/dev/nvidia2\",\"type\":\"c\",\"major\":195,\"minor\":9},"
                  "{\"path\":\"/dev/nvidia2\",\"type\":\"c\",\"major\":195,\"minor\":8}]}}");
        is_int(gj_oci_config_inject(c, &plan), 0, "inject over stale entries");
        devs = at(c, "linux", "devices", NULL);
        is_int(json_object_array_length(devs), plan.n_nodes + 1, "stale duplicates gone, /dev/null kept");
        is_int(json_object_get_int64(at(json_object_array_get_idx(devs, 1), "minor", NULL, NULL)), 2,
               "stale /dev/nvidia2 replaced in place by the driver's minor");
        env = at(c, "process", "env", NULL);
        is_int(json_object_array_length(env), 1, "GPUJAIL_DEVICES replaced, not added");
        ok(!strstr(json_object_get_string(json_object_array_get_idx(env, 0)), "stale"), "... with the new value");
        json_object_put(c);

        /* No process: devices still go in, nothing invented. */
        c = parse("{\"ociVersion\":\"1.0.2\"}");
        is_int(gj_oci_config_inject(c, &plan), 0, "inject into a config without linux/process");
        ok(at(c, "linux", "devices", NULL) && at(c, "linux", "resources", "devices"), "linux sections created");
        ok(!at(c, "process", NULL, NULL), "no process invented");
        json_object_put(c);

        static const char *const wrong[] = {
                "{\"linux\":[]}",
                "{\"linux\":{\"devices\":\"/dev/nvidia0\"}}",
                "{\"linux\":{\"resources\":{\"devices\":{}}}}",
                "{\"process\":{\"env\":\"PATH=/bin\"}}",
                "{\"process\":{\"env\":[1]}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                c = parse(wrong[i]);
                capture_begin();
                r = gj_oci_config_inject(c, &plan);
                const char *log = capture_end();
                is_int(r, -EBADMSG, "wrong type refused: %s", wrong[i]);
                ok(contains(log, "config.json"), "... with a message");
                json_object_put(c);
        }
        gj_plan_done(&plan);
}

static int request(const char *text, const char *kind, struct gj_oci_request *req) {
        struct json_object *c = parse(text);
        if (!c)
                return -999;
        int r = gj_oci_request_from_config(c, kind, req);
        json_object_put(c);
        return r;
}

static void test_request(void) {
        struct gj_oci_request req;
        int r;

        r = request("{\"process\":{\"env\":[\"PATH=/bin\"]}}", NULL, &req);
        ok(r == 0 && req.source == GJ_REQUEST_NONE && !req.selector, "nothing asked: NONE");
        gj_oci_request_done(&req);

        r = request("{\"annotations\":{\"gpujail.io/gpus\":\"1,2\",\"cdi.k8s.io/x\":\"gpujail.io/gpu=3\"},"
                    "\"process\":{\"env\":[\"NVIDIA_VISIBLE_DEVICES=4\"]}}",
                    NULL, &req);
        ok(r == 0 && req.source == GJ_REQUEST_ANNOTATION, "gpujail.io/gpus wins");
        is_str(req.selector, "1,2", "... its selector");
        is_int(req.select_flags, 0, "... inventory indexes");
        gj_oci_request_done(&req);

        r = request("{\"annotations\":{\"cdi.k8s.io/a\":\"nvidia.com/gpu=0, gpujail.io/gpu=3\","
                    "\"other\":\"x\",\"cdi.k8s.io/b\":\"gpujail.io/gpu=GPU-0b1c2d3e\"},"
                    "\"process\":{\"env\":[\"NVIDIA_VISIBLE_DEVICES=4\"]}}",
                    NULL, &req);
        ok(r == 0 && req.source == GJ_REQUEST_CDI, "cdi.k8s.io/* next");
        is_str(req.selector, "3,GPU-0b1c2d3e", "... our kind's names from every annotation, others ignored");
        is_str(req.origin, "annotation cdi.k8s.io/a", "... origin");
        gj_oci_request_done(&req);

        r = request("{\"annotations\":{\"cdi.k8s.io/a\":\"nvidia.com/gpu=0,nvidia.com/gpu=all\"}}", "nvidia.com/gpu",
                    &req);
        ok(r == 0 && req.source == GJ_REQUEST_CDI, "kind nvidia.com/gpu: its names taken");
        is_str(req.selector, "nvidia:0,nvidia:all", "... as NVIDIA indexes");
        gj_oci_request_done(&req);

        r = request("{\"annotations\":{\"cdi.k8s.io/a\":\"vendor.com/x=0\"},"
                    "\"process\":{\"env\":[\"NVIDIA_VISIBLE_DEVICES=0\",\"NVIDIA_VISIBLE_DEVICES=GPU-13a5b7c9\"]}}",
                    NULL, &req);
        ok(r == 0 && req.source == GJ_REQUEST_ENV, "only other kinds in CDI annotations: env next");
        is_str(req.selector, "GPU-13a5b7c9", "... the last NVIDIA_VISIBLE_DEVICES wins (getenv)");
        is_int(req.select_flags, GJ_SELECT_NVIDIA_INDEXES, "... with NVIDIA index semantics");
        gj_oci_request_done(&req);

        r = request("{\"process\":{\"env\":[\"NVIDIA_VISIBLE_DEVICES=\"]}}", NULL, &req);
        ok(r == 0 && req.source == GJ_REQUEST_ENV && streq_ptr(req.selector, ""),
           "empty NVIDIA_VISIBLE_DEVICES is a request (for nothing), left to gj_select");
        gj_oci_request_done(&req);

        static const struct {
                const char *text, *why;
        } bad[] = {
                { "{\"annotations\":{\"gpujail.io/gpus\":0}}", "gpujail.io/gpus not a string" },
                { "{\"annotations\":[\"gpujail.io/gpus\"]}", "annotations not an object" },
                { "{\"annotations\":{\"cdi.k8s.io/a\":\"gpujail.io/gpu=0;rm\"}}", "malformed name of our kind" },
                { "{\"annotations\":{\"cdi.k8s.io/a\":\"gpujail.io/gpu=\"}}", "empty name of our kind" },
                { "{\"annotations\":{\"cdi.k8s.io/a\":7}}", "cdi annotation not a string" },
                { "{\"process\":{\"env\":[\"A=1\",3]}}", "process.env entry not a string" },
                { "{\"process\":[]}", "process not an object" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                capture_begin();
                r = request(bad[i].text, NULL, &req);
                capture_end();
                ok(r == -EBADMSG && req.source == GJ_REQUEST_NONE, "fails closed: %s", bad[i].why);
                gj_oci_request_done(&req);
        }
        r = request("{\"annotations\":{\"cdi.k8s.io/a\":\"bad name=0,gpujail.io/gpu=1\"}}", NULL, &req);
        ok(r == 0 && streq_ptr(req.selector, "1"), "another vendor's malformed name is not ours to refuse");
        gj_oci_request_done(&req);
}

int main(void) {
        fixture_init(&fx);
        test_parse();
        test_inject();
        test_request();
        return done_testing();
}
