/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `gpujail ps` (launcher/ps.c): who holds which GPU. For each GPU of the
 * inventory its lease state and holders (kernel/lease-lock.c), and the
 * processes that hold one of its nodes open without being in a gpujail job
 * (users going around gpujail), found in /proc/PID/fd.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "gpujail/inventory.h"
#include "gpujail/lease-lock.h"

/* A process with a GPU node open that is in no gpujail job's cgroup. */
struct gj_ps_outsider {
        pid_t pid;
        uid_t uid;
        char *user; /* NULL: no name for uid */
        char *comm; /* /proc/PID/comm */
        char *node; /* the node's path as the process sees it (fd link) */
};

struct gj_ps_gpu {
        const struct gj_device *device;
        enum gj_lease_state state;
        struct gj_lease_holder *holders;
        size_t n_holders;
        struct gj_ps_outsider *outsiders;
        size_t n_outsiders;
};

struct gj_ps {
        struct gj_ps_gpu *gpus; /* one per device of the inventory, in index order */
        size_t n_gpus;
        /* Whose processes could be looked at: all (root), or only the viewer's
         * own (/proc/PID/fd of others is not readable). */
        bool scanned_all;
        struct gj_lease_holder *queue; /* --wait's waiters, first first */
        size_t n_queue;
        /* -1 (root): every holder's command is shown; else only that uid's. */
        long viewer_uid;
};

/* Collect the state of every GPU of inv as seen by viewer_uid (-1: root).
 * Reads only: the lease files (0644) and /proc. Logged but for -ENOMEM. */
int gj_ps_collect(const struct gj_inventory *inv, long viewer_uid, struct gj_ps *ret);
void gj_ps_done(struct gj_ps *ps);

/* `gpujail ps --json` (docs/json.md, "version": 1). NULL on ENOMEM. */
struct json_object;
struct json_object *gj_ps_to_json(const struct gj_ps *ps);
/* Whether the viewer may see this holder's command (root, or their own job). */
bool gj_ps_may_see_command(const struct gj_ps *ps, const struct gj_lease_holder *h);
