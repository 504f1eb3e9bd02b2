/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `gpujail run`, the parent side: plan, job cgroup, clone, wait, clean up.
 * See launcher/include/gpujail/launcher.h for the process tree.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "gpujail/cgroup.h"
#include "gpujail/devfs.h"
#include "gpujail/lease-lock.h"
#include "gpujail/util.h"
#include "launcher-internal.h"


/* ---- --bind ---- */

int gj_bind_parse(const char *spec, struct gj_bind *ret) {
        _cleanup_free_ char *s = strdup(spec);
        if (!s)
                return -ENOMEM;
        char *src = s, *dst = strchr(s, ':'), *mode = NULL;
        if (dst) {
                *dst++ = 0;
                if ((mode = strchr(dst, ':')))
                        *mode++ = 0;
                else if (streq(dst, "ro") || streq(dst, "rw"))
                        mode = dst, dst = src; /* SRC:ro, as --help's SRC[:DST][:ro] allows */
        } else
                dst = src;
        if (mode && !streq(mode, "ro") && !streq(mode, "rw"))
                return log_error_errno(-EINVAL, "--bind %s: mode must be 'ro' or 'rw', not '%s'", spec, mode);
        bool ro = mode && streq(mode, "ro");
        if (src[0] != '/' || dst[0] != '/')
                return log_error_errno(-EINVAL, "--bind %s: both paths must be absolute", spec);
        *ret = (struct gj_bind){ .source = strdup(src), .dest = strdup(dst), .read_only = ro };
        if (!ret->source || !ret->dest) {
                gj_bind_done(ret);
                return -ENOMEM;
        }
        return 0;
}

void gj_bind_done(struct gj_bind *b) {
        free(b->source);
        free(b->dest);
        *b = (struct gj_bind){ 0 };
}

/* ---- the plan: selected GPUs, --device nodes, and the rules for default nodes ---- */

static int plan_add_device_path(struct gj_plan *plan, const char *path, bool allow_mknod) {
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real)
                return log_error_errno(-errno, "--device %s: %m", path);
        struct stat st;
        if (stat(real, &st) < 0)
                return log_error_errno(-errno, "--device %s: %m", path);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                return log_error_errno(-ENODEV, "--device %s: %s is not a device node", path, real);
        if (!startswith(real, "/dev/"))
                return log_error_errno(-EINVAL, "--device %s: %s is not below /dev", path, real);
        struct gj_plan_node node = {
                .path = real,
                .host_path = real,
                .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
                .major = major(st.st_rdev),
                .minor = minor(st.st_rdev),
                .mode = st.st_mode & 07777,
                .uid = st.st_uid,
                .gid = st.st_gid,
        };
        return gj_plan_add_node(plan, &node, allow_mknod);
}

/* The cgroup allows exactly what /dev holds: the plan's nodes and what
 * gj_devfs_setup() adds (default nodes; ptmx and pts/N unless --dev-minimal). */
static bool is_pts_rule(const struct gj_cgroup_rule *r) {
        return r->type == 'c' && ((r->major == 5 && r->minor == 2) || r->major == 136);
}

static int job_rules(const struct gj_plan *plan, bool minimal, struct gj_cgroup_rule **ret, size_t *ret_n) {
        size_t max = plan->n_rules + gj_devfs_n_default_rules, n = 0;
        struct gj_cgroup_rule *rules = calloc(max, sizeof(*rules));
        if (!rules)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_rules; i++)
                rules[n++] = plan->rules[i];
        for (size_t i = 0; i < gj_devfs_n_default_rules; i++)
                if (!(minimal && is_pts_rule(&gj_devfs_default_rules[i])))
                        rules[n++] = gj_devfs_default_rules[i];
        *ret = rules;
        *ret_n = n;
        return 0;
}

/* ---- who the job runs as ---- */

static int copy_groups(const struct gj_caller *c, struct gj_job *job) {
        job->groups = calloc((size_t)c->n_groups ?: 1, sizeof(gid_t));
        if (!job->groups)
                return -ENOMEM;
        memcpy(job->groups, c->groups, (size_t)c->n_groups * sizeof(gid_t));
        job->n_groups = c->n_groups;
        return 0;
}

/* --user: root may name anyone; a user, only themselves unless the policy
 * allows more (gj_launcher_check_options ran before). */
static int user_from_option(const struct gj_launch_opts *o, struct gj_job *job) {
        struct passwd *pw = getpwuid(o->uid);
        job->uid = o->uid;
        job->gid = o->has_gid ? o->gid : pw ? pw->pw_gid : o->uid;
        if (job->caller->kind == GJ_CALLER_USER && o->uid == job->caller->uid)
                return copy_groups(job->caller, job);
        if (pw)
                return gj_user_groups(pw->pw_name, job->gid, &job->groups, &job->n_groups);
        job->groups = malloc(sizeof(gid_t));
        if (!job->groups)
                return -ENOMEM;
        job->groups[0] = job->gid;
        job->n_groups = 1;
        return 0;
}

/* --user, else the user root acts for, else stay who we are (root itself). */
static int resolve_user(const struct gj_launch_opts *o, struct gj_job *job) {
        job->set_groups = !job->userns;
        if (job->userns)
                return 0; /* a user namespace maps only ourselves */
        if (o->has_user) {
                job->switch_user = true;
                return user_from_option(o, job);
        }
        if (job->caller->kind != GJ_CALLER_USER)
                return 0;
        job->switch_user = true;
        job->uid = job->caller->uid;
        job->gid = job->caller->gid;
        return copy_groups(job->caller, job);
}

/* ---- the job description ---- */

static void job_done(struct gj_job *job) {
        free(job->cwd);
        strv_free(job->keep_gpus);
        strv_free(job->env);
        free(job->groups);
        free(job->caps);
        free(job->rules);
        free(job->lease_fds);
}

/* What is known before discovery: where, as whom, with which capabilities. */
static int job_init(const struct gj_launch_opts *o, const struct gj_caller *caller, struct gj_job *job) {
        int r;
        job->opts = o;
        job->caller = caller;
        job->userns = caller->kind == GJ_CALLER_UNPRIVILEGED;
        if (o->rootfs)
                job->cwd = strdup("/");
        else
                job->cwd = getcwd(NULL, 0);
        if (!job->cwd)
                return log_error_errno(-errno, "cannot get the current directory: %m");

        size_t n_caps = strv_length(o->cap_add);
        if (n_caps > 0) {
                job->caps = calloc(n_caps, sizeof(cap_value_t));
                if (!job->caps)
                        return -ENOMEM;
                for (size_t i = 0; i < n_caps; i++)
                        if ((r = gj_launcher_parse_cap(o->cap_add[i], &job->caps[job->n_caps++])) < 0)
                                return r;
        }
        return resolve_user(o, job);
}

/* ---- discovery and plan, in the parent while the child builds ---- */

struct planning {
        struct gj_inventory *inv;
        struct gj_selection sel;
        struct gj_plan plan;
        struct gj_job_leases leases; /* held until the job is gone */
};
#define PLANNING_INIT { .leases = GJ_JOB_LEASES_INIT }

static void planning_done(struct planning *p) {
        gj_job_leases_done(&p->leases);
        gj_plan_done(&p->plan);
        gj_selection_done(&p->sel);
        gj_inventory_free(p->inv);
}

/* --gpu auto[:N]: N free GPUs among those the caller may use, leased. */
static int select_auto(struct gj_job *job, unsigned want, pid_t init, struct planning *p) {
        const struct gj_grant *g = job->grant;
        if (job->userns)
                return log_error_errno(-EPERM,
                                       "--gpu %s needs root (sudo gpujail run): without it there "
                                       "are no leases to take",
                                       job->opts->gpus);
        if (g && want > g->max_gpus) {
                job->refused = true;
                return log_error_errno(
                        -EPERM, "%s may use at most %u GPU(s) per job (%s), and asked for %u",
                        job->caller->name, g->max_gpus, g->max_gpus_from ?: "built-in", want);
        }
        struct gj_selection allowed = { 0 };
        int r = gj_launcher_allowed_gpus(job->caller, g, p->inv, &allowed);
        if (r < 0)
                return r;
        r = gj_launcher_lease_auto(job, &allowed, want, init, &p->leases, &p->sel);
        gj_selection_done(&allowed);
        return r;
}

/* The GPUs the job asked for, checked against the policy and leased. */
static int select_gpus(struct gj_job *job, pid_t init, struct planning *p) {
        const char *gpus = job->opts->gpus;
        unsigned want;
        int r = gj_lease_parse_auto(gpus, &want);
        if (r < 0)
                return log_error_errno(r, "--gpu %s: expected auto or auto:N (N from 1 to %u)",
                                       gpus, GJ_LEASE_AUTO_MAX);
        if (r > 0)
                return select_auto(job, want, init, p);
        if ((r = gj_select(p->inv, gpus ?: "void", 0, &p->sel)) < 0)
                return r;
        if (job->grant &&
            (r = gj_launcher_check_gpus(job->caller, job->grant, p->inv, &p->sel)) < 0) {
                job->refused = true;
                return r;
        }
        if ((r = gj_launcher_check_slurm(p->inv, &p->sel)) < 0) {
                job->refused = true;
                return r;
        }
        if (job->userns)
                return 0; /* no leases without root: nothing is enforced there either */
        if ((r = gj_launcher_lease_selected(job, &p->sel, init, &p->leases)) < 0)
                return r;
        if (p->leases.n > 0)
                log_debug("leased %zu GPU(s)", p->leases.n);
        return 0;
}

/* Discovery may skip the details (minor, UUID, nodes, MIG devices) of the GPUs not
 * asked for by index, unless the policy (a user's grant, which may name GPUs by
 * UUID) or Slurm (whose allocation is a list of minors) must be checked against
 * every GPU. */
static bool details_for_asked_only(const struct gj_job *job) {
        return !job->grant && !gj_launcher_in_slurm_job();
}

/* The selected GPUs and --device nodes; what of them the job gets (/proc
 * entries, env) and, as root, the cgroup's allow list. */
static int plan_job(struct gj_job *job, const struct gj_inventory_opts *iopts, pid_t init,
                    struct planning *p) {
        const struct gj_launch_opts *o = job->opts;
        struct gj_plan_opts popts = { .allow_mknod = o->allow_mknod, .set_cuda_env = o->set_cuda_env };
        int r;

        struct gj_inventory_opts opts = iopts ? *iopts : (struct gj_inventory_opts){};
        _cleanup_free_ unsigned *only = NULL;
        if ((r = gj_selector_plain_indexes(o->gpus, &only, &opts.n_details_only)) < 0)
                return log_error_errno(r, "cannot read --gpu %s: %m", o->gpus);
        if (only && details_for_asked_only(job))
                opts.details_only = only;
        else
                opts.n_details_only = 0;
        if ((r = gj_inventory_load(&opts, &p->inv)) < 0)
                return log_error_errno(r, "cannot discover the host's accelerators: %m");
        log_debug("discovered %zu device(s)", p->inv->n_devices);
        if ((r = select_gpus(job, init, p)) < 0)
                return r;
        if ((r = gj_launcher_lease_fds(&p->leases, &job->lease_fds, &job->n_lease_fds)) < 0)
                return r;
        if ((r = gj_plan_build(p->inv, &p->sel, &popts, &p->plan)) < 0)
                return r;
        for (char **d = o->devices; d && *d; d++)
                if ((r = plan_add_device_path(&p->plan, *d, o->allow_mknod)) < 0)
                        return r;
        /* the host's root already has the driver's userspace; an image does not */
        if (o->rootfs && (r = gj_plan_add_driver(&p->plan, p->inv, o->driver_caps)) < 0)
                return r;
        job->plan = &p->plan;
        if ((r = gj_plan_proc_gpus(&p->plan, &job->keep_gpus)) < 0)
                return r;
        /* The plan's env already holds GPUJAIL_DEVICES (and the CUDA variables when asked). */
        for (char **e = p->plan.env; e && *e; e++)
                if ((r = strv_push(&job->env, strdup(*e))) < 0)
                        return r;
        if (!job->userns) {
                r = job_rules(&p->plan, o->dev_minimal, &job->rules, &job->n_rules);
                if (r < 0)
                        return log_error_errno(r, "cannot build the device cgroup rules: %m");
        }
        log_debug("planned: %zu node(s), %zu device(s)", p->plan.n_nodes, p->plan.n_devices);
        return 0;
}

/* ---- the child ---- */

static void loopback_up(void) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { .ifr_name = "lo" };
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return;
        ifr.ifr_flags |= IFF_UP;
        (void)ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* The parent's go: a byte on the pipe; EOF means it failed (and said why) or died. */
static bool parent_says_go(int sync_fd) {
        char go;
        return read(sync_fd, &go, 1) == 1;
}

/*
 * Runs in the new namespaces; never returns. In a user namespace nothing can be
 * built before the parent has written our id maps: it waits for them first.
 * Then the plan-free half of the root, while the parent discovers and plans;
 * the plan's half once the parent hands it over; and, as root, the parent's
 * go, which comes once it has filled in the job cgroup's rules; then we join
 * it (or were born in it): the device rules are in force before pivot_root,
 * and before anything of the job runs.
 */
static _Noreturn void child_main(struct gj_job *job, struct gj_job_cgroup *cg, int sync_fd) {
        struct gj_job_root root = GJ_JOB_ROOT_INIT;
        struct gj_plan plan = { 0 };

        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                _exit(GJ_EXIT_FAILURE);
        if (job->userns && !parent_says_go(sync_fd))
                _exit(GJ_EXIT_FAILURE);
        if (job->opts->net == GJ_NET_NONE)
                loopback_up();
        if (gj_launcher_build_root(job, &root) < 0)
                _exit(GJ_EXIT_FAILURE);
        log_debug("job root built, but for the plan's part");
        if (gj_handoff_receive(sync_fd, job, &plan) < 0 || gj_launcher_add_node_groups(job) < 0 ||
            gj_launcher_finish_root(job, &root) < 0)
                _exit(GJ_EXIT_FAILURE);
        if (!parent_says_go(sync_fd))
                _exit(GJ_EXIT_FAILURE);
        if (!job->userns && gj_job_cgroup_join_self(cg) < 0)
                _exit(GJ_EXIT_FAILURE);
        log_debug("%s; pivot_root", job->userns ? "go (no cgroup: user namespace)" : "in the job cgroup");
        close(sync_fd);
        if (gj_launcher_pivot_root(root.fd) < 0)
                _exit(GJ_EXIT_FAILURE);
        gj_job_root_done(&root);
        if (chdir(job->cwd) < 0) {
                log_error_errno(-errno, "cannot enter %s in the job's root: %m", job->cwd);
                _exit(GJ_EXIT_FAILURE);
        }
        gj_launcher_init(job);
}

static int write_id_maps(pid_t pid) {
        char path[64], line[64];
        int r;
        snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
        if ((r = write_string_file(path, "deny")) < 0 && r != -ENOENT)
                return log_error_errno(r, "cannot write %s: %m", path);
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
        if ((r = write_string_file(path, line)) < 0)
                return log_error_errno(r, "cannot write %s: %m", path);
        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
        snprintf(line, sizeof(line), "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
        if ((r = write_string_file(path, line)) < 0)
                return log_error_errno(r, "cannot write %s: %m", path);
        return 0;
}

/* Everything but the synchronous faults and job control stops: those keep
 * their default meaning for gpujail itself. */
static void forwarded_signals(sigset_t *set) {
        static const int kept[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT,
                                    SIGTSTP, SIGTTIN, SIGTTOU };
        sigfillset(set);
        for (size_t i = 0; i < ELEMENTSOF(kept); i++)
                sigdelset(set, kept[i]);
}

static char *job_cgroup_id(void) {
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
                rnd = (uint32_t)getpid() * 2654435761u;
        return strprintf("run-%d-%08x", (int)getpid(), rnd);
}

/* The init is our child and we reap it only at the end: until then its pid cannot be
 * reused, so kill(2) on it is as safe as a pidfd, and works where pidfds do not
 * (kernels < 5.1, valgrind 3.19). As root the job cgroup is made first, empty of
 * rules, so that the init is born in it (cgroup2) or can join it itself (v1):
 * either spares the migration by pid, whose global lock waits for an RCU grace
 * period (gpujail/cgroup.h). The sync channel is a socket pair, used one way
 * as a pipe, because the lease fds travel down it too (SCM_RIGHTS). */
static int clone_child(struct gj_job *job, struct gj_job_cgroup *cg, int *ret_sync_w) {
        int pipefd[2];
        if (!job->userns) {
                _cleanup_free_ char *id = job_cgroup_id();
                if (!id)
                        return log_error_errno(-ENOMEM, "cannot name the job cgroup: %m");
                unsigned what = GJ_CGROUP_V1 | GJ_CGROUP_V2;
                if (gj_launcher_numa_wanted(job))
                        what |= GJ_CGROUP_CPUSET; /* ready before the init exists, bound once planned */
                int r = gj_job_cgroup_make(id, what, cg);
                if (r < 0)
                        return r;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipefd) < 0)
                return log_error_errno(-errno, "cannot create a socket pair: %m");
        _cleanup_close_ int sync_r = pipefd[0], sync_w = pipefd[1];
        unsigned long flags = CLONE_NEWNS | CLONE_NEWPID;
        if (job->opts->net == GJ_NET_NONE)
                flags |= CLONE_NEWNET;
        if (job->userns)
                flags |= CLONE_NEWUSER;
        pid_t pid = gj_job_cgroup_clone(cg, flags);
        if (pid < 0)
                return log_error_errno(pid, "cannot create the job's namespaces: %m");
        if (pid == 0) {
                close(TAKE_FD(sync_w));
                child_main(job, cg, sync_r);
        }
        *ret_sync_w = TAKE_FD(sync_w);
        return pid;
}

/* Wait for the init; pass on signals that a process sent us (a terminal's
 * reached the job already). Returns gpujail's exit status. */
static int wait_for_init(pid_t pid, const sigset_t *set) {
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(set, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        if (si.si_code <= 0)
                                (void)kill(pid, sig);
                        continue;
                }
                int status;
                pid_t p = waitpid(pid, &status, WNOHANG);
                if (p == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
}

static void kill_and_reap(pid_t pid) {
        (void)kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* -EPIPE without a word: the child failed (and said why). */
static int send_go(int sync_w) {
        if (write(sync_w, "1", 1) == 1)
                return 0;
        return errno == EPIPE ? -EPIPE : log_error_errno(-errno, "cannot start the job: %m");
}

/* After clone, while the child builds: id maps (user namespace), discovery and
 * plan, the handoff, the job cgroup's rules (as root: deny all, allow exactly
 * /dev's nodes), the go. */
static int prepare_child(struct gj_job *job, pid_t pid, int sync_w, const struct gj_inventory_opts *iopts,
                         struct planning *p, struct gj_job_cgroup *cg) {
        int r;
        if (job->userns) {
                if ((r = write_id_maps(pid)) < 0)
                        return r;
                if ((r = send_go(sync_w)) < 0)
                        return r;
        }
        if ((r = plan_job(job, iopts, pid, p)) < 0)
                return r;
        if ((r = gj_handoff_send(sync_w, job)) < 0)
                return r;
        if (!job->userns) {
                if ((r = gj_job_cgroup_restrict(cg, job->rules, job->n_rules)) < 0)
                        return r;
                if ((r = gj_launcher_numa_bind(job, cg)) < 0)
                        return r;
                if ((r = gj_launcher_lease_cgroup(&p->leases, cg->v2_dir ?: cg->v1_dir)) < 0)
                        return r;
                log_debug("job cgroup ready%s: go", cg->v2_joined ? " (init born in cgroup2)" : "");
        }
        return send_go(sync_w);
}

/* Clone, prepare and wait, with the forwarded signals blocked (`set`).
 * Returns gpujail's exit status. */
static int run_job_blocked(struct gj_job *job, const struct gj_inventory_opts *iopts,
                           struct planning *p, struct gj_job_cgroup *cg, const sigset_t *set) {
        int sync_w = -1;
        pid_t pid = clone_child(job, cg, &sync_w);
        if (pid < 0)
                return GJ_EXIT_FAILURE;
        _cleanup_close_ int sync_c = sync_w;
        log_debug("cloned the job's init, pid %d on the host", (int)pid);
        if (prepare_child(job, pid, sync_w, iopts, p, cg) < 0) {
                gj_launcher_audit(job, job->refused ? "refused" : "failed");
                kill_and_reap(pid);
                /* Ctrl-C in the --wait queue: the status of a command that Ctrl-C ended */
                return p->leases.interrupted ? 128 + p->leases.interrupted : GJ_EXIT_FAILURE;
        }
        gj_launcher_audit(job, "allowed");
        close(TAKE_FD(sync_c));
        /* Housekeeping while the job runs, off the start-up's path: the empty cgroups
         * that SIGKILLed gpujails left behind. */
        if (!job->userns)
                gj_launcher_sweep_stale(cg->cpuset_dir != NULL);
        int status = wait_for_init(pid, set);
        log_debug("init exited: status %d", status);
        return status;
}

static int run_job(struct gj_job *job, const struct gj_inventory_opts *iopts, struct planning *p,
                   struct gj_job_cgroup *cg) {
        sigset_t set, old;
        forwarded_signals(&set);
        sigprocmask(SIG_BLOCK, &set, &old);
        int status = run_job_blocked(job, iopts, p, cg, &set);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return status;
}

/* A user's request, before anything is made: the policy's word on the options. */
static int authorize(const struct gj_caller *c, const struct gj_launch_opts *o, struct gj_grant *ret) {
        struct gj_policy policy = { 0 };
        int r = gj_policy_load(GJ_POLICY_PATH, &policy);
        if (r < 0)
                return r;
        r = gj_policy_grant(&policy, c->name, c->group_names, ret);
        gj_policy_done(&policy);
        if (r < 0)
                return log_error_errno(r, "cannot apply the policy: %m");
        return gj_launcher_check_options(c, o, ret);
}

static void say_unenforced(void) {
        log_warning("not root: running in a user namespace; the device cgroup is NOT enforced (the job can "
                    "open any device node it can reach by permissions). On a shared host, ask for "
                    "'sudo gpujail run' (docs/shared-hosts.md)");
}

static int launch_as(const struct gj_caller *caller, const struct gj_grant *grant, const struct gj_launch_opts *o,
                     const struct gj_inventory_opts *iopts) {
        /* Cleaned up in reverse: the job cgroup (a no-op unless confine_child made
         * one), the job, the plan. */
        _cleanup_(planning_done) struct planning p = PLANNING_INIT;
        _cleanup_(job_done) struct gj_job job = { .grant = grant };
        _cleanup_(gj_job_cgroup_destroy) struct gj_job_cgroup cg = GJ_JOB_CGROUP_INIT;

        if (job_init(o, caller, &job) < 0)
                return GJ_EXIT_FAILURE;
        if (job.userns)
                say_unenforced();
        fflush(NULL); /* no buffered output duplicated into the child */
        return run_job(&job, iopts, &p, &cg);
}

int gj_launch(const struct gj_launch_opts *o, const struct gj_inventory_opts *iopts) {
        _cleanup_(gj_caller_done) struct gj_caller caller = { 0 };
        _cleanup_(gj_grant_done) struct gj_grant grant = { 0 };

        if (gj_caller_identify(&caller) < 0)
                return GJ_EXIT_FAILURE;
        if (caller.kind != GJ_CALLER_USER)
                return launch_as(&caller, NULL, o, iopts);
        if (authorize(&caller, o, &grant) < 0) {
                gj_launcher_audit(&(struct gj_job){ .opts = o, .caller = &caller }, "refused");
                return GJ_EXIT_FAILURE;
        }
        return launch_as(&caller, &grant, o, iopts);
}

/* ---- stale job cgroups ---- */

static bool owner_is_gone(const char *name) {
        const char *p = startswith(name, "run-");
        if (!p)
                return false;
        char pidbuf[16];
        size_t n = strcspn(p, "-");
        if (n == 0 || n >= sizeof(pidbuf))
                return false;
        memcpy(pidbuf, p, n);
        pidbuf[n] = 0;
        unsigned pid;
        if (safe_atou(pidbuf, &pid) < 0 || pid == 0)
                return false;
        return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Returns how many stale cgroups it removed. */
static int sweep_dir(const char *base) {
        _cleanup_closedir_ DIR *d = opendir(base);
        if (!d)
                return 0;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                /* rmdir fails with EBUSY while anything still lives there: then it is not stale */
                if (de->d_type == DT_DIR && owner_is_gone(de->d_name) &&
                    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
                        n++;
        return n;
}

/* Job cgroups live in <our cgroup>/gpujail/ of each hierarchy (see cgroup.h);
 * the v1 cpuset one only where jobs get one (a NUMA host), as finding it reads
 * mountinfo. */
void gj_launcher_sweep_stale(bool cpuset) {
        _cleanup_free_ char *v1 = NULL, *v2 = NULL, *v1_cpuset = NULL;
        if (gj_cgroup_paths_of_pid(getpid(), &v1, &v2) < 0)
                return;
        if (cpuset && gj_cgroup_v1_dir_of_self("cpuset", &v1_cpuset) < 0)
                return;
        const char *dirs[] = { v1, v2, v1_cpuset };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                if (!dirs[i])
                        continue;
                _cleanup_free_ char *base = strprintf("%s/gpujail", dirs[i]);
                if (!base)
                        return;
                if (sweep_dir(base) > 0)
                        (void)rmdir(base); /* busy while another job runs: fine */
        }
}
