/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the host has: PCI accelerators bound to the drivers we know (read from
 * sysfs directly), their drm/accel children and /dev/kfd (through libudev),
 * plus what only the NVIDIA driver can tell (/proc/driver/nvidia) and the
 * dynamic majors in /proc/devices.
 *
 * Read-only towards the host. A problem with one device or one file is a
 * warning (kept in inv->warnings, naming the file) and the rest is still
 * reported: `gpujail list` is what people run when something is wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "gpujail/inventory.h"
#include "gpujail/udev-api.h"
#include "gpujail/util.h"
#include "inventory-internal.h"

#define NVIDIA_FRONTEND_MAJOR 195 /* fixed in the driver (NV_MAJOR_DEVICE_NUMBER) */
#define NVIDIA_CTL_MINOR 255
#define NVIDIA_MODESET_MINOR 254
#define PROC_FILE_MAX (1024 * 1024)

/* The defaults the NVIDIA driver uses when params says nothing (nv.c: NV_DEVICE_FILE_*). */
#define NVIDIA_DEFAULT_MODE 0666

static inline void udev_enumerate_unrefp(struct udev_enumerate **e) {
        if (*e)
                sym_udev_enumerate_unref(*e);
}
static inline void udev_device_unrefp(struct udev_device **d) {
        if (*d)
                sym_udev_device_unref(*d);
}
#define _cleanup_udev_enumerate_ _cleanup_(udev_enumerate_unrefp)
#define _cleanup_udev_device_ _cleanup_(udev_device_unrefp)

struct inv_ctx {
        struct gj_inventory *inv;
        const char *proc_root;
        const char *dev_root;
        struct udev *udev; /* made (and libudev loaded) by inv_udev() when a device needs it */
        bool udev_failed;
        /* From /proc/driver/nvidia/params, for every NVIDIA node. */
        mode_t nv_mode;
        uid_t nv_uid;
        gid_t nv_gid;
        char *proc_devices; /* /proc/devices, read once for every driver's majors; NULL: unread */
};

/* The libudev context, loaded on first use; NULL (said once) without libudev. */
static struct udev *inv_udev(struct inv_ctx *c) {
        if (c->udev || c->udev_failed)
                return c->udev;
        int r = gj_udev_api_open();
        if (r == 0 && !(c->udev = sym_udev_new()))
                r = -ENOMEM;
        if (r < 0) {
                c->udev_failed = true;
                (void)inv_warn(c->inv, r, "cannot use libudev (libudev.so.1): drm, accel and kfd "
                                          "devices are not listed");
        }
        return c->udev;
}

static const char *const vendor_names[_GJ_VENDOR_MAX] = {
        [GJ_VENDOR_NVIDIA] = "nvidia",
        [GJ_VENDOR_AMD] = "amd",
        [GJ_VENDOR_INTEL] = "intel",
        [GJ_VENDOR_ACCEL] = "accel",
};

const char *gj_vendor_name(enum gj_vendor v) {
        return (unsigned)v < _GJ_VENDOR_MAX ? vendor_names[v] : "unknown";
}

int gj_vendor_from_name(const char *name) {
        for (unsigned i = 0; i < _GJ_VENDOR_MAX; i++)
                if (streq_ptr(name, vendor_names[i]))
                        return (int)i;
        return -EINVAL;
}

static const char *const node_state_names[] = {
        [GJ_NODE_OK] = "ok",
        [GJ_NODE_MISSING] = "missing",
        [GJ_NODE_NOT_CHAR] = "not_char",
        [GJ_NODE_WRONG_DEVNUM] = "wrong_devnum",
        [GJ_NODE_UNCHECKED] = "unchecked",
};

const char *gj_node_state_name(enum gj_node_state s) {
        return (unsigned)s < ELEMENTSOF(node_state_names) ? node_state_names[s] : "unknown";
}

int gj_node_state_from_name(const char *name) {
        for (unsigned i = 0; i < ELEMENTSOF(node_state_names); i++)
                if (streq_ptr(name, node_state_names[i]))
                        return (int)i;
        return -EINVAL;
}

static const char *const control_names[_GJ_CTL_MAX] = {
        [GJ_CTL_NVIDIACTL] = "nvidiactl",
        [GJ_CTL_NVIDIA_UVM] = "nvidia-uvm",
        [GJ_CTL_NVIDIA_UVM_TOOLS] = "nvidia-uvm-tools",
        [GJ_CTL_NVIDIA_MODESET] = "nvidia-modeset",
        [GJ_CTL_KFD] = "kfd",
};

const char *gj_control_name(enum gj_control c) {
        return (unsigned)c < _GJ_CTL_MAX ? control_names[c] : "unknown";
}

int gj_control_from_name(const char *name) {
        for (unsigned i = 0; i < _GJ_CTL_MAX; i++)
                if (streq_ptr(name, control_names[i]))
                        return (int)i;
        return -EINVAL;
}

/* ---- warnings ---- */

/* Log a warning and keep it in the inventory; error is a negative errno (its text is
 * appended) or 0. Returns 0, or -ENOMEM: the only failure that stops the inventory. */
_printf_(3, 4) int inv_warn(struct gj_inventory *inv, int error, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (error != 0) {
                size_t n = strlen(buf);
                snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(-error));
        }
        log_warning("%s", buf);
        return strv_push(&inv->warnings, strdup(buf));
}

/* ---- nodes ---- */

static void node_free_contents(struct gj_node *n) { free(n->path); }

/* stat() the node under dev_root (node->path always names it as /dev/...). */
void node_check_at(const char *dev_root, struct gj_node *node) {
        _cleanup_free_ char *p = NULL;
        const char *rel = startswith(node->path, "/dev");
        struct stat st;

        node->found_major = node->found_minor = 0;
        if (dev_root && !streq(dev_root, "/dev") && rel) {
                p = strprintf("%s%s", dev_root, rel);
                if (!p) {
                        node->state = GJ_NODE_UNCHECKED;
                        return;
                }
        }
        if (lstat(p ?: node->path, &st) < 0) {
                node->state = errno == ENOENT ? GJ_NODE_MISSING : GJ_NODE_UNCHECKED;
                return;
        }
        if (!S_ISCHR(st.st_mode)) {
                node->state = GJ_NODE_NOT_CHAR;
                return;
        }
        if (major(st.st_rdev) != node->major || minor(st.st_rdev) != node->minor) {
                node->state = GJ_NODE_WRONG_DEVNUM;
                node->found_major = major(st.st_rdev);
                node->found_minor = minor(st.st_rdev);
                return;
        }
        node->state = GJ_NODE_OK;
}

void gj_node_check(struct gj_node *node) { node_check_at(NULL, node); }

int node_init(struct gj_node *n, const char *path, unsigned maj, unsigned min, mode_t mode,
              uid_t uid, gid_t gid) {
        *n = (struct gj_node){
                .path = strdup(path),
                .type = 'c',
                .major = maj,
                .minor = min,
                .mode = mode,
                .uid = uid,
                .gid = gid,
        };
        return n->path ? 0 : -ENOMEM;
}

static int device_add_node(struct gj_device *d, const char *path, unsigned maj, unsigned min,
                           mode_t mode, uid_t uid, gid_t gid) {
        struct gj_node *nodes = realloc(d->nodes, (d->n_nodes + 1) * sizeof(*nodes));
        if (!nodes)
                return -ENOMEM;
        d->nodes = nodes;
        int r = node_init(&d->nodes[d->n_nodes], path, maj, min, mode, uid, gid);
        if (r < 0)
                return r;
        d->n_nodes++;
        return 0;
}

static int ctx_add_control(struct inv_ctx *c, enum gj_control which, const char *path, unsigned maj,
                           unsigned min, mode_t mode, uid_t uid, gid_t gid) {
        struct gj_node *n = malloc(sizeof(*n));
        if (!n)
                return -ENOMEM;
        int r = node_init(n, path, maj, min, mode, uid, gid);
        if (r < 0) {
                free(n);
                return r;
        }
        c->inv->controls[which] = n;
        return 0;
}

/*
 * Nodes udev creates (DRM, accel, kfd) get their permissions from udev rules,
 * not from the driver: what is on the host is what a jail should see.
 */
static void node_adopt_host_perms(const char *dev_root, struct gj_node *n) {
        _cleanup_free_ char *p = NULL;
        const char *rel = startswith(n->path, "/dev");
        struct stat st;

        if (n->state != GJ_NODE_OK)
                return;
        if (dev_root && !streq(dev_root, "/dev") && rel) {
                p = strprintf("%s%s", dev_root, rel);
                if (!p)
                        return;
        }
        if (stat(p ?: n->path, &st) < 0)
                return;
        n->mode = st.st_mode & 07777;
        n->uid = st.st_uid;
        n->gid = st.st_gid;
}

/* ---- files under /proc ---- */

/* Read proc_root/<rel>; on failure, a warning naming the file (unless quiet_enoent). */
static int read_proc(struct inv_ctx *c, const char *rel, bool quiet_enoent, char **ret) {
        _cleanup_free_ char *p = strprintf("%s/%s", c->proc_root, rel);
        if (!p)
                return -ENOMEM;
        int r = read_full_file(p, ret, NULL, PROC_FILE_MAX);
        if (r >= 0)
                return 1;
        if (r == -ENOENT && quiet_enoent)
                return 0;
        *ret = NULL;
        /* Name it as the host path: that is what the user can look at. */
        return inv_warn(c->inv, r, "cannot read /proc/%s", rel);
}

/* ---- PCI devices ---- */

struct pci_match {
        const char *driver;
        enum gj_vendor vendor;
        const char *vendor_id;
        const char *class_prefixes[2]; /* "0x03": display controller; "0x12": processing accelerator */
};

static const struct pci_match pci_matches[] = {
        { "nvidia", GJ_VENDOR_NVIDIA, "0x10de", { "0x03", NULL } }, /* not NVSwitch (0x0680) */
        { "amdgpu", GJ_VENDOR_AMD, "0x1002", { "0x03", "0x12" } },  /* Instinct MI: 0x1200 */
        { "i915", GJ_VENDOR_INTEL, "0x8086", { "0x03", NULL } },
        { "xe", GJ_VENDOR_INTEL, "0x8086", { "0x03", NULL } },
};

static bool class_matches(const struct pci_match *m, const char *class) {
        for (size_t i = 0; i < ELEMENTSOF(m->class_prefixes); i++)
                if (m->class_prefixes[i] && startswith(class, m->class_prefixes[i]))
                        return true;
        return false;
}

/* A sysfs attribute of dev, or NULL with a warning naming the file. */
static int sysattr_or_warn(struct inv_ctx *c, struct udev_device *dev, const char *attr,
                           const char **ret) {
        errno = 0;
        *ret = sym_udev_device_get_sysattr_value(dev, attr);
        if (*ret)
                return 1;
        int error = errno > 0 ? -errno : -ENOENT; /* before get_syspath can change errno */
        return inv_warn(c->inv, error, "cannot read %s/%s", sym_udev_device_get_syspath(dev), attr);
}

static struct gj_device *inv_new_device(struct gj_inventory *inv) {
        struct gj_device *d = realloc(inv->devices, (inv->n_devices + 1) * sizeof(*d));
        if (!d)
                return NULL;
        inv->devices = d;
        d = &inv->devices[inv->n_devices++];
        *d = (struct gj_device){ .numa_node = -1, .minor = -1 };
        return d;
}

/* What sysfs says of a PCI function: numa_node may be NULL (unknown), vendor and
 * device too (no fallback model name then). */
struct pci_attrs {
        const char *bus_id, *syspath, *driver, *numa_node, *vendor, *device;
};

static int device_fill_pci(struct gj_device *d, const struct pci_attrs *a) {
        d->pci_bus_id = strdup(a->bus_id);
        d->driver = strdup(a->driver);
        if (!d->pci_bus_id || !d->driver || (a->syspath && !(d->syspath = strdup(a->syspath))))
                return -ENOMEM;
        if (!a->numa_node || safe_atoi(a->numa_node, &d->numa_node) < 0)
                d->numa_node = -1;
        /* The fallback model name: PCI ids, as lspci -n shows them. */
        if (a->vendor && a->device && startswith(a->vendor, "0x") && startswith(a->device, "0x")) {
                d->model = strprintf("%s:%s", a->vendor + 2, a->device + 2);
                if (!d->model)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- the PCI bus, read directly (no libudev: see inv_enumerate_pci) ---- */

#define PCI_ATTR_MAX 32 /* "0x030000", "0x10de", "-1": short values only */

/* <name>/<attr> in dir_fd (a directory of links to functions: /sys/bus/pci/drivers/<driver>
 * or /sys/bus/pci/devices), opened for reading: one path walk, through the link. */
static int pci_open_attr(int dir_fd, const char *name, const char *attr) {
        char path[64]; /* "0000:3b:00.0/numa_node": is_pci_address() names only */
        if (snprintf(path, sizeof(path), "%s/%s", name, attr) >= (int)sizeof(path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        return openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

/* <attr> of function <name> in dir_fd, without its trailing newline, into buf
 * (PCI_ATTR_MAX). Returns 1, or 0 with errno set when it cannot be read. */
static int pci_read_attr(int dir_fd, const char *name, const char *attr,
                         char buf[static PCI_ATTR_MAX]) {
        _cleanup_close_ int fd = pci_open_attr(dir_fd, name, attr);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, PCI_ATTR_MAX - 1);
        if (n < 0)
                return 0;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                n--;
        buf[n] = 0;
        return 1;
}

/* The same, or a warning naming the file as the device's own path (as libudev would). */
static int pci_attr_or_warn(struct inv_ctx *c, int dir_fd, const char *name, const char *syspath,
                            const char *attr, char buf[static PCI_ATTR_MAX]) {
        if (pci_read_attr(dir_fd, name, attr, buf))
                return 1;
        return inv_warn(c->inv, errno > 0 ? -errno : -EIO, "cannot read %s/%s", syspath, attr);
}

/* What a PCI function's uevent says of it (the kernel's pci_uevent writes all of
 * it, always): its class ("PCI_CLASS=30200") and ids ("PCI_ID=10DE:2330"), in
 * sysfs's own spelling ("0x030200", "0x10de", "0x2330"). One file for three
 * attributes: a sysfs open costs a page for its buffer. */
struct pci_ids {
        char class[PCI_ATTR_MAX], vendor[PCI_ATTR_MAX], device[PCI_ATTR_MAX];
};

/* Past a hexadecimal number at s that ends at stop ('\0': the string's end), with *ret;
 * NULL when there is none. (sscanf(3) cost ~1,400 instructions a field, ~15% of
 * the PCI pass.) */
static const char *parse_hex_until(const char *s, char stop, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 16);
        if (end == s || *end != stop || errno != 0 || v > UINT_MAX)
                return NULL;
        *ret = v;
        return end;
}

/* 1 with *ret (a field it lacks is ""), or 0 with errno set when it cannot be read. */
static int pci_read_uevent(int dir_fd, const char *name, struct pci_ids *ret) {
        char buf[1024];
        _cleanup_close_ int fd = pci_open_attr(dir_fd, name, "uevent");
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return 0;
        buf[n] = 0;
        *ret = (struct pci_ids){};
        for (char *rest = buf, *line; (line = strsep(&rest, "\n"));) {
                const char *v;
                unsigned class, vendor, device;
                if ((v = startswith(line, "PCI_CLASS=")) && parse_hex_until(v, 0, &class))
                        snprintf(ret->class, sizeof(ret->class), "0x%06x", class);
                else if ((v = startswith(line, "PCI_ID=")) &&
                         (v = parse_hex_until(v, ':', &vendor)) &&
                         parse_hex_until(v + 1, 0, &device)) {
                        snprintf(ret->vendor, sizeof(ret->vendor), "0x%04x", vendor);
                        snprintf(ret->device, sizeof(ret->device), "0x%04x", device);
                }
        }
        return 1;
}

/* /sys/devices/... of <name>, a link in dir_fd (/sys/bus/pci/devices) that reads
 * "../../../devices/...". */
static char *pci_syspath(int dir_fd, const char *name) {
        char link[PATH_MAX];
        ssize_t n = readlinkat(dir_fd, name, link, sizeof(link) - 1);
        if (n <= 0)
                return NULL;
        link[n] = 0;
        const char *rest = link;
        while (startswith(rest, "../"))
                rest += 3;
        if ((rest = startswith(rest, "devices/")))
                return strprintf("/sys/devices/%s", rest);
        _cleanup_free_ char *p = strprintf("/sys/bus/pci/devices/%s", name);
        return p ? realpath(p, NULL) : NULL;
}

/* One PCI function bound to a driver we know (m), of a class it serves (its ids:
 * ids): listed if it is of the driver's vendor. Where it sits comes later
 * (inv_add_pci_places), for the devices read in full. */
static int inv_add_pci_function(struct inv_ctx *c, const char *name, const struct pci_match *m,
                                const struct pci_ids *ids) {
        if (*ids->vendor && !streq(ids->vendor, m->vendor_id))
                return 0;
        struct gj_device *d = inv_new_device(c->inv);
        if (!d)
                return -ENOMEM;
        d->vendor = m->vendor;
        return device_fill_pci(d, &(struct pci_attrs){
                                          .bus_id = name,
                                          .driver = m->driver,
                                          .vendor = *ids->vendor ? ids->vendor : NULL,
                                          .device = *ids->device ? ids->device : NULL,
                                  });
}

/* A PCI function's name in sysfs: "0000:3b:00.0". */
static bool is_pci_address(const char *name) {
        static const char shape[] = "xxxx:xx:xx.x"; /* x: a hexadecimal digit */
        for (size_t i = 0; i < sizeof(shape) - 1; i++)
                if (shape[i] == 'x' ? !isxdigit((unsigned char)name[i]) : name[i] != shape[i])
                        return false;
        return name[sizeof(shape) - 1] == 0;
}

/* The functions bound to one driver we know: /sys/bus/pci/drivers/<driver>/<address>,
 * links into /sys/devices, next to bind, unbind, new_id and module. Of each, its
 * uevent alone: class (display controller 0x03 or processing accelerator 0x12, as
 * the driver serves), vendor and device at once. */
static int inv_enumerate_driver(struct inv_ctx *c, const struct pci_match *m) {
        _cleanup_free_ char *path = strprintf("/sys/bus/pci/drivers/%s", m->driver);
        if (!path)
                return -ENOMEM;
        _cleanup_closedir_ DIR *dir = opendir(path);
        if (!dir)
                return errno == ENOENT ? 0 : inv_warn(c->inv, -errno, "cannot read %s", path);
        struct dirent *de;
        while ((de = readdir(dir))) {
                struct pci_ids ids;
                if (!is_pci_address(de->d_name))
                        continue;
                /* No class: gone since readdir. Without it we cannot tell a GPU from an NVSwitch. */
                if (!pci_read_uevent(dirfd(dir), de->d_name, &ids) || !class_matches(m, ids.class))
                        continue;
                int r = inv_add_pci_function(c, de->d_name, m, &ids);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * GPUs and accelerators bound to a driver we know, from each driver's directory
 * under /sys/bus/pci/drivers (absent: the driver is not loaded): a server's
 * hundreds of other PCI functions (bridges, NICs, disks) are never looked at.
 * Reading each function's driver link instead was one syscall each; libudev
 * would build a device object for each, resolving its path one component at a
 * time (~20 path lookups), and for a udev_enumerate with a sysattr match for
 * each match's parents as well. Order does not matter here: inv_number_devices
 * sorts.
 */
static int inv_enumerate_pci(struct inv_ctx *c) {
        for (size_t i = 0; i < ELEMENTSOF(pci_matches); i++) {
                int r = inv_enumerate_driver(c, &pci_matches[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Where a function read in full sits: its sysfs path (its drm children, its PCIe
 * switch for --gpu auto) and NUMA node, through /sys/bus/pci/devices/<address>. */
static int pci_read_place(struct inv_ctx *c, int dir_fd, struct gj_device *d) {
        char numa[PCI_ATTR_MAX];
        if (!(d->syspath = pci_syspath(dir_fd, d->pci_bus_id)))
                return errno == ENOMEM ? -ENOMEM
                                       : inv_warn(c->inv, errno > 0 ? -errno : -EIO,
                                                  "cannot resolve /sys/bus/pci/devices/%s",
                                                  d->pci_bus_id);
        int r = pci_attr_or_warn(c, dir_fd, d->pci_bus_id, d->syspath, "numa_node", numa);
        if (r > 0 && safe_atoi(numa, &d->numa_node) < 0)
                d->numa_node = -1;
        return r < 0 ? r : 0;
}

/* The places of the PCI functions read in full (not partial: a request by index
 * reads only the GPUs it names), after the numbering that says which those are. */
static int inv_add_pci_places(struct inv_ctx *c) {
        _cleanup_close_ int dir_fd = -EBADF;
        for (size_t i = 0; i < c->inv->n_devices; i++) {
                struct gj_device *d = &c->inv->devices[i];
                if (!d->pci_bus_id || d->syspath || d->partial) /* accel: placed by libudev */
                        continue;
                if (dir_fd < 0 &&
                    (dir_fd = open("/sys/bus/pci/devices", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                        return inv_warn(c->inv, -errno, "cannot open /sys/bus/pci/devices");
                int r = pci_read_place(c, dir_fd, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- drm and accel class devices ---- */

static int device_add_udev_node(struct inv_ctx *c, struct gj_device *d, struct udev_device *dev) {
        const char *devnode = sym_udev_device_get_devnode(dev);
        dev_t devnum = sym_udev_device_get_devnum(dev);

        if (!devnode || major(devnum) == 0)
                return 0; /* connectors (card0-DP-1) have no node */
        int r = device_add_node(d, devnode, major(devnum), minor(devnum), 0660, 0, 0);
        if (r < 0)
                return r;
        struct gj_node *n = &d->nodes[d->n_nodes - 1];
        node_check_at(c->dev_root, n);
        node_adopt_host_perms(c->dev_root, n);
        return 0;
}

static bool is_drm_minor_name(const char *name) {
        const char *num = startswith(name, "card") ?: startswith(name, "renderD");
        return num && *num >= '0' && *num <= '9' && !strchr(num, '-'); /* not card0-DP-1 */
}

/*
 * cardN/renderDN of one GPU we listed (amdgpu, i915, xe; nvidia-drm's too), found
 * under the GPU's own sysfs directory: a walk down from the few GPUs instead of up
 * from every drm device (connectors, the BMC's card) through its parents. Sorted so
 * that card comes before renderD, as a listing of /dev/dri does.
 */
static int device_add_drm_children(struct inv_ctx *c, struct gj_device *d) {
        _cleanup_free_ char *drm = strprintf("%s/drm", d->syspath);
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;

        if (!drm)
                return -ENOMEM;
        _cleanup_closedir_ DIR *dir = opendir(drm);
        if (!dir)
                return 0; /* no drm driver on it (nvidia without nvidia-drm, compute-only) */
        while ((de = readdir(dir)))
                if (is_drm_minor_name(de->d_name) && strv_push(&names, strdup(de->d_name)) < 0)
                        return -ENOMEM;
        if (!names)
                return 0;
        struct udev *udev = inv_udev(c);
        if (!udev)
                return 0; /* said */
        strv_sort(names);
        for (char **n = names; *n; n++) {
                _cleanup_free_ char *syspath = strprintf("%s/%s", drm, *n);
                if (!syspath)
                        return -ENOMEM;
                _cleanup_udev_device_ struct udev_device *dev =
                        sym_udev_device_new_from_syspath(udev, syspath);
                if (!dev)
                        continue; /* gone since readdir */
                int r = device_add_udev_node(c, d, dev);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int inv_add_drm_children(struct inv_ctx *c) {
        for (size_t i = 0; i < c->inv->n_devices; i++) {
                struct gj_device *d = &c->inv->devices[i];
                int r = d->pci_bus_id && d->syspath && !d->partial ? device_add_drm_children(c, d) : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An accel device is listed on its own, with its PCI parent's bus id and driver. */
static int accel_add_device(struct inv_ctx *c, struct udev_device *dev) {
        struct udev_device *pci = sym_udev_device_get_parent_with_subsystem_devtype(dev, "pci", NULL);
        struct gj_device *d;
        int r;

        if (!sym_udev_device_get_devnode(dev))
                return 0;
        d = inv_new_device(c->inv);
        if (!d)
                return -ENOMEM;
        d->vendor = GJ_VENDOR_ACCEL;
        if (pci) {
                const char *numa;
                r = sysattr_or_warn(c, pci, "numa_node", &numa);
                if (r < 0)
                        return r;
                r = device_fill_pci(d, &(struct pci_attrs){
                                               .bus_id = sym_udev_device_get_sysname(pci),
                                               .syspath = sym_udev_device_get_syspath(pci),
                                               .driver = sym_udev_device_get_driver(pci) ?: "",
                                               .numa_node = numa,
                                               .vendor = sym_udev_device_get_sysattr_value(pci, "vendor"),
                                               .device = sym_udev_device_get_sysattr_value(pci, "device"),
                                       });
                if (r < 0)
                        return r;
        } else {
                d->syspath = strdup(sym_udev_device_get_syspath(dev));
                d->driver = strdup("");
                if (!d->syspath || !d->driver)
                        return -ENOMEM;
        }
        return device_add_udev_node(c, d, dev);
}

static int enumerate_scan(struct udev_enumerate *e, const char *subsystem,
                          const char *const *sysnames) {
        int r = sym_udev_enumerate_add_match_subsystem(e, subsystem);
        if (r < 0)
                return r;
        for (size_t i = 0; sysnames && sysnames[i]; i++) {
                r = sym_udev_enumerate_add_match_sysname(e, sysnames[i]);
                if (r < 0)
                        return r;
        }
        return sym_udev_enumerate_scan_devices(e);
}

/* Whether /sys/class/<subsystem> lists a name starting with prefix: one readdir
 * spares libudev's scan of /sys/bus and /sys/class on the many hosts with none. */
static bool class_has_entries(const char *subsystem, const char *prefix) {
        _cleanup_free_ char *path = strprintf("/sys/class/%s", subsystem);
        _cleanup_closedir_ DIR *dir = path ? opendir(path) : NULL;
        struct dirent *de;
        if (!path)
                return true; /* let libudev say */
        while (dir && (de = readdir(dir)))
                if (startswith(de->d_name, prefix))
                        return true;
        return false;
}

/* Class devices whose names match one of sysnames (connectors like card0-DP-1 are skipped
 * by name, before udev looks at them). */
static int inv_enumerate_class(struct inv_ctx *c, const char *subsystem, const char *const *sysnames,
                               int (*fn)(struct inv_ctx *c, struct udev_device *dev)) {
        struct udev *udev = inv_udev(c);
        if (!udev)
                return 0; /* said */
        _cleanup_udev_enumerate_ struct udev_enumerate *e = sym_udev_enumerate_new(udev);
        struct udev_list_entry *item;

        if (!e)
                return -ENOMEM;
        int r = enumerate_scan(e, subsystem, sysnames);
        if (r < 0)
                return inv_warn(c->inv, r, "cannot enumerate /sys/class/%s", subsystem);
        sym_udev_list_entry_foreach(item, sym_udev_enumerate_get_list_entry(e)) {
                _cleanup_udev_device_ struct udev_device *dev =
                        sym_udev_device_new_from_syspath(udev, sym_udev_list_entry_get_name(item));
                if (!dev)
                        continue;
                r = fn(c, dev);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- order ---- */

static int device_rank(const struct gj_device *d) { return (int)d->vendor; }

static int device_compare(const void *a, const void *b) {
        const struct gj_device *x = a, *y = b;
        if (device_rank(x) != device_rank(y))
                return device_rank(x) - device_rank(y);
        /* "0000:3b:00.0": fixed width, lower-case hex, so strcmp is bus order. */
        return strcmp(x->pci_bus_id ?: x->syspath ?: "", y->pci_bus_id ?: y->syspath ?: "");
}

static void inv_number_devices(struct gj_inventory *inv) {
        unsigned per_vendor[_GJ_VENDOR_MAX] = { 0 };

        if (inv->n_devices > 1) /* qsort(NULL, 0) is undefined: a host with no accelerators */
                qsort(inv->devices, inv->n_devices, sizeof(*inv->devices), device_compare);
        for (size_t i = 0; i < inv->n_devices; i++) {
                inv->devices[i].index = (unsigned)i;
                inv->devices[i].vendor_index = per_vendor[inv->devices[i].vendor]++;
        }
}

/* The devices opts->details_only leaves out get their PCI facts alone. */
static void inv_mark_partial(struct gj_inventory *inv, const struct gj_inventory_opts *opts) {
        if (!opts || !opts->details_only)
                return;
        for (size_t i = 0; i < inv->n_devices; i++) {
                struct gj_device *d = &inv->devices[i];
                bool by_nvidia = opts->details_by_nvidia_index;
                d->partial = true;
                for (size_t k = 0; k < opts->n_details_only && d->partial; k++) {
                        unsigned want = opts->details_only[k];
                        if (by_nvidia ? d->vendor == GJ_VENDOR_NVIDIA && d->vendor_index == want
                                      : d->index == want)
                                d->partial = false;
                }
        }
}

static bool inv_has_vendor(const struct gj_inventory *inv, enum gj_vendor v) {
        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i].vendor == v)
                        return true;
        return false;
}

/* ---- NVIDIA: what only the driver knows ---- */

static int nvidia_read_params(struct inv_ctx *c) {
        _cleanup_free_ char *text = NULL;

        c->nv_mode = NVIDIA_DEFAULT_MODE;
        c->nv_uid = 0;
        c->nv_gid = 0;
        int r = read_proc(c, "driver/nvidia/params", false, &text);
        if (r > 0)
                gj_nvidia_params_parse(text, &c->nv_mode, &c->nv_uid, &c->nv_gid);
        return r < 0 ? r : 0;
}

static int nvidia_read_version(struct inv_ctx *c) {
        _cleanup_free_ char *text = NULL;
        int r = read_proc(c, "driver/nvidia/version", false, &text);
        if (r <= 0)
                return r;
        r = gj_nvidia_version_parse(text, &c->inv->nvidia_driver_version);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return inv_warn(c->inv, 0, "/proc/driver/nvidia/version: no driver version found");
        return 0;
}

static int nvidia_read_info(struct inv_ctx *c, struct gj_device *d) {
        _cleanup_free_ char *rel = strprintf("driver/nvidia/gpus/%s/information", d->pci_bus_id);
        _cleanup_free_ char *text = NULL;
        _cleanup_(gj_nvidia_info_done) struct gj_nvidia_info info = { .minor = -1 };
        int r;

        if (!rel)
                return -ENOMEM;
        r = read_proc(c, rel, false, &text);
        if (r <= 0)
                return r;
        r = gj_nvidia_info_parse(text, &info);
        if (r == -ENOMEM)
                return r;
        if (info.model) {
                free(d->model);
                d->model = TAKE_PTR(info.model);
        }
        d->uuid = TAKE_PTR(info.uuid);
        d->minor = info.minor;
        if (r < 0)
                return inv_warn(c->inv, 0,
                                "/proc/%s: no valid \"Device Minor:\" line (malformed or truncated)",
                                rel);
        if (info.bus_location && strcasecmp(info.bus_location, d->pci_bus_id) != 0)
                return inv_warn(c->inv, 0, "/proc/%s: Bus Location %s does not match the directory",
                                rel, info.bus_location);
        return 0;
}

static int nvidia_device_nodes(struct inv_ctx *c, struct gj_device *d, unsigned frontend_major,
                               bool have_uvm) {
        char path[64];

        d->controls |= 1u << GJ_CTL_NVIDIACTL;
        if (have_uvm)
                d->controls |= 1u << GJ_CTL_NVIDIA_UVM | 1u << GJ_CTL_NVIDIA_UVM_TOOLS;
        if (d->minor < 0)
                return 0; /* unknown minor: no node we could name */
        snprintf(path, sizeof(path), "/dev/nvidia%d", d->minor);
        /* Its drm children, if any, came first: the GPU's own node leads. */
        int r = device_add_node(d, path, frontend_major, (unsigned)d->minor, c->nv_mode, c->nv_uid,
                                c->nv_gid);
        if (r < 0)
                return r;
        struct gj_node last = d->nodes[d->n_nodes - 1];
        memmove(d->nodes + 1, d->nodes, (d->n_nodes - 1) * sizeof(*d->nodes));
        d->nodes[0] = last;
        node_check_at(c->dev_root, &d->nodes[0]);
        return 0;
}

static int nvidia_find_majors(struct inv_ctx *c, unsigned *frontend, unsigned *uvm) {
        int r = read_proc(c, "devices", false, &c->proc_devices);
        if (r < 0)
                return r;
        const char *text = c->proc_devices;

        *frontend = NVIDIA_FRONTEND_MAJOR;
        *uvm = 0;
        if (r == 0)
                return 0;
        /* Drivers >= 550 register 195 as "nvidia", older ones as "nvidia-frontend". */
        if (gj_proc_devices_find_char(text, "nvidia", frontend) < 0 &&
            gj_proc_devices_find_char(text, "nvidia-frontend", frontend) < 0) {
                r = inv_warn(c->inv, 0,
                             "/proc/devices: no \"nvidia\" or \"nvidia-frontend\" line; assuming major %d",
                             NVIDIA_FRONTEND_MAJOR);
                if (r < 0)
                        return r;
        }
        if (gj_proc_devices_find_char(text, "nvidia-uvm", uvm) < 0) {
                *uvm = 0;
                r = inv_warn(c->inv, 0,
                             "/proc/devices: no \"nvidia-uvm\" line (module nvidia_uvm not loaded?): "
                             "no /dev/nvidia-uvm; CUDA needs it ('gpujail setup' loads it)");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One clear line rather than one per file when the whole directory is missing. */
static int nvidia_check_proc_dir(struct inv_ctx *c) {
        _cleanup_free_ char *p = strprintf("%s/driver/nvidia", c->proc_root);
        struct stat st;

        if (!p)
                return -ENOMEM;
        int error = stat(p, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        if (error == 0)
                return 1;
        return inv_warn(c->inv, error,
                        "/proc/driver/nvidia: NVIDIA GPUs are bound to the nvidia driver but its "
                        "/proc interface is missing: no minors, UUIDs or nodes known");
}

/* nvidiactl and nvidia-modeset on the frontend major; the two UVM nodes when it has a major. */
static int nvidia_add_controls(struct inv_ctx *c, unsigned frontend, unsigned uvm) {
        static const struct {
                enum gj_control which;
                const char *path;
                bool uvm;
                unsigned minor;
        } controls[] = {
                { GJ_CTL_NVIDIACTL, "/dev/nvidiactl", false, NVIDIA_CTL_MINOR },
                { GJ_CTL_NVIDIA_MODESET, "/dev/nvidia-modeset", false, NVIDIA_MODESET_MINOR },
                { GJ_CTL_NVIDIA_UVM, "/dev/nvidia-uvm", true, 0 },
                { GJ_CTL_NVIDIA_UVM_TOOLS, "/dev/nvidia-uvm-tools", true, 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(controls); i++) {
                if (controls[i].uvm && uvm == 0)
                        continue;
                int r = ctx_add_control(c, controls[i].which, controls[i].path,
                                        controls[i].uvm ? uvm : frontend, controls[i].minor,
                                        c->nv_mode, c->nv_uid, c->nv_gid);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int inv_add_nvidia(struct inv_ctx *c) {
        unsigned frontend, uvm;
        int r;

        if (!inv_has_vendor(c->inv, GJ_VENDOR_NVIDIA))
                return 0;
        r = nvidia_check_proc_dir(c);
        if (r <= 0)
                return r;
        r = nvidia_read_version(c);
        if (r < 0)
                return r;
        r = nvidia_read_params(c);
        if (r < 0)
                return r;
        r = nvidia_find_majors(c, &frontend, &uvm);
        if (r < 0)
                return r;
        r = nvidia_add_controls(c, frontend, uvm);
        if (r < 0)
                return r;

        for (size_t i = 0; i < c->inv->n_devices; i++) {
                struct gj_device *d = &c->inv->devices[i];
                if (d->vendor != GJ_VENDOR_NVIDIA || d->partial)
                        continue;
                r = nvidia_read_info(c, d);
                if (r < 0)
                        return r;
                r = nvidia_device_nodes(c, d, frontend, uvm > 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- AMD: /dev/kfd, shared by every amdgpu device for compute ---- */

static int inv_add_kfd(struct inv_ctx *c) {
        if (!inv_has_vendor(c->inv, GJ_VENDOR_AMD) || !inv_udev(c))
                return 0;
        _cleanup_udev_device_ struct udev_device *kfd =
                sym_udev_device_new_from_subsystem_sysname(c->udev, "kfd", "kfd");
        if (!kfd)
                return inv_warn(c->inv, 0,
                                "/sys/class/kfd/kfd: not found (amdgpu without KFD): no /dev/kfd for compute");
        const char *devnode = sym_udev_device_get_devnode(kfd);
        dev_t devnum = sym_udev_device_get_devnum(kfd);
        if (!devnode || major(devnum) == 0)
                return 0;
        int r = ctx_add_control(c, GJ_CTL_KFD, devnode, major(devnum), minor(devnum), 0666, 0, 0);
        if (r < 0)
                return r;
        node_check_at(c->dev_root, c->inv->controls[GJ_CTL_KFD]);
        node_adopt_host_perms(c->dev_root, c->inv->controls[GJ_CTL_KFD]);
        for (size_t i = 0; i < c->inv->n_devices; i++)
                if (c->inv->devices[i].vendor == GJ_VENDOR_AMD)
                        c->inv->devices[i].controls |= 1u << GJ_CTL_KFD;
        return 0;
}

/* ---- modules ---- */

static int inv_query_modules(struct inv_ctx *c) {
        const char *names[16];
        size_t n = 0;
        static const char *const nvidia_set[] = { "nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm" };
        static const char *const accel_drivers[] = { "intel_vpu", "habanalabs", "amdxdna", "qaic", "ivpu" };

        /* The NVIDIA set always: "not loaded" is the first thing to know on a GPU host. */
        for (size_t i = 0; i < ELEMENTSOF(nvidia_set); i++)
                names[n++] = nvidia_set[i];
        if (inv_has_vendor(c->inv, GJ_VENDOR_AMD))
                names[n++] = "amdgpu";
        if (inv_has_vendor(c->inv, GJ_VENDOR_INTEL)) {
                names[n++] = "i915";
                names[n++] = "xe";
        }
        for (size_t a = 0; a < ELEMENTSOF(accel_drivers); a++)
                for (size_t i = 0; i < c->inv->n_devices; i++)
                        if (c->inv->devices[i].vendor == GJ_VENDOR_ACCEL &&
                            streq_ptr(c->inv->devices[i].driver, accel_drivers[a])) {
                                names[n++] = accel_drivers[a];
                                break;
                        }
        /* Index lookups (libkmod's dlopen: ~4 ms) only for what `gpujail setup` could load;
         * nvidia_drm, or xe next to i915, not loaded is nothing to act on. */
        int r = gj_modules_query(names, n, gj_nvidia_setup_modules, &c->inv->modules,
                                 &c->inv->n_modules);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return inv_warn(c->inv, r, "cannot read the kernel module index (libkmod)");
        return 0;
}

/* ---- the whole ---- */

static void device_free_contents(struct gj_device *d) {
        free(d->pci_bus_id);
        free(d->syspath);
        free(d->driver);
        free(d->model);
        free(d->uuid);
        for (size_t i = 0; i < d->n_nodes; i++)
                node_free_contents(&d->nodes[i]);
        free(d->nodes);
}

void gj_inventory_free(struct gj_inventory *inv) {
        if (!inv)
                return;
        for (size_t i = 0; i < inv->n_devices; i++)
                device_free_contents(&inv->devices[i]);
        free(inv->devices);
        for (size_t i = 0; i < _GJ_CTL_MAX; i++) {
                if (inv->controls[i])
                        node_free_contents(inv->controls[i]);
                free(inv->controls[i]);
        }
        inv_free_nvidia_caps(inv);
        free(inv->modules);
        free(inv->nvidia_driver_version);
        strv_free(inv->warnings);
        free(inv);
}

static void inv_check_controls(struct inv_ctx *c) {
        for (size_t i = 0; i < _GJ_CTL_MAX; i++)
                if (c->inv->controls[i] && i != GJ_CTL_KFD)
                        node_check_at(c->dev_root, c->inv->controls[i]);
}

static void inv_ctx_done(struct inv_ctx *c) {
        free(c->proc_devices);
        if (c->udev)
                sym_udev_unref(c->udev);
}

int gj_inventory_load(const struct gj_inventory_opts *opts, struct gj_inventory **ret) {
        _cleanup_inventory_ struct gj_inventory *inv = calloc(1, sizeof(*inv));
        _cleanup_(inv_ctx_done) struct inv_ctx c = {
                .inv = inv,
                .proc_root = opts && !isempty(opts->proc_root) ? opts->proc_root : "/proc",
                .dev_root = opts && !isempty(opts->dev_root) ? opts->dev_root : "/dev",
        };
        int r;

        if (!inv)
                return -ENOMEM;
        static const char *const accel_names[] = { "accel[0-9]*", NULL };
        r = inv_enumerate_pci(&c);
        if (r < 0)
                return r;
        if (class_has_entries("accel", "accel")) {
                r = inv_enumerate_class(&c, "accel", accel_names, accel_add_device);
                if (r < 0)
                        return r;
        }
        inv_number_devices(inv);
        inv_mark_partial(inv, opts);
        r = inv_add_pci_places(&c);
        if (r < 0)
                return r;
        r = inv_add_drm_children(&c);
        if (r < 0)
                return r;
        r = inv_add_nvidia(&c);
        if (r < 0)
                return r;
        r = inv_add_nvidia_caps(inv, c.proc_devices, c.proc_root, c.dev_root, !(opts && opts->skip_nvml));
        if (r < 0)
                return r;
        r = inv_add_kfd(&c);
        if (r < 0)
                return r;
        if (!(opts && opts->skip_modules)) {
                r = inv_query_modules(&c);
                if (r < 0)
                        return r;
        }
        inv_check_controls(&c);

        *ret = TAKE_PTR(inv);
        return 0;
}
