/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail-hook, the OCI hook.
 *
 * The hook (hook/oci-hook.c): enter the container's mount namespace
 * (kernel/container-ns.c), bind the plan's nodes into <rootfs>/dev, allow
 * them in the container's device cgroup. What it reads from the runtime is
 * devices/oci-state.c's (gpujail/oci-state.h).
 *
 * Stages (runc 1.1, checked on this machine):
 *  - prestart, createRuntime: run in the runtime's namespaces; state.pid is the
 *    container init's pid as the host's /proc sees it; the rootfs is mounted in
 *    the container's mount namespace, not yet pivoted: we setns() into it.
 *  - createContainer: runs in the container's mount, pid (and cgroup)
 *    namespaces, before pivot_root; state.pid is 1 *in the container's pid
 *    namespace*, which the host /proc mounted there does not know: we act on
 *    ourselves (/proc/self), already in the right mount namespace and cgroup.
 *  - startContainer and later: after pivot_root; refused.
 */
#pragma once

#include "gpujail/oci-state.h"

struct gj_hook_opts {
        enum gj_hook_stage stage;
        const char *cdi_kind; /* NULL: gpujail.io/gpu */
        char **links;         /* "SONAME=PATH", NULL-terminated, or NULL: instead of a
                               * request, make the links and the dynamic linker's cache for
                               * libraries a CDI spec mounted at PATH (gpujail/driver-inject.h) */
        const char *proc_gpus; /* with links: "BUS,..." ("" none) whose /proc/driver/nvidia/gpus
                                * entry the container keeps; NULL: /proc left alone */
};

/* Run the hook: read the state from state_fd, inject what config.json asks for.
 * 0 also when nothing was asked. Negative errno, logged once, otherwise. */
int gj_hook_run(const struct gj_hook_opts *opts, int state_fd);
