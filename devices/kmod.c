/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel modules: is it loaded, is it known to this kernel, and loading it
 * (with its dependencies and modprobe.d options) for `gpujail setup`, through
 * libkmod, without forking modprobe.
 *
 * libkmod is dlopen()ed, and only when needed: on Debian it drags in libcrypto,
 * libzstd and liblzma, which as link-time dependencies doubled the start-up
 * time and added 1.8 MiB of RSS to every gpujail and gpujail-hook process. Whether
 * a module is loaded is read from /sys/module (what libkmod itself reads), so
 * `gpujail list` on a host whose modules are loaded never loads libkmod at all.
 */
#include <dlfcn.h>
#include <libkmod.h>
#include <sys/stat.h>

#include "gpujail/inventory.h"
#include "gpujail/util.h"

/* The libkmod calls we make, resolved at run time. */
struct kmod_api {
        void *handle;
        struct kmod_ctx *(*new_ctx)(const char *dirname, const char *const *config_paths);
        struct kmod_ctx *(*unref)(struct kmod_ctx *ctx);
        void (*set_log_fn)(struct kmod_ctx *ctx,
                           void (*log_fn)(void *data, int priority, const char *file, int line,
                                          const char *fn, const char *format, va_list args),
                           const void *data);
        int (*load_resources)(struct kmod_ctx *ctx);
        int (*new_from_lookup)(struct kmod_ctx *ctx, const char *given_alias, struct kmod_list **list);
        struct kmod_module *(*get_module)(const struct kmod_list *entry);
        const char *(*get_path)(const struct kmod_module *mod);
        int (*get_initstate)(const struct kmod_module *mod);
        struct kmod_module *(*module_unref)(struct kmod_module *mod);
        int (*unref_list)(struct kmod_list *list);
        struct kmod_list *(*list_next)(const struct kmod_list *list, const struct kmod_list *curr);
        int (*probe_insert)(struct kmod_module *mod, unsigned int flags, const char *extra_options,
                            int (*run_install)(struct kmod_module *m, const char *cmdline, void *data),
                            const void *data,
                            void (*print_action)(struct kmod_module *m, bool install, const char *options));
};

static void kmod_api_close(struct kmod_api *api) {
        if (api->handle)
                dlclose(api->handle);
        *api = (struct kmod_api){};
}

#define KMOD_SYM(api, field, name)                                                                 \
        (((api)->field = (__typeof__((api)->field))dlsym((api)->handle, name)) != NULL)

/* -ENOPKG when libkmod is not installed: module state then is "loaded" or "unknown". */
static int kmod_api_open(struct kmod_api *api) {
        *api = (struct kmod_api){};
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
                kmod_api_close(api);
                return -ENOPKG;
        }
        return 0;
}

/* libkmod logs to stderr by default; its messages would duplicate ours. */
static void kmod_log_quiet(void *data, int priority, const char *file, int line, const char *fn,
                           const char *format, va_list args) {}

static int kmod_ctx_open(struct kmod_api *api, struct kmod_ctx **ret) {
        struct kmod_ctx *ctx = api->new_ctx(NULL, NULL);
        if (!ctx)
                return -ENOMEM;
        api->set_log_fn(ctx, kmod_log_quiet, NULL);
        *ret = ctx;
        return 0;
}

/* What libkmod's initstate reads: /sys/module/<name>/initstate "live"/"coming", or a
 * /sys/module/<name> without initstate (built in). Module names use '_' there. */
static bool module_is_loaded(const char *name) {
        _cleanup_free_ char *dir = strprintf("/sys/module/%s", name);
        _cleanup_free_ char *state_path = NULL, *state = NULL;
        struct stat st;

        if (!dir || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return false;
        state_path = strprintf("%s/initstate", dir);
        if (!state_path)
                return false;
        if (read_one_line(state_path, &state) < 0)
                return access(state_path, F_OK) < 0; /* no initstate: built in */
        return streq(state, "live") || streq(state, "coming");
}

/* Known: in modules.dep, modules.alias or modules.builtin of the running kernel. */
static int module_is_known(struct kmod_api *api, struct kmod_ctx *ctx, const char *name, bool *ret) {
        struct kmod_list *list = NULL, *it;
        int r = api->new_from_lookup(ctx, name, &list);

        *ret = false;
        if (r < 0)
                return r == -ENOENT || r == -ENOSYS ? 0 : r;
        for (it = list; it; it = api->list_next(list, it)) {
                struct kmod_module *m = api->get_module(it);
                if (m && (api->get_path(m) || api->get_initstate(m) == KMOD_MODULE_BUILTIN))
                        *ret = true;
                if (m)
                        api->module_unref(m);
        }
        if (list)
                api->unref_list(list);
        return 0;
}

const char *const gj_nvidia_setup_modules[] = { "nvidia", "nvidia_uvm", "nvidia_modeset", NULL };

int gj_modules_query(const char *const *names, size_t n, const char *const *look_up,
                     struct gj_module **ret, size_t *ret_n) {
        _cleanup_free_ struct gj_module *mods = calloc(n ?: 1, sizeof(*mods));
        struct kmod_api api = {};
        struct kmod_ctx *ctx = NULL;
        int r = 0;

        if (!mods)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                mods[i] = (struct gj_module){ .name = names[i], .loaded = module_is_loaded(names[i]) };
                mods[i].known = mods[i].loaded;
                if (mods[i].loaded || (look_up && !strv_contains((char *const *)look_up, names[i])))
                        continue;
                if (!ctx) {
                        if (kmod_api_open(&api) < 0)
                                continue; /* no libkmod: not loaded, and we cannot say more */
                        r = kmod_ctx_open(&api, &ctx);
                        if (r < 0)
                                break;
                        /* mmap the indexes once instead of opening them for every lookup. */
                        (void)api.load_resources(ctx);
                }
                r = module_is_known(&api, ctx, names[i], &mods[i].known);
                if (r < 0)
                        break;
                mods[i].looked_up = true;
        }
        if (ctx)
                api.unref(ctx);
        kmod_api_close(&api);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(mods);
        *ret_n = n;
        return 0;
}

static int module_probe_all(struct kmod_api *api, struct kmod_ctx *ctx, const char *name) {
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
        struct kmod_api api;
        struct kmod_ctx *ctx = NULL;
        int r;

        r = kmod_api_open(&api);
        if (r < 0)
                return log_error_errno(r, "cannot load module %s: libkmod.so.2 is not installed: %m", name);
        r = kmod_ctx_open(&api, &ctx);
        if (r < 0)
                r = log_error_errno(r, "cannot load module %s: cannot open the module index: %m", name);
        else
                r = module_probe_all(&api, ctx, name);
        if (ctx)
                api.unref(ctx);
        kmod_api_close(&api);
        return r;
}
