/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an OCI container asks for (devices/oci-request.c): pure, shared by the
 * hook (gpujail-hook) and the runtime wrapper (gpujail runtime) so that both
 * read a request the same way.
 *
 * First match wins:
 *   1. annotation "gpujail.io/gpus": a gpujail selector ("0,2", "GPU-…", "all")
 *   2. annotations "cdi.k8s.io/<anything>": comma-separated qualified CDI names;
 *      those of our kind (default "gpujail.io/gpu") are taken, others ignored
 *   3. NVIDIA_VISIBLE_DEVICES in process.env (the last one, as getenv sees it),
 *      with NVIDIA semantics (bare indexes count NVIDIA GPUs only)
 * Nothing of that: GJ_REQUEST_NONE, and the caller touches nothing.
 *
 * Who wrote each of them differs (an engine's user, a device plugin, the
 * image's author), so a caller may accept only some sources
 * (gj_oci_request_accepted()): the others are read as if they were not there.
 */
#pragma once

#include <stdbool.h>

#define GJ_ANNOTATION_GPUS "gpujail.io/gpus"
#define GJ_ANNOTATION_CDI_PREFIX "cdi.k8s.io/"

struct json_object;

enum gj_request_source {
        GJ_REQUEST_NONE,
        GJ_REQUEST_ANNOTATION, /* gpujail.io/gpus */
        GJ_REQUEST_CDI,        /* cdi.k8s.io/<anything> */
        GJ_REQUEST_ENV,        /* NVIDIA_VISIBLE_DEVICES */
};
/* Sets of sources: GJ_REQUEST_BIT(GJ_REQUEST_CDI) | ... */
#define GJ_REQUEST_BIT(source) (1u << (source))
#define GJ_REQUEST_ALL (GJ_REQUEST_BIT(GJ_REQUEST_ANNOTATION) | GJ_REQUEST_BIT(GJ_REQUEST_CDI) | GJ_REQUEST_BIT(GJ_REQUEST_ENV))

struct gj_oci_request {
        enum gj_request_source source;
        char *selector;        /* for gj_select(); NULL when source == GJ_REQUEST_NONE */
        unsigned select_flags; /* GJ_SELECT_NVIDIA_INDEXES for NVIDIA_VISIBLE_DEVICES */
        char *origin;          /* where it came from, for messages: "annotation cdi.k8s.io/x" */
        char *ignored;         /* the origins of requests from sources not accepted that would
                                * have come first, ", "-joined ("env NVIDIA_VISIBLE_DEVICES");
                                * NULL when none. A request for nothing (void) is not listed. */
};

/* `config` is a parsed config.json; `cdi_kind` NULL means GJ_CDI_KIND_DEFAULT.
 * -EBADMSG (logged) when a field we read has the wrong JSON type or a CDI name
 * of our kind is malformed: a broken request fails closed, it is not ignored. */
int gj_oci_request_from_config(struct json_object *config, const char *cdi_kind,
                               struct gj_oci_request *ret);
/* The same, first match among the sources in accept (GJ_REQUEST_BIT()s) only;
 * ret->ignored says what the others asked for. A malformed request fails
 * closed whether or not its source is accepted. */
int gj_oci_request_accepted(struct json_object *config, const char *cdi_kind, unsigned accept,
                            struct gj_oci_request *ret);
void gj_oci_request_done(struct gj_oci_request *req);
/* It asks for nothing at all: GJ_REQUEST_NONE, or a selector that is empty or
 * "void" (NVIDIA's "nothing at all"), blanks around it ignored. */
bool gj_oci_request_is_void(const struct gj_oci_request *req);
