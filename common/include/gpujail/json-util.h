/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json-c glue: the one set of builders for every document gpujail writes
 * (`list --json`, `plan --json`, CDI specs, config.json edits).
 *
 * One NULL convention for all of them:
 *   - a NULL `struct json_object *` handed in is a json_object_new_*() that
 *     failed (they return NULL only when out of memory): -ENOMEM. So calls nest
 *     constructors: gj_json_add(o, "uid", json_object_new_int64(uid)).
 *   - a NULL `const char *` is a value we do not know: JSON null, never "".
 *     JSON null is written only that way and by the *_or_null helpers.
 * Each helper takes the value it is given, also on failure, returns 0 or
 * -ENOMEM, and logs nothing: the caller knows which document it was building.
 */
#pragma once

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "gpujail/util.h"

/* Add val under key. */
static inline int gj_json_add(struct json_object *obj, const char *key, struct json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_object_add(obj, key, val) < 0) {
                json_object_put(val); /* json-c leaves it with us when the add fails */
                return -ENOMEM;
        }
        return 0;
}

/* Append val to an array. */
static inline int gj_json_append(struct json_object *arr, struct json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_array_add(arr, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

/* key: null. */
static inline int gj_json_add_null(struct json_object *obj, const char *key) {
        return json_object_object_add(obj, key, NULL) < 0 ? -ENOMEM : 0;
}

/* key: s, or null when s is NULL (unknown). */
static inline int gj_json_add_string(struct json_object *obj, const char *key, const char *s) {
        return s ? gj_json_add(obj, key, json_object_new_string(s)) : gj_json_add_null(obj, key);
}

static inline int gj_json_add_int(struct json_object *obj, const char *key, int64_t v) {
        return gj_json_add(obj, key, json_object_new_int64(v));
}

static inline int gj_json_add_bool(struct json_object *obj, const char *key, bool v) {
        return gj_json_add(obj, key, json_object_new_boolean(v));
}

/* key: v, or null when it is not known. */
static inline int gj_json_add_int_or_null(struct json_object *obj, const char *key, int64_t v,
                                          bool known) {
        return known ? gj_json_add_int(obj, key, v) : gj_json_add_null(obj, key);
}

static inline int gj_json_add_bool_or_null(struct json_object *obj, const char *key, bool v,
                                           bool known) {
        return known ? gj_json_add_bool(obj, key, v) : gj_json_add_null(obj, key);
}

/* Append s, or null when s is NULL. */
static inline int gj_json_append_string(struct json_object *arr, const char *s) {
        if (!s)
                return json_object_array_add(arr, NULL) < 0 ? -ENOMEM : 0;
        return gj_json_append(arr, json_object_new_string(s));
}

static inline void gj_json_putp(struct json_object **o) { json_object_put(*o); }
#define _cleanup_json_ _cleanup_(gj_json_putp)

/* A new array of the strings of a NULL-terminated vector (NULL: an empty array);
 * NULL when out of memory. */
static inline struct json_object *gj_json_new_strv(char *const *v) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (size_t i = 0; v && v[i]; i++)
                if (gj_json_append_string(a, v[i]) < 0)
                        return NULL;
        return TAKE_PTR(a);
}
