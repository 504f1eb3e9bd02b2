/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CDI specs from an inventory. Pure: no I/O. Each device entry is what
 * gj_plan_build() says the device needs, so CDI, the hook, the launcher and
 * `gpujail oci inject` cannot disagree on what a GPU is.
 *
 * Control nodes (nvidiactl, nvidia-uvm, kfd...) are listed in every device's
 * own containerEdits rather than in the spec-wide ones: a spec may hold
 * devices of several vendors (the default kind covers the whole host), and
 * the spec-wide edits would give an AMD container nvidiactl. CDI engines drop
 * a device node already present at the same path before adding it again
 * (container-device-interface ContainerEdits.Apply), so asking for two GPUs
 * yields each control node once.
 */
#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "gpujail/cdi.h"
#include "gpujail/driver.h"
#include "gpujail/json-util.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

/* ---- names ---- */

static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_alnum(char c) { return is_letter(c) || (c >= '0' && c <= '9'); }

/* First char `first_ok`, last alphanumeric, the middle alphanumeric or in `middle`. */
static int name_valid(const char *s, size_t len, bool (*first_ok)(char), const char *middle) {
        if (len == 0 || len > 255 || !first_ok(s[0]) || !is_alnum(s[len - 1]))
                return -EINVAL;
        for (size_t i = 1; i + 1 < len; i++)
                if (!is_alnum(s[i]) && !strchr(middle, s[i]))
                        return -EINVAL;
        return 0;
}

int gj_cdi_kind_valid(const char *kind) {
        const char *slash = kind ? strchr(kind, '/') : NULL;
        if (!slash)
                return -EINVAL;
        /* The vendor is a DNS-like name; a '.' in the class needs cdiVersion 0.6.0. */
        if (name_valid(kind, (size_t)(slash - kind), is_letter, "_-.") < 0)
                return -EINVAL;
        return name_valid(slash + 1, strlen(slash + 1), is_letter, "_-");
}

int gj_cdi_device_name_valid(const char *name) {
        return name ? name_valid(name, strlen(name), is_alnum, "_-.:") : -EINVAL;
}

int gj_cdi_parse_qualified(const char *qualified, char **ret_kind, char **ret_name) {
        const char *eq = strchr(qualified, '=');
        if (!eq)
                return -EINVAL;
        _cleanup_free_ char *kind = strndup(qualified, (size_t)(eq - qualified));
        _cleanup_free_ char *name = strdup(eq + 1);
        if (!kind || !name)
                return -ENOMEM;
        if (gj_cdi_kind_valid(kind) < 0 || gj_cdi_device_name_valid(name) < 0)
                return -EINVAL;
        *ret_kind = TAKE_PTR(kind);
        *ret_name = TAKE_PTR(name);
        return 0;
}

int gj_cdi_kind_vendor(const char *kind) {
        static const struct {
                const char *prefix;
                enum gj_vendor vendor;
        } vendors[] = {
                { "nvidia.com/", GJ_VENDOR_NVIDIA },
                { "amd.com/", GJ_VENDOR_AMD },
                { "intel.com/", GJ_VENDOR_INTEL },
        };
        for (size_t i = 0; i < ELEMENTSOF(vendors); i++)
                if (startswith(kind, vendors[i].prefix))
                        return (int)vendors[i].vendor;
        return -1;
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char)*s))
                        return false;
        return true;
}

int gj_cdi_name_to_selector(const char *kind, const char *name, char **ret) {
        if (gj_cdi_device_name_valid(name) < 0)
                return -EINVAL;
        int vendor = gj_cdi_kind_vendor(kind);
        char *s;
        if (streq(kind, GJ_CDI_KIND_IMEX))
                s = strprintf("imex:%s", name); /* NVIDIA's names: "0", "1", "all" */
        else if (vendor >= 0 && (all_digits(name) || streq(name, "all")))
                s = strprintf("%s:%s", gj_vendor_name((enum gj_vendor)vendor), name);
        else
                s = strdup(name);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* ---- the spec ---- */

static const char *rule_access_for(const struct gj_plan *plan, const struct gj_plan_node *n) {
        for (size_t i = 0; i < plan->n_rules; i++) {
                const struct gj_cgroup_rule *r = &plan->rules[i];
                if (r->type == n->type && r->major == n->major && r->minor == n->minor)
                        return r->access;
        }
        return "rw";
}

static struct json_object *device_nodes_json(const struct gj_plan *plan) {
        _cleanup_json_ struct json_object *nodes = json_object_new_array();
        if (!nodes)
                return NULL;
        for (size_t i = 0; i < plan->n_nodes; i++) {
                const struct gj_plan_node *n = &plan->nodes[i];
                struct json_object *node = gj_plan_node_to_json(n, true, rule_access_for(plan, n));
                if (gj_json_append(nodes, node) < 0)
                        return NULL;
        }
        return TAKE_PTR(nodes);
}

static struct json_object *container_edits_json(const struct gj_plan *plan) {
        _cleanup_json_ struct json_object *edits = json_object_new_object();
        if (!edits || gj_json_add(edits, "env", gj_json_new_strv(plan->env)) < 0 ||
            gj_json_add(edits, "deviceNodes", device_nodes_json(plan)) < 0)
                return NULL;
        return TAKE_PTR(edits);
}

/* What a CDI device name must resolve to, alone; NULLs: anything ("all"). */
struct cdi_expect {
        const struct gj_device *device;
        const struct gj_mig *mig;
};

static bool selection_is(const struct gj_selection *sel, const struct cdi_expect *e) {
        if (e->mig)
                return sel->n_devices == 0 && sel->n_migs == 1 && sel->migs[0] == e->mig;
        return !e->device ||
               (sel->n_devices == 1 && sel->devices[0] == e->device && sel->n_migs == 0);
}

/* containerEdits for a selector, built by the one planner everybody uses; the selector must
 * resolve to what `expect` says. */
static int edits_for(const struct gj_inventory *inv, const char *selector,
                     const struct cdi_expect *expect, const struct gj_cdi_opts *opts,
                     struct json_object **ret) {
        _cleanup_(gj_selection_done) struct gj_selection sel = {};
        _cleanup_(gj_plan_done) struct gj_plan plan = {};
        struct gj_plan_opts popts = { .allow_bad_nodes = opts->allow_bad_nodes };

        int r = gj_select(inv, selector, GJ_SELECT_NO_MIG_WARNING, &sel);
        if (r < 0)
                return r;
        if (!selection_is(&sel, expect))
                return log_error_errno(
                        -EPROTO, "CDI: selector '%s' does not name exactly one device", selector);
        r = gj_plan_build(inv, &sel, &popts, &plan);
        if (r < 0)
                return r;
        *ret = container_edits_json(&plan);
        if (!*ret)
                return log_error_errno(-ENOMEM, "cannot build CDI spec: %m");
        return 0;
}

/* ---- the driver's userspace: mounts for every device of the spec, and the hook ---- */

static struct json_object *driver_mount_json(const struct gj_driver_file *f) {
        _cleanup_json_ struct json_object *m = json_object_new_object();
        if (!m || gj_json_add_string(m, "hostPath", f->host_path) < 0 ||
            gj_json_add_string(m, "containerPath", gj_driver_container_path(f)) < 0 ||
            gj_json_add(m, "options", gj_json_new_strv((char **)gj_driver_mount_options(f))) < 0)
                return NULL;
        return TAKE_PTR(m);
}

static struct json_object *driver_hook_json(const struct gj_driver_plan *d, const char *hook_path) {
        _cleanup_strv_free_ char **args = gj_driver_hook_args(d, NULL);
        _cleanup_json_ struct json_object *hook = json_object_new_object();
        if (!args || !hook || gj_json_add_string(hook, "hookName", "createContainer") < 0 ||
            gj_json_add_string(hook, "path", hook_path) < 0 ||
            gj_json_add(hook, "args", gj_json_new_strv(args)) < 0 ||
            gj_json_add(hook, "env", gj_json_new_strv((char **)gj_driver_hook_env)) < 0)
                return NULL;
        return TAKE_PTR(hook);
}

static int add_driver_edits(struct json_object *spec, const struct gj_cdi_opts *o) {
        const struct gj_driver_plan *d = o->driver;
        if (!d || d->n_files == 0)
                return 0;
        _cleanup_json_ struct json_object *edits = json_object_new_object();
        _cleanup_json_ struct json_object *mounts = json_object_new_array();
        _cleanup_json_ struct json_object *hooks = json_object_new_array();
        if (!edits || !mounts || !hooks)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_files; i++)
                if (gj_json_append(mounts, driver_mount_json(&d->files[i])) < 0)
                        return -ENOMEM;
        if (gj_json_append(hooks, driver_hook_json(
                                          d, o->hook_path ?: GPUJAIL_BINDIR "/gpujail-hook")) < 0 ||
            gj_json_add(edits, "mounts", TAKE_PTR(mounts)) < 0 ||
            gj_json_add(edits, "hooks", TAKE_PTR(hooks)) < 0 ||
            gj_json_add(spec, "containerEdits", TAKE_PTR(edits)) < 0)
                return -ENOMEM;
        return 0;
}

/* `expect` (may be NULL) is the device the selector must resolve to alone. */
static int edits_for_selector(const struct gj_inventory *inv, const char *selector,
                              const struct gj_device *expect, const struct gj_cdi_opts *opts,
                              struct json_object **ret) {
        return edits_for(inv, selector, &(struct cdi_expect){ .device = expect }, opts, ret);
}

/* Takes edits, also on failure. */
static int add_device(struct json_object *devices, const char *name, struct json_object *edits) {
        _cleanup_json_ struct json_object *e = edits;
        _cleanup_json_ struct json_object *dev = json_object_new_object();
        if (!dev || gj_json_add_string(dev, "name", name) < 0 ||
            gj_json_add(dev, "containerEdits", TAKE_PTR(e)) < 0 ||
            gj_json_append(devices, TAKE_PTR(dev)) < 0)
                return log_error_errno(-ENOMEM, "cannot build CDI spec: %m");
        return 0;
}

/* The device's second name: its UUID, or its PCI bus id when it has none. */
static const char *device_stable_name(const struct gj_device *d) {
        if (d->uuid && gj_cdi_device_name_valid(d->uuid) >= 0)
                return d->uuid;
        if (d->pci_bus_id && gj_cdi_device_name_valid(d->pci_bus_id) >= 0)
                return d->pci_bus_id;
        return NULL;
}

static int add_one_gpu(struct json_object *devices, const struct gj_inventory *inv, const struct gj_device *d,
                       const char *kind, const struct gj_cdi_opts *opts) {
        int vendor = gj_cdi_kind_vendor(kind);
        char name[16];
        snprintf(name, sizeof name, "%u", vendor >= 0 ? d->vendor_index : d->index);

        _cleanup_free_ char *selector = NULL;
        if (gj_cdi_name_to_selector(kind, name, &selector) < 0)
                return log_error_errno(-ENOMEM, "cannot build CDI spec: %m");
        _cleanup_json_ struct json_object *edits = NULL, *edits2 = NULL;
        int r = edits_for_selector(inv, selector, d, opts, &edits);
        if (r < 0)
                return r;
        const char *alt = device_stable_name(d);
        if (alt && json_object_deep_copy(edits, &edits2, NULL) < 0)
                return log_error_errno(-ENOMEM, "cannot build CDI spec: %m");
        r = add_device(devices, name, TAKE_PTR(edits));
        if (r < 0 || !alt)
                return r;
        return add_device(devices, alt, TAKE_PTR(edits2));
}

/* One CDI device per MIG device, named as NVIDIA's toolkit names it: "<gpu>:<mig>", and its
 * UUID when NVML gave one. One that is not usable here (its caps nodes unknown) is left out
 * with a warning: a spec must not offer what cannot be given. */
static int add_migs(struct json_object *devices, const struct gj_inventory *inv,
                    const struct gj_cdi_opts *opts) {
        for (size_t k = 0; k < inv->n_migs; k++) {
                const struct gj_mig *m = &inv->migs[k];
                const struct gj_device *d = &inv->devices[m->parent];
                char name[32];
                snprintf(name, sizeof(name), "%u:%u", d->vendor_index, m->index);
                if (m->n_nodes < 2) {
                        log_warning(
                                "CDI: leaving out MIG device %s: its nvidia-caps nodes are unknown",
                                name);
                        continue;
                }
                _cleanup_json_ struct json_object *edits = NULL, *edits2 = NULL;
                int r = edits_for(inv, name, &(struct cdi_expect){ .mig = m }, opts, &edits);
                if (r < 0)
                        return r;
                bool alt = m->uuid && gj_cdi_device_name_valid(m->uuid) >= 0;
                if (alt && json_object_deep_copy(edits, &edits2, NULL) < 0)
                        return log_error_errno(-ENOMEM, "cannot build CDI spec: %m");
                r = add_device(devices, name, TAKE_PTR(edits));
                if (r >= 0 && alt)
                        r = add_device(devices, m->uuid, TAKE_PTR(edits2));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* NVIDIA's kind for IMEX channels: one device per channel, named by its number. */
static int add_imex_channels(struct json_object *devices, const struct gj_inventory *inv,
                             const struct gj_cdi_opts *opts) {
        for (size_t k = 0; k < inv->n_imex_channels; k++) {
                char name[16], selector[24];
                struct json_object *edits;
                snprintf(name, sizeof(name), "%u", inv->imex_channels[k].minor);
                snprintf(selector, sizeof(selector), "imex:%s", name);
                int r = edits_for_selector(inv, selector, NULL, opts, &edits);
                if (r < 0)
                        return r;
                r = add_device(devices, name, edits);
                if (r < 0)
                        return r;
        }
        return 0;
}

int gj_cdi_spec_build(const struct gj_inventory *inv, const struct gj_cdi_opts *opts, struct json_object **ret) {
        const char *kind = opts && opts->kind ? opts->kind : GJ_CDI_KIND_DEFAULT;
        struct gj_cdi_opts o = opts ? *opts : (struct gj_cdi_opts){};
        int vendor = gj_cdi_kind_vendor(kind);
        size_t n = 0;
        int r;

        if (gj_cdi_kind_valid(kind) < 0)
                return log_error_errno(-EINVAL,
                                       "invalid CDI kind '%s': expected vendor/class, e.g. " GJ_CDI_KIND_DEFAULT
                                       " (letters, digits, '_', '-'; '.' in the vendor only)",
                                       kind);

        _cleanup_json_ struct json_object *spec = json_object_new_object();
        if (!spec || gj_json_add_string(spec, "cdiVersion", GJ_CDI_VERSION) < 0 ||
            gj_json_add_string(spec, "kind", kind) < 0 ||
            gj_json_add(spec, "devices", json_object_new_array()) < 0)
                return log_error_errno(-ENOMEM, "cannot build CDI spec: %m");
        struct json_object *devices = json_object_object_get(spec, "devices");

        bool imex = streq(kind, GJ_CDI_KIND_IMEX);
        for (size_t i = 0; i < inv->n_devices && !imex; i++) {
                const struct gj_device *d = &inv->devices[i];
                if (vendor >= 0 && (int)d->vendor != vendor)
                        continue;
                r = add_one_gpu(devices, inv, d, kind, &o);
                if (r < 0)
                        return r;
                n++;
        }
        if (imex && inv->n_imex_channels == 0)
                return log_error_errno(-ENOENT,
                                       "no IMEX channel on this host for CDI kind %s "
                                       "(/dev/nvidia-caps-imex-channels/channelN)",
                                       kind);
        r = imex                                       ? add_imex_channels(devices, inv, &o)
            : vendor < 0 || vendor == GJ_VENDOR_NVIDIA ? add_migs(devices, inv, &o)
                                                       : 0;
        if (r < 0)
                return r;
        if (n == 0 && !imex)
                return log_error_errno(-ENOENT, "no accelerator on this host for CDI kind %s%s%s", kind,
                                       vendor >= 0 ? ": it covers only " : "",
                                       vendor >= 0 ? gj_vendor_name((enum gj_vendor)vendor) : "");

        _cleanup_free_ char *all = NULL;
        if (gj_cdi_name_to_selector(kind, "all", &all) < 0)
                return log_error_errno(-ENOMEM, "cannot build CDI spec: %m");
        struct json_object *edits;
        r = edits_for_selector(inv, all, NULL, &o, &edits);
        if (r < 0)
                return r;
        r = add_device(devices, "all", edits);
        if (r < 0)
                return r;
        if ((r = add_driver_edits(spec, &o)) < 0)
                return log_error_errno(r, "cannot build CDI spec: %m");
        *ret = TAKE_PTR(spec);
        return 0;
}

int gj_cdi_spec_names(struct json_object *spec, char ***ret) {
        struct json_object *kind, *devices;
        _cleanup_strv_free_ char **names = NULL;

        if (!json_object_is_type(spec, json_type_object) || !json_object_object_get_ex(spec, "kind", &kind) ||
            !json_object_is_type(kind, json_type_string) || gj_cdi_kind_valid(json_object_get_string(kind)) < 0 ||
            !json_object_object_get_ex(spec, "devices", &devices) || !json_object_is_type(devices, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(devices);
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(devices, i), *name;
                if (!json_object_is_type(d, json_type_object) || !json_object_object_get_ex(d, "name", &name) ||
                    !json_object_is_type(name, json_type_string) ||
                    gj_cdi_device_name_valid(json_object_get_string(name)) < 0)
                        return -EBADMSG;
                if (strv_push(&names, strprintf("%s=%s", json_object_get_string(kind),
                                                json_object_get_string(name))) < 0)
                        return -ENOMEM;
        }
        if (!names && !(names = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(names);
        return 0;
}

/* ---- YAML: block style, strings as JSON (= YAML double-quoted) scalars ---- */

/* ---- is a spec stale? ---- */

static const char *member_string(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

/* One line per problem: a node shared by every device is named once. Takes line. */
static int add_problem(char ***problems, char *line) {
        if (!line)
                return -ENOMEM;
        if (strv_contains(*problems, line)) {
                free(line);
                return 0;
        }
        return strv_push(problems, line);
}

static int check_node(struct json_object *n, char ***problems) {
        const char *path = member_string(n, "hostPath") ?: member_string(n, "path");
        struct json_object *maj, *min;
        struct stat st;
        if (!path)
                return 0;
        if (stat(path, &st) < 0)
                return add_problem(problems,
                                   strprintf("device node %s: %s", path, strerror(errno)));
        if (!S_ISCHR(st.st_mode))
                return add_problem(problems,
                                   strprintf("device node %s is not a character device", path));
        if (!json_object_object_get_ex(n, "major", &maj) ||
            !json_object_object_get_ex(n, "minor", &min))
                return 0;
        if ((int64_t)major(st.st_rdev) != json_object_get_int64(maj) ||
            (int64_t)minor(st.st_rdev) != json_object_get_int64(min))
                return add_problem(
                        problems,
                        strprintf("device node %s is %u:%u on this host, the spec says %" PRId64
                                  ":%" PRId64,
                                  path, major(st.st_rdev), minor(st.st_rdev),
                                  json_object_get_int64(maj), json_object_get_int64(min)));
        return 0;
}

static int check_mount(struct json_object *m, const char *module_version, char ***problems) {
        const char *path = member_string(m, "hostPath");
        struct stat st;
        if (!path)
                return 0;
        if (stat(path, &st) < 0)
                return add_problem(problems, strprintf("mount %s: %s", path, strerror(errno)));
        const char *v = gj_driver_file_version(path);
        if (v && strchr(v, '.') && module_version && !streq(v, module_version))
                return add_problem(problems,
                                   strprintf("mount %s is of driver %s, the loaded module is %s",
                                             path, v, module_version));
        return 0;
}

static int check_edits(struct json_object *edits, const char *module_version, char ***problems) {
        struct json_object *a;
        int r;
        if (!edits)
                return 0;
        if (json_object_object_get_ex(edits, "deviceNodes", &a) &&
            json_object_is_type(a, json_type_array))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        if ((r = check_node(json_object_array_get_idx(a, i), problems)) < 0)
                                return r;
        if (json_object_object_get_ex(edits, "mounts", &a) &&
            json_object_is_type(a, json_type_array))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        if ((r = check_mount(json_object_array_get_idx(a, i), module_version,
                                             problems)) < 0)
                                return r;
        return 0;
}

int gj_cdi_spec_check(struct json_object *spec, const char *module_version, char ***ret_problems) {
        _cleanup_strv_free_ char **problems = NULL;
        struct json_object *devices, *edits;
        int r;
        if (!json_object_object_get_ex(spec, "devices", &devices) ||
            !json_object_is_type(devices, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                struct json_object *d = json_object_array_get_idx(devices, i);
                if (json_object_object_get_ex(d, "containerEdits", &edits) &&
                    (r = check_edits(edits, module_version, &problems)) < 0)
                        return r;
        }
        if (json_object_object_get_ex(spec, "containerEdits", &edits) &&
            (r = check_edits(edits, module_version, &problems)) < 0)
                return r;
        *ret_problems = TAKE_PTR(problems);
        return 0;
}

static bool is_empty_container(struct json_object *o) {
        if (json_object_is_type(o, json_type_object))
                return json_object_object_length(o) == 0;
        if (json_object_is_type(o, json_type_array))
                return json_object_array_length(o) == 0;
        return false;
}

static bool is_scalar(struct json_object *o) {
        return !json_object_is_type(o, json_type_object) && !json_object_is_type(o, json_type_array);
}

static void yaml_scalar(FILE *f, struct json_object *o) {
        if (!o)
                fputs("null", f);
        else if (is_empty_container(o))
                fputs(json_object_is_type(o, json_type_object) ? "{}" : "[]", f);
        else
                fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), f);
}

static void yaml_value(FILE *f, struct json_object *o, int indent);

/* A key that YAML reads back as the same string when written bare. */
static bool yaml_plain_key(const char *key) {
        static const char *const special[] = { "y", "n", "yes", "no", "on", "off", "true", "false", "null" };
        if (!is_letter(key[0]))
                return false;
        for (const char *p = key; *p; p++)
                if (!is_alnum(*p) && *p != '_' && *p != '-')
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(special); i++)
                if (strcasecmp(key, special[i]) == 0)
                        return false;
        return true;
}

static void yaml_key(FILE *f, const char *key) {
        if (yaml_plain_key(key)) {
                fputs(key, f);
                fputc(':', f);
                return;
        }
        _cleanup_json_ struct json_object *k = json_object_new_string(key);
        yaml_scalar(f, k);
        fputc(':', f);
}

/* A mapping at `indent`; the first key is already positioned when `inline_first`. */
static void yaml_mapping(FILE *f, struct json_object *o, int indent, bool inline_first) {
        bool first = true;
        json_object_object_foreach(o, key, val) {
                if (!(first && inline_first))
                        fprintf(f, "%*s", indent, "");
                first = false;
                yaml_key(f, key);
                if (!val || is_scalar(val) || is_empty_container(val)) {
                        fputc(' ', f);
                        yaml_scalar(f, val);
                        fputc('\n', f);
                } else {
                        fputc('\n', f);
                        yaml_value(f, val, indent + 2);
                }
        }
}

static void yaml_sequence(FILE *f, struct json_object *a, int indent) {
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = json_object_array_get_idx(a, i);
                fprintf(f, "%*s-", indent, "");
                if (!v || is_scalar(v) || is_empty_container(v)) {
                        fputc(' ', f);
                        yaml_scalar(f, v);
                        fputc('\n', f);
                } else if (json_object_is_type(v, json_type_object)) {
                        fputc(' ', f);
                        yaml_mapping(f, v, indent + 2, true);
                } else {
                        fputc('\n', f);
                        yaml_sequence(f, v, indent + 2);
                }
        }
}

static void yaml_value(FILE *f, struct json_object *o, int indent) {
        if (json_object_is_type(o, json_type_object))
                yaml_mapping(f, o, indent, false);
        else
                yaml_sequence(f, o, indent);
}

char *gj_cdi_spec_to_yaml(struct json_object *spec) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs("---\n", f);
        if (is_scalar(spec) || is_empty_container(spec)) {
                yaml_scalar(f, spec);
                fputc('\n', f);
        } else
                yaml_value(f, spec, 0);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
