/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI state JSON the runtime writes on the hook's stdin. */
#include "fuzz-common.h"
#include "gpujail/oci-state.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        struct gj_oci_state st = {0};
        if (gj_oci_state_parse(text, &st) >= 0) {
                if (st.pid <= 0 || !st.id || !st.bundle || st.bundle[0] != '/')
                        abort(); /* the documented promises */
        }
        gj_oci_state_done(&st);
        return 0;
}
