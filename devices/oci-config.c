/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json editing: the plan's nodes, cgroup rules and env into the spec.
 * Pure: no I/O. Idempotence is by construction: every edit first removes
 * what an earlier identical edit would have left, then adds.
 */
#include <json-c/json.h>

#include "gpujail/driver.h"
#include "gpujail/json-util.h"
#include "gpujail/oci-config.h"
#include "gpujail/util.h"

int gj_oci_config_parse(const char *what, const char *text, size_t len, struct json_object **ret) {
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return log_error_errno(-ENOMEM, "cannot parse %s: %m", what);
        /* Strict: no trailing commas or single quotes, which runc's Go decoder refuses too. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        if (len > INT32_MAX)
                len = INT32_MAX; /* json-c takes an int; GJ_OCI_CONFIG_MAX keeps us far below */
        _cleanup_json_ struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (jerr == json_tokener_continue)
                return log_error_errno(-EBADMSG, "cannot parse %s: truncated JSON (%zu bytes)",
                                       what, len);
        if (!o || jerr != json_tokener_success)
                return log_error_errno(-EBADMSG, "cannot parse %s: malformed JSON at byte %zu: %s",
                                       what, end, json_tokener_error_desc(jerr));
        while (end < len && strchr(" \t\r\n", text[end]))
                end++;
        if (end < len)
                return log_error_errno(-EBADMSG, "cannot parse %s: trailing data at byte %zu", what, end);
        if (!json_object_is_type(o, json_type_object))
                return log_error_errno(-EBADMSG, "cannot parse %s: not a JSON object", what);
        *ret = TAKE_PTR(o);
        return 0;
}

/* parent[key] as a container of `type`, created when absent. */
static int ensure_member(struct json_object *parent, const char *path, const char *key, json_type type,
                         struct json_object **ret) {
        struct json_object *o;
        if (json_object_object_get_ex(parent, key, &o) && !json_object_is_type(o, json_type_null)) {
                if (!json_object_is_type(o, type))
                        return log_error_errno(-EBADMSG, "config.json: %s%s is not a JSON %s", path, key,
                                               json_type_to_name(type));
                *ret = o;
                return 0;
        }
        o = type == json_type_array ? json_object_new_array() : json_object_new_object();
        if (gj_json_add(parent, key, o) < 0)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        *ret = o;
        return 0;
}

static const char *string_member(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* ---- linux.devices ---- */

/* Replace the first entry at n->path in place (dropping later duplicates) or append. */
static int devices_put(struct json_object *devices, const struct gj_plan_node *n) {
        struct json_object *dev = gj_plan_node_to_json(n, false, NULL);
        if (!dev)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        bool placed = false;
        for (size_t i = 0; i < json_object_array_length(devices);) {
                const char *p = string_member(json_object_array_get_idx(devices, i), "path");
                if (!p || !streq(p, n->path)) {
                        i++;
                        continue;
                }
                if (placed) {
                        json_object_array_del_idx(devices, i, 1);
                        continue;
                }
                if (json_object_array_put_idx(devices, i, dev) < 0) {
                        json_object_put(dev);
                        return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
                }
                placed = true;
                i++;
        }
        if (placed)
                return 0;
        if (gj_json_append(devices, dev) < 0)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        return 0;
}

/* ---- linux.resources.devices ---- */

static struct json_object *rule_json(const struct gj_cgroup_rule *r) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        char type[2] = { r->type, 0 };
        if (!o || gj_json_add_bool(o, "allow", true) < 0 ||
            gj_json_add_string(o, "type", type) < 0 ||
            (r->major != GJ_WILDCARD && gj_json_add_int(o, "major", r->major) < 0) ||
            (r->minor != GJ_WILDCARD && gj_json_add_int(o, "minor", r->minor) < 0) ||
            gj_json_add_string(o, "access", r->access) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* The same allow rule, member for member (missing major/minor = wildcard). */
static bool rule_equal(struct json_object *a, struct json_object *b) {
        static const char *const keys[] = { "allow", "type", "major", "minor", "access" };
        if (!json_object_is_type(a, json_type_object))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                struct json_object *x = NULL, *y = NULL;
                bool hx = json_object_object_get_ex(a, keys[i], &x), hy = json_object_object_get_ex(b, keys[i], &y);
                if (hx != hy || (hx && !json_object_equal(x, y)))
                        return false;
        }
        return true;
}

static int rules_append(struct json_object *rules, const struct gj_cgroup_rule *r) {
        struct json_object *rule = rule_json(r);
        if (!rule)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        for (size_t i = 0; i < json_object_array_length(rules);)
                if (rule_equal(json_object_array_get_idx(rules, i), rule))
                        json_object_array_del_idx(rules, i, 1);
                else
                        i++;
        if (gj_json_append(rules, rule) < 0)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        return 0;
}

/* ---- process.env ---- */

static int env_set(struct json_object *env, const char *assignment) {
        size_t klen = strcspn(assignment, "=") + 1; /* "KEY=" */
        for (size_t i = 0; i < json_object_array_length(env);) {
                struct json_object *e = json_object_array_get_idx(env, i);
                if (!json_object_is_type(e, json_type_string))
                        return log_error_errno(-EBADMSG, "config.json: process.env[%zu] is not a string", i);
                if (strncmp(json_object_get_string(e), assignment, klen) == 0)
                        json_object_array_del_idx(env, i, 1);
                else
                        i++;
        }
        if (gj_json_append_string(env, assignment) < 0)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        return 0;
}

static int inject_env(struct json_object *config, char **env) {
        struct json_object *process, *arr;
        if (strv_length(env) == 0)
                return 0;
        /* No process: nothing runs that could read env (and the schema wants a cwd we cannot invent). */
        if (!json_object_object_get_ex(config, "process", &process) || json_object_is_type(process, json_type_null))
                return 0;
        if (!json_object_is_type(process, json_type_object))
                return log_error_errno(-EBADMSG, "config.json: process is not a JSON object");
        int r = ensure_member(process, "process.", "env", json_type_array, &arr);
        if (r < 0)
                return r;
        for (size_t i = 0; env[i]; i++) {
                r = env_set(arr, env[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int gj_oci_config_inject(struct json_object *config, const struct gj_plan *plan) {
        struct json_object *linux_, *devices, *resources, *rules;
        int r;

        if (!json_object_is_type(config, json_type_object))
                return log_error_errno(-EBADMSG, "config.json is not a JSON object");
        if ((r = ensure_member(config, "", "linux", json_type_object, &linux_)) < 0 ||
            (r = ensure_member(linux_, "linux.", "devices", json_type_array, &devices)) < 0 ||
            (r = ensure_member(linux_, "linux.", "resources", json_type_object, &resources)) < 0 ||
            (r = ensure_member(resources, "linux.resources.", "devices", json_type_array, &rules)) < 0)
                return r;
        /* On error the caller drops the document: it is never written half-edited. */
        for (size_t i = 0; i < json_object_array_length(devices); i++)
                if (!json_object_is_type(json_object_array_get_idx(devices, i), json_type_object))
                        return log_error_errno(-EBADMSG, "config.json: linux.devices[%zu] is not a JSON object", i);
        for (size_t i = 0; i < plan->n_nodes; i++)
                if ((r = devices_put(devices, &plan->nodes[i])) < 0)
                        return r;
        for (size_t i = 0; i < plan->n_rules; i++)
                if ((r = rules_append(rules, &plan->rules[i])) < 0)
                        return r;
        return inject_env(config, plan->env);
}

/* ---- the driver's userspace: mounts and the links/cache hook ---- */

static int mount_put(struct json_object *mounts, const struct gj_driver_file *f) {
        const char *dest = gj_driver_container_path(f);
        for (size_t i = 0; i < json_object_array_length(mounts);) {
                const char *d = string_member(json_object_array_get_idx(mounts, i), "destination");
                if (d && streq(d, dest))
                        json_object_array_del_idx(mounts, i, 1);
                else
                        i++;
        }
        _cleanup_json_ struct json_object *m = json_object_new_object();
        if (!m || gj_json_add_string(m, "destination", dest) < 0 ||
            gj_json_add_string(m, "type", "bind") < 0 ||
            gj_json_add_string(m, "source", f->host_path) < 0 ||
            gj_json_add(m, "options", gj_json_new_strv((char **)gj_driver_mount_options(f))) < 0 ||
            gj_json_append(mounts, TAKE_PTR(m)) < 0)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        return 0;
}

/* Ours from an earlier edit: our hook path, and "--link" as its first argument. */
static bool is_links_hook(struct json_object *h, const char *hook_path) {
        struct json_object *args;
        const char *path = string_member(h, "path");
        if (!path || !streq(path, hook_path) || !json_object_object_get_ex(h, "args", &args) ||
            !json_object_is_type(args, json_type_array) || json_object_array_length(args) < 2)
                return false;
        const char *first = json_object_get_string(json_object_array_get_idx(args, 1));
        return first && streq(first, "--link");
}

static int hook_put(struct json_object *hooks, const struct gj_driver_plan *d,
                    const char *hook_path, const char *proc_gpus) {
        for (size_t i = 0; i < json_object_array_length(hooks);) {
                if (is_links_hook(json_object_array_get_idx(hooks, i), hook_path))
                        json_object_array_del_idx(hooks, i, 1);
                else
                        i++;
        }
        _cleanup_strv_free_ char **args = gj_driver_hook_args(d, proc_gpus);
        _cleanup_json_ struct json_object *h = json_object_new_object();
        if (!args || !h || gj_json_add_string(h, "path", hook_path) < 0 ||
            gj_json_add(h, "args", gj_json_new_strv(args)) < 0 ||
            gj_json_add(h, "env", gj_json_new_strv((char **)gj_driver_hook_env)) < 0 ||
            gj_json_append(hooks, TAKE_PTR(h)) < 0)
                return log_error_errno(-ENOMEM, "cannot edit config.json: %m");
        return 0;
}

int gj_oci_config_inject_driver(struct json_object *config, const struct gj_driver_plan *driver,
                                const char *hook_path, const char *proc_gpus) {
        struct json_object *mounts, *hooks, *create;
        int r;
        if (!driver || driver->n_files == 0)
                return 0;
        if ((r = ensure_member(config, "", "mounts", json_type_array, &mounts)) < 0 ||
            (r = ensure_member(config, "", "hooks", json_type_object, &hooks)) < 0 ||
            (r = ensure_member(hooks, "hooks.", "createContainer", json_type_array, &create)) < 0)
                return r;
        for (size_t i = 0; i < driver->n_files; i++)
                if ((r = mount_put(mounts, &driver->files[i])) < 0)
                        return r;
        return hook_put(create, driver, hook_path, proc_gpus);
}

char *gj_oci_config_format(struct json_object *config) {
        const char *s = json_object_to_json_string_ext(
                config, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strprintf("%s\n", s) : NULL;
}
