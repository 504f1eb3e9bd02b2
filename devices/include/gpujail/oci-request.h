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

struct gj_oci_request {
        enum gj_request_source source;
        char *selector;        /* for gj_select(); NULL when source == GJ_REQUEST_NONE */
        unsigned select_flags; /* GJ_SELECT_NVIDIA_INDEXES for NVIDIA_VISIBLE_DEVICES */
        char *origin;          /* where it came from, for messages: "annotation cdi.k8s.io/x" */
};

/* `config` is a parsed config.json; `cdi_kind` NULL means GJ_CDI_KIND_DEFAULT.
 * -EBADMSG (logged) when a field we read has the wrong JSON type or a CDI name
 * of our kind is malformed: a broken request fails closed, it is not ignored. */
int gj_oci_request_from_config(struct json_object *config, const char *cdi_kind,
                               struct gj_oci_request *ret);
void gj_oci_request_done(struct gj_oci_request *req);
