/* SPDX-License-Identifier: Apache-2.0 */
/* /etc/ld.so.cache: the host's, and an image's that the hook rewrites (both layouts). */
#include "fuzz-common.h"
#include "gpujail/ldcache.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct gj_ldcache c = { 0 }, back = { 0 };
        if (gj_ldcache_parse(data, size, &c) < 0)
                return 0;
        (void)gj_ldcache_lookup(&c, "libcuda.so.1", GJ_LDCACHE_FLAGS_NATIVE);
        if (gj_ldcache_set(&c, "libcuda.so.1", GJ_LDCACHE_FLAGS_NATIVE, "/usr/lib64/libcuda.so.1") <
            0)
                abort();
        _cleanup_free_ char *out = NULL;
        size_t len;
        /* what we write must read back, with the same entries and the one we set */
        if (gj_ldcache_serialize(&c, &out, &len) < 0 || gj_ldcache_parse(out, len, &back) < 0)
                abort();
        if (back.n_entries != c.n_entries || back.n_hwcaps != c.n_hwcaps ||
            !streq_ptr(gj_ldcache_lookup(&back, "libcuda.so.1", GJ_LDCACHE_FLAGS_NATIVE),
                       "/usr/lib64/libcuda.so.1"))
                abort();
        gj_ldcache_done(&back);
        gj_ldcache_done(&c);
        return 0;
}
