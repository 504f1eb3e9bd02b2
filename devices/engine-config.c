/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edits of `gpujail configure ENGINE` (engine-config.h). Pure: files come
 * in through a reader and go out as whole new contents. Files gpujail owns
 * (hooks.d JSON, drop-ins) are written whole and removed on undo; files the
 * engine's admin owns (config.toml, daemon.json) are edited in place, keeping
 * every byte or key that is not gpujail's.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <json-c/json.h>

#include "gpujail/engine-config.h"
#include "gpujail/json-util.h"
#include "gpujail/oci-config.h"
#include "gpujail/util.h"

#define HOOKS_D_ETC "/etc/containers/oci/hooks.d/gpujail.json"
#define HOOKS_D_USR "/usr/share/containers/oci/hooks.d/gpujail.json"
#define CRIO_DROPIN "/etc/crio/crio.conf.d/50-gpujail.conf"
#define CONTAINERD_CONFIG "/etc/containerd/config.toml"
#define CONTAINERD_DROPIN "/etc/containerd/conf.d/gpujail.toml"
#define DOCKER_CONFIG "/etc/docker/daemon.json"
#define DOCKER_BACKUP DOCKER_CONFIG ".gpujail-backup"
/* The annotations the runtime wrapper reads; engines pass them on only when listed. */
#define ANNOTATIONS_TOML "[\"gpujail.io/gpus\", \"cdi.k8s.io/*\"]"

static const char *const engine_names[_GJ_ENGINE_MAX] = {
        [GJ_ENGINE_PODMAN] = "podman",
        [GJ_ENGINE_CRIO] = "crio",
        [GJ_ENGINE_CONTAINERD] = "containerd",
        [GJ_ENGINE_DOCKER] = "docker",
};

const char *gj_engine_name(enum gj_engine e) { return e < _GJ_ENGINE_MAX ? engine_names[e] : NULL; }

const char *gj_engine_program(enum gj_engine e) {
        return e == GJ_ENGINE_DOCKER ? "dockerd" : gj_engine_name(e);
}

int gj_engine_from_name(const char *name) {
        if (streq(name, "cri-o"))
                return GJ_ENGINE_CRIO;
        for (size_t i = 0; i < ELEMENTSOF(engine_names); i++)
                if (streq(name, engine_names[i]))
                        return (int)i;
        return -EINVAL;
}

/* ---- versions ---- */

/* "N.N[.N]" at s, optionally after a 'v', ending at a non-digit that is not '.'. */
static int version_word(const char *s, struct gj_version *ret) {
        unsigned v[3] = { 0, 0, 0 };
        size_t n = 0;
        if (*s == 'v')
                s++;
        while (n < 3 && isdigit((unsigned char)*s)) {
                char *end;
                unsigned long x = strtoul(s, &end, 10);
                if (x > 100000)
                        return -EBADMSG;
                v[n++] = (unsigned)x;
                s = end;
                if (*s != '.' || !isdigit((unsigned char)s[1]))
                        break;
                s++;
        }
        if (n < 2)
                return -EBADMSG;
        *ret = (struct gj_version){ v[0], v[1], v[2] };
        return 0;
}

int gj_version_parse(const char *text, struct gj_version *ret) {
        for (const char *p = text; *p; p++) {
                /* A word starts after a space or a line start; "v1.7.2" and "1.7.2" only. */
                if (p != text && !isspace((unsigned char)p[-1]))
                        continue;
                if (version_word(p, ret) >= 0)
                        return 0;
        }
        return -EBADMSG;
}

int gj_version_cmp(const struct gj_version *a, const struct gj_version *b) {
        if (a->major != b->major)
                return a->major < b->major ? -1 : 1;
        if (a->minor != b->minor)
                return a->minor < b->minor ? -1 : 1;
        if (a->patch != b->patch)
                return a->patch < b->patch ? -1 : 1;
        return 0;
}

/* -EOPNOTSUPP, logged with what the user can do, when the engine is older than need. */
static int require_version(const struct gj_configure_opts *o, unsigned major, unsigned minor,
                           const char *feature, const char *instead) {
        struct gj_version need = { major, minor, 0 };
        if (gj_version_cmp(&o->version, &need) >= 0)
                return 0;
        return log_error_errno(-EOPNOTSUPP, "%s %u.%u.%u cannot do what gpujail needs: %s needs %s >= %u.%u; %s",
                               gj_engine_name(o->engine), o->version.major, o->version.minor, o->version.patch,
                               feature, gj_engine_name(o->engine), major, minor, instead);
}

/* ---- the plan ---- */

static void edit_done(struct gj_edit *e) {
        free(e->path);
        free(e->content);
        free(e->what);
}

void gj_config_plan_done(struct gj_config_plan *p) {
        for (size_t i = 0; i < p->n_edits; i++)
                edit_done(&p->edits[i]);
        free(p->edits);
        free(p->restart);
        *p = (struct gj_config_plan){ 0 };
}

/* Append an edit; takes content and what, also on failure. */
static int plan_add(struct gj_config_plan *p, enum gj_edit_action action, const char *path, char *content,
                    mode_t mode, char *what) {
        struct gj_edit e = { action, strdup(path), content, mode, what };
        if (!e.path || !what || (action == GJ_EDIT_WRITE && !content)) {
                edit_done(&e);
                return -ENOMEM;
        }
        struct gj_edit *n = realloc(p->edits, (p->n_edits + 1) * sizeof(*n));
        if (!n) {
                edit_done(&e);
                return -ENOMEM;
        }
        p->edits = n;
        p->edits[p->n_edits++] = e;
        return 0;
}

/* Read path; *ret NULL when it does not exist. */
static int read_optional(gj_config_read_fn read, void *userdata, const char *path, char **ret) {
        *ret = NULL;
        int r = read(path, ret, userdata);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* A file that is gpujail's alone: written whole, removed on undo. Takes content. */
static int plan_owned_file(gj_config_read_fn read, void *userdata, bool undo, const char *path, char *content,
                           const char *what, struct gj_config_plan *p) {
        _cleanup_free_ char *owned = content, *cur = NULL;
        int r = read_optional(read, userdata, path, &cur);
        if (r < 0)
                return r;
        if (undo)
                return cur ? plan_add(p, GJ_EDIT_REMOVE, path, NULL, 0, strprintf("remove %s", what))
                           : plan_add(p, GJ_EDIT_KEEP, path, NULL, 0, strprintf("no %s to remove", what));
        if (cur && streq(cur, content))
                return plan_add(p, GJ_EDIT_KEEP, path, NULL, 0, strprintf("%s already in place", what));
        return plan_add(p, GJ_EDIT_WRITE, path, TAKE_PTR(owned), 0644,
                        strprintf("%s %s", cur ? "replace" : "create", what));
}

/* ---- hooks.d: podman, CRI-O ---- */

static int hooks_when(bool always, struct json_object *when) {
        if (always)
                return gj_json_add(when, "always", json_object_new_boolean(1));
        /* One pattern: podman and CRI-O want every pattern of "annotations" to match
         * (there is no "or" in hooks 1.0.0). CDI requests need no hook: the engine
         * reads the spec itself. */
        struct json_object *ann = json_object_new_object();
        int r = gj_json_add(when, "annotations", ann);
        if (r < 0)
                return r;
        return gj_json_add(ann, "^gpujail\\.io/gpus$", json_object_new_string(".*"));
}

static struct json_object *string_array(const char *const *v, size_t n) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++)
                if (gj_json_append(a, json_object_new_string(v[i])) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

int gj_hooks_d_build(const char *hook_path, bool always, struct json_object **ret) {
        /* Its own env: never the runtime's, which for createContainer is the image's. */
        static const char *const args[] = { "gpujail-hook", "createRuntime" };
        static const char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin" };
        static const char *const stages[] = { "createRuntime" };
        _cleanup_json_ struct json_object *doc = json_object_new_object();
        struct json_object *hook = json_object_new_object(), *when = json_object_new_object();
        int r = doc ? 0 : -ENOMEM;
        if (r >= 0)
                r = gj_json_add(doc, "version", json_object_new_string("1.0.0"));
        if (r >= 0)
                r = gj_json_add(doc, "hook", TAKE_PTR(hook));
        if (r >= 0)
                r = gj_json_add(doc, "when", TAKE_PTR(when));
        json_object_put(hook);
        json_object_put(when);
        if (r >= 0)
                r = gj_json_add(doc, "stages", string_array(stages, ELEMENTSOF(stages)));
        if (r < 0)
                return r;
        hook = json_object_object_get(doc, "hook");
        r = gj_json_add(hook, "path", json_object_new_string(hook_path));
        if (r >= 0)
                r = gj_json_add(hook, "args", string_array(args, ELEMENTSOF(args)));
        if (r >= 0)
                r = gj_json_add(hook, "env", string_array(env, ELEMENTSOF(env)));
        if (r >= 0)
                r = gj_json_add(hook, "timeout", json_object_new_int(10));
        if (r >= 0)
                r = hooks_when(always, json_object_object_get(doc, "when"));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(doc);
        return 0;
}

static char *json_text(struct json_object *o) {
        return strprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int plan_hooks_d(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata, const char *path,
                        struct gj_config_plan *p) {
        _cleanup_json_ struct json_object *doc = NULL;
        int r = gj_hooks_d_build(o->hook_path, o->always, &doc);
        if (r < 0)
                return r;
        char *content = json_text(doc);
        if (!content)
                return -ENOMEM;
        return plan_owned_file(read, userdata, o->undo, path, content,
                               o->always ? "the hooks.d entry for gpujail-hook (every container)"
                                         : "the hooks.d entry for gpujail-hook (on gpujail's annotations)",
                               p);
}

static int plan_podman(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata,
                       struct gj_config_plan *p) {
        if (!o->undo) {
                int r = require_version(o, 4, 1, "the createRuntime hook from hooks.d",
                                        "upgrade podman (gpujail is tested with 4.3)");
                if (r < 0)
                        return r;
        }
        /* podman reads /etc's hooks.d over /usr/share's, at each run: nothing to restart. */
        return plan_hooks_d(o, read, userdata, HOOKS_D_ETC, p);
}

static int plan_crio(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata,
                     struct gj_config_plan *p) {
        if (!o->undo) {
                int r = require_version(o, 1, 24, "CDI and crio.conf.d drop-ins as gpujail writes them",
                                        "upgrade CRI-O");
                if (r < 0)
                        return r;
        }
        /* CRI-O's default hooks_dir is /usr/share's alone. */
        int r = plan_hooks_d(o, read, userdata, HOOKS_D_USR, p);
        if (r < 0)
                return r;
        char *dropin = strprintf(
                "# Written by `gpujail configure crio`; `gpujail configure crio --undo` removes it.\n"
                "# The runtime wrapper as the RuntimeClass handler \"gpujail\". CRI-O reads CDI specs\n"
                "# from /etc/cdi and /var/run/cdi by default, and gpujail-hook from hooks.d.\n"
                "[crio.runtime.runtimes.gpujail]\n"
                "runtime_path = \"%s\"\n"
                "runtime_type = \"oci\"\n"
                "runtime_root = \"/run/runc\"\n"
                "allowed_annotations = " ANNOTATIONS_TOML "\n",
                o->runtime_path);
        if (!dropin)
                return -ENOMEM;
        r = plan_owned_file(read, userdata, o->undo, CRIO_DROPIN, dropin,
                            "the crio.conf.d drop-in (runtime handler gpujail)", p);
        if (r < 0)
                return r;
        p->restart = strdup("systemctl restart crio");
        return p->restart ? 0 : -ENOMEM;
}

/* ---- containerd: a drop-in, and its path in config.toml's imports ---- */

static const char *line_end(const char *l) {
        const char *e = strchr(l, '\n');
        return e ? e + 1 : l + strlen(l);
}

/* Does the line set key (`key = ...`)? */
static bool line_sets(const char *l, const char *key) {
        l += strspn(l, " \t");
        const char *k = startswith(l, key);
        if (!k)
                return false;
        k += strspn(k, " \t");
        return *k == '=';
}

/* The line of a top-level key: before the first [table]; NULL when none. */
static const char *toml_top_key(const char *text, const char *key) {
        for (const char *l = text; *l; l = line_end(l)) {
                if (l[strspn(l, " \t")] == '[')
                        return NULL;
                if (line_sets(l, key))
                        return l;
        }
        return NULL;
}

/* text with [from, to) replaced by with. */
static char *splice(const char *text, const char *from, const char *to, const char *with) {
        return strprintf("%.*s%s%s", (int)(from - text), text, with, to);
}

/* The `[...]` of an imports line: the positions of '[' and ']'. -EBADMSG when it
 * does not close on that line. */
static int imports_brackets(const char *line, const char *end, const char **ret_open, const char **ret_close) {
        const char *open = memchr(line, '[', (size_t)(end - line)), *close = NULL;
        for (const char *c = end; open && c > open; c--)
                if (c[-1] == ']') {
                        close = c - 1;
                        break;
                }
        if (!open || !close)
                return -EBADMSG;
        *ret_open = open;
        *ret_close = close;
        return 0;
}

/* Is path one of the array's items, or matched by a glob item? */
static bool imports_cover(const char *open, const char *close, const char *path) {
        for (const char *q = open; q < close; q++) {
                if (*q != '"' && *q != '\'')
                        continue;
                const char *e = memchr(q + 1, *q, (size_t)(close - q - 1));
                if (!e)
                        return false;
                _cleanup_free_ char *item = strndup(q + 1, (size_t)(e - q - 1));
                if (item && fnmatch(item, path, FNM_PATHNAME) == 0)
                        return true;
                q = e;
        }
        return false;
}

int gj_toml_imports_add(const char *text, const char *path, char **ret) {
        *ret = NULL;
        const char *l = toml_top_key(text, "imports");
        if (!l) {
                /* After `version = N` (or first): imports is a top-level key. */
                const char *v = toml_top_key(text, "version");
                const char *at = v ? line_end(v) : text;
                bool nl = at > text && at[-1] != '\n';
                *ret = strprintf("%.*s%simports = [\"%s\"]\n%s", (int)(at - text), text, nl ? "\n" : "", path, at);
                return *ret ? 0 : -ENOMEM;
        }
        const char *end = line_end(l), *open, *close;
        int r = imports_brackets(l, end, &open, &close);
        if (r < 0)
                return r;
        if (imports_cover(open, close, path))
                return 0;
        const char *last = close;
        while (last > open + 1 && isspace((unsigned char)last[-1]))
                last--;
        const char *sep = last == open + 1 ? "" : last[-1] == ',' ? " " : ", ";
        _cleanup_free_ char *item = strprintf("%s\"%s\"", sep, path);
        if (!item)
                return -ENOMEM;
        *ret = splice(text, last, last, item);
        return *ret ? 0 : -ENOMEM;
}

int gj_toml_imports_remove(const char *text, const char *path, char **ret) {
        *ret = NULL;
        const char *l = toml_top_key(text, "imports");
        if (!l)
                return 0;
        const char *end = line_end(l), *open, *close;
        int r = imports_brackets(l, end, &open, &close);
        if (r < 0)
                return r;
        _cleanup_free_ char *quoted = strprintf("\"%s\"", path);
        if (!quoted)
                return -ENOMEM;
        const char *q = strstr(open, quoted);
        if (!q || q > close)
                return 0;
        const char *from = q, *to = q + strlen(quoted);
        const char *before = from;
        while (before > open + 1 && isspace((unsigned char)before[-1]))
                before--;
        if (before[-1] == ',')
                from = before - 1; /* `"a", "path"`: take ", path" */
        else {
                to += strspn(to, " \t"); /* `"path", "b"`: take "path, " */
                if (*to == ',')
                        to += 1 + strspn(to + 1, " \t");
        }
        /* Nothing left in the array: drop the whole line, as gpujail added it. */
        bool empty = true;
        for (const char *c = open + 1; c < close; c++)
                if ((c < from || c >= to) && !isspace((unsigned char)*c))
                        empty = false;
        *ret = empty ? splice(text, l, end, "") : splice(text, from, to, "");
        return *ret ? 0 : -ENOMEM;
}

/* What gpujail writes as config.toml when the host has none, before the imports line. */
static char *containerd_new_config(unsigned config_version) {
        return strprintf("# Created by `gpujail configure containerd` to import its drop-in; containerd's\n"
                         "# defaults apply to everything else.\n"
                         "version = %u\n",
                         config_version);
}

static int imports_refused(int r) {
        if (r != -EBADMSG)
                return r;
        return log_error_errno(r, "%s: its imports = [...] spans several lines; add or remove \"%s\" there by hand",
                               CONTAINERD_CONFIG, CONTAINERD_DROPIN);
}

static int plan_containerd_unimport(const char *cur, struct gj_config_plan *p) {
        _cleanup_free_ char *next = NULL;
        if (!cur)
                return plan_add(p, GJ_EDIT_KEEP, CONTAINERD_CONFIG, NULL, 0, strdup("no config.toml: nothing to take out"));
        int r = imports_refused(gj_toml_imports_remove(cur, CONTAINERD_DROPIN, &next));
        if (r < 0)
                return r;
        if (!next)
                return plan_add(p, GJ_EDIT_KEEP, CONTAINERD_CONFIG, NULL, 0,
                                strdup("config.toml does not import the drop-in"));
        for (unsigned v = 2; v <= 3; v++) {
                _cleanup_free_ char *created = containerd_new_config(v);
                if (!created)
                        return -ENOMEM;
                if (streq(next, created))
                        return plan_add(p, GJ_EDIT_REMOVE, CONTAINERD_CONFIG, NULL, 0,
                                        strdup("remove config.toml, which gpujail created"));
        }
        return plan_add(p, GJ_EDIT_WRITE, CONTAINERD_CONFIG, TAKE_PTR(next), 0644,
                        strdup("take the drop-in out of config.toml's imports (nothing else changed)"));
}

static int plan_containerd_config(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata,
                                  unsigned config_version, struct gj_config_plan *p) {
        _cleanup_free_ char *cur = NULL, *next = NULL;
        int r = read_optional(read, userdata, CONTAINERD_CONFIG, &cur);
        if (r < 0)
                return r;
        if (o->undo)
                return plan_containerd_unimport(cur, p);
        bool created = !cur;
        if (created && !(cur = containerd_new_config(config_version)))
                return -ENOMEM;
        r = imports_refused(gj_toml_imports_add(cur, CONTAINERD_DROPIN, &next));
        if (r < 0)
                return r;
        if (!next)
                return plan_add(p, GJ_EDIT_KEEP, CONTAINERD_CONFIG, NULL, 0,
                                strdup("config.toml already imports the drop-in"));
        return plan_add(p, GJ_EDIT_WRITE, CONTAINERD_CONFIG, TAKE_PTR(next), 0644,
                        strdup(created ? "create config.toml, importing the drop-in"
                                       : "add the drop-in to config.toml's imports (nothing else changed)"));
}

static char *containerd_dropin(const struct gj_configure_opts *o, unsigned config_version) {
        /* containerd 2 (config version 3) renamed the CRI plugin. */
        const char *cri = config_version >= 3 ? "io.containerd.cri.v1.runtime" : "io.containerd.grpc.v1.cri";
        _cleanup_free_ char *cdi = o->no_cdi ? strdup("")
                                             : strprintf("[plugins.\"%s\"]\n"
                                                         "  enable_cdi = true\n"
                                                         "  cdi_spec_dirs = [\"/etc/cdi\", \"/var/run/cdi\"]\n\n",
                                                         cri);
        if (!cdi)
                return NULL;
        return strprintf("# Written by `gpujail configure containerd`; `gpujail configure containerd --undo`\n"
                         "# removes it and its line in " CONTAINERD_CONFIG "'s imports.\n"
                         "version = %u\n\n"
                         "%s"
                         "# The runtime wrapper as the RuntimeClass handler \"gpujail\".\n"
                         "[plugins.\"%s\".containerd.runtimes.gpujail]\n"
                         "  runtime_type = \"io.containerd.runc.v2\"\n"
                         "  pod_annotations = " ANNOTATIONS_TOML "\n"
                         "  container_annotations = " ANNOTATIONS_TOML "\n"
                         "  [plugins.\"%s\".containerd.runtimes.gpujail.options]\n"
                         "    BinaryName = \"%s\"\n",
                         config_version, cdi, cri, cri, o->runtime_path);
}

static int plan_containerd(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata,
                           struct gj_config_plan *p) {
        int r = 0;
        if (!o->undo)
                r = o->no_cdi ? require_version(o, 1, 6, "imports and the runc v2 shim options",
                                                "upgrade containerd")
                              : require_version(o, 1, 7, "CDI (enable_cdi)",
                                                "upgrade containerd, or pass --no-cdi to register only the runtime "
                                                "wrapper (requests by annotation or NVIDIA_VISIBLE_DEVICES)");
        if (r < 0)
                return r;
        unsigned config_version = o->version.major >= 2 ? 3 : 2;
        if (o->undo) {
                /* The import first: containerd refuses a config that imports a missing file. */
                r = plan_containerd_config(o, read, userdata, config_version, p);
                if (r < 0)
                        return r;
        }
        char *dropin = containerd_dropin(o, config_version);
        if (!dropin)
                return -ENOMEM;
        r = plan_owned_file(read, userdata, o->undo, CONTAINERD_DROPIN, dropin,
                            o->no_cdi ? "the drop-in (runtime handler gpujail)"
                                      : "the drop-in (enable_cdi, runtime handler gpujail)",
                            p);
        if (r >= 0 && !o->undo)
                r = plan_containerd_config(o, read, userdata, config_version, p);
        if (r < 0)
                return r;
        p->restart = strdup("systemctl restart containerd");
        return p->restart ? 0 : -ENOMEM;
}

/* ---- Docker: daemon.json, merged key by key ---- */

/* obj[key] as an object, created when absent; -EBADMSG (logged) when it is something else. */
static int docker_member(struct json_object *obj, const char *key, struct json_object **ret) {
        struct json_object *m;
        if (json_object_object_get_ex(obj, key, &m)) {
                if (!json_object_is_type(m, json_type_object))
                        return log_error_errno(-EBADMSG, "%s: \"%s\" is not a JSON object; fix it by hand",
                                               DOCKER_CONFIG, key);
                *ret = m;
                return 0;
        }
        int r = gj_json_add(obj, key, json_object_new_object());
        if (r < 0)
                return r;
        *ret = json_object_object_get(obj, key);
        return 0;
}

/* daemon.json as gpujail wants it, from cur (which it leaves alone). */
static int docker_merge(struct json_object *cur, const char *runtime_path, bool cdi, struct json_object **ret) {
        _cleanup_json_ struct json_object *want = NULL;
        struct json_object *runtimes, *features, *rt;
        if (json_object_deep_copy(cur, &want, NULL) < 0)
                return -ENOMEM;
        int r = docker_member(want, "runtimes", &runtimes);
        if (r < 0)
                return r;
        r = gj_json_add(runtimes, "gpujail", rt = json_object_new_object());
        if (r >= 0)
                r = gj_json_add(rt, "path", json_object_new_string(runtime_path));
        if (r >= 0 && cdi)
                r = docker_member(want, "features", &features);
        if (r >= 0 && cdi)
                r = gj_json_add(features, "cdi", json_object_new_boolean(1));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(want);
        return 0;
}

static int docker_parse(const char *path, const char *text, struct json_object **ret) {
        return gj_oci_config_parse(path, text, strlen(text), ret);
}

/* Would configuring `before` (with or without CDI) give `now`? */
static bool docker_is_configured(struct json_object *before, struct json_object *now, const char *runtime_path) {
        for (int cdi = 0; cdi <= 1; cdi++) {
                _cleanup_json_ struct json_object *want = NULL;
                if (docker_merge(before, runtime_path, cdi, &want) >= 0 && json_object_equal(want, now))
                        return true;
        }
        return false;
}

static int plan_docker_undo(const struct gj_configure_opts *o, const char *text, const char *backup,
                            struct gj_config_plan *p) {
        _cleanup_json_ struct json_object *cur = NULL, *old = NULL, *empty = json_object_new_object();
        if (!text)
                return plan_add(p, GJ_EDIT_KEEP, DOCKER_CONFIG, NULL, 0, strdup("no daemon.json: nothing to undo"));
        int r = docker_parse(DOCKER_CONFIG, text, &cur);
        if (r >= 0 && backup)
                r = docker_parse(DOCKER_BACKUP, backup, &old);
        if (r < 0)
                return r;
        /* Unchanged since gpujail's edit: the file as it was, byte for byte. */
        if (old && docker_is_configured(old, cur, o->runtime_path)) {
                r = plan_add(p, GJ_EDIT_WRITE, DOCKER_CONFIG, strdup(backup), 0644,
                             strdup("restore daemon.json from " DOCKER_BACKUP));
                return r < 0 ? r : plan_add(p, GJ_EDIT_REMOVE, DOCKER_BACKUP, NULL, 0, strdup("remove the backup"));
        }
        if (!old && empty && docker_is_configured(empty, cur, o->runtime_path))
                return plan_add(p, GJ_EDIT_REMOVE, DOCKER_CONFIG, NULL, 0, strdup("remove daemon.json, which gpujail created"));
        /* Changed since: take out the runtime only; whether CDI was on before is not known. */
        struct json_object *runtimes;
        if (!json_object_object_get_ex(cur, "runtimes", &runtimes) || !json_object_is_type(runtimes, json_type_object) ||
            !json_object_object_get_ex(runtimes, "gpujail", NULL))
                return plan_add(p, GJ_EDIT_KEEP, DOCKER_CONFIG, NULL, 0, strdup("daemon.json has no runtime gpujail"));
        json_object_object_del(runtimes, "gpujail");
        if (json_object_object_length(runtimes) == 0)
                json_object_object_del(cur, "runtimes");
        return plan_add(p, GJ_EDIT_WRITE, DOCKER_CONFIG, json_text(cur), 0644,
                        strdup("take runtimes.gpujail out of daemon.json (changed since gpujail's edit: "
                               "features.cdi and the backup are left as they are)"));
}

static int plan_docker(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata,
                       struct gj_config_plan *p) {
        _cleanup_free_ char *text = NULL, *backup = NULL;
        _cleanup_json_ struct json_object *cur = NULL, *want = NULL;
        int r = 0;
        if (!o->undo && !o->no_cdi)
                r = require_version(o, 25, 0, "CDI (\"features\": {\"cdi\": true})",
                                    "upgrade Docker, or pass --no-cdi to register only the runtime wrapper");
        if (r >= 0)
                r = read_optional(read, userdata, DOCKER_CONFIG, &text);
        if (r >= 0)
                r = read_optional(read, userdata, DOCKER_BACKUP, &backup);
        if (r < 0)
                return r;
        p->restart = strdup("systemctl restart docker");
        if (!p->restart)
                return -ENOMEM;
        if (o->undo)
                return plan_docker_undo(o, text, backup, p);

        r = text ? docker_parse(DOCKER_CONFIG, text, &cur) : 0;
        if (r < 0)
                return r;
        if (!cur && !(cur = json_object_new_object()))
                return -ENOMEM;
        r = docker_merge(cur, o->runtime_path, !o->no_cdi, &want);
        if (r < 0)
                return r;
        if (text && json_object_equal(cur, want))
                return plan_add(p, GJ_EDIT_KEEP, DOCKER_CONFIG, NULL, 0, strdup("daemon.json already has gpujail's keys"));
        /* The first backup is the file before gpujail: never overwritten. */
        if (text && !backup) {
                r = plan_add(p, GJ_EDIT_WRITE, DOCKER_BACKUP, strdup(text), 0600,
                             strdup("back up daemon.json as it is"));
                if (r < 0)
                        return r;
        }
        return plan_add(p, GJ_EDIT_WRITE, DOCKER_CONFIG, json_text(want), 0644,
                        strdup(o->no_cdi ? "add runtimes.gpujail to daemon.json (every other key kept)"
                                         : "add runtimes.gpujail and features.cdi to daemon.json (every other key kept)"));
}

int gj_configure_plan(const struct gj_configure_opts *o, gj_config_read_fn read, void *userdata,
                      struct gj_config_plan *ret) {
        static int (*const planners[_GJ_ENGINE_MAX])(const struct gj_configure_opts *, gj_config_read_fn, void *,
                                                      struct gj_config_plan *) = {
                [GJ_ENGINE_PODMAN] = plan_podman,
                [GJ_ENGINE_CRIO] = plan_crio,
                [GJ_ENGINE_CONTAINERD] = plan_containerd,
                [GJ_ENGINE_DOCKER] = plan_docker,
        };
        struct gj_config_plan p = { 0 };
        if (o->engine >= _GJ_ENGINE_MAX)
                return -EINVAL;
        int r = planners[o->engine](o, read, userdata, &p);
        if (r < 0) {
                gj_config_plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}
