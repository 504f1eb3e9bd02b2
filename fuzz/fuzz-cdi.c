/* SPDX-License-Identifier: Apache-2.0 */
/* CDI names: kinds, device names, qualified names from annotations and the command line,
 * and the selector a name turns into. */
#include "fuzz-common.h"
#include "gpujail/cdi.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        (void)gj_cdi_kind_valid(text);
        (void)gj_cdi_kind_vendor(text);
        bool name_ok = gj_cdi_device_name_valid(text) >= 0;

        _cleanup_free_ char *kind = NULL, *name = NULL;
        if (gj_cdi_parse_qualified(text, &kind, &name) >= 0) {
                if (!kind || !name || gj_cdi_kind_valid(kind) < 0 || gj_cdi_device_name_valid(name) < 0)
                        abort(); /* a parsed name is a valid one */
        }
        static const char *const kinds[] = {"gpujail.io/gpu", "nvidia.com/gpu", "amd.com/gpu", "intel.com/gpu"};
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                _cleanup_free_ char *sel = NULL;
                int r = gj_cdi_name_to_selector(kinds[i], text, &sel);
                if (r >= 0 && (!name_ok || !sel))
                        abort(); /* only valid names become selectors */
        }
        return 0;
}
