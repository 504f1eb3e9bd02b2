/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who the job runs as: the invoking user (or --user), with no capabilities
 * but those asked for, and no way to gain privileges (no_new_privs).
 *
 * Order matters: the bounding set is trimmed while we still hold
 * CAP_SETPCAP; keep-caps carries the kept ones across setuid; they are then
 * made ambient so that they survive exec as a non-root user. Last comes the
 * seccomp filter that keeps the job's hands off the caller's terminal.
 */
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "gpujail/seccomp-tty.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

static bool cap_is_kept(const struct gj_job *job, cap_value_t c) {
        for (size_t i = 0; i < job->n_caps; i++)
                if (job->caps[i] == c)
                        return true;
        return false;
}

static int drop_bounding_set(const struct gj_job *job) {
        for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
                if (cap_is_kept(job, c))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return log_error_errno(-errno, "cannot drop capability %s from the bounding set: %m",
                                               cap_to_name(c));
        }
        return 0;
}

static int switch_user(const struct gj_job *job) {
        if (job->set_groups && setgroups((size_t)job->n_groups, job->groups) < 0)
                return log_error_errno(-errno, "cannot set the job's supplementary groups: %m");
        if (setresgid(job->gid, job->gid, job->gid) < 0)
                return log_error_errno(-errno, "cannot switch to group %u: %m", (unsigned)job->gid);
        if (setresuid(job->uid, job->uid, job->uid) < 0)
                return log_error_errno(-errno, "cannot switch to user %u: %m", (unsigned)job->uid);
        return 0;
}

static void cap_freep(cap_t *caps) {
        if (*caps)
                cap_free(*caps);
}

/* Permitted, effective and inheritable = exactly the kept caps. */
static int set_proc_caps(const struct gj_job *job) {
        _cleanup_(cap_freep) cap_t caps = cap_init();
        if (!caps)
                return log_error_errno(-errno, "cannot allocate capability state: %m");
        for (cap_flag_t f = CAP_EFFECTIVE; job->n_caps > 0 && f <= CAP_INHERITABLE; f++)
                if (cap_set_flag(caps, f, (int)job->n_caps, job->caps, CAP_SET) < 0)
                        return log_error_errno(-errno, "cannot set the job's capabilities: %m");
        if (cap_set_proc(caps) < 0)
                return log_error_errno(-errno, "cannot set the job's capabilities: %m");
        return 0;
}

/* The kept caps, ambient too: a non-root exec keeps nothing else. */
static int set_kept_caps(const struct gj_job *job) {
        int r = set_proc_caps(job);
        if (r < 0)
                return r;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return log_error_errno(-errno, "cannot clear ambient capabilities: %m");
        for (size_t i = 0; i < job->n_caps; i++)
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, job->caps[i], 0, 0) < 0)
                        return log_error_errno(-errno, "cannot keep capability %s across exec: %m",
                                               cap_to_name(job->caps[i]));
        return 0;
}

int gj_launcher_drop_privileges(const struct gj_job *job) {
        int r = drop_bounding_set(job);
        if (r < 0)
                return r;
        if (job->switch_user) {
                if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                        return log_error_errno(-errno, "cannot keep capabilities across setuid: %m");
                if ((r = switch_user(job)) < 0)
                        return r;
        }
        if ((r = set_kept_caps(job)) < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(-errno, "cannot set no_new_privs: %m");
        /* Last, under no_new_privs: no TIOCSTI or TIOCLINUX into the caller's
         * terminal, which the job keeps as its own (kernel/seccomp-tty.c). */
        return gj_seccomp_tty_install();
}

static bool job_has_group(const struct gj_job *job, gid_t gid) {
        if (gid == job->gid)
                return true;
        for (int i = 0; i < job->n_groups; i++)
                if (job->groups[i] == gid)
                        return true;
        return false;
}

/* A node the job's user could open only through its group: 0660 root:GROUP
 * after `gpujail setup --lockdown GROUP` (docs/shared-hosts.md). */
static bool needs_group(const struct stat *st) {
        return (st->st_mode & 0060) == 0060 && (st->st_mode & 0006) != 0006 && st->st_gid != 0;
}

int gj_launcher_add_node_groups(struct gj_job *job) {
        if (!job->switch_user || !job->set_groups)
                return 0;
        for (size_t i = 0; i < job->plan->n_nodes; i++) {
                struct stat st;
                /* the host's node as it is now: a lockdown changes it before the driver's params */
                if (stat(job->plan->nodes[i].host_path, &st) < 0 || !needs_group(&st) ||
                    job_has_group(job, st.st_gid))
                        continue;
                gid_t *g = realloc(job->groups, ((size_t)job->n_groups + 1) * sizeof(gid_t));
                if (!g)
                        return log_error_errno(-ENOMEM, "cannot add the group of %s: %m",
                                               job->plan->nodes[i].host_path);
                job->groups = g;
                job->groups[job->n_groups++] = st.st_gid;
                log_debug("the job gets group %u for %s", (unsigned)st.st_gid, job->plan->nodes[i].host_path);
        }
        return 0;
}

int gj_launcher_parse_cap(const char *name, cap_value_t *ret) {
        _cleanup_free_ char *lower = NULL;
        const char *n = name;
        if (!startswith(name, "CAP_") && !startswith(name, "cap_")) {
                lower = strprintf("cap_%s", name);
                if (!lower)
                        return -ENOMEM;
                n = lower;
        }
        if (cap_from_name(n, ret) < 0)
                return log_error_errno(-EINVAL, "unknown capability '%s' (see capabilities(7))", name);
        return 0;
}
