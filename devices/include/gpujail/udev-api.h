/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libudev, dlopen()ed the first time a device needs it (devices/udev-api.c).
 * The PCI bus is read without it (devices/inventory.c), so a host whose GPUs
 * have no drm or accel nodes (NVIDIA without nvidia-drm) never loads it; as a
 * link-time dependency it cost every gpujail and gpujail-hook exec ~0.15 ms of
 * CPU and ~0.27 ms of wall time here (a no-op program linked with and without
 * it, perf stat -r 500), more than the whole of discovery on such a host.
 * The calls are libudev's own, through pointers named sym_<function>.
 */
#pragma once

#include <libudev.h>

extern __typeof__(udev_new) *sym_udev_new;
extern __typeof__(udev_unref) *sym_udev_unref;
extern __typeof__(udev_enumerate_new) *sym_udev_enumerate_new;
extern __typeof__(udev_enumerate_unref) *sym_udev_enumerate_unref;
extern __typeof__(udev_enumerate_add_match_subsystem) *sym_udev_enumerate_add_match_subsystem;
extern __typeof__(udev_enumerate_add_match_sysname) *sym_udev_enumerate_add_match_sysname;
extern __typeof__(udev_enumerate_scan_devices) *sym_udev_enumerate_scan_devices;
extern __typeof__(udev_enumerate_get_list_entry) *sym_udev_enumerate_get_list_entry;
extern __typeof__(udev_list_entry_get_next) *sym_udev_list_entry_get_next;
extern __typeof__(udev_list_entry_get_name) *sym_udev_list_entry_get_name;
extern __typeof__(udev_device_new_from_syspath) *sym_udev_device_new_from_syspath;
extern __typeof__(udev_device_new_from_subsystem_sysname) *sym_udev_device_new_from_subsystem_sysname;
extern __typeof__(udev_device_unref) *sym_udev_device_unref;
extern __typeof__(udev_device_get_parent_with_subsystem_devtype) *sym_udev_device_get_parent_with_subsystem_devtype;
extern __typeof__(udev_device_get_devnode) *sym_udev_device_get_devnode;
extern __typeof__(udev_device_get_devnum) *sym_udev_device_get_devnum;
extern __typeof__(udev_device_get_syspath) *sym_udev_device_get_syspath;
extern __typeof__(udev_device_get_sysname) *sym_udev_device_get_sysname;
extern __typeof__(udev_device_get_driver) *sym_udev_device_get_driver;
extern __typeof__(udev_device_get_sysattr_value) *sym_udev_device_get_sysattr_value;

/* Load libudev.so.1 and resolve the sym_ pointers, once: 0, or -ENOPKG (not
 * logged) when the library is missing or lacks a symbol (then all stay NULL). */
int gj_udev_api_open(void);

/* udev_list_entry_foreach, through the pointers */
#define sym_udev_list_entry_foreach(entry, first) \
        for (entry = (first); entry; entry = sym_udev_list_entry_get_next(entry))
