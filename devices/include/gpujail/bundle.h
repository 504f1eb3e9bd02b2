/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An OCI bundle's config.json, read one way for every face that reads it
 * (devices/bundle.c): the hook, `gpujail oci inject` and `gpujail runtime`.
 *
 * Two halves, so that the parsing is testable without files: gj_bundle_parse()
 * turns text into the typed result (pure), gj_bundle_read() opens and reads
 * the file safely and then parses it. Both are strict: one JSON object and
 * nothing else (trailing data, trailing commas and single quotes refused).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "gpujail/oci-request.h"

struct json_object;

struct gj_bundle_opts {
        bool request;         /* read the container's request (the hook, `runtime`) */
        const char *cdi_kind; /* for the request; NULL means GJ_CDI_KIND_DEFAULT */
        unsigned refuse;      /* request sources (GJ_REQUEST_BIT()s) read as if absent (the hook's
                               * configuration); 0: every source counts, as `gpujail runtime` reads */
};

struct gj_bundle {
        char *dir;                  /* the bundle directory, as given */
        char *config_path;          /* "<dir>/config.json": for messages and for writing it back */
        struct json_object *config; /* the whole document (owned) */
        mode_t mode;                /* config.json's permission bits (0 from gj_bundle_parse) */
        char *root;                 /* root.path, relative paths resolved against dir; NULL when
                                     * config.json names no root (its user says whether that is
                                     * an error: with nothing to do, it is not) */
        struct gj_oci_request request; /* with opts->request; GJ_REQUEST_NONE otherwise */
};

/* Parse the text of <dir>/config.json. -EBADMSG (logged, naming the file) when
 * it is not exactly one JSON object, or, with opts->request, when the request
 * is malformed (gj_oci_request_from_config()). -ENOMEM (logged). On error
 * *ret is left untouched. */
int gj_bundle_parse(const char *dir, const char *text, size_t len, const struct gj_bundle_opts *opts,
                    struct gj_bundle *ret);

/* Read and parse <dir>/config.json: opened relative to the bundle directory,
 * never through a symbolic link (-ELOOP), without blocking (a fifo planted
 * there must not hang the runtime), only a regular file (-EISDIR, -EBADFD),
 * at most GJ_OCI_CONFIG_MAX bytes (-EFBIG). Every error is logged once,
 * naming <dir>/config.json; a missing bundle or file is -ENOENT. */
int gj_bundle_read(const char *dir, const struct gj_bundle_opts *opts, struct gj_bundle *ret);

void gj_bundle_done(struct gj_bundle *b);
