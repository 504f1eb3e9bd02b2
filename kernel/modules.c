/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a kernel module with its dependencies and modprobe.d options, for
 * `gpujail setup`, through libkmod, without forking modprobe. It changes the
 * host, so it lives here and not in devices/ (which only reads).
 */
#include "gpujail/kmod-api.h"
#include "gpujail/modules.h"
#include "gpujail/util.h"

static int module_probe_all(struct gj_kmod_api *api, struct kmod_ctx *ctx, const char *name) {
        struct kmod_list *list = NULL, *it;
        int r = api->new_from_lookup(ctx, name, &list);

        if (r < 0)
                return log_error_errno(r, "cannot look up module %s: %m", name);
        if (!list)
                return log_error_errno(-ENOENT,
                                       "cannot load module %s: not known to this kernel "
                                       "(not in /lib/modules/<release>/modules.dep: is the driver installed?)",
                                       name);
        for (it = list; it && r >= 0; it = api->list_next(list, it)) {
                struct kmod_module *m = api->get_module(it);
                r = api->probe_insert(m, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL, NULL);
                api->module_unref(m);
                if (r == KMOD_PROBE_APPLY_BLACKLIST)
                        r = log_error_errno(-EPERM, "cannot load module %s: it is blacklisted in modprobe.d",
                                            name);
                else if (r < 0)
                        r = log_error_errno(r, "cannot load module %s: %m", name);
        }
        api->unref_list(list);
        return r < 0 ? r : 0;
}

int gj_module_load(const char *name) {
        struct gj_kmod_api api;
        struct kmod_ctx *ctx = NULL;
        int r;

        r = gj_kmod_api_open(&api);
        if (r < 0)
                return log_error_errno(r, "cannot load module %s: libkmod.so.2 is not installed: %m", name);
        r = gj_kmod_ctx_open(&api, &ctx);
        if (r < 0)
                r = log_error_errno(r, "cannot load module %s: cannot open the module index: %m", name);
        else
                r = module_probe_all(&api, ctx, name);
        if (ctx)
                api.unref(ctx);
        gj_kmod_api_close(&api);
        return r;
}
