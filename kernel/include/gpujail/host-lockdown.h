/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The files of `gpujail setup --lockdown` on the host (kernel/host-lockdown.c):
 * written and removed here; their text, and what they mean, are devices/'s
 * (gpujail/lockdown.h). The nodes themselves are changed by host-nodes.h.
 */
#pragma once

#include <stdbool.h>

enum gj_host_file_result {
        GJ_HOST_FILE_OK,      /* already holds exactly that text */
        GJ_HOST_FILE_WRITTEN, /* was missing or different: written (or would be, in dry run) */
        GJ_HOST_FILE_REMOVED, /* was there: removed (or would be) */
        GJ_HOST_FILE_ABSENT,  /* nothing to remove */
};

/*
 * Make path hold exactly text, mode 0644: replaced atomically (temporary file,
 * rename over the old name, which is never followed if it is a symlink); missing
 * directories are made 0755, refusing a symlink among them. A file that already
 * holds text is left alone. dry_run: decide, change nothing. Errors logged with
 * the path.
 */
int gj_host_file_write(const char *path, const char *text, bool dry_run, enum gj_host_file_result *ret);

/* Remove path (a symlink itself, not its target). Errors logged with the path. */
int gj_host_file_remove(const char *path, bool dry_run, enum gj_host_file_result *ret);
