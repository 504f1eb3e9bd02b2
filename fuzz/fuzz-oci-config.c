/* SPDX-License-Identifier: Apache-2.0 */
/* config.json: parsed, read for the rootfs, the runtime's device rules and the request,
 * then edited with a plan and written back out, as the hook and `gpujail oci` do. */
#include <json-c/json.h>

#include "fuzz-common.h"
#include "gpujail/cdi.h"
#include "gpujail/oci-config.h"
#include "gpujail/oci-state.h"
#include "gpujail/oci-request.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

static struct gj_plan_node nodes[] = {
        {.path = (char *)"/dev/nvidia2", .host_path = (char *)"/dev/nvidia2", .type = 'c', .major = 195,
         .minor = 2, .mode = 0666},
        {.path = (char *)"/dev/nvidiactl", .host_path = (char *)"/dev/nvidiactl", .type = 'c', .major = 195,
         .minor = 255, .mode = 0666},
};
static struct gj_cgroup_rule rules[] = {{'c', 195, 2, "rw"}, {'c', 195, 255, "rw"}};
static char *env[] = {(char *)"GPUJAIL_DEVICES=GPU-0", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        struct json_object *config = NULL;
        if (gj_oci_config_parse("fuzz", text, size, &config) < 0)
                return 0;

        _cleanup_free_ char *root = NULL;
        (void)gj_oci_config_root_path(config, "/run/bundle", &root);

        _cleanup_free_ struct gj_cgroup_rule *have = NULL;
        size_t n_have = 0;
        (void)gj_oci_config_device_rules(config, &have, &n_have);

        struct gj_oci_request req = {0};
        (void)gj_oci_request_from_config(config, NULL, &req);
        gj_oci_request_done(&req);

        struct gj_plan plan = {.nodes = nodes, .n_nodes = 2, .rules = rules, .n_rules = 2, .env = env};
        if (gj_oci_config_inject(config, &plan) >= 0) {
                _cleanup_free_ char *once = gj_oci_config_format(config);
                /* idempotent, as documented: injecting twice gives the same document */
                if (gj_oci_config_inject(config, &plan) < 0)
                        abort();
                _cleanup_free_ char *twice = gj_oci_config_format(config);
                if (!once || !twice || strcmp(once, twice) != 0)
                        abort();
        }
        json_object_put(config);
        return 0;
}
