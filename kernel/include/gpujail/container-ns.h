/* SPDX-License-Identifier: Apache-2.0 */
/* A container's namespaces, from outside it (kernel/container-ns.c). */
#pragma once

#include <sys/types.h>

/* The pid of the calling process as the mounted /proc names it (differs from
 * getpid() when we run in a child pid namespace under the host's /proc). */
int gj_proc_self_pid(pid_t *ret);
/* Join the mount namespace of pid: pidfd_open() + setns(CLONE_NEWNS), falling
 * back to /proc/<pid>/ns/mnt where pidfd_open is missing. Refuses (-EPERM,
 * logged) a pid whose mount namespace is our own: binding into a rootfs that
 * no private namespace holds would change the host's mount table. */
int gj_enter_mount_ns_of(pid_t pid);
/* The same check alone, for use before anything is changed. */
int gj_refuse_own_mount_ns(pid_t pid);
