/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the OCI hook reads: the runtime's state document and, from
 * config.json, the device rules the runtime compiled.
 * Pure: JSON in, data out, no syscalls.
 */
#include <json-c/json.h>

#include "gpujail/oci-state.h"
#include "gpujail/util.h"

static const char *const stage_names[_GJ_HOOK_STAGE_MAX] = {
        [GJ_HOOK_PRESTART] = "prestart",
        [GJ_HOOK_CREATE_RUNTIME] = "createRuntime",
        [GJ_HOOK_CREATE_CONTAINER] = "createContainer",
};

int gj_hook_stage_from_string(const char *s) {
        if (!s)
                return GJ_HOOK_PRESTART;
        for (unsigned i = 0; i < _GJ_HOOK_STAGE_MAX; i++)
                if (streq(s, stage_names[i]))
                        return (int)i;
        return -EINVAL;
}

const char *gj_hook_stage_name(enum gj_hook_stage stage) {
        return (unsigned)stage < _GJ_HOOK_STAGE_MAX ? stage_names[stage] : "unknown";
}

void gj_oci_state_done(struct gj_oci_state *state) {
        free(state->id);
        free(state->bundle);
        free(state->status);
        json_object_put(state->json);
        *state = (struct gj_oci_state){};
}

static int state_string(struct json_object *o, const char *key, bool required, char **ret) {
        struct json_object *v;
        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                if (required)
                        return log_error_errno(-EBADMSG, "OCI state: no \"%s\"", key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return log_error_errno(-EBADMSG, "OCI state: \"%s\" is not a string", key);
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int state_pid(struct json_object *o, pid_t *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, "pid", &v) || !json_object_is_type(v, json_type_int))
                return log_error_errno(-EBADMSG, "OCI state: no integer \"pid\" (is the container created?)");
        int64_t pid = json_object_get_int64(v);
        if (pid <= 0 || pid > 4194304) /* PID_MAX_LIMIT */
                return log_error_errno(-EBADMSG, "OCI state: \"pid\" %lld is not a process id",
                                       (long long)pid);
        *ret = (pid_t)pid;
        return 0;
}

int gj_oci_state_parse(const char *text, struct gj_oci_state *ret) {
        _cleanup_(gj_oci_state_done) struct gj_oci_state s = {};
        enum json_tokener_error jerr;
        int r;

        s.json = json_tokener_parse_verbose(text, &jerr);
        if (!s.json)
                return log_error_errno(-EBADMSG, "OCI state on stdin is not JSON: %s",
                                       json_tokener_error_desc(jerr));
        if (!json_object_is_type(s.json, json_type_object))
                return log_error_errno(-EBADMSG, "OCI state on stdin is not a JSON object");

        if ((r = state_string(s.json, "id", true, &s.id)) < 0 ||
            (r = state_string(s.json, "bundle", true, &s.bundle)) < 0 ||
            (r = state_string(s.json, "status", false, &s.status)) < 0 ||
            (r = state_pid(s.json, &s.pid)) < 0)
                return r;
        if (isempty(s.id))
                return log_error_errno(-EBADMSG, "OCI state: empty \"id\"");
        if (s.bundle[0] != '/')
                return log_error_errno(-EBADMSG, "OCI state: bundle '%s' is not an absolute path",
                                       s.bundle);
        if (json_object_object_get_ex(s.json, "annotations", &s.annotations) &&
            !json_object_is_type(s.annotations, json_type_object))
                return log_error_errno(-EBADMSG, "OCI state: \"annotations\" is not an object");

        *ret = s;
        s = (struct gj_oci_state){};
        return 0;
}

/* ---- device rules ---- */

struct rules {
        struct gj_cgroup_rule *v;
        size_t n;
};

static void rules_done(struct rules *rs) { free(rs->v); }

static int rules_push(struct rules *rs, char type, unsigned major, unsigned minor,
                      const char *access) {
        struct gj_cgroup_rule *v = realloc(rs->v, (rs->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        rs->v = v;
        struct gj_cgroup_rule *r = &v[rs->n++];
        *r = (struct gj_cgroup_rule){ .type = type, .major = major, .minor = minor };
        snprintf(r->access, sizeof(r->access), "%s", access);
        return 0;
}

/* A major or minor: absent, null or negative = wildcard (runtime-spec: "-1" / omitted). */
static int rule_number(struct json_object *o, const char *key, unsigned *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = GJ_WILDCARD;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return -EBADMSG;
        int64_t n = json_object_get_int64(v);
        if (n > (int64_t)0xfffff && n != (int64_t)GJ_WILDCARD)
                return -EBADMSG;
        *ret = n < 0 ? GJ_WILDCARD : (unsigned)n;
        return 0;
}

static int rule_type(struct json_object *o, char dflt, char *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, "type", &v) || json_object_is_type(v, json_type_null)) {
                *ret = dflt;
                return 0;
        }
        const char *s = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string) || strlen(s) != 1 || !strchr("abcu", s[0]))
                return -EBADMSG;
        *ret = s[0] == 'u' ? 'c' : s[0]; /* 'u' (unbuffered char) is a char device */
        return 0;
}

static int rule_access(struct json_object *o, char ret[4]) {
        struct json_object *v;
        const char *s = "rwm";
        if (json_object_object_get_ex(o, "access", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                s = json_object_get_string(v);
        }
        /* runc and crun compile "" to a rule that matches nothing; reading it
         * as "rwm" (as an omitted access) would allow everything. */
        if (isempty(s))
                return -ENODATA;
        size_t k = 0;
        for (const char *c = "rwm"; *c; c++)
                if (strchr(s, *c))
                        ret[k++] = *c;
        ret[k] = 0;
        return strspn(s, "rwm") == strlen(s) ? 0 : -EBADMSG;
}

static int rules_from_resources(struct json_object *linux_, struct rules *rs) {
        struct json_object *res, *devs;
        bool seen_allow = false;

        if (!json_object_object_get_ex(linux_, "resources", &res) ||
            !json_object_object_get_ex(res, "devices", &devs) ||
            json_object_is_type(devs, json_type_null))
                return 0;
        if (!json_object_is_type(devs, json_type_array))
                return log_error_errno(-EBADMSG, "config.json: linux.resources.devices is not an array");

        size_t n = json_object_array_length(devs);
        if (n > GJ_OCI_MAX_DEVICE_RULES)
                return log_error_errno(-E2BIG, "config.json: linux.resources.devices has %zu rules; "
                                       "gpujail-hook accepts at most %u", n, GJ_OCI_MAX_DEVICE_RULES);
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(devs, i), *allow;
                struct gj_cgroup_rule rule = {};
                int r = 0;

                if (!json_object_is_type(d, json_type_object) ||
                    !json_object_object_get_ex(d, "allow", &allow) ||
                    !json_object_is_type(allow, json_type_boolean) ||
                    rule_type(d, 'a', &rule.type) < 0 || rule_number(d, "major", &rule.major) < 0 ||
                    rule_number(d, "minor", &rule.minor) < 0 || (r = rule_access(d, rule.access)) == -EBADMSG)
                        return log_error_errno(-EBADMSG, "config.json: linux.resources.devices[%zu] is malformed", i);
                if (r < 0)
                        return log_error_errno(-EBADMSG, "config.json: linux.resources.devices[%zu] has an empty "
                                               "\"access\", which runc and crun read as no access at all: refused",
                                               i);

                if (!json_object_get_boolean(allow)) {
                        /* Deny rules before any allow only restate the default deny. */
                        if (!seen_allow)
                                continue;
                        return log_error_errno(-EOPNOTSUPP,
                                               "config.json: linux.resources.devices[%zu] is a deny rule after an allow rule; "
                                               "a replacement device program could not keep it",
                                               i);
                }
                seen_allow = true;
                r = rules_push(rs, rule.type, rule.major, rule.minor, rule.access);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* libcontainer/specconv AllowedDevices (runc 1.1): appended after the config's own rules. */
static int rules_runtime_defaults(struct rules *rs) {
        static const struct gj_cgroup_rule defaults[] = {
                { 'c', GJ_WILDCARD, GJ_WILDCARD, "m" },
                { 'b', GJ_WILDCARD, GJ_WILDCARD, "m" },
                { 'c', 1, 3, "rwm" },   /* null */
                { 'c', 1, 8, "rwm" },   /* random */
                { 'c', 1, 7, "rwm" },   /* full */
                { 'c', 5, 0, "rwm" },   /* tty */
                { 'c', 1, 5, "rwm" },   /* zero */
                { 'c', 1, 9, "rwm" },   /* urandom */
                { 'c', 136, GJ_WILDCARD, "rwm" }, /* pts */
                { 'c', 5, 2, "rwm" },   /* ptmx */
                { 'c', 10, 200, "rwm" }, /* tun */
        };
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
                const struct gj_cgroup_rule *d = &defaults[i];
                int r = rules_push(rs, d->type, d->major, d->minor, d->access);
                if (r < 0)
                        return r;
        }
        return 0;
}

int gj_oci_config_device_rules(struct json_object *config, struct gj_cgroup_rule **ret,
                               size_t *ret_n) {
        _cleanup_(rules_done) struct rules rs = {};
        struct json_object *linux_ = NULL;
        int r;

        json_object_object_get_ex(config, "linux", &linux_);
        /* Not linux.devices: runc 1.1 makes those nodes but allows none of them
         * (checked: c 195:7 in linux.devices is absent from devices.list). */
        r = rules_from_resources(linux_, &rs);
        if (r < 0)
                return r;
        r = rules_runtime_defaults(&rs);
        if (r < 0)
                return r;
        *ret_n = rs.n;
        *ret = TAKE_PTR(rs.v);
        return 0;
}
