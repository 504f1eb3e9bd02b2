/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration that only root may have written (devices/root-file.c).
 *
 * gpujail's files under /etc/gpujail widen what others get (the hook's
 * hook.conf: who may ask for GPUs; the launcher's policy.conf: what a user may
 * ask of `gpujail run`). A file that anyone but root could have written is not
 * read at all: the caller fails closed rather than guess what root meant.
 *
 * The checks are those of the policy loader (branch `policy`,
 * devices/policy.c), which is meant to read its file through this function
 * once both are merged.
 */
#pragma once

#include <stddef.h>

/*
 * Read the text of the file at path (at most max bytes).
 *
 * 1 and *ret_text (NUL-terminated, holding no NUL byte) when it was read;
 * 0 and *ret_text = NULL when the file or its directory does not exist.
 * -EPERM, logged: the file or its directory is not owned by root, or is
 * writable by group or others; the file is not a regular file or the
 * directory not a directory. A symlink in the last component of either is
 * refused, not followed (O_NOFOLLOW); the file is opened through the
 * directory's checked fd, and checked again through its own fd: what is
 * checked is what is read. A fifo or device there is never opened.
 * -EFBIG over max bytes; -EBADMSG for a NUL byte in it; other errors logged.
 *
 * what names the file in messages, e.g. "hook configuration":
 * "refusing the hook configuration /etc/gpujail/hook.conf: it is writable by
 * group or others (mode 0664; chmod go-w /etc/gpujail/hook.conf)".
 */
int gj_read_root_file(const char *path, const char *what, size_t max, char **ret_text);
