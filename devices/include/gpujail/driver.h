/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NVIDIA driver's userspace a container needs (devices/driver.c): which
 * host files, by capability (NVIDIA_DRIVER_CAPABILITIES), found in the host's
 * /etc/ld.so.cache and kept only when they belong to the loaded kernel module.
 *
 * Reads the host (the cache, realpath of what it names, stat of binaries,
 * firmware and sockets); changes nothing. Applying it is kernel/driver-inject.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gpujail/ldcache.h"

enum gj_driver_cap {
        GJ_DRIVER_CAP_COMPUTE = 1 << 0,
        GJ_DRIVER_CAP_UTILITY = 1 << 1,
        GJ_DRIVER_CAP_VIDEO = 1 << 2,
        GJ_DRIVER_CAP_GRAPHICS = 1 << 3,
        GJ_DRIVER_CAP_DISPLAY = 1 << 4,
        GJ_DRIVER_CAP_NGX = 1 << 5,
        GJ_DRIVER_CAP_COMPAT32 = 1 << 6,
        GJ_DRIVER_CAP_ALL = (1 << 7) - 1,
};
#define GJ_DRIVER_CAPS_DEFAULT (GJ_DRIVER_CAP_UTILITY | GJ_DRIVER_CAP_COMPUTE)

/* "compute,utility", "all", ... (NVIDIA_DRIVER_CAPABILITIES). NULL or "" is the
 * default, utility,compute; "none" (gpujail's) is 0: no driver userspace. An
 * unknown word is -EINVAL, logged with the list of known ones. */
int gj_driver_caps_parse(const char *text, unsigned *ret);

#define GJ_ANNOTATION_CAPS "gpujail.io/capabilities"
#define GJ_ENV_CAPS "NVIDIA_DRIVER_CAPABILITIES"
/* The capabilities a container's config.json asks for: the annotation
 * gpujail.io/capabilities, else the last NVIDIA_DRIVER_CAPABILITIES in
 * process.env, else the default. -EINVAL (logged) for an unknown word,
 * -EBADMSG (logged) for a value that is not a string. */
struct json_object;
int gj_driver_caps_from_config(struct json_object *config, unsigned *ret);
/* "compute,utility": the canonical spelling of caps (malloc'ed; NULL on OOM). */
char *gj_driver_caps_format(unsigned caps);

enum gj_driver_file_kind {
        GJ_DRIVER_LIB,      /* into the container's library directory */
        GJ_DRIVER_LIB32,    /* into its 32-bit one (compat32) */
        GJ_DRIVER_BIN,      /* /usr/bin/<name> */
        GJ_DRIVER_FIRMWARE, /* at its host path, read-only */
        GJ_DRIVER_IPC,      /* a socket or the MPS pipe directory, at its host path, writable */
};

/* "library", "library32", "binary", "firmware", "ipc" (plan output, docs/driver.md). */
const char *gj_driver_file_kind_name(enum gj_driver_file_kind kind);

struct gj_driver_file {
        enum gj_driver_file_kind kind;
        char *host_path; /* the real file on the host (no symlink in it) */
        char *path;      /* in the container; NULL for libraries: the image decides the directory */
        char *soname;    /* libraries: the SONAME link to make ("libcuda.so.1"); else NULL */
};

struct gj_driver_plan {
        char *version; /* the loaded module's, "550.54.15"; NULL: no driver userspace planned */
        unsigned caps;
        struct gj_driver_file *files;
        size_t n_files;
};

struct gj_driver_host {
        const char *root;    /* where the host's "/" is; NULL: "/" (tests: a directory) */
        const char *version; /* of the loaded module (/proc/driver/nvidia/version) */
        const struct gj_ldcache *ldcache; /* the host's /etc/ld.so.cache, parsed */
};

/*
 * The files for caps. Libraries are looked up by SONAME prefix in the host
 * cache; one whose file's version suffix differs from the module's is an
 * error (-ENOEXEC, logged naming the library and both versions); a library
 * that is not there is a warning naming it, and the rest are planned.
 * Binaries, firmware and sockets that are absent are left out (debug log).
 * -ENOMEM. On error *ret is empty.
 */
int gj_driver_plan_build(const struct gj_driver_host *host, unsigned caps,
                         struct gj_driver_plan *ret);
void gj_driver_plan_done(struct gj_driver_plan *p);

/*
 * The same from this host: /etc/ld.so.cache and the loaded module's version,
 * loaded_version where the caller has it (the inventory read it:
 * inv->nvidia_driver_version), else read from /proc/driver/nvidia/version
 * here. No NVIDIA module loaded (no version file): 0 and an empty plan. An
 * unreadable or broken cache: -EBADMSG etc., logged.
 */
int gj_driver_plan_host(const char *loaded_version, unsigned caps, struct gj_driver_plan *ret);

/* "libcuda.so.550.54.15" -> "550.54.15" (a pointer into path); NULL when the
 * file name has no ".so.". */
const char *gj_driver_file_version(const char *path);

/* What a spec (CDI, config.json) says for a planned file: the mount options
 * ("ro", "nosuid", "nodev", [ "noexec",] "bind"; sockets and the MPS
 * directory writable), and its path in the container (a library: its host
 * path, whose directory the hook then enters in the image's cache). */
const char *const *gj_driver_mount_options(const struct gj_driver_file *f);
const char *gj_driver_container_path(const struct gj_driver_file *f);
/* The args of the createContainer hook that gives a spec's libraries their
 * links and cache entries: "gpujail-hook", "--link", "SONAME=PATH", ...,
 * ["--proc-gpus=BUS,...",] "createContainer". proc_gpus: the PCI bus ids
 * whose /proc/driver/nvidia/gpus entry the container keeps, comma-separated
 * ("" for none), when the caller knows its GPUs (oci inject, runtime); NULL
 * leaves /proc alone (a CDI spec's hook, shared by every device). NULL-
 * terminated, malloc'ed; NULL on OOM. */
char **gj_driver_hook_args(const struct gj_driver_plan *p, const char *proc_gpus);
/* That hook's own env: never the image's (see gpujail-hook --help). */
extern const char *const gj_driver_hook_env[];

/* The libraries' SONAME links' directory in an image: "usr/lib/<triplet>"
 * when the image has it (Debian-like), else "usr/lib64". 32-bit: with
 * "usr/lib/i386-linux-gnu" / "usr/lib32". */
const char *gj_driver_lib_triplet_dir(bool lib32);
const char *gj_driver_lib_fallback_dir(bool lib32);
