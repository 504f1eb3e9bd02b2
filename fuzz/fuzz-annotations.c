/* SPDX-License-Identifier: Apache-2.0 */
/* The request a container makes: annotations (gpujail.io/gpus, cdi.k8s.io/...) and
 * NVIDIA_VISIBLE_DEVICES, built from "key=value" lines of the input ("env:" lines go to
 * process.env), then selected against a mixed host as the hook does. */
#include <json-c/json.h>

#include "fuzz-common.h"
#include "fuzz-inventory.h"
#include "gpujail/json-util.h"
#include "gpujail/oci-request.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_json_ struct json_object *config = json_object_new_object();
        struct json_object *ann = json_object_new_object(), *process = json_object_new_object(),
                           *envv = json_object_new_array();
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *e = startswith(line, "env:");
                if (e) {
                        (void)gj_json_append_string(envv, e);
                        continue;
                }
                char *eq = strchr(line, '=');
                if (!eq)
                        continue;
                *eq = 0;
                (void)gj_json_add_string(ann, line, eq + 1);
        }
        (void)gj_json_add(process, "env", envv);
        (void)gj_json_add(config, "process", process);
        (void)gj_json_add(config, "annotations", ann);

        struct gj_oci_request req = {0};
        if (gj_oci_request_from_config(config, NULL, &req) >= 0 && req.source != GJ_REQUEST_NONE) {
                if (!req.selector)
                        abort();
                struct gj_selection sel = {0};
                (void)gj_select(fuzz_inventory(), req.selector, req.select_flags, &sel);
                gj_selection_done(&sel);
        }
        gj_oci_request_done(&req);
        return 0;
}
