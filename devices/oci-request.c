/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request of an OCI container, read from its config.json. Pure: a
 * json-c document in, a selector string out. The config comes from the
 * container's image and its engine, so everything is type-checked and a
 * malformed request is an error, never "no request" (fail closed).
 */
#include <json-c/json.h>

#include "gpujail/cdi.h"
#include "gpujail/oci-request.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

#define NVIDIA_ENV "NVIDIA_VISIBLE_DEVICES"

void gj_oci_request_done(struct gj_oci_request *req) {
        free(req->selector);
        free(req->origin);
        free(req->ignored);
        *req = (struct gj_oci_request){};
}

bool gj_oci_request_is_void(const struct gj_oci_request *req) {
        const char *s = req->selector;
        if (req->source == GJ_REQUEST_NONE || !s)
                return true;
        s += strspn(s, " \t");
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        return n == 0 || (n == 4 && strncmp(s, "void", 4) == 0);
}

/* Look up config[a][b]: NULL if absent; -EBADMSG if a level is not an object. */
static int get_object(struct json_object *parent, const char *key, json_type type,
                      struct json_object **ret) {
        struct json_object *o = NULL;
        *ret = NULL;
        if (!parent || !json_object_object_get_ex(parent, key, &o) || json_object_is_type(o, json_type_null))
                return 0;
        if (!json_object_is_type(o, type))
                return log_error_errno(-EBADMSG, "config.json: \"%s\" is not a JSON %s", key,
                                       json_type_to_name(type));
        *ret = o;
        return 0;
}

static int set_request(struct gj_oci_request *ret, enum gj_request_source source, const char *selector,
                       unsigned flags, char *origin) {
        _cleanup_free_ char *o = origin;
        char *s = strdup(selector);
        if (!s || !o) {
                free(s);
                return log_error_errno(-ENOMEM, "cannot record the container's request: %m");
        }
        *ret = (struct gj_oci_request){
                .source = source,
                .selector = s,
                .select_flags = flags,
                .origin = TAKE_PTR(o),
        };
        return 1;
}

/* Append to *acc the selectors of the names in one cdi.k8s.io annotation
 * value that belong to `kind`. */
static int cdi_annotation_collect(const char *key, const char *value, const char *kind, char ***acc) {
        _cleanup_free_ char *copy = strdup(value);
        if (!copy)
                return log_error_errno(-ENOMEM, "cannot parse annotation %s: %m", key);
        char *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                item += strspn(item, " \t");
                item[strcspn(item, " \t")] = 0;
                if (!*item)
                        continue;
                _cleanup_free_ char *k = NULL, *name = NULL, *sel = NULL;
                int r = gj_cdi_parse_qualified(item, &k, &name);
                if (r < 0) {
                        /* Another vendor's malformed name is their problem; ours fails closed. */
                        if (startswith(item, kind) && item[strlen(kind)] == '=')
                                return log_error_errno(-EBADMSG, "annotation %s: '%s' is not a valid CDI device name",
                                                       key, item);
                        continue;
                }
                if (!streq(k, kind))
                        continue;
                r = gj_cdi_name_to_selector(kind, name, &sel);
                if (r < 0)
                        return log_error_errno(-EBADMSG, "annotation %s: '%s' is not a valid CDI device name", key,
                                               item);
                r = strv_push(acc, TAKE_PTR(sel));
                if (r < 0)
                        return log_error_errno(r, "cannot parse annotation %s: %m", key);
        }
        return 0;
}

static int request_from_gpujail_annotation(struct json_object *annotations, struct gj_oci_request *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(annotations, GJ_ANNOTATION_GPUS, &v))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return log_error_errno(-EBADMSG, "config.json: annotation %s is not a string", GJ_ANNOTATION_GPUS);
        return set_request(ret, GJ_REQUEST_ANNOTATION, json_object_get_string(v), 0,
                           strdup("annotation " GJ_ANNOTATION_GPUS));
}

static int request_from_cdi_annotations(struct json_object *annotations, const char *kind,
                                        struct gj_oci_request *ret) {
        _cleanup_strv_free_ char **selectors = NULL;
        _cleanup_free_ char *first_key = NULL;
        json_object_object_foreach(annotations, key, val) {
                if (!startswith(key, GJ_ANNOTATION_CDI_PREFIX))
                        continue;
                if (!json_object_is_type(val, json_type_string))
                        return log_error_errno(-EBADMSG, "config.json: annotation %s is not a string", key);
                size_t before = strv_length(selectors);
                int r = cdi_annotation_collect(key, json_object_get_string(val), kind, &selectors);
                if (r < 0)
                        return r;
                if (!first_key && strv_length(selectors) > before && !(first_key = strdup(key)))
                        return log_error_errno(-ENOMEM, "cannot parse annotation %s: %m", key);
        }
        if (!selectors)
                return 0;
        _cleanup_free_ char *joined = strv_join(selectors, ",");
        if (!joined)
                return log_error_errno(-ENOMEM, "cannot parse CDI annotations: %m");
        return set_request(ret, GJ_REQUEST_CDI, joined, 0, strprintf("annotation %s", first_key));
}

static int request_from_env(struct json_object *process, struct gj_oci_request *ret) {
        struct json_object *env;
        int r = get_object(process, "env", json_type_array, &env);
        if (r < 0 || !env)
                return r;
        const char *found = NULL;
        size_t n = json_object_array_length(env);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(env, i);
                if (!json_object_is_type(e, json_type_string))
                        return log_error_errno(-EBADMSG, "config.json: process.env[%zu] is not a string", i);
                const char *v = startswith(json_object_get_string(e), NVIDIA_ENV "=");
                if (v)
                        found = v; /* the last one wins, as in getenv() after execve() */
        }
        if (!found)
                return 0;
        return set_request(ret, GJ_REQUEST_ENV, found, GJ_SELECT_NVIDIA_INDEXES, strdup("env " NVIDIA_ENV));
}

/* One source's request: 1 and *ret when config.json makes one, 0 when not. */
static int request_of_source(struct json_object *config, enum gj_request_source source, const char *kind,
                             struct gj_oci_request *ret) {
        struct json_object *o;
        int r = get_object(config, source == GJ_REQUEST_ENV ? "process" : "annotations", json_type_object, &o);
        if (r < 0 || !o)
                return r;
        switch (source) {
        case GJ_REQUEST_ANNOTATION:
                return request_from_gpujail_annotation(o, ret);
        case GJ_REQUEST_CDI:
                return request_from_cdi_annotations(o, kind, ret);
        case GJ_REQUEST_ENV:
                return request_from_env(o, ret);
        default:
                return 0;
        }
}

int gj_oci_request_accepted(struct json_object *config, const char *cdi_kind, unsigned accept,
                            struct gj_oci_request *ret) {
        const char *kind = cdi_kind ? cdi_kind : GJ_CDI_KIND_DEFAULT;
        _cleanup_strv_free_ char **ignored = NULL;
        _cleanup_(gj_oci_request_done) struct gj_oci_request taken = {};

        *ret = (struct gj_oci_request){};
        if (!json_object_is_type(config, json_type_object))
                return log_error_errno(-EBADMSG, "config.json is not a JSON object");
        for (enum gj_request_source s = GJ_REQUEST_ANNOTATION; s <= GJ_REQUEST_ENV; s++) {
                _cleanup_(gj_oci_request_done) struct gj_oci_request req = {};
                int r = request_of_source(config, s, kind, &req);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (accept & GJ_REQUEST_BIT(s)) {
                        taken = req;
                        req = (struct gj_oci_request){};
                        break;
                }
                /* As if it were not there: the next source may still ask. */
                if (!gj_oci_request_is_void(&req) && strv_push(&ignored, TAKE_PTR(req.origin)) < 0)
                        return log_error_errno(-ENOMEM, "cannot record the container's request: %m");
        }
        if (ignored && !(taken.ignored = strv_join(ignored, ", ")))
                return log_error_errno(-ENOMEM, "cannot record the container's request: %m");
        *ret = taken;
        taken = (struct gj_oci_request){};
        return 0;
}

int gj_oci_request_from_config(struct json_object *config, const char *cdi_kind, struct gj_oci_request *ret) {
        return gj_oci_request_accepted(config, cdi_kind, GJ_REQUEST_ALL, ret);
}
