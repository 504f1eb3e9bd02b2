/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container Device Interface specs from an inventory (devices/cdi.c).
 *
 * Pure: an inventory in, a json-c document out; no I/O. Every device entry
 * is built with gj_select() + gj_plan_build(), so a CDI device gives a
 * container exactly what `gpujail run --gpu` and the hook give it.
 *
 * Names follow the CDI spec's syntax (container-device-interface
 * pkg/parser): a kind is "vendor/class"; vendor and class start with a
 * letter, end with a letter or digit, and hold letters, digits, '_', '-',
 * '.' in between ('.' in the class needs cdiVersion 0.6.0, so we refuse it);
 * a device name starts and ends with a letter or digit and holds letters,
 * digits, '_', '-', '.', ':' in between.
 */
#pragma once

#include <stdbool.h>

#include "gpujail/inventory.h"

/* Ours: must not collide with the specs NVIDIA's (nvidia.com/gpu) and AMD's
 * (amd.com/gpu) toolkits write. */
#define GJ_CDI_KIND_DEFAULT "gpujail.io/gpu"
/* hostPath in deviceNodes and device names starting with a digit need 0.5.0,
 * the lowest version with both (and the highest podman 4.3 reads). */
#define GJ_CDI_VERSION "0.5.0"
/* NVIDIA's kind for IMEX channels (nvidia-ctk cdi generate --class imex-channel): devices
 * named by channel number, each the channel's node alone. */
#define GJ_CDI_KIND_IMEX "nvidia.com/imex-channel"

/* Validate a kind ("vendor/class") or a device name: 0 or -EINVAL. Not logged. */
int gj_cdi_kind_valid(const char *kind);
int gj_cdi_device_name_valid(const char *name);

/* Split "vendor/class=name" into kind and name (malloc'ed); -EINVAL (not
 * logged) if it is not a valid qualified name. */
int gj_cdi_parse_qualified(const char *qualified, char **ret_kind, char **ret_name);

/* The vendor a kind belongs to when it is a drop-in for a vendor's own spec
 * ("nvidia.com/gpu" -> GJ_VENDOR_NVIDIA, "amd.com/gpu" -> GJ_VENDOR_AMD,
 * "intel.com/gpu" -> GJ_VENDOR_INTEL); -1 for any other kind (ours), which
 * covers every accelerator of the host. */
int gj_cdi_kind_vendor(const char *kind);

/* The gj_select() selector for a CDI device name of `kind`: for a vendor
 * kind, bare indexes and "all" are that vendor's ("nvidia:1", "nvidia:all");
 * otherwise the name itself (inventory index, UUID, PCI bus id, "all").
 * -EINVAL (not logged) for a name that is not a valid CDI device name. */
int gj_cdi_name_to_selector(const char *kind, const char *name, char **ret);

struct gj_driver_plan;
struct gj_cdi_opts {
        const char *kind;     /* NULL: GJ_CDI_KIND_DEFAULT */
        bool allow_bad_nodes; /* describe nodes even if missing here (spec for another host) */
        /* The NVIDIA driver's userspace (gpujail/driver.h), or NULL: the spec's
         * top-level containerEdits then mount each file read-only, nosuid,
         * nodev at its host path (sockets writable, noexec), and a
         * createContainer hook `hook_path --link SONAME=PATH... createContainer`,
         * with its own env, makes the libraries' links and cache entries. */
        const struct gj_driver_plan *driver;
        const char *hook_path;
};

/* Build the spec: one device per accelerator named by its index and again by
 * its UUID (or PCI bus id when it has none), plus "all"; each with the full
 * deviceNodes (its own nodes and the control nodes it needs) and env; and
 * the driver's userspace for the whole spec (opts->driver).
 * -EINVAL (logged) for a bad kind; -ENOENT (logged) when the kind's vendor has
 * no device on this host; plan errors propagate (logged there). */
int gj_cdi_spec_build(const struct gj_inventory *inv, const struct gj_cdi_opts *opts,
                      struct json_object **ret);

/* The fully qualified names a spec offers ("gpujail.io/gpu=0", ...), in spec
 * order, NULL-terminated. -EBADMSG (not logged) if the document is not a spec. */
int gj_cdi_spec_names(struct json_object *spec, char ***ret);

/* Does a spec still describe this host? Every device node (hostPath, else
 * path) must exist as the character device the spec says, every mount's
 * hostPath must exist, and a mounted library with a driver version in its
 * name ("libcuda.so.535.104.05") must be of module_version (NULL: not
 * checked). Reads the host (stat). 0 and *ret_problems (one line each,
 * NULL-terminated; NULL when it matches); -EBADMSG (not logged) if the
 * document is not a spec; -ENOMEM. */
int gj_cdi_spec_check(struct json_object *spec, const char *module_version, char ***ret_problems);

/* YAML text for a spec (block style, every string double-quoted): malloc'ed, NULL on OOM. */
char *gj_cdi_spec_to_yaml(struct json_object *spec);
