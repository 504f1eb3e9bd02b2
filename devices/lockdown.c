/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lockdown, the part that only reads: which nodes are GPU nodes, the text of
 * the two files and what they say, the permissions lockdown and undo give a
 * node, and whether the host is locked down (gpujail list). See lockdown.h.
 */
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "gpujail/lockdown.h"
#include "gpujail/util.h"

#define NVIDIA_CAPS_DIR "/dev/nvidia-caps"
#define MARKER "# gpujail-lockdown "
#define CONFIG_FILE_MAX (64 * 1024)
#define GROUP_NAME_MAX 32
/* What the NVIDIA driver gives its nodes when no parameter says otherwise (nv-reg.h). */
#define NVIDIA_DEFAULT_MODE 0666

/* ---- which nodes ---- */

/* prefix followed by at least one digit and nothing else: "/dev/nvidia" "3". */
static bool is_numbered(const char *path, const char *prefix) {
        const char *n = startswith(path, prefix);
        return n && *n && strspn(n, "0123456789") == strlen(n);
}

int gj_gpu_node_kind_from_path(const char *path) {
        static const char *const nvidia_controls[] = {
                "/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", NULL,
        };
        const char *cap = startswith(path, NVIDIA_CAPS_DIR "/");

        if (cap && *cap && !strchr(cap, '/') && !streq(cap, ".") && !streq(cap, ".."))
                return GJ_GPU_NODE_NVIDIA_CAP;
        if (is_numbered(path, "/dev/nvidia") || strv_contains((char **)nvidia_controls, path))
                return GJ_GPU_NODE_NVIDIA;
        if (is_numbered(path, "/dev/dri/card"))
                return GJ_GPU_NODE_DRM_CARD;
        if (is_numbered(path, "/dev/dri/renderD"))
                return GJ_GPU_NODE_DRM_RENDER;
        if (streq(path, "/dev/kfd"))
                return GJ_GPU_NODE_KFD;
        if (is_numbered(path, "/dev/accel/accel"))
                return GJ_GPU_NODE_ACCEL;
        return -EINVAL;
}

/* Only an ACL beyond the mode bits is stored as this attribute. */
static bool has_access_acl(const char *path) {
        return lgetxattr(path, "system.posix_acl_access", NULL, 0) > 0;
}

/* Append path if it is a character device now; driver: NULL when not NVIDIA's. */
static int nodes_add(struct gj_gpu_node **v, size_t *n, const char *path, const struct gj_node *driver) {
        int kind = gj_gpu_node_kind_from_path(path);
        struct stat st;

        if (kind < 0 || lstat(path, &st) < 0 || !S_ISCHR(st.st_mode))
                return 0;
        struct gj_gpu_node *nv = realloc(*v, (*n + 1) * sizeof(**v));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        struct gj_perms found = { st.st_mode & 07777, st.st_uid, st.st_gid };
        nv[*n] = (struct gj_gpu_node){
                .path = strdup(path),
                .kind = kind,
                .found = found,
                .acl = has_access_acl(path),
                .driver = driver ? (struct gj_perms){ driver->mode & 07777, driver->uid, driver->gid } : found,
        };
        if (!nv[*n].path)
                return -ENOMEM;
        (*n)++;
        return 0;
}

static int nodes_add_inventory_node(struct gj_gpu_node **v, size_t *n, const struct gj_node *node) {
        if (node->state != GJ_NODE_OK)
                return 0;
        bool nvidia = gj_gpu_node_kind_from_path(node->path) == GJ_GPU_NODE_NVIDIA;
        return nodes_add(v, n, node->path, nvidia ? node : NULL);
}

/* Not in the inventory (MIG is not supported yet), but a GPU's nodes all the same. */
static int nodes_add_caps(struct gj_gpu_node **v, size_t *n) {
        _cleanup_close_ int fd = open(NVIDIA_CAPS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct dirent **names = NULL;
        int r = 0;

        if (fd < 0)
                return 0;
        int k = scandirat(fd, ".", &names, NULL, alphasort);
        for (int i = 0; i < k; i++) {
                if (r >= 0 && names[i]->d_name[0] != '.') {
                        _cleanup_free_ char *p = strprintf(NVIDIA_CAPS_DIR "/%s", names[i]->d_name);
                        r = p ? nodes_add(v, n, p, NULL) : -ENOMEM;
                }
                free(names[i]);
        }
        free(names);
        return r;
}

void gj_gpu_nodes_free(struct gj_gpu_node *nodes, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(nodes[i].path);
        free(nodes);
}

int gj_gpu_nodes_find(const struct gj_inventory *inv, struct gj_gpu_node **ret, size_t *ret_n) {
        struct gj_gpu_node *v = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < inv->n_devices; i++)
                for (size_t j = 0; r >= 0 && j < inv->devices[i].n_nodes; j++)
                        r = nodes_add_inventory_node(&v, &n, &inv->devices[i].nodes[j]);
        for (unsigned c = 0; r >= 0 && c < _GJ_CTL_MAX; c++)
                if (inv->controls[c])
                        r = nodes_add_inventory_node(&v, &n, inv->controls[c]);
        if (r >= 0)
                r = nodes_add_caps(&v, &n);
        if (r < 0) {
                gj_gpu_nodes_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- the two files ---- */

bool gj_lockdown_group_name_ok(const char *name) {
        static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
        size_t n = name ? strlen(name) : 0;
        return n > 0 && n <= GROUP_NAME_MAX && name[0] != '-' && strspn(name, allowed) == n;
}

char *gj_lockdown_modprobe_conf(const char *group, gid_t gid) {
        return strprintf(MARKER "group=%s gid=%u\n"
                         "# Written by 'gpujail setup --lockdown %s'; 'gpujail setup --lockdown --undo' removes it.\n"
                         "# The NVIDIA driver, and nvidia-modprobe, give its device nodes mode 0660, owner root,\n"
                         "# group %s: only root and gpujail's jobs open a GPU. From the next load of nvidia.\n"
                         "options nvidia NVreg_DeviceFileUID=0 NVreg_DeviceFileGID=%u NVreg_DeviceFileMode=0660\n",
                         group, (unsigned)gid, group, group, (unsigned)gid);
}

/*
 * DRIVERS: only the GPUs gpujail gives (a BMC's VGA card stays as it is).
 * ":=" so that no later rule reopens them; no "uaccess" tag, so logind gives no
 * ACL on them to whoever sits at the console.
 */
#define UDEV_LOCK "OWNER:=\"root\", GROUP:=\"%s\", MODE:=\"0660\", TAG-=\"uaccess\"\n"

char *gj_lockdown_udev_rules(const char *group, gid_t gid) {
        return strprintf(MARKER "group=%s gid=%u\n"
                         "# Written by 'gpujail setup --lockdown %s'; 'gpujail setup --lockdown --undo' removes it.\n"
                         "# GPU and accelerator nodes: mode 0660, owner root, group %s, no seat ACL: only root\n"
                         "# and gpujail's jobs open them.\n"
                         "SUBSYSTEM==\"drm\", KERNEL==\"card[0-9]*|renderD[0-9]*\", "
                         "DRIVERS==\"nvidia|amdgpu|i915|xe\", " UDEV_LOCK
                         "SUBSYSTEM==\"kfd\", KERNEL==\"kfd\", " UDEV_LOCK
                         "SUBSYSTEM==\"accel\", KERNEL==\"accel[0-9]*\", " UDEV_LOCK,
                         group, (unsigned)gid, group, group, group, group, group);
}

static const char *find_marker_line(const char *text) {
        for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (startswith(line, MARKER))
                        return line + strlen(MARKER);
        return NULL;
}

int gj_lockdown_marker_parse(const char *text, char **ret_group, gid_t *ret_gid) {
        const char *m = find_marker_line(text);
        if (!m)
                return -ENOENT;
        _cleanup_free_ char *line = strndup(m, strcspn(m, "\n"));
        if (!line)
                return -ENOMEM;
        const char *g = startswith(line, "group=");
        char *sep = g ? strstr(g, " gid=") : NULL;
        unsigned gid;
        if (!sep || safe_atou(sep + strlen(" gid="), &gid) < 0)
                return -EBADMSG;
        *sep = 0;
        if (!gj_lockdown_group_name_ok(g))
                return -EBADMSG;
        *ret_group = strdup(g);
        if (!*ret_group)
                return -ENOMEM;
        *ret_gid = (gid_t)gid;
        return 0;
}

static int config_file_read(struct gj_lockdown_file *f, const char *path,
                            char *(*expected)(const char *group, gid_t gid)) {
        _cleanup_free_ char *text = NULL, *want = NULL;

        *f = (struct gj_lockdown_file){ .path = path };
        int r = read_full_file(path, &text, NULL, CONFIG_FILE_MAX);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return log_warning_errno(r, "cannot read %s: %m; taken as absent", path), 0;
        f->present = true;
        r = gj_lockdown_marker_parse(text, &f->group, &f->gid);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        want = expected(f->group, f->gid);
        if (!want)
                return -ENOMEM;
        f->as_written = streq(text, want);
        return 0;
}

int gj_lockdown_config_read(struct gj_lockdown_config *ret) {
        int r = config_file_read(&ret->modprobe, GJ_LOCKDOWN_MODPROBE_CONF, gj_lockdown_modprobe_conf);
        if (r >= 0)
                r = config_file_read(&ret->rules, GJ_LOCKDOWN_UDEV_RULES, gj_lockdown_udev_rules);
        return r;
}

void gj_lockdown_config_done(struct gj_lockdown_config *c) {
        free(c->modprobe.group);
        free(c->rules.group);
        *c = (struct gj_lockdown_config){};
}

bool gj_lockdown_config_group(const struct gj_lockdown_config *c, const char **ret_group, gid_t *ret_gid) {
        const struct gj_lockdown_file *f = c->modprobe.group ? &c->modprobe : &c->rules;
        if (!f->group)
                return false;
        *ret_group = f->group;
        *ret_gid = f->gid;
        return true;
}

/* ---- permissions ---- */

static bool perms_eq(struct gj_perms a, struct gj_perms b) {
        return (a.mode & 07777) == (b.mode & 07777) && a.uid == b.uid && a.gid == b.gid;
}

struct gj_perms gj_lockdown_perms(const struct gj_gpu_node *n, gid_t group) {
        mode_t m = GJ_LOCKDOWN_MODE;
        if (n->kind == GJ_GPU_NODE_NVIDIA_CAP) {
                mode_t f = n->found.mode;
                m = (f & 0700) | (f & 0070) | ((f & 0007) << 3);
        }
        return (struct gj_perms){ m, 0, group };
}

/* udev: GROUP alone gives 0660, no GROUP 0600; an unknown group is no group. */
static struct gj_perms udev_default(gid_t group, mode_t mode) {
        if (group == (gid_t)-1)
                return (struct gj_perms){ mode ?: 0600, 0, 0 };
        return (struct gj_perms){ mode ?: 0660, 0, group };
}

struct gj_perms gj_lockdown_undo_perms(const struct gj_gpu_node *n, const struct gj_undo_defaults *d) {
        mode_t m = n->found.mode & 0777;

        switch (n->kind) {
        case GJ_GPU_NODE_NVIDIA:
                /* A module loaded with the lockdown's file still says so: give what
                 * its next load will give, the driver's defaults. */
                if (perms_eq(n->driver, gj_lockdown_perms(n, d->lockdown_gid)))
                        return (struct gj_perms){ NVIDIA_DEFAULT_MODE, 0, 0 };
                return n->driver;
        case GJ_GPU_NODE_NVIDIA_CAP:
                return (struct gj_perms){ m | ((m & 0070) >> 3), 0, 0 };
        case GJ_GPU_NODE_DRM_CARD:
                return udev_default(d->video_gid, 0);
        case GJ_GPU_NODE_DRM_RENDER:
        case GJ_GPU_NODE_KFD:
                return udev_default(d->render_gid, 0660);
        case GJ_GPU_NODE_ACCEL:
        default:
                return udev_default((gid_t)-1, 0);
        }
}

static gid_t group_gid_or_none(const char *name) {
        struct group *g = getgrnam(name);
        return g ? g->gr_gid : (gid_t)-1;
}

void gj_undo_defaults_read(struct gj_undo_defaults *d) {
        d->video_gid = group_gid_or_none("video");
        d->render_gid = group_gid_or_none("render");
}

/* ---- is the host locked down? ---- */

static const char *const state_names[_GJ_LOCKDOWN_STATE_MAX] = {
        [GJ_LOCKDOWN_OPEN] = "open",
        [GJ_LOCKDOWN_PARTIAL] = "partial",
        [GJ_LOCKDOWN_LOCKED] = "locked",
};

const char *gj_lockdown_state_name(enum gj_lockdown_state s) {
        return (unsigned)s < _GJ_LOCKDOWN_STATE_MAX ? state_names[s] : "unknown";
}

/* Opening a device node for reading alone is enough for its ioctls: any bit for
 * others is a way in. */
static int judge_open_nodes(const struct gj_lockdown_facts *f, struct gj_lockdown_status *s) {
        const struct gj_gpu_node *first = NULL;
        int r;

        for (size_t i = 0; i < f->n_nodes; i++) {
                if (!(f->nodes[i].found.mode & 0006))
                        continue;
                first = first ?: &f->nodes[i];
                r = strv_push(&s->open_nodes, strdup(f->nodes[i].path));
                if (r < 0)
                        return r;
        }
        if (!first)
                return 0;
        size_t more = strv_length(s->open_nodes) - 1;
        s->bypass = more == 0 ? strprintf("users can bypass gpujail: %s is mode %04o; see 'gpujail setup --lockdown'",
                                          first->path, (unsigned)first->found.mode)
                              : strprintf("users can bypass gpujail: %s is mode %04o (and %zu more GPU node%s "
                                          "that any user can open); see 'gpujail setup --lockdown'",
                                          first->path, (unsigned)first->found.mode, more, more == 1 ? "" : "s");
        return s->bypass ? 0 : -ENOMEM;
}

static int judge_file(const struct gj_lockdown_file *f, const struct gj_lockdown_status *s, char ***problems) {
        if (!f->present)
                return strv_push(problems, strprintf("%s is missing ('gpujail setup --lockdown %s' writes it)",
                                                     f->path, s->group ?: "GROUP"));
        if (!f->group)
                return strv_push(problems, strprintf("%s has no valid '%s' line: not gpujail's", f->path,
                                                     MARKER "group=NAME gid=N"));
        if (s->group && (!streq(f->group, s->group) || f->gid != s->gid))
                return strv_push(problems, strprintf("%s is for group %s (gid %u), not %s (gid %u)", f->path,
                                                     f->group, (unsigned)f->gid, s->group, (unsigned)s->gid));
        if (!f->as_written)
                return strv_push(problems, strprintf("%s is not what 'gpujail setup --lockdown %s' writes: "
                                                     "edited by hand?", f->path, f->group));
        return 0;
}

static int judge_group(const struct gj_lockdown_facts *f, struct gj_lockdown_status *s) {
        if (!f->group_found)
                return strv_push(&s->problems, strprintf("group %s does not exist any more", s->group));
        if (f->group_gid_now != s->gid)
                return strv_push(&s->problems,
                                 strprintf("group %s is gid %u now, the lockdown's files say %u: run "
                                           "'gpujail setup --lockdown %s' again",
                                           s->group, (unsigned)f->group_gid_now, (unsigned)s->gid, s->group));
        if (strv_length(f->group_members) == 0)
                return 0;
        _cleanup_free_ char *who = strv_join(f->group_members, ", ");
        if (!who)
                return -ENOMEM;
        return strv_push(&s->problems, strprintf("group %s has members (%s): they open every GPU without gpujail",
                                                 s->group, who));
}

static int judge_nodes(const struct gj_lockdown_facts *f, struct gj_lockdown_status *s) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < f->n_nodes; i++) {
                const struct gj_gpu_node *n = &f->nodes[i];
                struct gj_perms want = gj_lockdown_perms(n, s->gid);
                if (!perms_eq(n->found, want))
                        r = strv_push(&s->problems,
                                      strprintf("%s is %04o %u:%u, the lockdown gives it %04o %u:%u", n->path,
                                                (unsigned)n->found.mode, (unsigned)n->found.uid,
                                                (unsigned)n->found.gid, (unsigned)want.mode,
                                                (unsigned)want.uid, (unsigned)want.gid));
                if (r >= 0 && n->acl)
                        r = strv_push(&s->problems, strprintf("%s has an ACL that lets named users or groups "
                                                              "open it (logind's uaccess?)", n->path));
        }
        return r;
}

/* nvidia-modprobe, which CUDA runs set-uid root, puts the parameters' permissions back. */
static int judge_driver(const struct gj_lockdown_facts *f, struct gj_lockdown_status *s) {
        for (size_t i = 0; i < f->n_nodes; i++) {
                const struct gj_gpu_node *n = &f->nodes[i];
                if (n->kind != GJ_GPU_NODE_NVIDIA || perms_eq(n->driver, gj_lockdown_perms(n, s->gid)))
                        continue;
                return strv_push(&s->problems,
                                 strprintf("the loaded nvidia module gives its nodes %04o %u:%u "
                                           "(/proc/driver/nvidia/params), which nvidia-modprobe (set-uid root, "
                                           "run by CUDA) puts back: reload the NVIDIA modules or reboot, so "
                                           "that they load with %s",
                                           (unsigned)n->driver.mode, (unsigned)n->driver.uid,
                                           (unsigned)n->driver.gid, GJ_LOCKDOWN_MODPROBE_CONF));
        }
        return 0;
}

static int judge_config(const struct gj_lockdown_facts *f, struct gj_lockdown_status *s) {
        int r = judge_file(&f->config->modprobe, s, &s->problems);
        if (r >= 0)
                r = judge_file(&f->config->rules, s, &s->problems);
        if (r < 0 || !s->group)
                return r;
        r = judge_group(f, s);
        if (r >= 0)
                r = judge_nodes(f, s);
        if (r >= 0)
                r = judge_driver(f, s);
        return r;
}

int gj_lockdown_judge(const struct gj_lockdown_facts *f, struct gj_lockdown_status *ret) {
        const char *group;
        gid_t gid;

        *ret = (struct gj_lockdown_status){ .state = GJ_LOCKDOWN_OPEN };
        int r = judge_open_nodes(f, ret);
        if (r < 0 || (!f->config->modprobe.present && !f->config->rules.present))
                return r;
        if (gj_lockdown_config_group(f->config, &group, &gid)) {
                ret->group = strdup(group);
                if (!ret->group)
                        return -ENOMEM;
                ret->gid = gid;
        }
        r = judge_config(f, ret);
        ret->state = ret->problems || !ret->group ? GJ_LOCKDOWN_PARTIAL : GJ_LOCKDOWN_LOCKED;
        return r;
}

void gj_lockdown_status_done(struct gj_lockdown_status *s) {
        free(s->group);
        strv_free(s->open_nodes);
        free(s->bypass);
        strv_free(s->problems);
        *s = (struct gj_lockdown_status){};
}

int gj_lockdown_inspect(const struct gj_inventory *inv, struct gj_lockdown_status *ret) {
        struct gj_lockdown_config config = {};
        struct gj_gpu_node *nodes = NULL;
        size_t n = 0;
        const char *group;
        gid_t gid;

        int r = gj_lockdown_config_read(&config);
        if (r >= 0)
                r = gj_gpu_nodes_find(inv, &nodes, &n);
        if (r >= 0) {
                struct gj_lockdown_facts f = { .config = &config, .nodes = nodes, .n_nodes = n };
                struct group *g = gj_lockdown_config_group(&config, &group, &gid) ? getgrnam(group) : NULL;
                if (g) {
                        f.group_found = true;
                        f.group_gid_now = g->gr_gid;
                        f.group_members = g->gr_mem;
                }
                r = gj_lockdown_judge(&f, ret);
        }
        gj_gpu_nodes_free(nodes, n);
        gj_lockdown_config_done(&config);
        return r;
}
