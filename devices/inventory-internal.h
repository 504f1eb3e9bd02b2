/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the files that build the inventory (inventory.c, nvidia-mig.c, nvml.c);
 * not a public header.
 */
#pragma once

#include "gpujail/inventory.h"
#include "gpujail/util.h"

/* Log a warning and keep it in inv->warnings; error is a negative errno (its text is
 * appended) or 0. Returns 0, or -ENOMEM: the only failure that stops the inventory. */
_printf_(3, 4) int inv_warn(struct gj_inventory *inv, int error, const char *fmt, ...);

/* Fill a node (path copied); -ENOMEM. */
int node_init(struct gj_node *n, const char *path, unsigned maj, unsigned min, mode_t mode,
              uid_t uid, gid_t gid);

/* stat() node->path under dev_root and set its state. */
void node_check_at(const char *dev_root, struct gj_node *node);

/* ---- nvidia-mig.c ---- */

/* MIG devices (from /proc/driver/nvidia/capabilities), their nvidia-cap nodes, IMEX
 * channels; NVML's names and order when opts allow and the library is there. Problems
 * are warnings; -ENOMEM only. proc_devices: the text of /proc/devices the inventory
 * read (NULL: it could not, and said so). */
int inv_add_nvidia_caps(struct gj_inventory *inv, const char *proc_devices, const char *proc_root,
                        const char *dev_root, bool use_nvml);
void inv_free_nvidia_caps(struct gj_inventory *inv);

/* ---- nvml.c ---- */

/* What NVML says of one GPU's MIG devices, by NVML index. */
struct nvml_mig {
        unsigned index; /* NVML's slot: nvmlDeviceGetMigDeviceHandleByIndex(index) */
        unsigned gi, ci;
        char uuid[96];
        char name[96];
};
struct nvml_gpu {
        int mig_mode; /* -1 unknown, 0 disabled, 1 enabled */
        struct nvml_mig *migs;
        size_t n_migs;
};
struct nvml_session;
/* dlopen libnvidia-ml.so.1 and nvmlInit: NULL when absent or failing (logged at debug). */
struct nvml_session *nvml_open(void);
/* The GPU at pci_bus_id: -ENODEV if NVML does not know it, -ENOMEM. Does not log. */
int nvml_query_gpu(struct nvml_session *s, const char *pci_bus_id, struct nvml_gpu *ret);
void nvml_gpu_done(struct nvml_gpu *g);
void nvml_close(struct nvml_session *s);
