/* SPDX-License-Identifier: Apache-2.0 */
/* A hand-built inventory like a real mixed host (nvidia8 + AMD + accel): the selector and
 * plan fuzzers need one without libudev. Built once; never freed (static strings). */
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
        return &fuzz_inv;
}
