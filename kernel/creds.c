/* SPDX-License-Identifier: Apache-2.0 */
/* Acting on files as someone else: see gpujail/creds.h. */
#include <grp.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include "gpujail/creds.h"
#include "gpujail/util.h"

/* setfsuid() reports no error: it returns the previous value whatever
 * happens. Asking again with an invalid id (-1) returns the current one. */
static int set_fsuid(uid_t uid) {
        setfsuid(uid);
        return (uid_t)setfsuid((uid_t)-1) == uid ? 0 : -EPERM;
}

static int set_fsgid(gid_t gid) {
        setfsgid(gid);
        return (gid_t)setfsgid((gid_t)-1) == gid ? 0 : -EPERM;
}

static int save_groups(struct gj_saved_fs_creds *saved) {
        int n = getgroups(0, NULL);
        if (n < 0)
                return -errno;
        saved->groups = calloc((size_t)n ?: 1, sizeof(gid_t));
        if (!saved->groups)
                return -ENOMEM;
        if ((n = getgroups(n, saved->groups)) < 0)
                return -errno;
        saved->n_groups = n;
        return 0;
}

/* setgroups, setfsgid and setfsuid need CAP_SETGID/CAP_SETUID, which the kernel
 * leaves alone while fsuid is not 0: the same order works both ways. */
static int apply(uid_t uid, gid_t gid, const gid_t *groups, int n_groups) {
        int r;
        if (setgroups((size_t)n_groups, groups) < 0)
                return -errno;
        if ((r = set_fsgid(gid)) < 0)
                return r;
        return set_fsuid(uid);
}

int gj_fs_creds_restore(struct gj_saved_fs_creds *saved) {
        if (!saved->active)
                return 0;
        int r = apply(saved->fsuid, saved->fsgid, saved->groups, saved->n_groups);
        if (r < 0)
                return log_error_errno(r, "cannot return to gpujail's own credentials: %m");
        free(saved->groups);
        *saved = (struct gj_saved_fs_creds){ 0 };
        return 0;
}

int gj_fs_creds_become(const struct gj_identity *who, struct gj_saved_fs_creds *saved) {
        *saved = (struct gj_saved_fs_creds){ .fsuid = geteuid(), .fsgid = getegid() };
        int r = save_groups(saved);
        if (r < 0) {
                free(TAKE_PTR(saved->groups));
                return log_error_errno(r, "cannot read gpujail's groups: %m");
        }
        saved->active = true;
        if ((r = apply(who->uid, who->gid, who->groups, who->n_groups)) < 0) {
                log_error_errno(r, "cannot take the credentials of user %u: %m", (unsigned)who->uid);
                (void)gj_fs_creds_restore(saved);
                return r;
        }
        return 0;
}
