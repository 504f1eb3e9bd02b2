/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel modules through libkmod: is it loaded, is it known to this kernel,
 * and loading it (with its dependencies and modprobe.d options) for
 * `gpujail setup`, without forking modprobe.
 */
#include <libkmod.h>

#include "gpujail/inventory.h"
#include "gpujail/util.h"

static void kmod_ctx_unrefp(struct kmod_ctx **c) {
        if (*c)
                kmod_unref(*c);
}
static void kmod_list_unrefp(struct kmod_list **l) {
        if (*l)
                kmod_module_unref_list(*l);
}
static void kmod_module_unrefp(struct kmod_module **m) {
        if (*m)
                kmod_module_unref(*m);
}

/* libkmod logs to stderr by default; its messages would duplicate ours. */
static void kmod_log_quiet(void *data, int priority, const char *file, int line, const char *fn,
                           const char *format, va_list args) {}

static int kmod_ctx_open(struct kmod_ctx **ret) {
        struct kmod_ctx *ctx = kmod_new(NULL, NULL);
        if (!ctx)
                return -ENOMEM;
        kmod_set_log_fn(ctx, kmod_log_quiet, NULL);
        *ret = ctx;
        return 0;
}

/* Loaded: /sys/module/<name> says live or builtin. */
static bool module_is_loaded(struct kmod_module *m) {
        int state = kmod_module_get_initstate(m);
        return state == KMOD_MODULE_LIVE || state == KMOD_MODULE_BUILTIN ||
               state == KMOD_MODULE_COMING;
}

static int module_query_one(struct kmod_ctx *ctx, const char *name, struct gj_module *ret) {
        _cleanup_(kmod_list_unrefp) struct kmod_list *list = NULL;
        _cleanup_(kmod_module_unrefp) struct kmod_module *m = NULL;
        int r;

        *ret = (struct gj_module){ .name = name };
        r = kmod_module_new_from_name(ctx, name, &m);
        if (r < 0)
                return r;
        ret->loaded = module_is_loaded(m);
        /* Known: in modules.dep / modules.builtin of the running kernel. */
        r = kmod_module_new_from_lookup(ctx, name, &list);
        if (r < 0 && r != -ENOENT && r != -ENOSYS)
                return r;
        struct kmod_list *it;
        kmod_list_foreach(it, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *found = kmod_module_get_module(it);
                if (found && (kmod_module_get_path(found) || kmod_module_get_initstate(found) == KMOD_MODULE_BUILTIN))
                        ret->known = true;
        }
        if (ret->loaded)
                ret->known = true;
        return 0;
}

int gj_modules_query(const char *const *names, size_t n, struct gj_module **ret, size_t *ret_n) {
        _cleanup_(kmod_ctx_unrefp) struct kmod_ctx *ctx = NULL;
        _cleanup_free_ struct gj_module *mods = calloc(n ?: 1, sizeof(*mods));
        int r;

        if (!mods)
                return -ENOMEM;
        r = kmod_ctx_open(&ctx);
        if (r < 0)
                return r;
        /* mmap the indexes once instead of opening them again for every lookup. */
        (void)kmod_load_resources(ctx);
        for (size_t i = 0; i < n; i++) {
                r = module_query_one(ctx, names[i], &mods[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(mods);
        *ret_n = n;
        return 0;
}

int gj_module_load(const char *name) {
        _cleanup_(kmod_ctx_unrefp) struct kmod_ctx *ctx = NULL;
        _cleanup_(kmod_list_unrefp) struct kmod_list *list = NULL;
        struct kmod_list *it;
        int r;

        r = kmod_ctx_open(&ctx);
        if (r < 0)
                return log_error_errno(r, "cannot load module %s: cannot open the module index: %m", name);
        r = kmod_module_new_from_lookup(ctx, name, &list);
        if (r < 0)
                return log_error_errno(r, "cannot look up module %s: %m", name);
        if (!list)
                return log_error_errno(-ENOENT,
                                       "cannot load module %s: not known to this kernel "
                                       "(not in /lib/modules/<release>/modules.dep: is the driver installed?)",
                                       name);
        kmod_list_foreach(it, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *m = kmod_module_get_module(it);
                r = kmod_module_probe_insert_module(m, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL, NULL);
                if (r == KMOD_PROBE_APPLY_BLACKLIST)
                        return log_error_errno(-EPERM, "cannot load module %s: it is blacklisted in modprobe.d", name);
                if (r < 0)
                        return log_error_errno(r, "cannot load module %s: %m", name);
        }
        return 0;
}
