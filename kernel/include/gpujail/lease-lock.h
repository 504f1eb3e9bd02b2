/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GPU leases, the locks (kernel/lease-lock.c); the names, the record and the pick
 * are gpujail/lease.h's (devices/).
 *
 * Everything lives in root-owned directories, 0755, under /run/gpujail
 * (tests give gpujail a private /run in a mount namespace): each directory
 * is opened O_NOFOLLOW|O_DIRECTORY component by component and refused unless
 * root owns it and only root may write it; each file is opened below such a
 * directory fd with O_NOFOLLOW and refused unless it is a regular file root
 * owns. No path a user controls is ever followed.
 *
 * Locks are OFD locks (fcntl F_OFD_SETLK): owned by the open file
 * description, so they are held as long as any fd of it is open, in
 * gpujail or in a process that inherited it (the job's init), and the kernel
 * drops them when the last one closes, whatever killed the holder.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpujail/inventory.h"
#include "gpujail/lease.h"

/* Open GJ_LEASE_DIR (create: as root, making what is missing, 0755). -ENOENT without create when it does not exist (no lease
 * was ever taken: every GPU is free); -EPERM when a component is not a
 * root-owned directory that only root may write. Logged, but -ENOENT
 * without create. */
int gj_lease_dir_open(bool create, int *ret_fd);

/* The same for GJ_LEASE_QUEUE_DIR, where --wait's tickets are. */
int gj_lease_queue_open(bool create, int *ret_fd);

/* The acquisition lock (".lock" in the lease dir, F_OFD_SETLKW): held while
 * a pick tests and takes the GPUs' locks, so that two requests for several
 * GPUs never take half each. Returns the fd that holds it (close it to
 * release). Logged. */
int gj_lease_lock_all(int dir_fd);

/* Make an inotify IN_CLOSE_WRITE in the lease dir after leases were
 * released (the event of their own close comes before the kernel drops
 * the locks): waiters wake and find them free. Never fails. */
void gj_lease_notify(int dir_fd);

/* One lease held. */
struct gj_lease {
        const struct gj_device *device;
        int fd;        /* holds the locks; -1 when not held */
        unsigned slot; /* where our record is */
};
#define GJ_LEASE_INIT { .fd = -1 }
void gj_lease_release(struct gj_lease *l); /* close the fd: the kernel drops the locks */

/*
 * Take device's lease, non-blocking: exclusive, or shared with other sharing
 * holders; then write `me` into its slot. -EBUSY (not logged) when another
 * job holds it in a way that excludes us (anyone for exclusive, an exclusive
 * holder for shared; also -EBUSY when every slot is taken). Other errors
 * logged. Nothing held on failure.
 */
int gj_lease_take(int dir_fd, const struct gj_device *device, bool shared,
                  const struct gj_lease_holder *me, struct gj_lease *ret);
/* Rewrite our record (once the job's cgroup is known). Logged. */
int gj_lease_update(const struct gj_lease *l, const struct gj_lease_holder *me);

enum gj_lease_state {
        GJ_LEASE_FREE,
        GJ_LEASE_HELD,   /* one exclusive holder */
        GJ_LEASE_SHARED, /* one or more sharing holders */
};
const char *gj_lease_state_name(enum gj_lease_state s); /* "free", "held", "shared" */

/* Who holds a device now: the state, and the records of the slots whose
 * locks are held (a record being written, or unreadable, is left out; a
 * stale one is never read). dir_fd may be -1 (no lease dir: free). Needs no
 * privilege beyond reading the files (0644). Logged but for -ENOMEM. */
int gj_lease_query(int dir_fd, const struct gj_device *device, enum gj_lease_state *ret_state,
                   struct gj_lease_holder **ret_holders, size_t *ret_n);
void gj_lease_holders_free(struct gj_lease_holder *h, size_t n);

/*
 * The --wait queue: one ticket file per waiter, numbered in the order taken
 * ("<20 digits>.ticket"), write-locked by its waiter, who alone may try to
 * take GPUs when no live ticket is ahead of it (first come, first served).
 * A ticket whose lock is gone (its waiter was killed) is stale: removed by
 * whoever sees it. Call these with the acquisition lock held.
 */
struct gj_lease_ticket {
        int fd; /* holds the ticket's lock */
        uint64_t number;
        char name[32];
};
#define GJ_LEASE_TICKET_INIT { .fd = -1 }
/* A new ticket behind every live one, with `me` written into it. Logged. */
int gj_lease_ticket_take(int queue_fd, const struct gj_lease_holder *me,
                         struct gj_lease_ticket *ret);
/* How many live tickets there are: someone waits when a new request comes (stale
 * tickets are removed on the way). No queue directory: none. Logged. */
int gj_lease_queue_waiting(size_t *ret_n);
/* How many live tickets are ahead of t. Logged. */
int gj_lease_ticket_position(int queue_fd, const struct gj_lease_ticket *t, size_t *ret_ahead);
/* Who waits, first first (`gpujail ps`): the records of the live tickets.
 * Read-only, no lock needed; queue_fd may be -1 (no queue: nobody). Logged
 * but for -ENOMEM. */
int gj_lease_queue_list(int queue_fd, struct gj_lease_holder **ret, size_t *ret_n);
/* Leave the queue: remove the ticket and drop its lock. Safe on an INIT value. */
void gj_lease_ticket_drop(int queue_fd, struct gj_lease_ticket *t);
