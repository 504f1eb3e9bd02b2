/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which host files make a GPU usable in a container. See gpujail/driver.h.
 *
 * The lists are NVIDIA's (libnvidia-container src/nvc_info.c, the v1.17
 * line), matched the same way: by prefix on the SONAME keys of the host's
 * ld.so.cache, so "libcuda.so" finds "libcuda.so.1". A library is kept only
 * if the file its SONAME resolves to carries the loaded module's version
 * ("libcuda.so.550.54.15"): a userspace that does not match the module fails
 * in ways users cannot diagnose, so a mismatch is an error, not a skip.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "gpujail/driver.h"
#include "gpujail/inventory.h"
#include "gpujail/util.h"

static const char *const utility_bins[] = { "nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
                                            "nv-fabricmanager", NULL };
static const char *const compute_bins[] = { "nvidia-cuda-mps-control", "nvidia-cuda-mps-server",
                                            NULL };
static const char *const utility_libs[] = { "libnvidia-ml.so", "libnvidia-cfg.so",
                                            "libnvidia-nscq.so", NULL };
static const char *const compute_libs[] = {
        "libcuda.so",
        "libcudadebugger.so",
        "libnvidia-opencl.so",
        "libnvidia-gpucomp.so",
        "libnvidia-ptxjitcompiler.so",
        "libnvidia-fatbinaryloader.so",
        "libnvidia-allocator.so",
        "libnvidia-compiler.so",
        "libnvidia-pkcs11.so",
        "libnvidia-pkcs11-openssl3.so",
        "libnvidia-nvvm.so",
        "libnvidia-tileiras.so",
        NULL,
};
static const char *const video_libs[] = { "libvdpau_nvidia.so", "libnvidia-encode.so",
                                          "libnvidia-opticalflow.so", "libnvcuvid.so", NULL };
static const char *const graphics_libs[] = {
        "libnvidia-eglcore.so",   "libnvidia-glcore.so", "libnvidia-tls.so",
        "libnvidia-glsi.so",      "libnvidia-fbc.so",    "libnvidia-ifr.so",
        "libnvidia-rtcore.so",    "libnvoptix.so",       "libGLX_nvidia.so",
        "libEGL_nvidia.so",       "libGLESv2_nvidia.so", "libGLESv1_CM_nvidia.so",
        "libnvidia-glvkspirv.so", "libnvidia-cbl.so",    NULL,
};
static const char *const ngx_libs[] = { "libnvidia-ngx.so", NULL };

struct cap_lists {
        unsigned caps; /* any of these */
        const char *const *libs;
        const char *const *bins;
};

static const struct cap_lists cap_lists[] = {
        { GJ_DRIVER_CAP_UTILITY, utility_libs, utility_bins },
        { GJ_DRIVER_CAP_COMPUTE | GJ_DRIVER_CAP_VIDEO, compute_libs, compute_bins },
        { GJ_DRIVER_CAP_VIDEO, video_libs, NULL },
        { GJ_DRIVER_CAP_GRAPHICS | GJ_DRIVER_CAP_DISPLAY, graphics_libs, NULL },
        { GJ_DRIVER_CAP_NGX, ngx_libs, NULL },
};

static const char *const cap_names[] = { "compute", "utility", "video",   "graphics",
                                         "display", "ngx",     "compat32" };

struct ipc {
        unsigned caps;
        const char *path;
        mode_t type;
};

static const struct ipc ipcs[] = {
        { GJ_DRIVER_CAP_UTILITY, "/run/nvidia-persistenced/socket", S_IFSOCK },
        { GJ_DRIVER_CAP_UTILITY, "/run/nvidia-fabricmanager/socket", S_IFSOCK },
        { GJ_DRIVER_CAP_COMPUTE, "/tmp/nvidia-mps", S_IFDIR },
};

static const char *const bin_dirs[] = { "/usr/bin", "/usr/sbin", "/bin", "/sbin" };

int gj_driver_caps_parse(const char *text, unsigned *ret) {
        if (isempty(text)) {
                *ret = GJ_DRIVER_CAPS_DEFAULT;
                return 0;
        }
        _cleanup_free_ char *copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        unsigned caps = 0;
        char *save = NULL;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                w += strspn(w, " ");
                w[strcspn(w, " ")] = 0;
                if (streq(w, "all")) {
                        caps |= GJ_DRIVER_CAP_ALL;
                        continue;
                }
                if (streq(w, "none")) {
                        *ret = 0; /* whatever else is listed */
                        return 0;
                }
                size_t i = 0;
                while (i < ELEMENTSOF(cap_names) && !streq(w, cap_names[i]))
                        i++;
                if (i == ELEMENTSOF(cap_names))
                        return log_error_errno(
                                -EINVAL,
                                "unknown driver capability '%s' (known: compute, utility, video, "
                                "graphics, display, ngx, compat32, all, none)",
                                w);
                caps |= 1u << i;
        }
        *ret = caps ? caps : GJ_DRIVER_CAPS_DEFAULT;
        return 0;
}

static int caps_from_env(struct json_object *config, const char **ret) {
        struct json_object *process, *env;
        if (!json_object_object_get_ex(config, "process", &process) ||
            !json_object_object_get_ex(process, "env", &env) ||
            !json_object_is_type(env, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(env); i++) {
                struct json_object *e = json_object_array_get_idx(env, i);
                if (!json_object_is_type(e, json_type_string))
                        return log_error_errno(-EBADMSG,
                                               "config.json: process.env[%zu] is not a string", i);
                const char *v = startswith(json_object_get_string(e), GJ_ENV_CAPS "=");
                if (v)
                        *ret = v; /* the last one wins, as in getenv() after execve() */
        }
        return 0;
}

int gj_driver_caps_from_config(struct json_object *config, unsigned *ret) {
        struct json_object *annotations, *v;
        const char *text = NULL;
        if (json_object_object_get_ex(config, "annotations", &annotations) &&
            json_object_object_get_ex(annotations, GJ_ANNOTATION_CAPS, &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return log_error_errno(-EBADMSG,
                                               "config.json: annotation %s is not a string",
                                               GJ_ANNOTATION_CAPS);
                text = json_object_get_string(v);
        } else {
                int r = caps_from_env(config, &text);
                if (r < 0)
                        return r;
        }
        return gj_driver_caps_parse(text, ret);
}

char *gj_driver_caps_format(unsigned caps) {
        _cleanup_strbuf_ struct strbuf b = { 0 };
        for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
                if (caps & (1u << i))
                        strbuf_printf(&b, "%s%s", b.len ? "," : "", cap_names[i]);
        return strbuf_steal(&b);
}

void gj_driver_plan_done(struct gj_driver_plan *p) {
        for (size_t i = 0; i < p->n_files; i++) {
                free(p->files[i].host_path);
                free(p->files[i].path);
                free(p->files[i].soname);
        }
        free(p->files);
        free(p->version);
        *p = (struct gj_driver_plan){ 0 };
}

/* The real path of a host path, without the test root; NULL (errno) if it does not resolve. */
static char *host_realpath(const struct gj_driver_host *host, const char *path) {
        if (isempty(host->root))
                return realpath(path, NULL);
        _cleanup_free_ char *full = strprintf("%s%s", host->root, path);
        _cleanup_free_ char *real = full ? realpath(full, NULL) : NULL;
        if (!real)
                return NULL;
        const char *rel = startswith(real, host->root);
        if (!rel || (*rel != '/' && *rel)) {
                errno = EXDEV;
                return NULL;
        }
        return strdup(*rel ? rel : "/");
}

static int host_lstat(const struct gj_driver_host *host, const char *path, struct stat *st) {
        _cleanup_free_ char *full = strprintf("%s%s", host->root ?: "", path);
        if (!full)
                return -ENOMEM;
        return lstat(full, st) < 0 ? -errno : 0;
}

static bool plan_has(const struct gj_driver_plan *p, const char *host_path) {
        for (size_t i = 0; i < p->n_files; i++)
                if (streq(p->files[i].host_path, host_path))
                        return true;
        return false;
}

/* Takes host_path, path and soname, even on failure. */
static int plan_add(struct gj_driver_plan *p, enum gj_driver_file_kind kind, char *host_path,
                    char *path, char *soname) {
        _cleanup_free_ char *h = host_path, *in = path, *so = soname;
        if (!h || (!in && kind >= GJ_DRIVER_BIN) || (!so && kind <= GJ_DRIVER_LIB32))
                return -ENOMEM;
        struct gj_driver_file *f = reallocarray(p->files, p->n_files + 1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        p->files = f;
        f[p->n_files++] = (struct gj_driver_file){
                .kind = kind, .host_path = TAKE_PTR(h), .path = TAKE_PTR(in), .soname = TAKE_PTR(so)
        };
        return 0;
}

const char *gj_driver_file_kind_name(enum gj_driver_file_kind kind) {
        static const char *const names[] = {
                [GJ_DRIVER_LIB] = "library", [GJ_DRIVER_LIB32] = "library32",
                [GJ_DRIVER_BIN] = "binary",  [GJ_DRIVER_FIRMWARE] = "firmware",
                [GJ_DRIVER_IPC] = "ipc",
        };
        return (size_t)kind < ELEMENTSOF(names) ? names[kind] : "?";
}

const char *gj_driver_file_version(const char *path) {
        const char *base = strrchr(path, '/');
        const char *so = strstr(base ? base + 1 : path, ".so.");
        return so ? so + 4 : NULL;
}

/* Every cache key starting with prefix, with flags: its file, if it is the module's version. */
static int add_libs_of(const struct gj_driver_host *host, const char *prefix, int32_t flags,
                       bool lib32, struct gj_driver_plan *p) {
        const struct gj_ldcache *c = host->ldcache;
        bool found = false;
        for (size_t i = 0; i < c->n_entries; i++) {
                const struct gj_ldcache_entry *e = &c->entries[i];
                if (e->flags != flags || e->hwcap != 0 || !startswith(e->key, prefix))
                        continue;
                _cleanup_free_ char *real = host_realpath(host, e->value);
                if (!real) {
                        log_warning(
                                "the host's ld.so.cache names %s for %s, which does not resolve: %m",
                                e->value, e->key);
                        continue;
                }
                const char *v = gj_driver_file_version(real);
                if (!v || !strchr(v, '.'))
                        continue; /* libfoo.so.1 that is not NVIDIA's versioned file: not the driver's */
                if (!streq(v, host->version))
                        return log_error_errno(
                                -ENOEXEC,
                                "%s on the host is %s, of driver version %s, but the loaded "
                                "NVIDIA module is version %s: reinstall the driver's userspace "
                                "(or reboot into the new module), then run ldconfig",
                                e->key, real, v, host->version);
                found = true;
                if (plan_has(p, real))
                        continue;
                int r = plan_add(p, lib32 ? GJ_DRIVER_LIB32 : GJ_DRIVER_LIB, TAKE_PTR(real), NULL,
                                 strdup(e->key));
                if (r < 0)
                        return r;
        }
        if (!found)
                log_warning("missing %slibrary %s* of driver %s on the host: not injected",
                            lib32 ? "compat32 " : "", prefix, host->version);
        return 0;
}

static int add_bin(const struct gj_driver_host *host, const char *name, struct gj_driver_plan *p) {
        for (size_t i = 0; i < ELEMENTSOF(bin_dirs); i++) {
                _cleanup_free_ char *path = strprintf("%s/%s", bin_dirs[i], name);
                if (!path)
                        return -ENOMEM;
                _cleanup_free_ char *real = host_realpath(host, path);
                struct stat st;
                if (!real || host_lstat(host, real, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (plan_has(p, real))
                        return 0;
                return plan_add(p, GJ_DRIVER_BIN, TAKE_PTR(real), strprintf("/usr/bin/%s", name),
                                NULL);
        }
        log_debug("no %s on the host: not injected", name);
        return 0;
}

/* GSP firmware: /lib/firmware/nvidia/<version>/gsp*.bin, at the same path inside. */
static int add_firmware(const struct gj_driver_host *host, struct gj_driver_plan *p) {
        _cleanup_free_ char *dir = strprintf("/lib/firmware/nvidia/%s", host->version);
        _cleanup_free_ char *full = strprintf("%s%s", host->root ?: "", dir ?: "");
        if (!dir || !full)
                return -ENOMEM;
        _cleanup_closedir_ DIR *d = opendir(full);
        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (fnmatch("gsp*.bin", de->d_name, 0) != 0)
                        continue;
                _cleanup_free_ char *path = strprintf("%s/%s", dir, de->d_name);
                _cleanup_free_ char *real = path ? host_realpath(host, path) : NULL;
                struct stat st;
                if (!real || host_lstat(host, real, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                int r = plan_add(p, GJ_DRIVER_FIRMWARE, TAKE_PTR(real), TAKE_PTR(path), NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_ipcs(const struct gj_driver_host *host, unsigned caps, struct gj_driver_plan *p) {
        for (size_t i = 0; i < ELEMENTSOF(ipcs); i++) {
                struct stat st;
                if (!(caps & ipcs[i].caps) || host_lstat(host, ipcs[i].path, &st) < 0 ||
                    (st.st_mode & S_IFMT) != ipcs[i].type)
                        continue;
                int r = plan_add(p, GJ_DRIVER_IPC, strdup(ipcs[i].path), strdup(ipcs[i].path),
                                 NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Has the host any library of this driver version? A module without its
 * userspace (a driver container keeps it elsewhere) is not an error: then
 * nothing is planned, and no warning per library. */
static bool host_has_driver_libs(const struct gj_driver_host *host) {
        const struct gj_ldcache *c = host->ldcache;
        for (size_t i = 0; i < c->n_entries; i++) {
                const struct gj_ldcache_entry *e = &c->entries[i];
                if (e->flags != GJ_LDCACHE_FLAGS_NATIVE ||
                    (!startswith(e->key, "libcuda.so") && !startswith(e->key, "libnvidia-")))
                        continue;
                _cleanup_free_ char *real = host_realpath(host, e->value);
                if (real && streq_ptr(gj_driver_file_version(real), host->version))
                        return true;
        }
        return false;
}

static int build(const struct gj_driver_host *host, unsigned caps, struct gj_driver_plan *p) {
        int r;
        p->caps = caps;
        if (!(p->version = strdup(host->version)))
                return -ENOMEM;
        if (!host_has_driver_libs(host)) {
                log_debug(
                        "no library of NVIDIA driver %s in the host's ld.so.cache: no driver userspace injected",
                        host->version);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(cap_lists); i++) {
                const struct cap_lists *l = &cap_lists[i];
                if (!(caps & l->caps))
                        continue;
                for (const char *const *lib = l->libs; lib && *lib; lib++) {
                        if ((r = add_libs_of(host, *lib, GJ_LDCACHE_FLAGS_NATIVE, false, p)) < 0)
                                return r;
                        if ((caps & GJ_DRIVER_CAP_COMPAT32) && GJ_LDCACHE_FLAGS_32 != -1 &&
                            (r = add_libs_of(host, *lib, GJ_LDCACHE_FLAGS_32, true, p)) < 0)
                                return r;
                }
                for (const char *const *bin = l->bins; bin && *bin; bin++)
                        if ((r = add_bin(host, *bin, p)) < 0)
                                return r;
        }
        if ((r = add_firmware(host, p)) < 0)
                return r;
        return add_ipcs(host, caps, p);
}

int gj_driver_plan_build(const struct gj_driver_host *host, unsigned caps,
                         struct gj_driver_plan *ret) {
        struct gj_driver_plan p = { 0 };
        int r = build(host, caps, &p);
        if (r < 0) {
                gj_driver_plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

/* What keep_driver_key() looks keys up in, built once from the lists: which fourth
 * characters a driver name can have ("lib" + 'n', 'c', 'v', 'G', 'E'), and the
 * names, sorted for bsearch() (room for the lists' NULLs too). */
static struct {
        bool ready;
        bool fourth[UCHAR_MAX + 1];
        const char *names[ELEMENTSOF(utility_libs) + ELEMENTSOF(compute_libs) +
                          ELEMENTSOF(video_libs) + ELEMENTSOF(graphics_libs) + ELEMENTSOF(ngx_libs)];
        size_t n_names;
} driver_libs;

static void driver_libs_init(void) {
        driver_libs.fourth['c'] = driver_libs.fourth['n'] = true; /* libcuda.so, libnvidia- */
        for (size_t i = 0; i < ELEMENTSOF(cap_lists); i++)
                for (const char *const *lib = cap_lists[i].libs; lib && *lib; lib++) {
                        driver_libs.fourth[(unsigned char)(*lib)[3]] = true;
                        driver_libs.names[driver_libs.n_names++] = *lib;
                }
        qsort(driver_libs.names, driver_libs.n_names, sizeof(*driver_libs.names), strcmp_ptr);
        driver_libs.ready = true;
}

/* bsearch() key: a cache key's stem, "libEGL_nvidia.so" of "libEGL_nvidia.so.0". */
struct stem {
        const char *s;
        size_t len;
};

static int stem_cmp(const void *key, const void *name) {
        const struct stem *st = key;
        const char *n = *(const char *const *)name;
        int c = strncmp(st->s, n, st->len);
        return c ? c : -(unsigned char)n[st->len];
}

/* Could build() look key up? A list's library (each name is a stem ending in ".so":
 * build() takes "libX.so" and "libX.so.*"), or host_has_driver_libs()'s. */
static bool is_driver_lib(const char *key) {
        if (startswith(key, "libcuda.so") || startswith(key, "libnvidia-"))
                return true;
        const char *so = strstr(key, ".so");
        if (!so)
                return false;
        struct stem st = { key, so + strlen(".so") - key };
        return bsearch(&st, driver_libs.names, driver_libs.n_names, sizeof(*driver_libs.names),
                       stem_cmp);
}

/* The host cache's entries worth copying: a host has ~1,000 libraries, the
 * driver a few dozen. Only a key whose fourth character can start a driver's
 * name is looked up. */
static bool keep_driver_key(const char *key) {
        if (!driver_libs.ready)
                driver_libs_init();
        return startswith(key, "lib") && driver_libs.fourth[(unsigned char)key[3]] &&
               is_driver_lib(key);
}

/* The loaded module's version from /proc/driver/nvidia/version: 1 and *ret, 0 when no
 * module is loaded (no such file), or a negative errno, logged. */
static int read_loaded_version(char **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file("/proc/driver/nvidia/version", &text, NULL, 64 * 1024);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "cannot read /proc/driver/nvidia/version: %m");
        if ((r = gj_nvidia_version_parse(text, ret)) < 0)
                return log_error_errno(r, "no version in /proc/driver/nvidia/version: %m");
        return 1;
}

int gj_driver_plan_host(const char *loaded_version, unsigned caps, struct gj_driver_plan *ret) {
        _cleanup_free_ char *read_version = NULL;
        const char *version = loaded_version;
        int r;
        if (!version) {
                if ((r = read_loaded_version(&read_version)) <= 0) {
                        *ret = (struct gj_driver_plan){ 0 };
                        return r;
                }
                version = read_version;
        }
        void *cache;
        size_t len;
        if ((r = map_full_file("/etc/ld.so.cache", GJ_LDCACHE_MAX, &cache, &len)) < 0)
                return log_error_errno(
                        r, "cannot read the host's /etc/ld.so.cache (run ldconfig): %m");
        struct gj_ldcache c = { 0 };
        r = gj_ldcache_parse_matching(cache, len, keep_driver_key, &c);
        if (cache)
                munmap(cache, len);
        if (r < 0)
                return log_error_errno(r, "cannot parse the host's /etc/ld.so.cache: %m");
        r = gj_driver_plan_build(&(struct gj_driver_host){ .version = version, .ldcache = &c },
                                 caps, ret);
        gj_ldcache_done(&c);
        return r;
}

const char *gj_driver_lib_triplet_dir(bool lib32) {
        if (lib32)
                return "usr/lib/i386-linux-gnu";
#if defined(__x86_64__)
        return "usr/lib/x86_64-linux-gnu";
#elif defined(__aarch64__)
        return "usr/lib/aarch64-linux-gnu";
#elif defined(__powerpc64__)
        return "usr/lib/powerpc64le-linux-gnu";
#else
        return "usr/lib";
#endif
}

const char *gj_driver_lib_fallback_dir(bool lib32) { return lib32 ? "usr/lib32" : "usr/lib64"; }

const char *const *gj_driver_mount_options(const struct gj_driver_file *f) {
        static const char *const ro[] = { "ro", "nosuid", "nodev", "bind", NULL };
        static const char *const ro_noexec[] = { "ro", "nosuid", "nodev", "noexec", "bind", NULL };
        static const char *const ipc[] = { "nosuid", "nodev", "noexec", "bind", NULL };
        return f->kind == GJ_DRIVER_IPC ? ipc : f->kind == GJ_DRIVER_FIRMWARE ? ro_noexec : ro;
}

const char *gj_driver_container_path(const struct gj_driver_file *f) {
        return f->path ?: f->host_path;
}

const char *const gj_driver_hook_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

char **gj_driver_hook_args(const struct gj_driver_plan *p, const char *proc_gpus) {
        _cleanup_strv_free_ char **args = NULL;
        if (strv_push(&args, strdup("gpujail-hook")) < 0)
                return NULL;
        for (size_t i = 0; i < p->n_files; i++) {
                const struct gj_driver_file *f = &p->files[i];
                if (f->kind != GJ_DRIVER_LIB && f->kind != GJ_DRIVER_LIB32)
                        continue;
                if (strv_push(&args, strdup("--link")) < 0 ||
                    strv_push(&args, strprintf("%s=%s", f->soname, gj_driver_container_path(f))) <
                            0)
                        return NULL;
        }
        if (proc_gpus && strv_push(&args, strprintf("--proc-gpus=%s", proc_gpus)) < 0)
                return NULL;
        if (strv_push(&args, strdup("createContainer")) < 0)
                return NULL;
        return TAKE_PTR(args);
}
