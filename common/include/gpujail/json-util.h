/* SPDX-License-Identifier: Apache-2.0 */
/* json-c glue shared by the documents gpujail writes (CDI specs, config.json edits). */
#pragma once

#include <errno.h>
#include <json-c/json.h>

/* Add val under key. Takes val, also on failure; a NULL val (a json_object_new_*()
 * that failed) is -ENOMEM, so calls can nest constructors. */
static inline int gj_json_add(struct json_object *obj, const char *key, struct json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_object_add(obj, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

/* The same for arrays. */
static inline int gj_json_append(struct json_object *arr, struct json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_array_add(arr, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static inline void gj_json_putp(struct json_object **o) { json_object_put(*o); }
#define _cleanup_json_ __attribute__((cleanup(gj_json_putp)))
