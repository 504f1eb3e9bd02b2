/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's /etc/gpujail/hook.conf: gj_hook_config_parse. A file that parses
 * keeps hook-config.h's promises: only known source bits, the accept line
 * named when (and only when) the file set it, and the accept string of the
 * result parses back to the same bits. */
#include "fuzz-common.h"
#include "gpujail/hook-config.h"
#include "gpujail/util.h"

#define PATH "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        struct gj_hook_config c = { 0 };
        if (gj_hook_config_parse(text, PATH, &c) < 0) {
                gj_hook_config_done(&c);
                return 0;
        }
        if (!streq_ptr(c.path, PATH) || (c.accept & ~GJ_REQUEST_ALL))
                abort();
        if (!c.accept_line && c.accept != GJ_HOOK_ACCEPT_DEFAULT)
                abort(); /* no accept line: the default */
        _cleanup_free_ char *words = gj_hook_accept_string(c.accept);
        _cleanup_free_ char *again = words ? strprintf("accept = %s\n", words) : NULL;
        struct gj_hook_config back = { 0 };
        if (!again || gj_hook_config_parse(again, PATH, &back) < 0 || back.accept != c.accept)
                abort(); /* what the hook says it accepts reads back the same */
        gj_hook_config_done(&back);
        gj_hook_config_done(&c);
        return 0;
}
