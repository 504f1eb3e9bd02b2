/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udev-list: what the REAL libudev sees, to check simulated hosts against.
 *
 *   udev-list [--props]
 *
 * One line per device, sorted by the caller if needed:
 *   pci BUS_ID vendor=0x10de device=0x2330 class=0x030200 driver=nvidia numa=0 syspath=...
 *   drm|accel|kfd DEVNODE devnum=MAJ:MIN parent=BUS_ID|- syspath=...
 * PCI functions are those of class 0x03xxxx (display) and 0x12xxxx (processing
 * accelerators); class devices are every drm, accel and kfd device. --props
 * adds the udev properties, indented, under each device.
 */
#include <libudev.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

static const char *str_or_dash(const char *s) { return s && *s ? s : "-"; }

static void print_props(struct udev_device *d) {
        struct udev_list_entry *e;

        udev_list_entry_foreach(e, udev_device_get_properties_list_entry(d))
                printf("  %s=%s\n", udev_list_entry_get_name(e), str_or_dash(udev_list_entry_get_value(e)));
}

static bool is_accelerator_class(const char *cls) {
        return cls && (strncmp(cls, "0x03", 4) == 0 || strncmp(cls, "0x12", 4) == 0);
}

static int list_subsystem(struct udev *udev, const char *subsystem, bool props) {
        struct udev_enumerate *en = udev_enumerate_new(udev);
        struct udev_list_entry *e;

        if (!en)
                return -1;
        udev_enumerate_add_match_subsystem(en, subsystem);
        if (udev_enumerate_scan_devices(en) < 0) {
                udev_enumerate_unref(en);
                return -1;
        }
        udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
                struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));
                if (!d)
                        continue;
                if (strcmp(subsystem, "pci") == 0) {
                        const char *cls = udev_device_get_sysattr_value(d, "class");
                        if (is_accelerator_class(cls)) {
                                printf("pci %s vendor=%s device=%s class=%s driver=%s numa=%s syspath=%s\n",
                                       udev_device_get_sysname(d),
                                       str_or_dash(udev_device_get_sysattr_value(d, "vendor")),
                                       str_or_dash(udev_device_get_sysattr_value(d, "device")), cls,
                                       str_or_dash(udev_device_get_driver(d)),
                                       str_or_dash(udev_device_get_sysattr_value(d, "numa_node")),
                                       udev_device_get_syspath(d));
                                if (props)
                                        print_props(d);
                        }
                } else {
                        dev_t devnum = udev_device_get_devnum(d);
                        struct udev_device *parent =
                                udev_device_get_parent_with_subsystem_devtype(d, "pci", NULL);
                        printf("%s %s devnum=%u:%u parent=%s syspath=%s\n", subsystem,
                               str_or_dash(udev_device_get_devnode(d)), major(devnum), minor(devnum),
                               parent ? udev_device_get_sysname(parent) : "-",
                               udev_device_get_syspath(d));
                        if (props)
                                print_props(d);
                }
                udev_device_unref(d);
        }
        udev_enumerate_unref(en);
        return 0;
}

int main(int argc, char **argv) {
        bool props = argc > 1 && strcmp(argv[1], "--props") == 0;
        static const char *const subsystems[] = { "pci", "drm", "accel", "kfd" };
        struct udev *udev = udev_new();
        int r = 0;

        if (!udev) {
                fprintf(stderr, "udev-list: udev_new() failed\n");
                return 1;
        }
        for (size_t i = 0; i < sizeof(subsystems) / sizeof(subsystems[0]); i++)
                if (list_subsystem(udev, subsystems[i], props) < 0) {
                        fprintf(stderr, "udev-list: cannot enumerate %s\n", subsystems[i]);
                        r = 1;
                }
        udev_unref(udev);
        return r;
}
