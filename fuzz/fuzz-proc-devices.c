/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/devices: dynamic majors (nvidia-uvm, nvidia-caps; 195 as nvidia or nvidia-frontend). */
#include "fuzz-common.h"
#include "gpujail/inventory.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        static const char *const names[] = { "nvidia",
                                             "nvidia-frontend",
                                             "nvidia-uvm",
                                             "nvidia-caps",
                                             "nvidia-caps-imex-channels",
                                             "kfd",
                                             "drm",
                                             "accel",
                                             "" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                unsigned major = 0;
                (void)gj_proc_devices_find_char(text, names[i], &major);
        }
        /* the first line of the input as the name too: names with spaces, digits, nothing */
        _cleanup_free_ char *name = strndup(text, strcspn(text, "\n"));
        if (name) {
                unsigned major = 0;
                (void)gj_proc_devices_find_char(text, name, &major);
        }
        return 0;
}
