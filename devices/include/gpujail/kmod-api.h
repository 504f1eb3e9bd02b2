/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkmod, dlopen()ed only when a module must be looked up or loaded
 * (devices/kmod-api.c): on Debian it drags in libcrypto, libzstd and liblzma,
 * which as link-time dependencies doubled the start-up time of every gpujail
 * and gpujail-hook process. Read-only users (devices/kmod.c) and the loader
 * that changes the host (kernel/modules.c) share this one wrapper.
 */
#pragma once

#include <libkmod.h>
#include <stdarg.h>

/* The libkmod calls we make, resolved at run time. */
struct gj_kmod_api {
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

/* -ENOPKG (not logged) when libkmod.so.2 is missing or lacks a symbol. */
int gj_kmod_api_open(struct gj_kmod_api *api);
void gj_kmod_api_close(struct gj_kmod_api *api);
/* A library context whose log messages are dropped (ours say the same). -ENOMEM. */
int gj_kmod_ctx_open(struct gj_kmod_api *api, struct kmod_ctx **ret);
