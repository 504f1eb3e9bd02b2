/* SPDX-License-Identifier: Apache-2.0 */
/* libudev, resolved at run time: see gpujail/udev-api.h for why. */
#include <dlfcn.h>
#include <errno.h>

#include "gpujail/udev-api.h"
#include "gpujail/util.h"

__typeof__(udev_new) *sym_udev_new;
__typeof__(udev_unref) *sym_udev_unref;
__typeof__(udev_enumerate_new) *sym_udev_enumerate_new;
__typeof__(udev_enumerate_unref) *sym_udev_enumerate_unref;
__typeof__(udev_enumerate_add_match_subsystem) *sym_udev_enumerate_add_match_subsystem;
__typeof__(udev_enumerate_add_match_sysname) *sym_udev_enumerate_add_match_sysname;
__typeof__(udev_enumerate_scan_devices) *sym_udev_enumerate_scan_devices;
__typeof__(udev_enumerate_get_list_entry) *sym_udev_enumerate_get_list_entry;
__typeof__(udev_list_entry_get_next) *sym_udev_list_entry_get_next;
__typeof__(udev_list_entry_get_name) *sym_udev_list_entry_get_name;
__typeof__(udev_device_new_from_syspath) *sym_udev_device_new_from_syspath;
__typeof__(udev_device_new_from_subsystem_sysname) *sym_udev_device_new_from_subsystem_sysname;
__typeof__(udev_device_unref) *sym_udev_device_unref;
__typeof__(udev_device_get_parent_with_subsystem_devtype) *sym_udev_device_get_parent_with_subsystem_devtype;
__typeof__(udev_device_get_devnode) *sym_udev_device_get_devnode;
__typeof__(udev_device_get_devnum) *sym_udev_device_get_devnum;
__typeof__(udev_device_get_syspath) *sym_udev_device_get_syspath;
__typeof__(udev_device_get_sysname) *sym_udev_device_get_sysname;
__typeof__(udev_device_get_driver) *sym_udev_device_get_driver;
__typeof__(udev_device_get_sysattr_value) *sym_udev_device_get_sysattr_value;

#define SYM(name) { (void **)&sym_##name, #name }

int gj_udev_api_open(void) {
        static const struct {
                void **ptr;
                const char *name;
        } syms[] = {
                SYM(udev_new),
                SYM(udev_unref),
                SYM(udev_enumerate_new),
                SYM(udev_enumerate_unref),
                SYM(udev_enumerate_add_match_subsystem),
                SYM(udev_enumerate_add_match_sysname),
                SYM(udev_enumerate_scan_devices),
                SYM(udev_enumerate_get_list_entry),
                SYM(udev_list_entry_get_next),
                SYM(udev_list_entry_get_name),
                SYM(udev_device_new_from_syspath),
                SYM(udev_device_new_from_subsystem_sysname),
                SYM(udev_device_unref),
                SYM(udev_device_get_parent_with_subsystem_devtype),
                SYM(udev_device_get_devnode),
                SYM(udev_device_get_devnum),
                SYM(udev_device_get_syspath),
                SYM(udev_device_get_sysname),
                SYM(udev_device_get_driver),
                SYM(udev_device_get_sysattr_value),
        };
        static void *handle;

        if (handle)
                return 0;
        void *h = dlopen("libudev.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return -ENOPKG;
        for (size_t i = 0; i < ELEMENTSOF(syms); i++)
                if (!(*syms[i].ptr = dlsym(h, syms[i].name))) {
                        for (size_t j = 0; j < ELEMENTSOF(syms); j++)
                                *syms[j].ptr = NULL;
                        dlclose(h);
                        return -ENOPKG;
                }
        handle = h; /* kept for the process's life: its devices may outlive an inventory */
        return 0;
}
