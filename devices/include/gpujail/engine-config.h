/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `gpujail configure ENGINE`: the file edits that wire gpujail into a container
 * engine through the engine's own drop-in mechanisms (devices/engine-config.c).
 *
 * Pure: the planner reads the files it edits through a callback and returns
 * the whole new content of each file it would change; the caller (cli/
 * cmd-configure.c) prefixes --root, writes atomically, and prints. Every
 * edit keeps the bytes it does not need to touch, and planning against the
 * result of a plan changes nothing (idempotent).
 *
 *   engine      files                                               needs
 *   podman      /etc/containers/oci/hooks.d/gpujail.json            podman >= 4.1
 *   crio        /usr/share/containers/oci/hooks.d/gpujail.json,      CRI-O >= 1.24
 *               /etc/crio/crio.conf.d/50-gpujail.conf (runtime handler "gpujail")
 *   containerd  /etc/containerd/conf.d/gpujail.toml (CDI, handler),  >= 1.7 (CDI), >= 1.6 (--no-cdi)
 *               its path in /etc/containerd/config.toml's `imports`
 *   docker      /etc/docker/daemon.json: features.cdi, runtimes.gpujail;   >= 25 (CDI)
 *               the file as it was in daemon.json.gpujail-backup
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

enum gj_engine {
        GJ_ENGINE_PODMAN,
        GJ_ENGINE_CRIO,
        GJ_ENGINE_CONTAINERD,
        GJ_ENGINE_DOCKER,
        _GJ_ENGINE_MAX,
};

/* "podman", "crio", "containerd", "docker"; the name a user types. */
const char *gj_engine_name(enum gj_engine e);
/* The program whose --version tells the engine's version ("dockerd" for docker). */
const char *gj_engine_program(enum gj_engine e);
/* The engine for a name ("cri-o" too); -EINVAL (not logged) for anything else. */
int gj_engine_from_name(const char *name);

struct gj_version {
        unsigned major, minor, patch;
};
/* The first word of `text` (an engine's --version output, or a version the user
 * gave) that reads [v]N.N[.N], e.g. "containerd github.com/containerd/containerd
 * v1.7.2 hash", "Docker version 25.0.3, build 4debf41", "crio version 1.28.1".
 * -EBADMSG (not logged) when there is none. */
int gj_version_parse(const char *text, struct gj_version *ret);
int gj_version_cmp(const struct gj_version *a, const struct gj_version *b);

struct gj_configure_opts {
        enum gj_engine engine;
        struct gj_version version; /* the engine's; not looked at for undo */
        bool undo;
        bool no_cdi;              /* containerd, docker: register the runtime wrapper only */
        bool always;              /* podman, crio: the hook for every container (NVIDIA_VISIBLE_DEVICES) */
        const char *hook_path;    /* gpujail-hook as the engine will exec it */
        const char *runtime_path; /* gpujail-runc, the runtime wrapper, likewise */
};

enum gj_edit_action {
        GJ_EDIT_KEEP,   /* already as it should be */
        GJ_EDIT_WRITE,  /* replace or create with content */
        GJ_EDIT_REMOVE, /* delete the file */
};

struct gj_edit {
        enum gj_edit_action action;
        char *path;    /* absolute, on the engine's host (the caller prefixes --root) */
        char *content; /* GJ_EDIT_WRITE: the whole new file */
        mode_t mode;   /* GJ_EDIT_WRITE: for a new file; an existing one keeps its own */
        char *what;    /* one line for the user: what this edit does or why nothing is done */
};

struct gj_config_plan {
        struct gj_edit *edits; /* in the order they must be applied */
        size_t n_edits;
        char *restart; /* what makes the engine read it ("systemctl restart crio"), or NULL */
};

/* How the planner reads a file: 0 and *ret (malloc'ed, NUL-terminated), -ENOENT
 * when it does not exist, or another negative errno (logged by the reader). */
typedef int (*gj_config_read_fn)(const char *path, char **ret, void *userdata);

/* The edits for o. -EOPNOTSUPP (logged, with what to do instead) when the
 * engine's version cannot do what is asked; -EBADMSG (logged, naming the file)
 * for a file the planner cannot edit safely (malformed JSON, a multi-line
 * `imports`); a reader's error as is. */
int gj_configure_plan(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata,
                      struct gj_config_plan *ret);
void gj_config_plan_done(struct gj_config_plan *p);

/* The hooks.d document for the hook at hook_path: on the annotation gpujail.io/gpus,
 * or (always) for every container. */
struct json_object;
int gj_hooks_d_build(const char *hook_path, bool always, struct json_object **ret);

/* The TOML edits of containerd's config.toml, exposed for the unit test: add
 * `path` to the top-level `imports` (creating the key after `version` when it has
 * none), or take it out again (dropping the key when that empties it). *ret is
 * NULL when nothing changes. -EBADMSG (not logged) for an `imports` array that
 * spans lines. */
int gj_toml_imports_add(const char *text, const char *path, char **ret);
int gj_toml_imports_remove(const char *text, const char *path, char **ret);
