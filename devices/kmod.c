/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel modules: is it loaded, is it known to this kernel. Read-only; loading
 * one is kernel/modules.c's.
 *
 * libkmod is dlopen()ed, and only when needed: on Debian it drags in libcrypto,
 * libzstd and liblzma, which as link-time dependencies doubled the start-up
 * time and added 1.8 MiB of RSS to every gpujail and gpujail-hook process. Whether
 * a module is loaded is read from /sys/module (what libkmod itself reads), so
 * `gpujail list` on a host whose modules are loaded never loads libkmod at all.
 */
#include <sys/stat.h>
#include <sys/utsname.h>

#include "gpujail/inventory.h"
#include "gpujail/kmod-api.h"
#include "gpujail/util.h"

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
static int module_is_known(struct gj_kmod_api *api, struct kmod_ctx *ctx, const char *name, bool *ret) {
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

/* Has the running kernel a module directory (/lib/modules/<release>, or /usr/lib/modules
 * where kmod is built to look there)? Without one no module is known to it, and libkmod
 * need not be loaded to say so (~2.5 ms: libcrypto, libzstd, liblzma): a VM or container
 * booted without one. Anything but "no such directory" is left to libkmod. */
static bool kernel_module_dir_exists(void) {
        static const char *const dirs[] = { "/lib/modules", "/usr/lib/modules" };
        struct utsname u;
        if (uname(&u) < 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *dir = strprintf("%s/%s", dirs[i], u.release);
                if (!dir || access(dir, F_OK) == 0 || errno != ENOENT)
                        return true;
        }
        return false;
}

/* libkmod and its context, opened at the first look-up a query needs. */
struct kmod_session {
        struct gj_kmod_api api;
        struct kmod_ctx *ctx;
        bool tried;
};

static void kmod_session_done(struct kmod_session *s) {
        if (s->ctx)
                s->api.unref(s->ctx);
        gj_kmod_api_close(&s->api);
}

/* The context, or NULL (not an error) when libkmod is not installed. */
static int kmod_session_ctx(struct kmod_session *s, struct kmod_ctx **ret) {
        if (!s->tried) {
                s->tried = true;
                if (gj_kmod_api_open(&s->api) < 0) {
                        *ret = NULL;
                        return 0;
                }
                int r = gj_kmod_ctx_open(&s->api, &s->ctx);
                if (r < 0)
                        return r;
                /* mmap the indexes once instead of opening them for every lookup. */
                (void)s->api.load_resources(s->ctx);
        }
        *ret = s->ctx;
        return 0;
}

const char *const gj_nvidia_setup_modules[] = { "nvidia", "nvidia_uvm", "nvidia_modeset", NULL };

int gj_modules_query(const char *const *names, size_t n, const char *const *look_up,
                     struct gj_module **ret, size_t *ret_n) {
        _cleanup_free_ struct gj_module *mods = calloc(n ?: 1, sizeof(*mods));
        _cleanup_(kmod_session_done) struct kmod_session kmod = {};
        int have_dir = -1; /* asked at the first look-up */

        if (!mods)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                mods[i] = (struct gj_module){ .name = names[i], .loaded = module_is_loaded(names[i]) };
                mods[i].known = mods[i].loaded;
                if (mods[i].loaded || (look_up && !strv_contains((char *const *)look_up, names[i])))
                        continue;
                if (have_dir < 0)
                        have_dir = kernel_module_dir_exists();
                if (!have_dir) {
                        mods[i].looked_up = true; /* and not known */
                        continue;
                }
                struct kmod_ctx *ctx;
                int r = kmod_session_ctx(&kmod, &ctx);
                if (r < 0)
                        return r;
                if (!ctx)
                        continue; /* no libkmod: not loaded, and we cannot say more */
                r = module_is_known(&kmod.api, ctx, names[i], &mods[i].known);
                if (r < 0)
                        return r;
                mods[i].looked_up = true;
        }
        *ret = TAKE_PTR(mods);
        *ret_n = n;
        return 0;
}
