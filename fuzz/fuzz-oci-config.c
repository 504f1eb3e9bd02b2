/* SPDX-License-Identifier: Apache-2.0 */
/* config.json: read as a bundle (the rootfs, the request), then for the runtime's device
 * rules, then edited with a plan and written back out, as the hook and `gpujail oci` do. */
#include <json-c/json.h>

#include "fuzz-common.h"
#include "gpujail/bundle.h"
#include "gpujail/oci-config.h"
#include "gpujail/oci-state.h"
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
        _cleanup_(gj_bundle_done) struct gj_bundle b = {0};
        /* As the hook and `runtime` read it; a document whose request is refused goes on to
         * the rest as `oci inject` reads it. */
        if (gj_bundle_parse("/run/bundle", text, size, &(struct gj_bundle_opts){.request = true}, &b) < 0 &&
            gj_bundle_parse("/run/bundle", text, size, NULL, &b) < 0)
                return 0;
        /* documented: a root resolved against an absolute bundle is absolute; no request, no selector */
        if ((b.root && b.root[0] != '/') || (b.request.source == GJ_REQUEST_NONE) != !b.request.selector)
                abort();
        struct json_object *config = b.config;

        _cleanup_free_ struct gj_cgroup_rule *have = NULL;
        size_t n_have = 0;
        (void)gj_oci_config_device_rules(config, &have, &n_have);

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
        return 0;
}
