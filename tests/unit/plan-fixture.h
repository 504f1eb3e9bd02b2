/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hand-built inventory for the selector and plan tests, shaped like a real
 * host: 8 NVIDIA GPUs on 2 NUMA nodes whose driver minors are not in PCI
 * order, an AMD card with kfd, an Intel GPU with one bad node (wrong
 * major:minor), and a DRM accel device. Also (log-capture.h): capturing what
 * gpujail logs.
 */
#pragma once

#include <stdio.h>

#include "gpujail/plan.h"
#include "gpujail/util.h"
#include "log-capture.h"

#define FX_N_NVIDIA 8
#define FX_N_DEVICES 11
#define FX_UVM_MAJOR 511u

/* Index order is PCI order; the driver's minors are not. */
static const unsigned fx_nvidia_minor[FX_N_NVIDIA] = { 2, 3, 0, 1, 6, 7, 4, 5 };
static const char *const fx_nvidia_bus[FX_N_NVIDIA] = {
        "0000:1b:00.0", "0000:1c:00.0", "0000:3d:00.0", "0000:3e:00.0",
        "0000:89:00.0", "0000:8a:00.0", "0000:b1:00.0", "0000:b2:00.0",
};
/* GPUs 0 and 1 share the first UUID group: "GPU-aaaaaaaa" is ambiguous. */
static const char *const fx_nvidia_uuid[FX_N_NVIDIA] = {
        "GPU-aaaaaaaa-1111-2222-3333-444444444444", "GPU-aaaaaaaa-5555-2222-3333-444444444444",
        "GPU-0b1c2d3e-0000-1111-2222-333333333333", "GPU-13a5b7c9-0000-1111-2222-333333333333",
        "GPU-4f000000-0000-1111-2222-333333333333", "GPU-5e000000-0000-1111-2222-333333333333",
        "GPU-6d000000-0000-1111-2222-333333333333", "GPU-7c000000-0000-1111-2222-333333333333",
};

struct fixture {
        struct gj_inventory inv;
        struct gj_device devices[FX_N_DEVICES];
        struct gj_node nodes[16];
        struct gj_node controls[_GJ_CTL_MAX];
        size_t n_nodes;
};

static struct gj_node *fx_node(struct fixture *f, const char *path, unsigned major, unsigned minor) {
        struct gj_node *n = &f->nodes[f->n_nodes++];
        *n = (struct gj_node){
                .path = (char *)path,
                .type = 'c',
                .major = major,
                .minor = minor,
                .mode = 0666,
                .uid = 0,
                .gid = 0,
                .state = GJ_NODE_OK,
        };
        return n;
}

static void fx_ctl(struct fixture *f, enum gj_control c, const char *path, unsigned major,
                   unsigned minor) {
        f->controls[c] = (struct gj_node){
                .path = (char *)path, .type = 'c', .major = major, .minor = minor,
                .mode = 0666, .state = GJ_NODE_OK,
        };
        f->inv.controls[c] = &f->controls[c];
}

static char fx_nvnode_path[FX_N_NVIDIA][32];

static void fixture_init(struct fixture *f) {
        const unsigned nv_controls = (1u << GJ_CTL_NVIDIACTL) | (1u << GJ_CTL_NVIDIA_UVM) |
                                     (1u << GJ_CTL_NVIDIA_UVM_TOOLS);
        *f = (struct fixture){};

        for (unsigned i = 0; i < FX_N_NVIDIA; i++) {
                struct gj_device *d = &f->devices[i];
                snprintf(fx_nvnode_path[i], sizeof(fx_nvnode_path[i]), "/dev/nvidia%u", fx_nvidia_minor[i]);
                *d = (struct gj_device){
                        .vendor = GJ_VENDOR_NVIDIA,
                        .index = i,
                        .vendor_index = i,
                        .pci_bus_id = (char *)fx_nvidia_bus[i],
                        .driver = (char *)"nvidia",
                        .model = (char *)"NVIDIA H100 80GB HBM3",
                        .uuid = (char *)fx_nvidia_uuid[i],
                        .numa_node = i < 4 ? 0 : 1,
                        .minor = (int)fx_nvidia_minor[i],
                        .nodes = fx_node(f, fx_nvnode_path[i], 195, fx_nvidia_minor[i]),
                        .n_nodes = 1,
                        .controls = nv_controls,
                };
        }

        struct gj_device *amd = &f->devices[8];
        *amd = (struct gj_device){
                .vendor = GJ_VENDOR_AMD, .index = 8, .vendor_index = 0,
                .pci_bus_id = (char *)"0000:c3:00.0", .driver = (char *)"amdgpu",
                .model = (char *)"1002:740f", .numa_node = 1, .minor = -1,
                .controls = 1u << GJ_CTL_KFD,
        };
        amd->nodes = fx_node(f, "/dev/dri/card1", 226, 1);
        fx_node(f, "/dev/dri/renderD128", 226, 128);
        amd->n_nodes = 2;

        struct gj_device *intel = &f->devices[9];
        *intel = (struct gj_device){
                .vendor = GJ_VENDOR_INTEL, .index = 9, .vendor_index = 0,
                .pci_bus_id = (char *)"0000:00:02.0", .driver = (char *)"i915",
                .model = (char *)"8086:4680", .numa_node = 0, .minor = -1,
        };
        intel->nodes = fx_node(f, "/dev/dri/card0", 226, 0);
        struct gj_node *bad = fx_node(f, "/dev/dri/renderD129", 226, 129);
        bad->state = GJ_NODE_WRONG_DEVNUM;
        bad->found_major = 226;
        bad->found_minor = 200;
        intel->n_nodes = 2;

        struct gj_device *accel = &f->devices[10];
        *accel = (struct gj_device){
                .vendor = GJ_VENDOR_ACCEL, .index = 10, .vendor_index = 0,
                .pci_bus_id = (char *)"0000:d8:00.0", .driver = (char *)"intel_vpu",
                .model = (char *)"8086:643e", .numa_node = 1, .minor = -1,
        };
        accel->nodes = fx_node(f, "/dev/accel/accel0", 261, 0);
        accel->n_nodes = 1;

        fx_ctl(f, GJ_CTL_NVIDIACTL, "/dev/nvidiactl", 195, 255);
        fx_ctl(f, GJ_CTL_NVIDIA_UVM, "/dev/nvidia-uvm", FX_UVM_MAJOR, 0);
        fx_ctl(f, GJ_CTL_NVIDIA_UVM_TOOLS, "/dev/nvidia-uvm-tools", FX_UVM_MAJOR, 1);
        fx_ctl(f, GJ_CTL_NVIDIA_MODESET, "/dev/nvidia-modeset", 195, 254);
        fx_ctl(f, GJ_CTL_KFD, "/dev/kfd", 235, 0);

        f->inv.devices = f->devices;
        f->inv.n_devices = FX_N_DEVICES;
}
