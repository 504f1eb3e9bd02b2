/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's GPU leases (docs/shared-hosts.md, "Sharing GPUs"): `--gpu
 * auto[:N]` picks N free GPUs among those the caller may use; an explicit
 * selection takes the leases of the GPUs it names, or is refused naming
 * who holds them. Both take every lease or none, under the acquisition lock
 * (kernel/lease-lock.c). The leases live as long as the fds in job_leases: gpujail
 * holds them until the job is gone, and hands them to the job's init too.
 */
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>

#include "gpujail/lease-lock.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

void gj_job_leases_done(struct gj_job_leases *l) {
        for (size_t i = 0; i < l->n; i++)
                gj_lease_release(&l->v[i]);
        free(l->v);
        if (l->dir_fd >= 0 && l->n > 0)
                gj_lease_notify(l->dir_fd); /* after the locks are gone: waiters, look again */
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

static void describe_holder(struct strbuf *b, const struct gj_job *job,
                            const struct gj_lease_holder *h) {
        char since[16] = "?";
        time_t t = (time_t)h->since;
        struct tm tm;
        if (localtime_r(&t, &tm))
                strftime(since, sizeof(since), "%H:%M:%S", &tm);
        strbuf_printf(b, "%s (uid %u), pid %d, since %s", h->user ?: "?", (unsigned)h->uid,
                      (int)h->pid, since);
        if (h->command && may_see_command(job, h))
                strbuf_printf(b, ", `%s`", h->command);
}

/* "GPU 3 is held by alice (uid 1001), pid 4242, since 10:02:00, `python train.py`" */
static void describe_device(struct strbuf *b, const struct gj_job *job, int dir_fd,
                            const struct gj_device *d) {
        enum gj_lease_state state;
        struct gj_lease_holder *h = NULL;
        size_t n = 0;
        if (gj_lease_query(dir_fd, d, &state, &h, &n) < 0 || state == GJ_LEASE_FREE) {
                strbuf_printf(b, "GPU %u is free", d->index);
                return;
        }
        strbuf_printf(b, "GPU %u is %s by ", d->index,
                      state == GJ_LEASE_SHARED ? "shared" : "held");
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
static int take_all(struct gj_job_leases *l, const struct gj_device *const *devs, size_t n,
                    bool shared, const struct gj_device **ret_busy) {
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
static int take_auto_locked(struct gj_job_leases *l, const struct gj_selection *allowed,
                            unsigned want, bool shared) {
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

/* What the job asks for: `want` of `set` (auto), or every GPU of `set`. */
struct request {
        const struct gj_selection *set;
        unsigned want; /* 0: every GPU of set (an explicit selection) */
};

/* Under the acquisition lock: take what req asks for, all or nothing; -EBUSY
 * (busy: the first held GPU of an explicit selection). */
static int attempt(const struct gj_job *job, struct gj_job_leases *l, const struct request *req,
                   const struct gj_device **busy) {
        if (req->want > 0)
                return take_auto_locked(l, req->set, req->want, job->opts->share);
        return take_all(l, req->set->devices, req->set->n_devices, job->opts->share, busy);
}

static const char *caller_name(const struct gj_job *job) {
        return job->caller && job->caller->name ? job->caller->name : "root";
}

static int refuse(const struct gj_job *job, struct gj_job_leases *l, const struct request *req,
                  const struct gj_device *busy) {
        _cleanup_strbuf_ struct strbuf b = {};
        if (req->want == 0) {
                describe_device(&b, job, l->dir_fd, busy);
                return log_error_errno(
                        -EBUSY, "%s; --wait queues until it is free%s",
                        strbuf_str(&b) ?: "GPU held",
                        job->opts->share ? ""
                                         : ", --share joins a shared GPU if the policy allows");
        }
        strbuf_printf(&b, "no %u free GPU(s) for --gpu %s among the %zu %s may use", req->want,
                      job->opts->gpus, req->set->n_devices, caller_name(job));
        for (size_t i = 0; i < req->set->n_devices; i++) {
                strbuf_printf(&b, "\n  ");
                describe_device(&b, job, l->dir_fd, req->set->devices[i]);
        }
        strbuf_printf(&b, "\n--wait queues until they are free");
        return log_error_errno(-EBUSY, "%s", strbuf_str(&b) ?: "no free GPU");
}

/* ---- --wait: the queue ---- */

struct waiting {
        int queue_fd;
        struct gj_lease_ticket ticket;
        int inotify_fd;
        int signal_fd;
};

static void waiting_done(struct waiting *w) {
        gj_lease_ticket_drop(w->queue_fd, &w->ticket); /* no-op once taken */
        if (w->queue_fd >= 0)
                close(w->queue_fd);
        if (w->inotify_fd >= 0)
                close(w->inotify_fd);
        if (w->signal_fd >= 0)
                close(w->signal_fd);
}

/* Wake on a lease released (its file closed after writing, gj_lease_notify())
 * and on a ticket that leaves; on Ctrl-C and the like; and on the child's end
 * (it failed building the job's root). The signals are blocked already
 * (run_job): signalfd reads them. */
static int waiting_watch(struct waiting *w, int dir_fd) {
        char path[64];
        sigset_t set;
        w->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (w->inotify_fd < 0)
                return log_error_errno(-errno, "cannot watch %s: %m", GJ_LEASE_DIR);
        int fds[] = { dir_fd, w->queue_fd };
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
                if (inotify_add_watch(w->inotify_fd, path, IN_CLOSE_WRITE | IN_DELETE) < 0)
                        return log_error_errno(-errno, "cannot watch %s: %m", GJ_RUN_DIR);
        }
        sigemptyset(&set);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT ||
                    sig == SIGCHLD)
                        sigaddset(&set, sig);
        w->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (w->signal_fd < 0)
                return log_error_errno(-errno, "cannot wait for signals: %m");
        return 0;
}

static void say_place(const struct gj_job *job, const struct request *req, size_t ahead) {
        _cleanup_free_ char *what =
                req->want > 0 ? strprintf("%u free GPU(s) of the %zu %s may use", req->want,
                                          req->set->n_devices, caller_name(job))
                              : strprintf("GPU(s) %s to be free", job->opts->gpus);
        if (ahead == 0)
                log_info("waiting for %s: first in the queue", what ?: "GPUs");
        else
                log_info("waiting for %s: %zu job(s) ahead in the queue", what ?: "GPUs", ahead);
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 on an event (wake up sooner next time), 0 on a timeout; a signal that
 * ends the wait: -EINTR with l->interrupted set, or -ECHILD (the child is gone). */
static int wait_event(struct waiting *w, struct gj_job_leases *l, int timeout_ms) {
        struct pollfd p[] = { { .fd = w->inotify_fd, .events = POLLIN },
                              { .fd = w->signal_fd, .events = POLLIN } };
        int n = poll(p, ELEMENTSOF(p), timeout_ms);
        if (n < 0)
                return errno == EINTR ? 1 : -errno;
        struct signalfd_siginfo si;
        if (p[1].revents && read(w->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGCHLD)
                        return -ECHILD;
                l->interrupted = (int)si.ssi_signo;
                return -EINTR;
        }
        char buf[4096];
        while (read(w->inotify_fd, buf, sizeof(buf)) > 0)
                ;
        return n > 0;
}

/* One turn: if first in the queue, try. 0 when leased, -EBUSY when not yet; *ahead. */
static int turn(const struct gj_job *job, struct gj_job_leases *l, struct waiting *w,
                const struct request *req, size_t *ahead) {
        _cleanup_close_ int lock = gj_lease_lock_all(l->dir_fd);
        if (lock < 0)
                return lock;
        int r = gj_lease_ticket_position(w->queue_fd, &w->ticket, ahead);
        if (r < 0)
                return r;
        if (*ahead > 0)
                return -EBUSY;
        const struct gj_device *busy;
        return attempt(job, l, req, &busy);
}

static int queue_loop(const struct gj_job *job, struct gj_job_leases *l, struct waiting *w,
                      const struct request *req) {
        int64_t deadline =
                job->opts->wait_timeout_ms > 0 ? now_ms() + job->opts->wait_timeout_ms : -1;
        size_t said = SIZE_MAX;
        bool soon = false;
        for (;;) {
                size_t ahead;
                int r = turn(job, l, w, req, &ahead);
                if (r != -EBUSY)
                        return r;
                if (ahead != said)
                        say_place(job, req, ahead);
                said = ahead;
                int timeout = soon ? 20 : 1000; /* soon: the event may come before the unlock */
                if (deadline >= 0) {
                        int64_t left = deadline - now_ms();
                        if (left <= 0)
                                return log_error_errno(-ETIMEDOUT,
                                                       "gave up waiting for --gpu %s (--wait=%s)",
                                                       job->opts->gpus, job->opts->wait_spec);
                        timeout = left < timeout ? (int)left : timeout;
                }
                r = wait_event(w, l, timeout);
                if (r == -EINTR)
                        return log_info("left the queue (%s)", strsignal(l->interrupted)), r;
                if (r < 0)
                        return r;
                soon = r > 0;
        }
}

/* Take a ticket (under the acquisition lock `lock`, which is released here),
 * then wait our turn. */
static int queue(const struct gj_job *job, struct gj_job_leases *l, const struct request *req,
                 int lock) {
        _cleanup_(waiting_done) struct waiting w = {
                .queue_fd = -1, .ticket = GJ_LEASE_TICKET_INIT, .inotify_fd = -1, .signal_fd = -1
        };
        int r = gj_lease_queue_open(true, &w.queue_fd);
        if (r >= 0)
                r = gj_lease_ticket_take(w.queue_fd, &l->me, &w.ticket);
        close(lock);
        if (r < 0 || (r = waiting_watch(&w, l->dir_fd)) < 0)
                return r;
        return queue_loop(job, l, &w, req);
}

/* Someone waits already: a new request does not overtake them, even one that the free
 * GPUs would serve (first come, first served; else a stream of small jobs could keep a
 * large one waiting for ever). */
static int refuse_queued(const struct gj_job *job, size_t waiting) {
        return log_error_errno(-EBUSY,
                               "--gpu %s: %zu job(s) wait in the queue for GPUs, and they come "
                               "first; --wait queues behind them ('gpujail ps' shows the queue)",
                               job->opts->gpus, waiting);
}

/* Take what req asks for now, or (--wait) once it is our turn and it is free. */
static int acquire(const struct gj_job *job, struct gj_job_leases *l, const struct request *req) {
        int lock = gj_lease_lock_all(l->dir_fd);
        if (lock < 0)
                return lock;
        size_t waiting;
        int r = gj_lease_queue_waiting(&waiting);
        if (r >= 0 && waiting > 0)
                r = job->opts->wait ? -EBUSY : refuse_queued(job, waiting);
        const struct gj_device *busy = NULL;
        if (r >= 0)
                r = attempt(job, l, req, &busy);
        if (r == -EBUSY && job->opts->wait)
                return queue(job, l, req, lock);
        if (r == -EBUSY && waiting == 0)
                r = refuse(job, l, req, busy);
        close(lock);
        return r;
}

/* "--gpu auto:2: GPUs 4,6 (one NUMA node, one PCIe switch)": with --verbose, else debug. */
static void say_pick(const struct gj_job *job, const struct gj_job_leases *l) {
        _cleanup_strbuf_ struct strbuf b = {};
        for (size_t i = 0; i < l->n; i++)
                strbuf_printf(&b, "%s%u", i ? "," : "", l->v[i].device->index);
        log_full_errno(job->opts->verbose ? GJ_LOG_INFO : GJ_LOG_DEBUG, 0,
                       "--gpu %s: GPU%s %s (%s)", job->opts->gpus, l->n == 1 ? "" : "s",
                       strbuf_str(&b) ?: "?", l->reason);
}

int gj_launcher_lease_auto(const struct gj_job *job, const struct gj_selection *allowed,
                           unsigned want, pid_t init, struct gj_job_leases *l,
                           struct gj_selection *ret) {
        int r;
        if (want > allowed->n_devices)
                return log_error_errno(-EPERM,
                                       "--gpu %s: %s may use %zu GPU(s) on this host, not %u",
                                       job->opts->gpus, caller_name(job), allowed->n_devices, want);
        if ((r = holder_init(job, init, &l->me)) < 0 || (r = open_dir(l)) < 0)
                return r;
        if ((r = acquire(job, l, &(struct request){ .set = allowed, .want = want })) < 0)
                return r;
        ret->devices = calloc(l->n, sizeof(*ret->devices));
        if (!ret->devices)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++)
                ret->devices[i] = l->v[i].device;
        ret->n_devices = l->n;
        ret->want_controls = true;
        say_pick(job, l);
        return 0;
}

int gj_launcher_lease_selected(const struct gj_job *job, const struct gj_selection *sel, pid_t init,
                               struct gj_job_leases *l) {
        int r;
        if (sel->n_devices == 0)
                return 0;
        if ((r = holder_init(job, init, &l->me)) < 0 || (r = open_dir(l)) < 0)
                return r;
        return acquire(job, l, &(struct request){ .set = sel });
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

/* ---- what auto would pick now (`gpujail plan --gpu auto:N`) ---- */

/* The caller's allowed GPUs, as `run` would compute them. */
static int caller_allowed(const struct gj_inventory *inv, struct gj_selection *ret) {
        _cleanup_(gj_caller_done) struct gj_caller caller = { 0 };
        _cleanup_(gj_grant_done) struct gj_grant grant = { 0 };
        struct gj_policy policy = { 0 };
        int r = gj_caller_identify(&caller);
        if (r < 0)
                return r;
        if (caller.kind != GJ_CALLER_USER)
                return gj_launcher_allowed_gpus(&caller, NULL, inv, ret);
        if ((r = gj_policy_load(GJ_POLICY_PATH, &policy)) < 0)
                return r;
        r = gj_policy_grant(&policy, caller.name, caller.group_names, &grant);
        gj_policy_done(&policy);
        if (r < 0)
                return log_error_errno(r, "cannot apply the policy: %m");
        return gj_launcher_allowed_gpus(&caller, &grant, inv, ret);
}

int gj_launch_preview_auto(const struct gj_inventory *inv, unsigned want, bool shared,
                           struct gj_selection *ret, const char **reason) {
        _cleanup_(gj_selection_done) struct gj_selection allowed = { 0 };
        _cleanup_close_ int dir_fd = -1;
        _cleanup_free_ const struct gj_device **free_v = NULL;
        size_t n_free;
        int r = caller_allowed(inv, &allowed);
        if (r < 0)
                return r;
        if ((r = gj_lease_dir_open(false, &dir_fd)) < 0 && r != -ENOENT)
                return r;
        if ((r = free_devices(dir_fd, &allowed, shared, &free_v, &n_free)) < 0)
                return r;
        *ret = (struct gj_selection){ .want_controls = true };
        if (!(ret->devices = calloc(want, sizeof(*ret->devices))))
                return -ENOMEM;
        r = gj_lease_pick(free_v, n_free, want, ret->devices, reason);
        if (r == -EBUSY)
                return log_error_errno(
                        r,
                        "no %u free GPU(s) now among the %zu you may use (gpujail ps says who "
                        "holds them)",
                        want, allowed.n_devices);
        if (r < 0)
                return r;
        ret->n_devices = want;
        return 0;
}
