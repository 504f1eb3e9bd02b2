/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Acting on files as someone else (kernel/creds.c), for root working on a
 * user's behalf: the fsuid, fsgid and supplementary groups of the calling
 * process become the user's, so that open(), mkdir() and access checks are
 * the kernel's checks for that user. The kernel clears the capabilities that
 * override file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
 * CAP_FOWNER, ...) from the effective set while fsuid is not 0, and gives them
 * back when it is 0 again; CAP_SYS_ADMIN stays, so mounts still work.
 *
 * setgroups() is process-wide in glibc: call these from a single-threaded
 * process only (the launcher's child is).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct gj_identity {
        uid_t uid;
        gid_t gid;
        const gid_t *groups; /* supplementary groups */
        int n_groups;
};

struct gj_saved_fs_creds {
        bool active;
        uid_t fsuid;
        gid_t fsgid;
        gid_t *groups;
        int n_groups;
};

/* Become `who` for file access. On failure nothing is changed and the error
 * is logged. Undo with gj_fs_creds_restore(), which is safe to call twice. */
int gj_fs_creds_become(const struct gj_identity *who, struct gj_saved_fs_creds *saved);
/* Back to what gj_fs_creds_become() saved. Failing to restore is fatal to
 * the caller's purpose: logged, negative errno. */
int gj_fs_creds_restore(struct gj_saved_fs_creds *saved);
