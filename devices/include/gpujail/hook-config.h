/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What gpujail-hook honours (devices/hook-config.c): one root-owned file,
 * /etc/gpujail/hook.conf (docs/gpujail.md, "gpujail-hook"):
 *
 *     # the requests gpujail-hook acts on
 *     accept = annotation, cdi
 *
 * accept   comma list of the request sources the hook honours (see
 *          gpujail/oci-request.h); "none" alone for none:
 *            annotation  the annotation gpujail.io/gpus
 *            cdi         annotations cdi.k8s.io/<anything> naming gpujail's CDI kind
 *            env         NVIDIA_VISIBLE_DEVICES in the container's process.env
 *          Default (no file, or no accept line): annotation, cdi. process.env
 *          holds the image's own environment, and NVIDIA's CUDA images set
 *          NVIDIA_VISIBLE_DEVICES=all: the image's author is not the scheduler.
 * '#' starts a comment (whole lines only); blank lines are ignored; a key may
 * appear once; an unknown key or word is an error.
 *
 * A request from a source that is not accepted is read as if it were not
 * there: the container starts without it (the hook logs an "ignore" line).
 */
#pragma once

#include "gpujail/oci-request.h"

#define GJ_HOOK_CONFIG_PATH "/etc/gpujail/hook.conf"
#define GJ_HOOK_CONFIG_MAX (64u << 10) /* bytes; a larger file is refused */
#define GJ_HOOK_CONFIG_BUILTIN "<built-in>"
#define GJ_HOOK_ACCEPT_DEFAULT (GJ_REQUEST_BIT(GJ_REQUEST_ANNOTATION) | GJ_REQUEST_BIT(GJ_REQUEST_CDI))

struct gj_hook_config {
        char *path;       /* what it was read from, for messages; GJ_HOOK_CONFIG_BUILTIN without a file */
        unsigned accept;  /* GJ_REQUEST_BIT()s of the sources honoured */
        unsigned accept_line; /* of the accept line; 0 = the built-in default */
};

/* Pure: parse text. -EBADMSG, logged as "<path>:<line>: what is wrong", for a
 * malformed line, an unknown key or word, a repeated key. path is used in
 * messages and kept in ret. -ENOMEM (not logged). */
int gj_hook_config_parse(const char *text, const char *path, struct gj_hook_config *ret);
/* Read and parse the file at path (GJ_HOOK_CONFIG_PATH) with the checks of
 * gj_read_root_file() (root-owned, not group/other-writable, regular file,
 * directory likewise: -EPERM otherwise). No file: the built-in defaults.
 * Every error is logged. */
int gj_hook_config_load(const char *path, struct gj_hook_config *ret);
void gj_hook_config_done(struct gj_hook_config *c);

/* "annotation,cdi", "none": for messages. NULL on ENOMEM. */
char *gj_hook_accept_string(unsigned accept);
