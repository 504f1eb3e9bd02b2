/* SPDX-License-Identifier: Apache-2.0 */
/* /etc/ld.so.cache: the host's, and an image's that the hook rewrites (both layouts). */
#include "fuzz-common.h"
#include "gpujail/ldcache.h"
#include "gpujail/util.h"

static bool odd_length(const char *key) { return strlen(key) % 2 == 1; }

/* A filtered parse (the host's cache, for the driver's libraries) succeeds
 * exactly when the whole one does, and keeps the same entries, in order. */
static void check_matching(const uint8_t *data, size_t size, const struct gj_ldcache *all, bool all_ok) {
        struct gj_ldcache some = { 0 };
        bool some_ok = gj_ldcache_parse_matching(data, size, odd_length, &some) == 0;
        if (some_ok != all_ok)
                abort();
        size_t k = 0;
        for (size_t i = 0; all_ok && i < all->n_entries; i++) {
                const struct gj_ldcache_entry *e = &all->entries[i];
                if (!odd_length(e->key))
                        continue;
                if (k >= some.n_entries || !streq(some.entries[k].key, e->key) ||
                    !streq(some.entries[k].value, e->value) || some.entries[k].flags != e->flags ||
                    some.entries[k].hwcap != e->hwcap)
                        abort();
                k++;
        }
        if (k != some.n_entries)
                abort();
        gj_ldcache_done(&some);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct gj_ldcache c = { 0 }, back = { 0 };
        bool ok = gj_ldcache_parse(data, size, &c) == 0;
        check_matching(data, size, &c, ok);
        if (!ok)
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
