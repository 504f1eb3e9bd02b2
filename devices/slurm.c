/* SPDX-License-Identifier: Apache-2.0 */
/* Slurm's GPU numbers and gpujail's: gres.conf lines, a step's allocation (pure). */
#include <ctype.h>

#include "gpujail/slurm.h"
#include "gpujail/util.h"

char *gj_slurm_gres_type(const char *model) {
        if (!model)
                return NULL;
        _cleanup_free_ char *t = malloc(strlen(model) + 1);
        if (!t)
                return NULL;
        size_t n = 0;
        bool gap = false;
        for (const char *p = model; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (!isascii(c) || !isalnum(c)) {
                        gap = n > 0;
                        continue;
                }
                if (gap)
                        t[n++] = '_';
                gap = false;
                t[n++] = (char)tolower(c);
        }
        t[n] = 0;
        return n > 0 ? TAKE_PTR(t) : NULL;
}

static void gres_conf_line(struct strbuf *b, const struct gj_device *d, const char *node_name,
                           char *const *numa_cpus, size_t n_numa) {
        _cleanup_free_ char *type = gj_slurm_gres_type(d->model);

        if (node_name)
                strbuf_printf(b, "NodeName=%s ", node_name);
        strbuf_printf(b, "Name=gpu");
        if (type)
                strbuf_printf(b, " Type=%s", type);
        strbuf_printf(b, " File=/dev/nvidia%d", d->minor);
        if (d->numa_node >= 0 && (size_t)d->numa_node < n_numa && !isempty(numa_cpus[d->numa_node]))
                strbuf_printf(b, " Cores=%s", numa_cpus[d->numa_node]);
        strbuf_printf(b, "\n");
}

int gj_slurm_gres_conf(const struct gj_inventory *inv, const char *node_name,
                       char *const *numa_cpus, size_t n_numa, char **ret) {
        _cleanup_strbuf_ struct strbuf b = {};
        size_t n = 0;

        strbuf_printf(&b, "# gpujail slurm gres-conf: the NVIDIA GPUs in gpujail's index order (PCI bus\n"
                          "# order), so that Slurm's GPU N is gpujail's GPU N. Regenerate, do not edit.\n");
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct gj_device *d = &inv->devices[i];
                if (d->vendor != GJ_VENDOR_NVIDIA || d->minor < 0)
                        continue;
                gres_conf_line(&b, d, node_name, numa_cpus, n_numa);
                n++;
        }
        if (n == 0)
                return log_error_errno(-ENODEV, "this host has no NVIDIA GPU to write gres.conf lines for");
        char *s = strbuf_steal(&b);
        if (!s)
                return log_error_errno(-ENOMEM, "cannot write gres.conf lines: %m");
        *ret = s;
        return 0;
}

/* Slurm writes its GPU numbers as "0,3": decimal numbers and commas, nothing else
 * (not gpujail's richer selectors: "all" or a UUID in that variable is not Slurm's). */
static bool is_slurm_index_list(const char *s) {
        if (isempty(s))
                return true;
        bool digit = false;
        for (const char *p = s; *p; p++) {
                if (*p >= '0' && *p <= '9')
                        digit = true;
                else if (*p == ',' && digit)
                        digit = false;
                else
                        return false;
        }
        return digit;
}

int gj_slurm_allocation(const struct gj_inventory *inv, const char *job_id,
                        const char *step_gpus, const char *job_gpus, struct gj_selection *ret) {
        if (isempty(job_id))
                return 0;

        const char *name = step_gpus ? "SLURM_STEP_GPUS" : "SLURM_JOB_GPUS";
        const char *value = step_gpus ? step_gpus : job_gpus;
        if (!is_slurm_index_list(value))
                return log_error_errno(-EINVAL, "%s='%s' is not a list of Slurm GPU numbers", name, value);

        struct gj_selection sel;
        int r = gj_select(inv, value, GJ_SELECT_NVIDIA_INDEXES, &sel);
        if (r < 0)
                return log_error_errno(r, "%s='%s' names a GPU this host does not have: is gres.conf "
                                          "from 'gpujail slurm gres-conf'?", name, value);
        sel.want_controls = !sel.none;
        *ret = sel;
        return 1;
}

char *gj_selection_nvidia_indexes(const struct gj_selection *sel) {
        _cleanup_strbuf_ struct strbuf b = {};

        strbuf_printf(&b, "%s", "");
        for (size_t i = 0; i < sel->n_devices; i++)
                if (sel->devices[i]->vendor == GJ_VENDOR_NVIDIA)
                        strbuf_printf(&b, "%s%u", b.len ? "," : "", sel->devices[i]->vendor_index);
        return strbuf_steal(&b);
}

/* A job_<digits> component below a slurm* one: Slurm's cgroup/v1 layout
 * (slurm_<node>/uid_U/job_J/step_S/task_T; "slurm/..." on older versions). */
bool gj_slurm_is_job_cgroup(const char *path) {
        bool under_slurm = false;
        for (const char *p = path; p && *p;) {
                size_t n = strcspn(p, "/");
                if (n >= 5 && strncmp(p, "slurm", 5) == 0)
                        under_slurm = true;
                else if (under_slurm && n > 4 && strncmp(p, "job_", 4) == 0 &&
                         strspn(p + 4, "0123456789") == n - 4)
                        return true;
                p += n + (p[n] == '/');
        }
        return false;
}

/* One devices.list line, "c 195:2 rw" or "a *:* rwm", against a node. */
static bool list_line_allows(const char *line, const struct gj_node *node) {
        char type, major[16], minor[16];
        unsigned maj, min;

        if (sscanf(line, "%c %15[0-9*]:%15[0-9*]", &type, major, minor) != 3)
                return false;
        if (type != 'a' && type != node->type)
                return false;
        if (!streq(major, "*") && (safe_atou(major, &maj) < 0 || maj != node->major))
                return false;
        return streq(minor, "*") || (safe_atou(minor, &min) == 0 && min == node->minor);
}

static bool list_allows(const char *list, const struct gj_node *node) {
        for (const char *l = list; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
                if (list_line_allows(l, node))
                        return true;
        return false;
}

/* devices.list is default-deny unless some line allows everything ("a *:* rwm"). */
static bool list_is_default_deny(const char *list) {
        for (const char *l = list; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
                if (startswith(l, "a *:*"))
                        return false;
        return !isempty(list);
}

static int allowed_from_list(const struct gj_inventory *inv, const char *list, struct gj_selection *ret) {
        const struct gj_device **devs = calloc(inv->n_devices + 1, sizeof(*devs));
        size_t n = 0;
        if (!devs)
                return log_error_errno(-ENOMEM, "cannot read the job's device cgroup: %m");
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct gj_device *d = &inv->devices[i];
                bool all = d->n_nodes > 0;
                for (size_t j = 0; j < d->n_nodes && all; j++)
                        all = list_allows(list, &d->nodes[j]);
                if (all)
                        devs[n++] = d;
        }
        *ret = (struct gj_selection){ .devices = devs, .n_devices = n, .none = n == 0, .want_controls = n > 0 };
        return 1;
}

int gj_slurm_allowed_gpus(const struct gj_inventory *inv, const char *cgroup_path,
                          const char *devices_list, const char *job_id, const char *step_gpus,
                          const char *job_gpus, struct gj_selection *ret, const char **ret_from) {
        const char *from = NULL;
        int r;

        if (isempty(job_id) && !gj_slurm_is_job_cgroup(cgroup_path))
                return 0;
        if (gj_slurm_is_job_cgroup(cgroup_path) && list_is_default_deny(devices_list)) {
                from = "its device cgroup";
                r = allowed_from_list(inv, devices_list, ret);
        } else if (!isempty(job_id)) {
                from = step_gpus || !job_gpus ? "SLURM_STEP_GPUS" : "SLURM_JOB_GPUS";
                r = gj_slurm_allocation(inv, job_id, step_gpus, job_gpus, ret);
        } else
                return 0; /* sudo dropped SLURM_*, Slurm's own cgroup lists no denials: unknown */
        if (r > 0 && ret_from)
                *ret_from = from;
        return r;
}
