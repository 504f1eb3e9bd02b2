/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail configure's planner (devices/engine-config.c), pure: versions, and
 * the edits for each engine against an in-memory filesystem: a first run
 * writes, a second run on what it wrote keeps, an engine too old is refused,
 * Docker's daemon.json keeps every key it had, undo takes back what it added. */
#include <json-c/json.h>

#include "../tap.h"
#include "gpujail/engine-config.h"
#include "gpujail/util.h"
#include "log-capture.h"

/* The in-memory files: path -> content (NULL: no such file). */
struct fs {
        char *path[8];
        char *content[8];
};

static int fs_read(const char *path, char **ret, void *userdata) {
        struct fs *fs = userdata;
        for (size_t i = 0; i < ELEMENTSOF(fs->path) && fs->path[i]; i++)
                if (streq(fs->path[i], path)) {
                        if (!fs->content[i])
                                return -ENOENT;
                        *ret = strdup(fs->content[i]);
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}

/* Apply a plan's writes and removals to fs (paths it does not know are added). */
static void fs_apply(struct fs *fs, const struct gj_config_plan *p) {
        for (size_t e = 0; e < p->n_edits; e++) {
                const struct gj_edit *ed = &p->edits[e];
                size_t i = 0;
                while (i < ELEMENTSOF(fs->path) && fs->path[i] && !streq(fs->path[i], ed->path))
                        i++;
                if (i == ELEMENTSOF(fs->path) || ed->action == GJ_EDIT_KEEP)
                        continue;
                if (!fs->path[i] && !(fs->path[i] = strdup(ed->path)))
                        abort();
                free(fs->content[i]);
                fs->content[i] = ed->action == GJ_EDIT_WRITE ? strdup(ed->content) : NULL;
        }
}

static void fs_done(struct fs *fs) {
        for (size_t i = 0; i < ELEMENTSOF(fs->content); i++) {
                free(fs->path[i]);
                free(fs->content[i]);
        }
}

static size_t count(const struct gj_config_plan *p, enum gj_edit_action a) {
        size_t n = 0;
        for (size_t i = 0; i < p->n_edits; i++)
                n += p->edits[i].action == a;
        return n;
}

static struct gj_configure_opts opts(enum gj_engine e, const char *version) {
        struct gj_configure_opts o = { .engine = e, .hook_path = "/usr/bin/gpujail-hook",
                                       .runtime_path = "/usr/bin/gpujail-runc" };
        if (gj_version_parse(version, &o.version) < 0)
                abort();
        return o;
}

static void versions(void) {
        struct gj_version a, b;
        ok(gj_version_parse("containerd github.com/containerd/containerd 1.6.20 abc", &a) == 0 &&
                   a.major == 1 && a.minor == 6 && a.patch == 20,
           "a version out of `containerd --version`'s line");
        ok(gj_version_parse("Docker version 25.0.3, build 4debf41", &b) == 0 && b.major == 25,
           "... and out of docker's");
        ok(gj_version_cmp(&a, &b) < 0 && gj_version_cmp(&b, &a) > 0 && gj_version_cmp(&a, &a) == 0,
           "versions compare by number");
        ok(gj_version_parse("no version here", &a) < 0, "text without a version is refused");
        ok(gj_engine_from_name("podman") == GJ_ENGINE_PODMAN && gj_engine_from_name("crio") == GJ_ENGINE_CRIO &&
                   gj_engine_from_name("nerdctl") < 0,
           "engine names, and an unknown one refused");
}

/* A first run writes, a second run on the result keeps everything, undo removes. */
static void idempotent(enum gj_engine e, const char *version, const char *name) {
        struct fs fs = { 0 };
        struct gj_configure_opts o = opts(e, version);
        struct gj_config_plan p = { 0 };
        int r = gj_configure_plan(&o, fs_read, &fs, &p);
        ok(r == 0 && count(&p, GJ_EDIT_WRITE) > 0, "%s: a first run writes (%zu file(s))", name,
           count(&p, GJ_EDIT_WRITE));
        fs_apply(&fs, &p);
        gj_config_plan_done(&p);
        r = gj_configure_plan(&o, fs_read, &fs, &p);
        ok(r == 0 && count(&p, GJ_EDIT_WRITE) == 0 && count(&p, GJ_EDIT_REMOVE) == 0,
           "%s: a second run changes nothing", name);
        gj_config_plan_done(&p);
        o.undo = true;
        r = gj_configure_plan(&o, fs_read, &fs, &p);
        ok(r == 0 && count(&p, GJ_EDIT_WRITE) + count(&p, GJ_EDIT_REMOVE) > 0, "%s: --undo takes it back", name);
        fs_apply(&fs, &p);
        gj_config_plan_done(&p);
        r = gj_configure_plan(&o, fs_read, &fs, &p);
        ok(r == 0 && count(&p, GJ_EDIT_WRITE) == 0 && count(&p, GJ_EDIT_REMOVE) == 0,
           "%s: --undo twice changes nothing", name);
        gj_config_plan_done(&p);
        fs_done(&fs);
}

static void too_old(void) {
        struct fs fs = { 0 };
        struct gj_configure_opts o = opts(GJ_ENGINE_CONTAINERD, "1.6.20");
        struct gj_config_plan p = { 0 };
        capture_begin();
        int r = gj_configure_plan(&o, fs_read, &fs, &p);
        const char *msg = capture_end();
        ok(r == -EOPNOTSUPP && contains(msg, "1.6.20"), "containerd 1.6 with CDI is refused, naming the version");
        gj_config_plan_done(&p);
        o.no_cdi = true;
        r = gj_configure_plan(&o, fs_read, &fs, &p);
        ok(r == 0, "... and --no-cdi (the runtime wrapper alone) is accepted");
        gj_config_plan_done(&p);
}

static void docker_keeps_keys(void) {
        struct fs fs = { .path = { strdup("/etc/docker/daemon.json") },
                         .content = { strdup("{ \"log-driver\": \"journald\", \"runtimes\": { \"other\": "
                                             "{ \"path\": \"/usr/bin/other\" } } }\n") } };
        struct gj_configure_opts o = opts(GJ_ENGINE_DOCKER, "25.0.3");
        struct gj_config_plan p = { 0 };
        int r = gj_configure_plan(&o, fs_read, &fs, &p);
        const char *out = NULL;
        for (size_t i = 0; r == 0 && i < p.n_edits; i++)
                if (streq(p.edits[i].path, "/etc/docker/daemon.json") && p.edits[i].action == GJ_EDIT_WRITE)
                        out = p.edits[i].content;
        struct json_object *j = out ? json_tokener_parse(out) : NULL, *v, *rt;
        ok(j && json_object_object_get_ex(j, "log-driver", &v) && streq(json_object_get_string(v), "journald"),
           "docker: daemon.json keeps the keys it had");
        ok(j && json_object_object_get_ex(j, "runtimes", &rt) && json_object_object_get_ex(rt, "other", &v),
           "... and the runtimes it had");
        json_object_put(j);
        gj_config_plan_done(&p);
        fs_done(&fs);
}

int main(void) {
        versions();
        idempotent(GJ_ENGINE_PODMAN, "4.3.1", "podman");
        idempotent(GJ_ENGINE_CRIO, "1.28.0", "crio");
        idempotent(GJ_ENGINE_CONTAINERD, "1.7.13", "containerd");
        idempotent(GJ_ENGINE_DOCKER, "25.0.3", "docker");
        too_old();
        docker_keeps_keys();
        return done_testing();
}
