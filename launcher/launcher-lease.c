/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's GPU leases (docs/shared-hosts.md, "Sharing GPUs"): `--gpu
 * auto[:N]` picks N free GPUs among those the caller may use; an explicit
 * selection takes the leases of the GPUs it names, or is refused naming
 * who holds them. Both take every lease or none, under the acquisition lock
 * (kernel/lease-lock.c). The leases live as long as the fds in job_leases: gpujail
 * holds them until the job is gone, and hands them to the job's init too.
 */
#include <time.h>

#include "gpujail/lease-lock.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

void gj_job_leases_done(struct gj_job_leases *l) {
        for (size_t i = 0; i < l->n; i++)
                gj_lease_release(&l->v[i]);
        free(l->v);
        if (l->dir_fd >= 0)
                close(l->dir_fd);
        gj_lease_holder_done(&l->me);
        *l = (struct gj_job_leases)GJ_JOB_LEASES_INIT;
}

static int holder_init(const struct gj_job *job, pid_t init, struct gj_lease_holder *me) {
        const struct gj_caller *c = job->caller;
        bool user = c && c->kind == GJ_CALLER_USER;
        *me = (struct gj_lease_holder){
                .uid = user ? c->uid : getuid(),
                .pid = getpid(),
                .init = init,
                .since = (int64_t)time(NULL),
                .user = strdup(user ? c->name : "root"),
                .command = gj_lease_escape_command(job->opts->argv),
        };
        return me->user && me->command ? 0 : -ENOMEM;
}

/* ---- what a refusal says ---- */

/* A holder's command is shown to root and to the holder's own user only. */
static bool may_see_command(const struct gj_job *job, const struct gj_lease_holder *h) {
        const struct gj_caller *c = job->caller;
        return !c || c->kind != GJ_CALLER_USER || c->uid == h->uid;
}

static void describe_holder(struct strbuf *b, const struct gj_job *job, const struct gj_lease_holder *h) {
        char since[16] = "?";
        time_t t = (time_t)h->since;
        struct tm tm;
        if (localtime_r(&t, &tm))
                strftime(since, sizeof(since), "%H:%M:%S", &tm);
        strbuf_printf(b, "%s (uid %u), pid %d, since %s", h->user ?: "?", (unsigned)h->uid, (int)h->pid, since);
        if (h->command && may_see_command(job, h))
                strbuf_printf(b, ", `%s`", h->command);
}

/* "GPU 3 is held by alice (uid 1001), pid 4242, since 10:02:00, `python train.py`" */
static void describe_device(struct strbuf *b, const struct gj_job *job, int dir_fd, const struct gj_device *d) {
        enum gj_lease_state state;
        struct gj_lease_holder *h = NULL;
        size_t n = 0;
        if (gj_lease_query(dir_fd, d, &state, &h, &n) < 0 || state == GJ_LEASE_FREE) {
                strbuf_printf(b, "GPU %u is free", d->index);
                return;
        }
        strbuf_printf(b, "GPU %u is %s by ", d->index, state == GJ_LEASE_SHARED ? "shared" : "held");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strbuf_printf(b, " and ");
                describe_holder(b, job, &h[i]);
        }
        if (n == 0)
                strbuf_printf(b, "a job starting or ending");
        gj_lease_holders_free(h, n);
}

/* ---- taking them ---- */

static int add_lease(struct gj_job_leases *l, struct gj_lease *lease) {
        struct gj_lease *v = realloc(l->v, (l->n + 1) * sizeof(*v));
        if (!v) {
                gj_lease_release(lease);
                return -ENOMEM;
        }
        l->v = v;
        l->v[l->n++] = *lease;
        return 0;
}

static void release_all(struct gj_job_leases *l) {
        for (size_t i = 0; i < l->n; i++)
                gj_lease_release(&l->v[i]);
        l->n = 0;
}

/* Every device's lease, or none: -EBUSY and *ret_busy the first one held. */
static int take_all(struct gj_job_leases *l, const struct gj_device *const *devs, size_t n, bool shared,
                    const struct gj_device **ret_busy) {
        for (size_t i = 0; i < n; i++) {
                struct gj_lease lease;
                int r = gj_lease_take(l->dir_fd, devs[i], shared, &l->me, &lease);
                if (r >= 0)
                        r = add_lease(l, &lease);
                if (r < 0) {
                        release_all(l);
                        *ret_busy = devs[i];
                        return r;
                }
        }
        return 0;
}

/* The allowed GPUs that no one holds (for a sharing request: no exclusive holder). */
static int free_devices(int dir_fd, const struct gj_selection *allowed, bool shared,
                        const struct gj_device ***ret, size_t *ret_n) {
        const struct gj_device **v = calloc(allowed->n_devices ?: 1, sizeof(*v));
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < allowed->n_devices; i++) {
                enum gj_lease_state state;
                struct gj_lease_holder *h;
                size_t nh;
                int r = gj_lease_query(dir_fd, allowed->devices[i], &state, &h, &nh);
                if (r < 0) {
                        free(v);
                        return r;
                }
                gj_lease_holders_free(h, nh);
                if (state == GJ_LEASE_FREE || (shared && state == GJ_LEASE_SHARED))
                        v[n++] = allowed->devices[i];
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* Under the acquisition lock: pick `want` of the free allowed GPUs and take them. */
static int take_auto_locked(struct gj_job_leases *l, const struct gj_selection *allowed, unsigned want,
                            bool shared) {
        _cleanup_free_ const struct gj_device **free_v = NULL;
        size_t n_free;
        int r = free_devices(l->dir_fd, allowed, shared, &free_v, &n_free);
        if (r < 0)
                return r;
        _cleanup_free_ const struct gj_device **pick = calloc(want, sizeof(*pick));
        if (!pick)
                return -ENOMEM;
        if ((r = gj_lease_pick(free_v, n_free, want, pick, &l->reason)) < 0)
                return r;
        const struct gj_device *busy;
        return take_all(l, pick, want, shared, &busy);
}

static int open_dir(struct gj_job_leases *l) {
        return l->dir_fd >= 0 ? 0 : gj_lease_dir_open(true, &l->dir_fd);
}

static int refuse_auto(const struct gj_job *job, struct gj_job_leases *l, const struct gj_selection *allowed,
                       unsigned want) {
        _cleanup_strbuf_ struct strbuf b = {};
        strbuf_printf(&b, "no %u free GPU(s) for --gpu %s among the %zu %s may use", want, job->opts->gpus,
                      allowed->n_devices, job->caller && job->caller->name ? job->caller->name : "root");
        for (size_t i = 0; i < allowed->n_devices; i++) {
                strbuf_printf(&b, "\n  ");
                describe_device(&b, job, l->dir_fd, allowed->devices[i]);
        }
        strbuf_printf(&b, "\n--wait queues until they are free");
        return log_error_errno(-EBUSY, "%s", strbuf_str(&b) ?: "no free GPU");
}

static int refuse_held(const struct gj_job *job, struct gj_job_leases *l, const struct gj_device *busy) {
        _cleanup_strbuf_ struct strbuf b = {};
        describe_device(&b, job, l->dir_fd, busy);
        return log_error_errno(-EBUSY, "%s; --wait queues until it is free%s", strbuf_str(&b) ?: "GPU held",
                               job->opts->share ? "" : ", --share joins a shared GPU if the policy allows");
}

int gj_launcher_lease_auto(const struct gj_job *job, const struct gj_selection *allowed, unsigned want,
                           pid_t init, struct gj_job_leases *l, struct gj_selection *ret) {
        int r;
        if ((r = holder_init(job, init, &l->me)) < 0 || (r = open_dir(l)) < 0)
                return r;
        _cleanup_close_ int lock = gj_lease_lock_all(l->dir_fd);
        if (lock < 0)
                return lock;
        r = take_auto_locked(l, allowed, want, job->opts->share);
        if (r == -EBUSY)
                return refuse_auto(job, l, allowed, want);
        if (r < 0)
                return r;
        ret->devices = calloc(l->n, sizeof(*ret->devices));
        if (!ret->devices)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++)
                ret->devices[i] = l->v[i].device;
        ret->n_devices = l->n;
        ret->want_controls = true;
        log_debug("leased %zu GPU(s) for --gpu %s: %s", l->n, job->opts->gpus, l->reason);
        return 0;
}

int gj_launcher_lease_selected(const struct gj_job *job, const struct gj_selection *sel, pid_t init,
                               struct gj_job_leases *l) {
        int r;
        if (sel->n_devices == 0)
                return 0;
        if ((r = holder_init(job, init, &l->me)) < 0 || (r = open_dir(l)) < 0)
                return r;
        _cleanup_close_ int lock = gj_lease_lock_all(l->dir_fd);
        if (lock < 0)
                return lock;
        const struct gj_device *busy = NULL;
        r = take_all(l, sel->devices, sel->n_devices, job->opts->share, &busy);
        if (r == -EBUSY)
                return refuse_held(job, l, busy);
        return r;
}

int gj_launcher_lease_fds(const struct gj_job_leases *l, int **ret, size_t *ret_n) {
        int *fds = calloc(l->n ?: 1, sizeof(int));
        if (!fds)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++)
                fds[i] = l->v[i].fd;
        free(*ret);
        *ret = fds;
        *ret_n = l->n;
        return 0;
}

int gj_launcher_lease_cgroup(struct gj_job_leases *l, const char *cgroup) {
        if (l->n == 0 || !cgroup)
                return 0;
        free(l->me.cgroup);
        if (!(l->me.cgroup = strdup(cgroup)))
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                int r = gj_lease_update(&l->v[i], &l->me);
                if (r < 0)
                        return r;
        }
        return 0;
}
