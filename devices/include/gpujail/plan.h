/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request -> plan: which devices were asked for, and what giving them means.
 *
 * Pure code (devices/selector.c, devices/plan.c): no syscalls, unit-tested
 * without root. The same plan is applied four ways: the launcher, the OCI
 * hook, CDI specs and OCI config editing.
 */
#pragma once

#include "gpujail/driver.h"
#include "gpujail/inventory.h"

/* ---- selectors ---- */

enum gj_select_flags {
        /* NVIDIA_VISIBLE_DEVICES semantics: bare indexes count NVIDIA GPUs only. */
        GJ_SELECT_NVIDIA_INDEXES = 1 << 0,
        /* No warning for a GPU in MIG mode named as a whole GPU (CDI lists every GPU). */
        GJ_SELECT_NO_MIG_WARNING = 1 << 1,
};

struct gj_selection {
        const struct gj_device **devices; /* into the inventory; sorted by index, no duplicates */
        size_t n_devices;
        bool none; /* "none", "void", "" or NULL: no device. With want_controls ("none")
                    * the plan still gives the NVIDIA compute control nodes, as NVIDIA's
                    * "none" does; without ("void", "", NULL) nothing at all. */
        bool want_controls; /* true for any selection except "void"/""/NULL */
        const struct gj_mig **migs; /* MIG devices, into inv->migs, in its order; no duplicates */
        size_t n_migs;
        const struct gj_node **imex; /* IMEX channels, into inv->imex_channels, by number */
        size_t n_imex;
};

/*
 * Parse a selector list against an inventory: comma-separated items, each
 * an index ("0"), "all", "none", "void", a UUID ("GPU-…", unique prefix ok),
 * a PCI bus id ("0000:3b:00.0" or "3b:00.0"), or vendor-qualified
 * ("nvidia:1", "amd:0", "intel:0", "accel:0", "nvidia:all"); MIG devices as NVIDIA names
 * them ("MIG-…", unique prefix ok; "<gpu>:<mig>", NVIDIA's GPU and MIG device indexes) or
 * by GPU and compute instance ids ("<gpu>:<gi>:<ci>"); IMEX channels ("imex:N", "imex:all").
 * "all" is every GPU and every MIG device, as NVIDIA's "all"; a GPU in MIG mode asked as a
 * whole GPU gets its node without any MIG device, as NVIDIA gives it (a notice says so).
 * Unknown or ambiguous items are an error that names the item and lists what
 * exists (logged here); never a fallback to "all". Also errors: an empty item
 * ("0,,1"), "none"/"void" with other items, a UUID prefix shorter than 8 hex
 * digits, "all" on a host without (NVIDIA, with the flag) devices. On error
 * *ret is empty. Semantics in full: devices/selector.c and docs/gpujail.md.
 */
int gj_select(const struct gj_inventory *inv, const char *spec, unsigned flags,
              struct gj_selection *ret);

/* A selector of plain indexes alone ("0", "1, 3"; no "all", UUID, MIG, vendor or PCI
 * item): 1 and the indexes (malloc'ed, as written; with GJ_SELECT_NVIDIA_INDEXES
 * they count NVIDIA GPUs) for gj_inventory_opts.details_only; 0 for any other
 * selector (which needs every device's details); -ENOMEM. Does not log: gj_select
 * judges the selector. */
int gj_selector_plain_indexes(const char *spec, unsigned **ret, size_t *ret_n);
void gj_selection_done(struct gj_selection *sel);
/* Whether d (from the selection's inventory) is one of sel's devices. */
bool gj_selection_has(const struct gj_selection *sel, const struct gj_device *d);
/* Whether every device of want is in allowed (both from the same inventory); when
 * not, *ret_missing (may be NULL) is the first device of want that is not. */
bool gj_selection_within(const struct gj_selection *want, const struct gj_selection *allowed,
                         const struct gj_device **ret_missing);

/* Drop from sel the devices not in allowed (both from the same inventory), keeping
 * its order. Does not log; cannot fail. */
void gj_selection_keep(struct gj_selection *sel, const struct gj_selection *allowed);

/* ---- plan ---- */

struct gj_plan_node {
        char *path;      /* inside the container, e.g. "/dev/nvidia0" */
        char *host_path; /* on the host */
        char type;       /* 'c' */
        unsigned major, minor;
        mode_t mode;
        uid_t uid;
        gid_t gid;
};

#define GJ_WILDCARD ((unsigned)-1) /* a major or minor of "*" in a cgroup rule */

struct gj_cgroup_rule {
        char type;       /* 'c', 'b' or 'a' */
        unsigned major;  /* or GJ_WILDCARD */
        unsigned minor;  /* or GJ_WILDCARD */
        char access[4];  /* subset of "rwm", NUL-terminated */
};

struct gj_plan {
        struct gj_plan_node *nodes; /* accelerator and control nodes, in a stable order */
        size_t n_nodes;
        struct gj_cgroup_rule *rules; /* one allow rule per node */
        size_t n_rules;
        char **env;                   /* "KEY=VALUE", NULL-terminated (may be NULL) */
        const struct gj_device **devices; /* the selected devices */
        size_t n_devices;
        struct gj_driver_plan driver; /* NVIDIA userspace to bind in; empty unless
                                       * gj_plan_add_driver() found some */
        const struct gj_mig **migs;           /* the selected MIG devices */
        const struct gj_device **mig_parents; /* the GPU of each, in the same order */
        size_t n_migs;
};

struct gj_plan_opts {
        bool allow_mknod;     /* add 'm' to the rules' access */
        bool set_cuda_env;    /* also set CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES */
        bool allow_bad_nodes; /* plan even if a node's state is not OK (list/plan/cdi on a
                               * host that is not this one); injection never sets it */
};

/* Build the plan for a selection. A node that is missing or has the wrong
 * major:minor fails the plan (-ENODEV, logged with path and what was found)
 * unless opts->allow_bad_nodes. A MIG device gives its GPU's /dev/nvidia<minor>,
 * its two /dev/nvidia-caps nodes and the GPU's control nodes; one whose caps
 * nodes are unknown (a malformed access file, no nvidia-caps major) fails the
 * plan (-ENODEV) even with allow_bad_nodes. An IMEX channel gives its node. */
int gj_plan_build(const struct gj_inventory *inv, const struct gj_selection *sel,
                  const struct gj_plan_opts *opts, struct gj_plan *ret);
void gj_plan_done(struct gj_plan *plan);

/* The NVIDIA driver userspace for caps (gpujail/driver.h), when the plan
 * gives NVIDIA nodes and caps is not 0; else nothing. The driver's version is
 * the one inv read (NULL inv, or none read: read again). Errors as
 * gj_driver_plan_host() (logged). */
int gj_plan_add_driver(struct gj_plan *plan, const struct gj_inventory *inv, unsigned caps);

/* Append one more node (for --device PATH; the caller has checked it). */
int gj_plan_add_node(struct gj_plan *plan, const struct gj_plan_node *node, bool allow_mknod);

/* The PCI bus ids whose /proc/driver/nvidia/gpus entry the job or container
 * sees: its NVIDIA GPUs and the GPUs of its MIG devices, each once, in plan
 * order. *ret is NULL when there are none. 0, or -ENOMEM; does not log. */
int gj_plan_proc_gpus(const struct gj_plan *plan, char ***ret);

/* "GPUJAIL_DEVICES" value: comma-separated UUIDs or bus ids of the selection. */
char *gj_plan_devices_string(const struct gj_plan *plan);

/* ---- JSON (devices/plan-json.c): `gpujail plan --json` ---- */
struct json_object;
struct json_object *gj_plan_to_json(const struct gj_plan *plan);
/* A node as an OCI linux.devices entry ("path", "type", "major", "minor", "fileMode",
 * "uid", "gid"), with CDI's "hostPath" after "path" when with_host_path and
 * "permissions" after "minor" when permissions is not NULL: the one spelling of a
 * node in `plan --json`, CDI specs and config.json. NULL when out of memory. */
struct json_object *gj_plan_node_to_json(const struct gj_plan_node *n, bool with_host_path,
                                         const char *permissions);
