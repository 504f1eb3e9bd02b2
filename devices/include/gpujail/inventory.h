/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the host has: accelerators and the device nodes they need.
 *
 * Built by devices/inventory.c through libudev (plus /proc/driver/nvidia and
 * /proc/devices for what udev cannot know), read-only towards the host: it
 * stat()s nodes and reads files, and never creates, mounts or changes anything.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

enum gj_vendor {
        GJ_VENDOR_NVIDIA,
        GJ_VENDOR_AMD,
        GJ_VENDOR_INTEL,
        GJ_VENDOR_ACCEL, /* DRM accel class (/dev/accel/accelN): NPUs, Gaudi, XDNA, AIC */
        _GJ_VENDOR_MAX,
};

const char *gj_vendor_name(enum gj_vendor v); /* "nvidia", "amd", "intel", "accel" */
int gj_vendor_from_name(const char *name);    /* -EINVAL if unknown */

/* What we found on the host for a node the driver says must exist. */
enum gj_node_state {
        GJ_NODE_OK,
        GJ_NODE_MISSING,      /* no such file */
        GJ_NODE_NOT_CHAR,     /* exists, but not a character device (symlink, file, block) */
        GJ_NODE_WRONG_DEVNUM, /* character device, but not the major:minor the driver says */
        GJ_NODE_UNCHECKED,    /* could not stat it (EACCES, ...) */
};
const char *gj_node_state_name(enum gj_node_state s); /* "ok", "missing", ... */
int gj_node_state_from_name(const char *name);        /* -EINVAL if unknown */

struct gj_node {
        char *path;               /* host path, e.g. "/dev/nvidia3" */
        char type;                /* 'c' (always, today) */
        unsigned major, minor;    /* what the driver says */
        mode_t mode;              /* permission bits to give it, e.g. 0666 */
        uid_t uid;
        gid_t gid;
        enum gj_node_state state; /* what stat() of path found */
        unsigned found_major, found_minor; /* when state == GJ_NODE_WRONG_DEVNUM */
};

/* Control nodes are shared by all devices of a vendor; devices name the ones they need. */
enum gj_control {
        GJ_CTL_NVIDIACTL,        /* /dev/nvidiactl 195:255 */
        GJ_CTL_NVIDIA_UVM,       /* /dev/nvidia-uvm <nvidia-uvm major>:0 */
        GJ_CTL_NVIDIA_UVM_TOOLS, /* /dev/nvidia-uvm-tools <nvidia-uvm major>:1 */
        GJ_CTL_NVIDIA_MODESET,   /* /dev/nvidia-modeset 195:254: only for display work */
        GJ_CTL_KFD,              /* /dev/kfd: AMD compute */
        _GJ_CTL_MAX,
};
const char *gj_control_name(enum gj_control c); /* "nvidiactl", "nvidia-uvm", ..., "kfd" */
int gj_control_from_name(const char *name);     /* -EINVAL if unknown */

enum gj_mig_mode {
        GJ_MIG_UNKNOWN,  /* not MIG-capable, or no NVML to ask and no instance in /proc */
        GJ_MIG_DISABLED, /* NVML says so */
        GJ_MIG_ENABLED,  /* NVML says so, or the driver lists GPU instances */
};
const char *gj_mig_mode_name(enum gj_mig_mode m); /* "unknown", "disabled", "enabled" */

struct gj_device {
        enum gj_vendor vendor;
        unsigned index;        /* position in the inventory: NVIDIA first, then AMD, Intel,
                                * accel; PCI bus order within each (nvidia-smi's order) */
        unsigned vendor_index; /* position among devices of the same vendor ("nvidia:1") */
        char *pci_bus_id;      /* "0000:3b:00.0", NULL if not on PCI */
        char *syspath;         /* udev syspath of the PCI (or accel) device */
        char *driver;          /* bound kernel driver: "nvidia", "amdgpu", "i915", "xe", ... */
        char *model;           /* human name: NVIDIA's "Model:", else PCI vendor:device ids */
        char *uuid;            /* NVIDIA "GPU-…"; NULL when unknown */
        int numa_node;         /* -1 when unknown */
        int minor;             /* NVIDIA device minor (the driver's, != index); -1 */
        struct gj_node *nodes; /* the device's own nodes: /dev/nvidiaN, /dev/dri/..., /dev/accel/... */
        size_t n_nodes;
        unsigned controls;     /* bitmask of 1u << enum gj_control that it needs */
        /* MIG (NVIDIA): the mode, and this GPU's MIG devices: inv->migs[first_mig ..
         * first_mig + n_migs), in NVIDIA's MIG device index order. */
        enum gj_mig_mode mig_mode;
        size_t first_mig, n_migs;
        /* Read for its PCI facts alone (gj_inventory_opts.details_only did not name it):
         * no sysfs path, NUMA node, minor, UUID, nodes or MIG devices, NVIDIA's model unread. */
        bool partial;
};

/*
 * A MIG device: one compute instance (CI) of one GPU instance (GI) of a GPU in MIG mode.
 * It is reached through the parent's /dev/nvidia<minor>, the control nodes, and the two
 * /dev/nvidia-caps/nvidia-cap<N> nodes whose minors the driver writes in
 * /proc/driver/nvidia/capabilities/gpu<minor>/mig/gi<G>/access and .../gi<G>/ci<C>/access.
 */
struct gj_mig {
        size_t parent;         /* index into inv->devices */
        unsigned index;        /* NVIDIA's MIG device index on the parent ("<gpu>:<index>", as
                                * NVML, nvidia-smi -L, NVIDIA_VISIBLE_DEVICES and the CDI names
                                * of NVIDIA's toolkit count); without NVML, (gi, ci) order */
        unsigned gi, ci;       /* GPU instance and compute instance ids (nvidia-smi mig -lgi) */
        char *uuid;            /* "MIG-…" from NVML; NULL when NVML is absent */
        char *name;            /* NVML's, e.g. "NVIDIA H200 MIG 1g.18gb"; NULL */
        struct gj_node *nodes; /* nvidia-cap nodes: the GI's, then the CI's; none if unknown */
        size_t n_nodes;
};

struct gj_module {
        const char *name; /* "nvidia", "nvidia_uvm", "nvidia_modeset", "amdgpu", ... */
        bool loaded;
        bool looked_up;   /* not loaded, and looked up in the module index (libkmod) */
        bool known;       /* loaded, or found in the module index (or built in); meaningless
                           * when neither loaded nor looked_up (JSON null) */
};

struct gj_lockdown_status;

struct gj_inventory {
        struct gj_device *devices;
        size_t n_devices;
        struct gj_node *controls[_GJ_CTL_MAX]; /* NULL when the host has no such control */
        struct gj_module *modules;
        size_t n_modules;
        char *nvidia_driver_version; /* from /proc/driver/nvidia/version; NULL if none */
        struct gj_mig *migs;         /* every GPU's MIG devices, by GPU index then MIG index */
        size_t n_migs;
        bool nvml; /* libnvidia-ml.so.1 was there and answered */
        /* IMEX channels: /dev/nvidia-caps-imex-channels/channel<N> nodes that exist, by N
         * (their major from /proc/devices "nvidia-caps-imex-channels"). */
        struct gj_node *imex_channels;
        size_t n_imex_channels;
        char **warnings;             /* bad input found while building it: one line each */
        /* Whether the host is locked down (lockdown.h): not part of loading; set by
         * `gpujail list` for the JSON, borrowed (the inventory never frees it). */
        const struct gj_lockdown_status *lockdown;
};

/* Where the inventory reads from; tests point these into a simulated host. */
struct gj_inventory_opts {
        const char *proc_root; /* default "/proc": driver/nvidia/gpus/<bus>/information, devices */
        const char *dev_root;  /* default "/dev": where nodes are stat()ed */
        bool skip_modules;     /* do not ask libkmod (benchmarks of pure discovery) */
        bool skip_nvml;        /* do not dlopen libnvidia-ml.so.1 for MIG UUIDs and modes */
        /* Details (NVIDIA's minor, UUID, model and nodes; MIG devices; drm nodes) of these
         * devices alone, by index (by NVIDIA index with details_by_nvidia_index), the
         * others `partial`: for a request by plain indexes (gj_selector_plain_indexes),
         * which then reads nothing of the GPUs it does not ask for. NULL: all. */
        const unsigned *details_only;
        size_t n_details_only;
        bool details_by_nvidia_index;
};

/* Enumerate the host. Problems with one device become warnings, not failures:
 * the rest of the inventory is still reported. Where the driver shows MIG
 * (/proc/driver/nvidia/capabilities/gpu<minor>/mig) and !opts->skip_nvml, it
 * dlopen()s libnvidia-ml.so.1 for MIG UUIDs, names, modes and NVIDIA's MIG
 * index order, and unloads it again; without the library, MIG devices are
 * listed by (gi, ci) and have no UUID. */
int gj_inventory_load(const struct gj_inventory_opts *opts, struct gj_inventory **ret);
void gj_inventory_free(struct gj_inventory *inv);
static inline void gj_inventory_freep(struct gj_inventory **p) { gj_inventory_free(*p); }
#define _cleanup_inventory_ __attribute__((cleanup(gj_inventory_freep)))

/* stat() one node and fill node->state / found_*: the check used by list and by injection. */
void gj_node_check(struct gj_node *node);

/* ---- kernel modules (devices/kmod.c, libkmod) ---- */

/* The modules `gpujail setup` loads (NULL-terminated). */
extern const char *const gj_nvidia_setup_modules[];
/* State of the named modules: loaded (or built in) from /sys/module; those not
 * loaded and named in look_up (NULL-terminated; NULL: all) are looked up in the
 * module index, which costs a dlopen of libkmod and its libraries (~4 ms). */
int gj_modules_query(const char *const *names, size_t n, const char *const *look_up,
                     struct gj_module **ret, size_t *ret_n);

/* ---- pure parsers (devices/nvidia-proc.c): strings in, data out, no I/O ---- */

struct gj_nvidia_info {
        char *model;
        char *uuid;
        char *bus_location; /* as written by the driver, e.g. "0000:3b:00.0" */
        int minor;          /* "Device Minor:" */
};
/* Parse /proc/driver/nvidia/gpus/<bus>/information. -EBADMSG when a required
 * field (Device Minor) is missing or malformed; ret then still holds the fields
 * that were found (call gj_nvidia_info_done either way). A last line without
 * its newline (a truncated read) is ignored; a UUID or model that does not look
 * like the driver's is dropped (NULL). */
int gj_nvidia_info_parse(const char *text, struct gj_nvidia_info *ret);
void gj_nvidia_info_done(struct gj_nvidia_info *info);

/* Find the character major of a driver name in /proc/devices text: -ENOENT if absent. */
int gj_proc_devices_find_char(const char *text, const char *name, unsigned *ret_major);

/* Version out of /proc/driver/nvidia/version ("NVRM version: ... 550.54.15 ..."): -EBADMSG if none. */
int gj_nvidia_version_parse(const char *text, char **ret);

/* Parse "DeviceFileMode: 438" / "DeviceFileUID:" / "DeviceFileGID:" out of
 * /proc/driver/nvidia/params; fields not present keep the values passed in. */
void gj_nvidia_params_parse(const char *text, mode_t *mode, uid_t *uid, gid_t *gid);

/* A capability file of the driver: /proc/driver/nvidia/capabilities/gpu<M>/mig/gi<G>/access,
 * .../ci<C>/access, mig/config, mig/monitor: who may open /dev/nvidia-caps/nvidia-cap<minor>. */
struct gj_nvidia_cap {
        unsigned minor; /* "DeviceFileMinor:" */
        mode_t mode;    /* "DeviceFileMode:" (decimal in the file); 0444 when absent */
        bool have_mode;
        bool modify; /* "DeviceFileModify:": whether nvidia-modprobe may fix the node */
};
/* Parse one capability file. -EBADMSG when DeviceFileMinor is missing, malformed or above
 * the kernel's 20 bits (ret then holds the defaults); the first of a repeated field counts;
 * a last line without its newline (a truncated read) is ignored. Does not log. */
int gj_nvidia_cap_parse(const char *text, struct gj_nvidia_cap *ret);

/* "gi12" with prefix "gi" -> 12 (also "ci", "gpu", "channel"): the driver's "%s%u" names,
 * strictly (no sign, blank, leading zero or suffix; at most 9 digits). -EINVAL otherwise. */
int gj_nvidia_numbered_name(const char *name, const char *prefix, unsigned *ret);

/* ---- JSON (devices/inventory-json.c): the stable `gpujail list --json` format ---- */
struct json_object;
struct json_object *gj_inventory_to_json(const struct gj_inventory *inv);
struct json_object *gj_node_to_json(const struct gj_node *node);
