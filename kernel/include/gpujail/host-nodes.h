/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device nodes on the host itself (kernel/host-nodes.c), for `gpujail setup`:
 * what nvidia-modprobe does when a node is missing, without forking it.
 * Kernel side (mknod, chown, rename): not in devices/, which only reads.
 */
#pragma once

#include <stdbool.h>

#include "gpujail/inventory.h"
#include "gpujail/lockdown.h"

enum gj_host_node_result {
        GJ_HOST_NODE_OK,         /* already right: number, mode and owner */
        GJ_HOST_NODE_CREATED,    /* was missing, now made (or would be, in dry run) */
        GJ_HOST_NODE_REPLACED,   /* was wrong, replaced because fix was asked (or would be) */
        GJ_HOST_NODE_PERMS_SET,  /* right numbers, mode/owner set to the driver's (or would be) */
        GJ_HOST_NODE_LEFT_WRONG, /* wrong and fix not asked: left as it is */
};

/*
 * Make node->path (a "/dev/..." path, found under dev_root) the character
 * device node->major:minor with node->mode/uid/gid. A missing node is created;
 * a wrong one (other numbers, not a character device, other mode or owner) is
 * replaced only when fix is true, atomically (new node under a temporary name,
 * then rename over), never followed if it is a symlink. A directory is never
 * replaced. dry_run: decide, change nothing. Errors are logged with the path.
 */
int gj_host_node_ensure(const char *dev_root, const struct gj_node *node, bool fix, bool dry_run,
                        enum gj_host_node_result *ret);

/*
 * Make the directory that holds node_path ("/dev/nvidia-caps" for
 * "/dev/nvidia-caps/nvidia-cap12"), root's, mode 0755, when it is missing: what
 * nvidia-modprobe does before a MIG capability node. Only /dev/DIR/NAME paths
 * (-EINVAL otherwise); something there that is not a directory (a symlink
 * included) is refused with -ENOTDIR, never followed. Returns 1 when created
 * (or it would be, dry_run), 0 when it is there. Errors are logged with the path.
 */
int gj_host_node_dir_ensure(const char *dev_root, const char *node_path, bool dry_run);

/*
 * Make the link /dev/char/MAJOR:MINOR -> ../REL for node (a "/dev/REL" path,
 * found under dev_root), as udev does for every node it hears of: it never hears
 * of the nodes nvidia-modprobe and gpujail setup make with mknod, and systemd's
 * DeviceAllow= and the systemd cgroup driver of runc and crun resolve device
 * rules through those links. /dev/char is made (0755) when missing; anything
 * already at the link's name is left as it is, and /dev/char itself is never
 * followed if it is a symlink (-ENOTDIR). Returns 1 when made (or it would be,
 * dry_run), 0 when something is there. Errors are logged with the path.
 */
int gj_host_char_link_ensure(const char *dev_root, const struct gj_node *node, bool dry_run);

/*
 * Give the character device node at path (a "/dev/..." path) the permissions
 * want, and drop its access ACL (a seat's uaccess) (gpujail setup --lockdown).
 * The node is acted on through an O_PATH descriptor opened without following
 * symlinks: a symlink or anything else that is not a character device is
 * refused (-EEXIST), a missing node is -ENOENT. Others lose their bits before
 * the new group gets its own. *ret: GJ_HOST_NODE_OK when already so, else
 * GJ_HOST_NODE_PERMS_SET. dry_run: decide, change nothing. Errors logged with the path.
 */
int gj_host_node_set_perms(const char *path, struct gj_perms want, bool dry_run, enum gj_host_node_result *ret);
