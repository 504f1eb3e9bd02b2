/* SPDX-License-Identifier: Apache-2.0 */
/* libkmod, resolved at run time: see gpujail/kmod-api.h for why. */
#include <dlfcn.h>

#include "gpujail/kmod-api.h"
#include "gpujail/util.h"


void gj_kmod_api_close(struct gj_kmod_api *api) {
        if (api->handle)
                dlclose(api->handle);
        *api = (struct gj_kmod_api){};
}

#define KMOD_SYM(api, field, name)                                                                 \
        (((api)->field = (__typeof__((api)->field))dlsym((api)->handle, name)) != NULL)

/* -ENOPKG when libkmod is not installed: module state then is "loaded" or "unknown". */
int gj_kmod_api_open(struct gj_kmod_api *api) {
        *api = (struct gj_kmod_api){};
        api->handle = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL);
        if (!api->handle)
                return -ENOPKG;
        if (!KMOD_SYM(api, new_ctx, "kmod_new") || !KMOD_SYM(api, unref, "kmod_unref") ||
            !KMOD_SYM(api, set_log_fn, "kmod_set_log_fn") ||
            !KMOD_SYM(api, load_resources, "kmod_load_resources") ||
            !KMOD_SYM(api, new_from_lookup, "kmod_module_new_from_lookup") ||
            !KMOD_SYM(api, get_module, "kmod_module_get_module") ||
            !KMOD_SYM(api, get_path, "kmod_module_get_path") ||
            !KMOD_SYM(api, get_initstate, "kmod_module_get_initstate") ||
            !KMOD_SYM(api, module_unref, "kmod_module_unref") ||
            !KMOD_SYM(api, unref_list, "kmod_module_unref_list") ||
            !KMOD_SYM(api, list_next, "kmod_list_next") ||
            !KMOD_SYM(api, probe_insert, "kmod_module_probe_insert_module")) {
                gj_kmod_api_close(api);
                return -ENOPKG;
        }
        return 0;
}

/* libkmod logs to stderr by default; its messages would duplicate ours. */
static void kmod_log_quiet(void *data, int priority, const char *file, int line, const char *fn,
                           const char *format, va_list args) {}

int gj_kmod_ctx_open(struct gj_kmod_api *api, struct kmod_ctx **ret) {
        struct kmod_ctx *ctx = api->new_ctx(NULL, NULL);
        if (!ctx)
                return -ENOMEM;
        api->set_log_fn(ctx, kmod_log_quiet, NULL);
        *ret = ctx;
        return 0;
}

