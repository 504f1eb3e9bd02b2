/* SPDX-License-Identifier: Apache-2.0 */
/* A hand-built inventory like a real mixed host (nvidia8 + AMD + accel, GPUs 2 and 5 in
 * MIG mode, GPU 6 in MIG mode with none, one MIG device unusable, two IMEX channels): the
 * selector and plan fuzzers need one without libudev. Built once; never freed. */
#pragma once

#include <stdio.h>

#include "gpujail/inventory.h"

static struct gj_node fuzz_nv_nodes[8], fuzz_amd_nodes[2], fuzz_accel_node;
static struct gj_node fuzz_ctl[_GJ_CTL_MAX];
static struct gj_device fuzz_devices[10];
static struct gj_inventory fuzz_inv;
static void fuzz_node(struct gj_node *n, const char *path, unsigned major, unsigned minor) {
        *n = (struct gj_node){.path = (char *)path, .type = 'c', .major = major, .minor = minor,
                              .mode = 0666, .state = GJ_NODE_OK};
}

static struct gj_mig fuzz_migs[4];
static struct gj_node fuzz_mig_nodes[4][2], fuzz_imex[2];

/* MIG device k of GPU parent: GI gi, CI ci, caps minors gi_minor and gi_minor + 1 + ci. */
static void fuzz_mig(size_t k, size_t parent, unsigned index, unsigned gi, unsigned ci,
                     unsigned gi_minor, const char *uuid) {
        static char paths[4][2][40];
        snprintf(paths[k][0], sizeof paths[k][0], "/dev/nvidia-caps/nvidia-cap%u", gi_minor);
        snprintf(paths[k][1], sizeof paths[k][1], "/dev/nvidia-caps/nvidia-cap%u",
                 gi_minor + 1 + ci);
        for (int j = 0; j < 2; j++)
                fuzz_mig_nodes[k][j] = (struct gj_node){ .path = paths[k][j],
                                                         .type = 'c',
                                                         .major = 509,
                                                         .minor = gi_minor + (j ? 1 + ci : 0),
                                                         .mode = 0444,
                                                         .state = GJ_NODE_OK };
        fuzz_migs[k] = (struct gj_mig){ .parent = parent,
                                        .index = index,
                                        .gi = gi,
                                        .ci = ci,
                                        .uuid = (char *)uuid,
                                        .nodes = fuzz_mig_nodes[k],
                                        .n_nodes = 2 };
}

static void fuzz_add_migs(void) {
        fuzz_mig(0, 2, 0, 9, 0, 489, "MIG-aaaaaaaa-0000-4000-8000-000000000001");
        fuzz_mig(1, 2, 1, 2, 0, 426, "MIG-aaaaaaaa-0000-4000-8000-000000000002");
        fuzz_mig(2, 2, 2, 2, 1, 426, NULL);
        fuzz_mig(3, 5, 0, 3, 0, 570, "MIG-bbbbbbbb-0000-4000-8000-000000000003");
        fuzz_migs[3].n_nodes = 0; /* a malformed access file */
        fuzz_devices[2].mig_mode = fuzz_devices[5].mig_mode = fuzz_devices[6].mig_mode =
                GJ_MIG_ENABLED;
        fuzz_devices[2].first_mig = 0;
        fuzz_devices[2].n_migs = 3;
        fuzz_devices[5].first_mig = 3;
        fuzz_devices[5].n_migs = 1;
        fuzz_devices[6].first_mig = 4;
        fuzz_inv.migs = fuzz_migs;
        fuzz_inv.n_migs = 4;
        fuzz_inv.nvml = true;
        fuzz_node(&fuzz_imex[0], "/dev/nvidia-caps-imex-channels/channel0", 507, 0);
        fuzz_node(&fuzz_imex[1], "/dev/nvidia-caps-imex-channels/channel5", 507, 5);
        fuzz_inv.imex_channels = fuzz_imex;
        fuzz_inv.n_imex_channels = 2;
}

static const struct gj_inventory *fuzz_inventory(void) {
        static const char *const bus[8] = {"0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
                                           "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"};
        static const unsigned minors[8] = {2, 0, 3, 1, 6, 4, 7, 5};
        static char uuids[8][48], paths[8][32];
        if (fuzz_inv.devices)
                return &fuzz_inv;
        for (unsigned i = 0; i < 8; i++) {
                /* two share a long prefix: ambiguous UUID prefixes must be refused */
                snprintf(uuids[i], sizeof uuids[i], "GPU-%08x-573d-1054-3990-095d7e4d34c%u",
                         i < 2 ? 0x85f50bc9u : 0x11110000u + i, i);
                snprintf(paths[i], sizeof paths[i], "/dev/nvidia%u", minors[i]);
                fuzz_node(&fuzz_nv_nodes[i], paths[i], 195, minors[i]);
                fuzz_devices[i] = (struct gj_device){
                        .vendor = GJ_VENDOR_NVIDIA, .index = i, .vendor_index = i,
                        .pci_bus_id = (char *)bus[i], .driver = (char *)"nvidia",
                        .model = (char *)"NVIDIA H100 80GB HBM3", .uuid = uuids[i],
                        .numa_node = i / 4, .minor = (int)minors[i], .nodes = &fuzz_nv_nodes[i],
                        .n_nodes = 1,
                        .controls = 1u << GJ_CTL_NVIDIACTL | 1u << GJ_CTL_NVIDIA_UVM |
                                    1u << GJ_CTL_NVIDIA_UVM_TOOLS,
                };
        }
        fuzz_node(&fuzz_amd_nodes[0], "/dev/dri/card1", 226, 1);
        fuzz_node(&fuzz_amd_nodes[1], "/dev/dri/renderD128", 226, 128);
        fuzz_devices[8] = (struct gj_device){
                .vendor = GJ_VENDOR_AMD, .index = 8, .vendor_index = 0, .pci_bus_id = (char *)"0000:c1:00.0",
                .driver = (char *)"amdgpu", .model = (char *)"1002:74a1", .numa_node = 1, .minor = -1,
                .nodes = fuzz_amd_nodes, .n_nodes = 2, .controls = 1u << GJ_CTL_KFD,
        };
        fuzz_node(&fuzz_accel_node, "/dev/accel/accel0", 261, 0);
        fuzz_devices[9] = (struct gj_device){
                .vendor = GJ_VENDOR_ACCEL, .index = 9, .vendor_index = 0, .pci_bus_id = NULL,
                .driver = (char *)"intel_vpu", .model = (char *)"8086:7d1d", .numa_node = -1, .minor = -1,
                .nodes = &fuzz_accel_node, .n_nodes = 1,
        };
        fuzz_node(&fuzz_ctl[GJ_CTL_NVIDIACTL], "/dev/nvidiactl", 195, 255);
        fuzz_node(&fuzz_ctl[GJ_CTL_NVIDIA_UVM], "/dev/nvidia-uvm", 510, 0);
        fuzz_node(&fuzz_ctl[GJ_CTL_NVIDIA_UVM_TOOLS], "/dev/nvidia-uvm-tools", 510, 1);
        fuzz_node(&fuzz_ctl[GJ_CTL_NVIDIA_MODESET], "/dev/nvidia-modeset", 195, 254);
        fuzz_node(&fuzz_ctl[GJ_CTL_KFD], "/dev/kfd", 508, 0);
        for (int c = 0; c < _GJ_CTL_MAX; c++)
                fuzz_inv.controls[c] = &fuzz_ctl[c];
        fuzz_inv.n_devices = 10;
        fuzz_inv.devices = fuzz_devices;
        fuzz_add_migs();
        return &fuzz_inv;
}
