/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PID 1 of the job's pid namespace, and the exec of the job itself.
 *
 * The init forks the job, then waits in sigwaitinfo() with every signal
 * blocked (a pid-namespace init ignores default-action signals, so blocking
 * is the only way to see them): SIGCHLD reaps orphans and ends the init with
 * the job's status; a signal sent by a process (gpujail forwarding, `kill`)
 * is passed on to the job. A signal the kernel sent (the terminal's Ctrl-C,
 * si_code SI_KERNEL) already reached the job, which sits in the same
 * foreground process group, so it is not sent twice. When the init exits the
 * kernel kills whatever is left in the namespace.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "gpujail/util.h"
#include "launcher-internal.h"

static int exit_status_of(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return GJ_EXIT_FAILURE;
}

static void close_fds_between(unsigned lo, unsigned hi) {
        if (lo > hi || close_range(lo, hi, 0) == 0)
                return;
        /* kernels before 5.9 */
        long max = sysconf(_SC_OPEN_MAX);
        for (unsigned fd = lo; fd <= hi && fd < (unsigned)(max > 0 ? max : 65536); fd++)
                close((int)fd);
}

static void close_inherited_fds(void) { close_fds_between(3, ~0U); }

static int cmp_int(const void *a, const void *b) {
        return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Every fd but the leases': holding them is what the init is for, besides reaping. */
static void close_all_but_leases(const struct gj_job *job) {
        if (job->n_lease_fds > 0) /* lease_fds is NULL then, which qsort may not get */
                qsort(job->lease_fds, job->n_lease_fds, sizeof(int), cmp_int);
        unsigned next = 3;
        for (size_t i = 0; i < job->n_lease_fds; i++) {
                unsigned fd = (unsigned)job->lease_fds[i];
                if (fd < next)
                        continue;
                close_fds_between(next, fd - 1);
                next = fd + 1;
        }
        close_fds_between(next, ~0U);
}

static int apply_env(const struct gj_job *job) {
        for (char **e = job->env; e && *e; e++) {
                _cleanup_free_ char *key = strdup(*e);
                if (!key)
                        return log_error_errno(-ENOMEM, "cannot set the job's environment: %m");
                char *eq = strchr(key, '=');
                if (!eq)
                        continue;
                *eq = 0;
                if (setenv(key, eq + 1, 1) < 0)
                        return log_error_errno(-errno, "cannot set %s: %m", key);
        }
        return 0;
}

/* The job: from here to execve only per-task syscalls (signal mask, credentials,
 * fds), since it runs in the init's memory. */
static _Noreturn void job_main(const struct gj_job *job) {
        sigset_t none;
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 || gj_launcher_drop_privileges(job) < 0)
                _exit(GJ_EXIT_FAILURE);
        close_inherited_fds();
        log_debug("exec %s", job->opts->argv[0]);

        char *const *argv = job->opts->argv;
        execvp(argv[0], argv);
        int r = -errno;
        log_error_errno(r, "cannot execute %s: %m", argv[0]);
        _exit(r == -ENOENT || r == -ENOTDIR ? GJ_EXIT_NOT_FOUND : GJ_EXIT_CANNOT_EXEC);
}

/*
 * Start the job with vfork(), as posix_spawn does: no page tables copied and no
 * copy-on-write faults, the init sleeping until the exec. fork() here cost more
 * than a millisecond, a tenth of the whole start-up. The environment is set in
 * the init first, so the job touches no shared memory but the stack below this
 * frame and what libcap allocates (freed again).
 */
static pid_t spawn_job(const struct gj_job *job) {
        pid_t pid = vfork();
        if (pid == 0)
                job_main(job);
        return pid < 0 ? -errno : pid;
}

/* Returns the job's exit status once it is reaped; -1 while it runs. */
static int reap_children(pid_t job_pid) {
        int status, result = -1;
        pid_t p;
        while ((p = waitpid(-1, &status, WNOHANG)) > 0)
                if (p == job_pid)
                        result = exit_status_of(status);
        return result;
}

_Noreturn void gj_launcher_init(const struct gj_job *job) {
        sigset_t all;
        sigfillset(&all);
        if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
                _exit(GJ_EXIT_FAILURE);

        if (apply_env(job) < 0)
                _exit(GJ_EXIT_FAILURE);
        pid_t pid = spawn_job(job);
        if (pid < 0) {
                log_error_errno(pid, "cannot start the job: %m");
                _exit(GJ_EXIT_FAILURE);
        }

        /* The init stays privileged in the job's namespaces: it keeps nothing the
         * job could reach through /proc/1 (only the lease fds, and it is not
         * dumpable, so no ptrace and no /proc/1/fd for the job). */
        close_all_but_leases(job);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&all, &si);
                if (sig < 0)
                        continue; /* EINTR */
                if (sig == SIGCHLD) {
                        int status = reap_children(pid);
                        if (status >= 0) {
                                log_debug("job exited: status %d", status);
                                _exit(status);
                        }
                } else if (si.si_code <= 0) /* SI_USER, SI_QUEUE, SI_TKILL: sent by a process */
                        (void)kill(pid, sig);
        }
}
