/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/driver/nvidia/gpus/<bus>/information and /proc/driver/nvidia/params: text a
 * broken or hostile driver (or a simulated host) writes. */
#include "fuzz-common.h"
#include "gpujail/inventory.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        struct gj_nvidia_info info = {0};
        if (gj_nvidia_info_parse(text, &info) >= 0) {
                /* what the inventory does with a parsed record */
                if (info.minor < 0)
                        abort();
                (void)strlen(info.model ? info.model : "");
                (void)strlen(info.uuid ? info.uuid : "");
                (void)strlen(info.bus_location ? info.bus_location : "");
        }
        gj_nvidia_info_done(&info);

        mode_t mode = 0666;
        uid_t uid = 0;
        gid_t gid = 0;
        gj_nvidia_params_parse(text, &mode, &uid, &gid);
        return 0;
}
