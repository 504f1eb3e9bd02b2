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
        *req = (struct gj_oci_request){};
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

static int request_from_annotations(struct json_object *annotations, const char *kind,
                                    struct gj_oci_request *ret) {
        struct json_object *v;
        if (json_object_object_get_ex(annotations, GJ_ANNOTATION_GPUS, &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return log_error_errno(-EBADMSG, "config.json: annotation %s is not a string",
                                               GJ_ANNOTATION_GPUS);
                return set_request(ret, GJ_REQUEST_ANNOTATION, json_object_get_string(v), 0,
                                   strdup("annotation " GJ_ANNOTATION_GPUS));
        }

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

int gj_oci_request_from_config(struct json_object *config, const char *cdi_kind, struct gj_oci_request *ret) {
        struct json_object *annotations, *process;
        const char *kind = cdi_kind ? cdi_kind : GJ_CDI_KIND_DEFAULT;
        int r;

        *ret = (struct gj_oci_request){};
        if (!json_object_is_type(config, json_type_object))
                return log_error_errno(-EBADMSG, "config.json is not a JSON object");
        r = get_object(config, "annotations", json_type_object, &annotations);
        if (r < 0)
                return r;
        if (annotations) {
                r = request_from_annotations(annotations, kind, ret);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        r = get_object(config, "process", json_type_object, &process);
        if (r < 0)
                return r;
        r = request_from_env(process, ret);
        return r < 0 ? r : 0;
}
