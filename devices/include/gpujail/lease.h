/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GPU leases, the pure part (devices/lease.c): the `auto[:N]` selector, the
 * name of a GPU's lock file, the holder record kept in it, and which free
 * GPUs an `auto:N` request gets. The locks themselves are kernel/lease-lock.c's.
 *
 * A lease is an OFD lock on /run/gpujail/leases/gpu-<stable id>.lock
 * (docs/shared-hosts.md, "Sharing GPUs"): the kernel drops it when the last
 * fd of the job (gpujail's, the job's init's) closes, however they end. The
 * record a holder writes into the file is trusted only while its lock is
 * held: a stale record never blocks a GPU.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gpujail/inventory.h"

#define GJ_RUN_DIR "/run/gpujail"
#define GJ_LEASE_DIR GJ_RUN_DIR "/leases"
#define GJ_LEASE_QUEUE_DIR GJ_RUN_DIR "/queue"

/* The file layout: the "use" byte at offset 0 (write-locked by an exclusive
 * holder, read-locked by each sharing holder), then GJ_LEASE_SLOTS record
 * slots of GJ_LEASE_SLOT_SIZE bytes, each write-locked by the holder whose
 * record it holds. */
#define GJ_LEASE_SLOT_SIZE 1024
#define GJ_LEASE_SLOTS 64
#define GJ_LEASE_SLOT_OFFSET(k) ((off_t)GJ_LEASE_SLOT_SIZE * ((off_t)(k) + 1))

/* "auto" -> 1, "auto:N" -> N (1..GJ_LEASE_AUTO_MAX). Returns 1 when gpus is an
 * auto selector, 0 when it is not (NULL, "0,1", ...), -EINVAL (not logged)
 * for "auto:" with no number, 0, or more than GJ_LEASE_AUTO_MAX. */
#define GJ_LEASE_AUTO_MAX 1024
int gj_lease_parse_auto(const char *gpus, unsigned *ret_n);

/* The lock file's name for a device: "gpu-<UUID>.lock", else
 * "gpu-<PCI bus id>.lock", else "gpu-<vendor>-<vendor index>.lock": what
 * stays the same across reboots and driver reloads first. NULL on ENOMEM. */
char *gj_lease_file_name(const struct gj_device *d);

/* Who holds a GPU. Strings owned (gj_lease_holder_done). */
struct gj_lease_holder {
        uid_t uid;
        char *user;    /* NULL: unknown */
        pid_t pid;     /* gpujail's pid on the host (the job ends when it does) */
        pid_t init;    /* the job's init on the host; 0: not known yet */
        int64_t since; /* seconds since the epoch */
        char *cgroup;  /* the job's cgroup (v2 path, else v1), NULL until made */
        char *command; /* one line, control characters escaped; NULL: unknown */
        bool shared;   /* set by the reader: the holder shares the GPU */
};
void gj_lease_holder_done(struct gj_lease_holder *h);

/* The record as written into a slot: "key=value" lines, NUL-padded by the
 * writer. Values are escaped (no control character, no newline survives);
 * a record longer than GJ_LEASE_SLOT_SIZE - 1 loses the end of its command
 * ("..."). Returns the length (< size), -ENOMEM. Pure, not logged. */
int gj_lease_holder_format(const struct gj_lease_holder *h, char *buf, size_t size);
/* Parse a slot's bytes (up to the first NUL). -EBADMSG for a record without
 * uid, pid or since (a slot being written, or garbage); unknown keys are
 * ignored (a newer writer). Pure, not logged. */
int gj_lease_holder_parse(const char *data, size_t n, struct gj_lease_holder *ret);

/* The command line as one bounded line: control characters, quotes and
 * backslashes as \xNN; at most 256 characters, then "...". NULL on ENOMEM. */
char *gj_lease_escape_command(char *const *argv);

/* Which `want` of the n free GPUs an auto request gets (pure): GPUs of one
 * NUMA node when a node has enough of them, and among those, GPUs behind one
 * PCIe switch (the same bridge two levels above each GPU in its syspath)
 * when a switch has enough; each time the group with the fewest free GPUs
 * that still fits, to keep larger groups whole for larger requests. Failing
 * that, the lowest indexes. free is sorted by index; ret (room for want) gets
 * the pick, sorted by index. -EBUSY when n < want, -ENOMEM. reason (may be
 * NULL) gets a short "why" (static): "one NUMA node, one PCIe switch", "one
 * NUMA node", "one PCIe switch", "lowest free indexes". */
int gj_lease_pick(const struct gj_device *const *free, size_t n, unsigned want,
                  const struct gj_device **ret, const char **reason);
