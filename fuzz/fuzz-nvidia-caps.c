/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/driver/nvidia/capabilities/.../access files (DeviceFileMinor, DeviceFileMode,
 * DeviceFileModify) and the driver's numbered names (gi<G>, ci<C>, channel<N>): text a
 * broken or hostile driver (or a simulated host) writes. */
#include "fuzz-common.h"
#include "gpujail/inventory.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        struct gj_nvidia_cap cap;

        if (gj_nvidia_cap_parse(text, &cap) >= 0) {
                /* what the inventory does with it: a node path from the minor */
                char path[64];
                if (cap.minor >= (1u << 20) || (cap.mode & ~0777u))
                        abort();
                snprintf(path, sizeof(path), "/dev/nvidia-caps/nvidia-cap%u", cap.minor);
        }

        /* the first line as a directory name */
        _cleanup_free_ char *name = strndup(text, strcspn(text, "\n"));
        static const char *const prefixes[] = { "gi", "ci", "gpu", "channel", "" };
        for (size_t i = 0; name && i < ELEMENTSOF(prefixes); i++) {
                unsigned v = 0;
                if (gj_nvidia_numbered_name(name, prefixes[i], &v) >= 0 && v > 999999999u)
                        abort();
        }
        return 0;
}
