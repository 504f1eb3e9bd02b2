/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `gpujail ps`: see gpujail/ps.h. The leases say who holds what; /proc says
 * who has a GPU node open. A process with a node open whose cgroup is no
 * gpujail job's (…/gpujail/run-…) went around gpujail: it is flagged.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "gpujail/cgroup-paths.h"
#include "gpujail/json-util.h"
#include "gpujail/ps.h"
#include "gpujail/util.h"

static void outsider_done(struct gj_ps_outsider *o) {
        free(o->user);
        free(o->comm);
        free(o->node);
}

void gj_ps_done(struct gj_ps *ps) {
        for (size_t i = 0; i < ps->n_gpus; i++) {
                struct gj_ps_gpu *g = &ps->gpus[i];
                gj_lease_holders_free(g->holders, g->n_holders);
                for (size_t j = 0; j < g->n_outsiders; j++)
                        outsider_done(&g->outsiders[j]);
                free(g->outsiders);
        }
        free(ps->gpus);
        gj_lease_holders_free(ps->queue, ps->n_queue);
        *ps = (struct gj_ps){ 0 };
}

bool gj_ps_may_see_command(const struct gj_ps *ps, const struct gj_lease_holder *h) {
        return ps->viewer_uid < 0 || (uid_t)ps->viewer_uid == h->uid;
}

/* ---- processes around gpujail ---- */

/* The GPU whose own node (not a shared control node) is rdev; NULL if none. */
static struct gj_ps_gpu *gpu_of_rdev(struct gj_ps *ps, dev_t rdev) {
        for (size_t i = 0; i < ps->n_gpus; i++) {
                const struct gj_device *d = ps->gpus[i].device;
                for (size_t j = 0; j < d->n_nodes; j++)
                        if (d->nodes[j].major == major(rdev) && d->nodes[j].minor == minor(rdev))
                                return &ps->gpus[i];
        }
        return NULL;
}

static bool path_is_below(const char *path, const char *dir) {
        const char *rest = path && dir ? startswith(path, dir) : NULL;
        return rest && (*rest == 0 || *rest == '/');
}

/* Whether pid lives in the cgroup of a job that holds a lease: the holders'
 * records name them (written by root), not the cgroup's name, which a user
 * with a delegated cgroup subtree could imitate. */
static bool in_gpujail_job(const struct gj_ps *ps, const char *pid) {
        _cleanup_free_ char *v1 = NULL, *v2 = NULL;
        unsigned p;
        if (safe_atou(pid, &p) < 0 || gj_cgroup_paths_of_pid((pid_t)p, &v1, &v2) < 0)
                return false;
        for (size_t i = 0; i < ps->n_gpus; i++)
                for (size_t j = 0; j < ps->gpus[i].n_holders; j++) {
                        const char *cg = ps->gpus[i].holders[j].cgroup;
                        if (path_is_below(v2, cg) || path_is_below(v1, cg))
                                return true;
                }
        return false;
}

static char *user_name(uid_t uid) {
        struct passwd *pw = getpwuid(uid);
        return pw ? strdup(pw->pw_name) : NULL;
}

static char *read_comm(int proc_fd, const char *pid) {
        char path[64];
        snprintf(path, sizeof(path), "%s/comm", pid);
        _cleanup_close_ int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
        char *text = NULL;
        if (fd < 0 || read_full_fd(fd, &text, NULL, 4096) < 0)
                return NULL;
        text[strcspn(text, "\n")] = 0;
        return text;
}

static int add_outsider(struct gj_ps_gpu *g, int proc_fd, const char *pid, uid_t uid,
                        const char *node) {
        for (size_t i = 0; i < g->n_outsiders; i++)
                if (g->outsiders[i].pid == atoi(pid))
                        return 0; /* one line per process, however many fds */
        struct gj_ps_outsider *v = realloc(g->outsiders, (g->n_outsiders + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        g->outsiders = v;
        v[g->n_outsiders++] = (struct gj_ps_outsider){
                .pid = atoi(pid),
                .uid = uid,
                .user = user_name(uid),
                .comm = read_comm(proc_fd, pid),
                .node = strdup(node),
        };
        return 0;
}

/* One process's fds: a link into /dev whose target is one of a GPU's nodes. */
static int scan_process(struct gj_ps *ps, int proc_fd, const char *pid) {
        char path[64];
        snprintf(path, sizeof(path), "%s/fd", pid);
        int dfd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == EACCES || errno == EPERM ? 0 : 1; /* not ours to see; or gone */
        _cleanup_closedir_ DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return 0;
        }
        struct dirent *de;
        bool job_checked = false, in_job = false;
        while ((de = readdir(d))) {
                char link[PATH_MAX];
                ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
                if (n <= 0)
                        continue;
                link[n] = 0;
                if (!startswith(link, "/dev/"))
                        continue; /* cheap: most fds are files, sockets, pipes */
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISCHR(st.st_mode))
                        continue;
                struct gj_ps_gpu *g = gpu_of_rdev(ps, st.st_rdev);
                if (!g)
                        continue;
                if (!job_checked) {
                        in_job = in_gpujail_job(ps, pid);
                        job_checked = true;
                }
                if (in_job)
                        return 0;
                struct stat pst;
                uid_t uid = fstatat(proc_fd, pid, &pst, 0) == 0 ? pst.st_uid : (uid_t)-1;
                int r = add_outsider(g, proc_fd, pid, uid, link);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_processes(struct gj_ps *ps) {
        _cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return log_error_errno(-errno, "cannot open /proc: %m");
        _cleanup_closedir_ DIR *d = opendir("/proc");
        if (!d)
                return log_error_errno(-errno, "cannot read /proc: %m");
        pid_t self = getpid();
        struct dirent *de;
        while ((de = readdir(d))) {
                unsigned pid;
                if (safe_atou(de->d_name, &pid) < 0 || (pid_t)pid == self)
                        continue;
                int r = scan_process(ps, proc_fd, de->d_name);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- collect ---- */

int gj_ps_collect(const struct gj_inventory *inv, long viewer_uid, struct gj_ps *ret) {
        _cleanup_(gj_ps_done) struct gj_ps ps = { .viewer_uid = viewer_uid,
                                                  .scanned_all = viewer_uid < 0 };
        _cleanup_close_ int dir_fd = -1;
        int r = gj_lease_dir_open(false, &dir_fd);
        if (r < 0 && r != -ENOENT)
                return r;
        ps.gpus = calloc(inv->n_devices ?: 1, sizeof(*ps.gpus));
        if (!ps.gpus)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devices; i++) {
                struct gj_ps_gpu *g = &ps.gpus[ps.n_gpus++];
                g->device = &inv->devices[i];
                if ((r = gj_lease_query(dir_fd, g->device, &g->state, &g->holders, &g->n_holders)) <
                    0)
                        return r;
        }
        _cleanup_close_ int queue_fd = -1;
        if ((r = gj_lease_queue_open(false, &queue_fd)) < 0 && r != -ENOENT)
                return r;
        if ((r = gj_lease_queue_list(queue_fd, &ps.queue, &ps.n_queue)) < 0)
                return r;
        log_debug("leases read");
        if ((r = scan_processes(&ps)) < 0)
                return r;
        *ret = ps;
        ps = (struct gj_ps){ 0 };
        return 0;
}

/* ---- JSON ---- */

static struct json_object *since_json(int64_t since) {
        char buf[32];
        time_t t = (time_t)since;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return json_object_new_int64(since);
        return json_object_new_string(buf);
}

static struct json_object *holder_json(const struct gj_ps *ps, const struct gj_lease_holder *h) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_int(o, "uid", h->uid) < 0 ||
            gj_json_add_string(o, "user", h->user) < 0 || gj_json_add_int(o, "pid", h->pid) < 0 ||
            gj_json_add_int_or_null(o, "init", h->init, h->init > 0) < 0 ||
            gj_json_add(o, "since", since_json(h->since)) < 0 ||
            gj_json_add_string(o, "cgroup", h->cgroup) < 0 ||
            gj_json_add_string(o, "command", gj_ps_may_see_command(ps, h) ? h->command : NULL) <
                    0 ||
            gj_json_add_bool(o, "shared", h->shared) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *outsider_json(const struct gj_ps_outsider *p) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_int(o, "pid", p->pid) < 0 ||
            gj_json_add_int_or_null(o, "uid", p->uid, p->uid != (uid_t)-1) < 0 ||
            gj_json_add_string(o, "user", p->user) < 0 ||
            gj_json_add_string(o, "comm", p->comm) < 0 ||
            gj_json_add_string(o, "node", p->node) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *gpu_json(const struct gj_ps *ps, const struct gj_ps_gpu *g) {
        const struct gj_device *d = g->device;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *holders = json_object_new_array();
        _cleanup_json_ struct json_object *outside = json_object_new_array();
        if (!o || !holders || !outside)
                return NULL;
        for (size_t i = 0; i < g->n_holders; i++)
                if (gj_json_append(holders, holder_json(ps, &g->holders[i])) < 0)
                        return NULL;
        for (size_t i = 0; i < g->n_outsiders; i++)
                if (gj_json_append(outside, outsider_json(&g->outsiders[i])) < 0)
                        return NULL;
        if (gj_json_add_int(o, "index", d->index) < 0 ||
            gj_json_add_string(o, "uuid", d->uuid) < 0 ||
            gj_json_add_string(o, "pci_bus_id", d->pci_bus_id) < 0 ||
            gj_json_add_string(o, "state", gj_lease_state_name(g->state)) < 0 ||
            gj_json_add(o, "holders", TAKE_PTR(holders)) < 0 ||
            gj_json_add(o, "outside_gpujail", TAKE_PTR(outside)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *gj_ps_to_json(const struct gj_ps *ps) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *gpus = json_object_new_array();
        if (!o || !gpus)
                return NULL;
        for (size_t i = 0; i < ps->n_gpus; i++)
                if (gj_json_append(gpus, gpu_json(ps, &ps->gpus[i])) < 0)
                        return NULL;
        _cleanup_json_ struct json_object *queue = json_object_new_array();
        if (!queue)
                return NULL;
        for (size_t i = 0; i < ps->n_queue; i++)
                if (gj_json_append(queue, holder_json(ps, &ps->queue[i])) < 0)
                        return NULL;
        if (gj_json_add_int(o, "version", 1) < 0 || gj_json_add(o, "gpus", TAKE_PTR(gpus)) < 0 ||
            gj_json_add(o, "queue", TAKE_PTR(queue)) < 0 ||
            gj_json_add_string(o, "processes_scanned", ps->scanned_all ? "all" : "own") < 0)
                return NULL;
        return TAKE_PTR(o);
}
