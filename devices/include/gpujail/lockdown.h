/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lockdown: no GPU node of the host opens outside gpujail (docs/shared-hosts.md).
 *
 * A locked-down host gives its GPU nodes mode 0660, owner root, group GROUP: a
 * dedicated group without members, which `gpujail run` gives its jobs as a
 * supplementary group. The NVIDIA driver keeps it so through its own parameters
 * (GJ_LOCKDOWN_MODPROBE_CONF), udev for DRM, kfd and accel nodes
 * (GJ_LOCKDOWN_UDEV_RULES).
 *
 * This part only reads (devices/lockdown.c): which nodes count, what the two
 * files say, and whether the host is locked (`gpujail list`). What changes the
 * host is in kernel/ (`gpujail setup --lockdown`).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "gpujail/inventory.h"

/* Constants, not options: the tests mount tmpfs over these directories. */
#define GJ_LOCKDOWN_MODPROBE_CONF "/etc/modprobe.d/gpujail-lockdown.conf"
/* 72: after 70-uaccess.rules tags seat devices, before 73-seat-late.rules acts on the tag. */
#define GJ_LOCKDOWN_UDEV_RULES "/etc/udev/rules.d/72-gpujail-lockdown.rules"
#define GJ_LOCKDOWN_MODE 0660

/* Who sets a GPU node's permissions: decides what lockdown and undo give it. */
enum gj_gpu_node_kind {
        GJ_GPU_NODE_NVIDIA,     /* /dev/nvidiaN, nvidiactl, nvidia-modeset, nvidia-uvm(-tools):
                                 * the driver's parameters, applied by nvidia-modprobe */
        GJ_GPU_NODE_NVIDIA_CAP, /* /dev/nvidia-caps/...: MIG capabilities, per capability */
        GJ_GPU_NODE_DRM_CARD,   /* /dev/dri/cardN: udev, root:video 0660 */
        GJ_GPU_NODE_DRM_RENDER, /* /dev/dri/renderDN: udev, root:render 0660 */
        GJ_GPU_NODE_KFD,        /* /dev/kfd: udev, root:render 0660 */
        GJ_GPU_NODE_ACCEL,      /* /dev/accel/accelN: udev, no rule (systemd 252): root:root 0600 */
        _GJ_GPU_NODE_KIND_MAX,
};
/* The kind of a "/dev/..." path; -EINVAL for a path that is no GPU node. Pure. */
int gj_gpu_node_kind_from_path(const char *path);

struct gj_perms {
        mode_t mode; /* permission bits only (07777) */
        uid_t uid;
        gid_t gid;
};

/* A GPU node as it is on the host. */
struct gj_gpu_node {
        char *path;
        enum gj_gpu_node_kind kind;
        struct gj_perms found;
        bool acl;               /* has an access ACL: named users or groups (logind's uaccess) */
        struct gj_perms driver; /* NVIDIA: what the loaded driver gives it (params); else unused */
};

/*
 * The GPU nodes present on the host: every node of the inventory (each device's,
 * the controls) that stat() finds to be the right character device, plus the
 * character devices in /dev/nvidia-caps/. Never follows a symlink. -ENOMEM only:
 * a node that vanished or cannot be looked at is left out.
 */
int gj_gpu_nodes_find(const struct gj_inventory *inv, struct gj_gpu_node **ret, size_t *ret_n);
void gj_gpu_nodes_free(struct gj_gpu_node *nodes, size_t n);

/* ---- the two files (pure) ---- */

/* A group name that can be written into both files as it is: [A-Za-z0-9_.-], not
 * starting with '-', at most 32 characters (useradd's limit). */
bool gj_lockdown_group_name_ok(const char *name);
/* The files' text for that group: the first line is the marker that
 * gj_lockdown_marker_parse reads. NULL on -ENOMEM. */
char *gj_lockdown_modprobe_conf(const char *group, gid_t gid);
char *gj_lockdown_udev_rules(const char *group, gid_t gid);
/* The "# gpujail-lockdown group=NAME gid=N" line of either file: -ENOENT without
 * one, -EBADMSG when it is malformed, -ENOMEM. */
int gj_lockdown_marker_parse(const char *text, char **ret_group, gid_t *ret_gid);

struct gj_lockdown_file {
        const char *path;
        bool present;
        char *group;     /* from its marker; NULL when it has none */
        gid_t gid;
        bool as_written; /* exactly the text gpujail writes for that group */
};
struct gj_lockdown_config {
        struct gj_lockdown_file modprobe, rules;
};
/* Read both files (read-only). Unreadable is as absent, with a warning. -ENOMEM only. */
int gj_lockdown_config_read(struct gj_lockdown_config *ret);
void gj_lockdown_config_done(struct gj_lockdown_config *c);
/* The lockdown's group as the files name it (the modprobe file's first): false
 * when neither file names one. */
bool gj_lockdown_config_group(const struct gj_lockdown_config *c, const char **ret_group,
                              gid_t *ret_gid);

/* ---- permissions (pure) ---- */

/* What lockdown gives a node: 0660 root:group; a capability keeps its owner's bits
 * and the group gets what others had (never more than before: mig/config stays 0400). */
struct gj_perms gj_lockdown_perms(const struct gj_gpu_node *n, gid_t group);

/* What undo gives back: the driver's or udev's defaults. */
struct gj_undo_defaults {
        gid_t lockdown_gid;
        gid_t video_gid, render_gid; /* (gid_t)-1 when the host has no such group */
};
struct gj_perms gj_lockdown_undo_perms(const struct gj_gpu_node *n, const struct gj_undo_defaults *d);
/* Fill d's video and render gids from the group database. */
void gj_undo_defaults_read(struct gj_undo_defaults *d);

/* ---- is the host locked down? ---- */

enum gj_lockdown_state {
        GJ_LOCKDOWN_OPEN,    /* no lockdown configured */
        GJ_LOCKDOWN_PARTIAL, /* configured, but something lets users past it (problems) */
        GJ_LOCKDOWN_LOCKED,  /* configured, and every GPU node is as it says */
        _GJ_LOCKDOWN_STATE_MAX,
};
const char *gj_lockdown_state_name(enum gj_lockdown_state s); /* "open", "partial", "locked" */

/* What the judgement looks at; gathered by gj_lockdown_inspect, built by hand in tests. */
struct gj_lockdown_facts {
        const struct gj_lockdown_config *config;
        const struct gj_gpu_node *nodes;
        size_t n_nodes;
        bool group_found;          /* the configured group exists... */
        gid_t group_gid_now;       /* ...with this gid... */
        char *const *group_members; /* ...and these members (NULL: none) */
};

struct gj_lockdown_status {
        enum gj_lockdown_state state;
        char *group;       /* NULL when not configured, or no file names a group */
        gid_t gid;
        char **open_nodes; /* GPU nodes that any user can open (mode grants others) */
        char *bypass;      /* one warning line about them; NULL when there are none */
        char **problems;   /* why a configured lockdown does not hold, one line each */
};

/* Pure: the status out of the facts. -ENOMEM only; ret is filled either way. */
int gj_lockdown_judge(const struct gj_lockdown_facts *f, struct gj_lockdown_status *ret);
/* Read the host (the two files, the inventory's nodes, the group database) and judge. */
int gj_lockdown_inspect(const struct gj_inventory *inv, struct gj_lockdown_status *ret);
void gj_lockdown_status_done(struct gj_lockdown_status *s);
