/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GPU leases: the lock files and their OFD locks (gpujail/lease.h, kernel/).
 *
 * One file per GPU. Byte 0 is the "use" byte: an exclusive holder
 * write-locks it, each sharing holder read-locks it, so the kernel itself
 * decides who may join. Each holder also write-locks one record slot and
 * writes its record there; a reader trusts a slot only while its lock is
 * held (F_OFD_GETLK), so whatever a dead holder left is never read.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "gpujail/lease-lock.h"
#include "gpujail/util.h"

static const char *const state_names[] = {
        [GJ_LEASE_FREE] = "free",
        [GJ_LEASE_HELD] = "held",
        [GJ_LEASE_SHARED] = "shared",
};

const char *gj_lease_state_name(enum gj_lease_state s) {
        return (size_t)s < ELEMENTSOF(state_names) ? state_names[s] : NULL;
}

/* ---- the directories ---- */

static int check_root_owned(int fd, const char *what, bool dir) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat %s: %m", what);
        if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
                return log_error_errno(-EPERM, "refusing %s: not a %s", what,
                                       dir ? "directory" : "regular file");
        if (st.st_uid != 0 || (st.st_mode & 022))
                return log_error_errno(-EPERM,
                                       "refusing %s: owned by uid %u, mode %04o (expected root, "
                                       "writable by root only)",
                                       what, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return 0;
}

/* Open one component below parent; make it first when create. */
static int open_component(int parent, const char *name, const char *path, bool create) {
        bool made = false;
        if (create) {
                if (mkdirat(parent, name, 0755) == 0)
                        made = true;
                else if (errno != EEXIST)
                        return log_error_errno(-errno, "cannot create %s: %m", path);
        }
        _cleanup_close_ int fd =
                openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT && !create)
                        return -ENOENT;
                return log_error_errno(errno == ELOOP || errno == ENOTDIR ? -EPERM : -errno,
                                       "cannot open %s: %m", path);
        }
        if (made && fchmod(fd, 0755) < 0) /* whatever umask sudo left: readers need 0755 */
                return log_error_errno(-errno, "cannot chmod %s: %m", path);
        int r = check_root_owned(fd, path, true);
        return r < 0 ? r : TAKE_FD(fd);
}

static int run_dir_open(const char *sub, const char *path, bool create, int *ret_fd) {
        const char *const parts[] = { "run", "gpujail", sub };
        const char *const paths[] = { "/run", GJ_RUN_DIR, path };
        _cleanup_close_ int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open /: %m");
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                int next = open_component(fd, parts[i], paths[i], create && i > 0);
                if (next < 0)
                        return next;
                close(fd);
                fd = next;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int gj_lease_dir_open(bool create, int *ret_fd) {
        return run_dir_open("leases", GJ_LEASE_DIR, create, ret_fd);
}

int gj_lease_queue_open(bool create, int *ret_fd) {
        return run_dir_open("queue", GJ_LEASE_QUEUE_DIR, create, ret_fd);
}

/* ---- files and locks ---- */

static int open_file_in(int dir_fd, const char *dir, const char *name, int flags) {
        _cleanup_free_ char *what = strprintf("%s/%s", dir, name);
        bool write = flags & O_CREAT;
        _cleanup_close_ int fd =
                openat(dir_fd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
        if (fd < 0) {
                if (errno == ENOENT && !write)
                        return -ENOENT;
                return log_error_errno(errno == ELOOP ? -EPERM : -errno, "cannot open %s: %m",
                                       what ?: name);
        }
        if (write) { /* whatever umask sudo left: readers need 0644 */
                struct stat st;
                if (fstat(fd, &st) == 0 && st.st_uid == 0 && (st.st_mode & 07777) != 0644)
                        (void)fchmod(fd, 0644);
        }
        int r = check_root_owned(fd, what ?: name, false);
        return r < 0 ? r : TAKE_FD(fd);
}

static int open_lock_file(int dir_fd, const char *name, bool write) {
        return open_file_in(dir_fd, GJ_LEASE_DIR, name, write ? O_RDWR | O_CREAT : O_RDONLY);
}

static int ofd_lock(int fd, short type, off_t start, off_t len, bool wait) {
        struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
        while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
                if (errno == EINTR)
                        continue;
                return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
        }
        return 0;
}

/* The first lock that would conflict with `type` on [start, start+len): 1 and
 * its range, 0 when none. */
static int ofd_conflict(int fd, short type, off_t start, off_t len, struct flock *ret) {
        *ret = (struct flock){
                .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len
        };
        if (fcntl(fd, F_OFD_GETLK, ret) < 0)
                return -errno;
        return ret->l_type != F_UNLCK;
}

int gj_lease_lock_all(int dir_fd) {
        _cleanup_close_ int fd = open_lock_file(dir_fd, ".lock", true);
        if (fd < 0)
                return fd;
        int r = ofd_lock(fd, F_WRLCK, 0, 1, true);
        if (r < 0)
                return log_error_errno(r, "cannot lock %s/.lock: %m", GJ_LEASE_DIR);
        return TAKE_FD(fd);
}

void gj_lease_notify(int dir_fd) {
        _cleanup_close_ int fd =
                openat(dir_fd, ".lock", O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

void gj_lease_release(struct gj_lease *l) {
        if (l->fd >= 0)
                close(l->fd);
        *l = (struct gj_lease)GJ_LEASE_INIT;
}

static int write_slot(int fd, unsigned slot, const struct gj_lease_holder *me) {
        char buf[GJ_LEASE_SLOT_SIZE] = { 0 };
        int n = gj_lease_holder_format(me, buf, sizeof(buf));
        if (n < 0)
                return n;
        /* the whole slot: no tail of a longer, older record survives */
        ssize_t w = pwrite(fd, buf, sizeof(buf), GJ_LEASE_SLOT_OFFSET(slot));
        return w == (ssize_t)sizeof(buf) ? 0 : w < 0 ? -errno : -EIO;
}

/* A slot of our own: the first one no one holds. */
static int take_slot(int fd, bool shared, unsigned *ret) {
        for (unsigned k = 0; k < (shared ? GJ_LEASE_SLOTS : 1); k++) {
                int r = ofd_lock(fd, F_WRLCK, GJ_LEASE_SLOT_OFFSET(k), GJ_LEASE_SLOT_SIZE, false);
                if (r == 0) {
                        *ret = k;
                        return 0;
                }
                if (r != -EBUSY)
                        return r;
        }
        return -EBUSY;
}

int gj_lease_take(int dir_fd, const struct gj_device *device, bool shared,
                  const struct gj_lease_holder *me, struct gj_lease *ret) {
        _cleanup_free_ char *name = gj_lease_file_name(device);
        *ret = (struct gj_lease)GJ_LEASE_INIT;
        if (!name)
                return log_error_errno(-ENOMEM, "cannot name a lease: %m");
        _cleanup_close_ int fd = open_lock_file(dir_fd, name, true);
        if (fd < 0)
                return fd;
        unsigned slot = 0;
        int r = ofd_lock(fd, shared ? F_RDLCK : F_WRLCK, 0, 1, false);
        if (r == 0)
                r = take_slot(fd, shared, &slot);
        if (r == -EBUSY)
                return r;
        if (r < 0)
                return log_error_errno(r, "cannot lock %s/%s: %m", GJ_LEASE_DIR, name);
        if ((r = write_slot(fd, slot, me)) < 0)
                return log_error_errno(r, "cannot write %s/%s: %m", GJ_LEASE_DIR, name);
        *ret = (struct gj_lease){ .device = device, .fd = TAKE_FD(fd), .slot = slot };
        return 0;
}

int gj_lease_update(const struct gj_lease *l, const struct gj_lease_holder *me) {
        int r = write_slot(l->fd, l->slot, me);
        if (r < 0)
                return log_error_errno(r, "cannot update the lease of GPU %u: %m",
                                       l->device->index);
        return 0;
}

/* ---- who holds what ---- */

void gj_lease_holders_free(struct gj_lease_holder *h, size_t n) {
        for (size_t i = 0; i < n; i++)
                gj_lease_holder_done(&h[i]);
        free(h);
}

static int read_holder(int fd, off_t slot_start, struct gj_lease_holder **v, size_t *n) {
        char buf[GJ_LEASE_SLOT_SIZE];
        ssize_t got = pread(fd, buf, sizeof(buf), slot_start);
        if (got <= 0)
                return 0; /* locked, not written yet */
        struct gj_lease_holder h;
        int r = gj_lease_holder_parse(buf, (size_t)got, &h);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0; /* being written */
        struct gj_lease_holder *nv = realloc(*v, (*n + 1) * sizeof(**v));
        if (!nv) {
                gj_lease_holder_done(&h);
                return -ENOMEM;
        }
        *v = nv;
        (*v)[(*n)++] = h;
        return 0;
}

/* Each held slot's record, walking the conflicts F_OFD_GETLK reports. */
static int read_holders(int fd, bool shared, struct gj_lease_holder **ret, size_t *ret_n) {
        off_t end = GJ_LEASE_SLOT_OFFSET(GJ_LEASE_SLOTS);
        for (off_t at = GJ_LEASE_SLOT_OFFSET(0); at < end;) {
                struct flock fl;
                int r = ofd_conflict(fd, F_WRLCK, at, end - at, &fl);
                if (r <= 0)
                        return r;
                off_t slot = fl.l_start - fl.l_start % GJ_LEASE_SLOT_SIZE;
                size_t before = *ret_n;
                if ((r = read_holder(fd, slot, ret, ret_n)) < 0)
                        return r;
                if (*ret_n > before)
                        (*ret)[before].shared = shared;
                at = slot + GJ_LEASE_SLOT_SIZE;
        }
        return 0;
}

int gj_lease_query(int dir_fd, const struct gj_device *device, enum gj_lease_state *ret_state,
                   struct gj_lease_holder **ret_holders, size_t *ret_n) {
        *ret_state = GJ_LEASE_FREE;
        *ret_holders = NULL;
        *ret_n = 0;
        if (dir_fd < 0)
                return 0;
        _cleanup_free_ char *name = gj_lease_file_name(device);
        if (!name)
                return -ENOMEM;
        _cleanup_close_ int fd = open_lock_file(dir_fd, name, false);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        struct flock fl;
        int r = ofd_conflict(fd, F_WRLCK, 0, 1, &fl);
        if (r <= 0)
                return r < 0 ? log_error_errno(r, "cannot query %s/%s: %m", GJ_LEASE_DIR, name) : 0;
        *ret_state = fl.l_type == F_WRLCK ? GJ_LEASE_HELD : GJ_LEASE_SHARED;
        r = read_holders(fd, *ret_state == GJ_LEASE_SHARED, ret_holders, ret_n);
        if (r < 0) {
                gj_lease_holders_free(*ret_holders, *ret_n);
                *ret_holders = NULL;
                *ret_n = 0;
                return r == -ENOMEM
                               ? r
                               : log_error_errno(r, "cannot query %s/%s: %m", GJ_LEASE_DIR, name);
        }
        return 0;
}

/* ---- the queue ---- */

/* A directory stream of its own on dir_fd's directory (dir_fd stays open). */
static int open_dir_stream(int dir_fd, DIR **ret) {
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (!(*ret = fdopendir(fd))) {
                close(fd);
                return -errno;
        }
        return 0;
}

/* A ticket's number from its name ("00000000000000000042.ticket"); 0 if it is none. */
static uint64_t ticket_number(const char *name) {
        char *end;
        if (strlen(name) != 27 || !startswith(name + 20, ".ticket"))
                return 0;
        errno = 0;
        unsigned long long n = strtoull(name, &end, 10);
        return errno || end != name + 20 ? 0 : (uint64_t)n;
}

/* Whether a ticket's waiter is still there (it write-locks its ticket); a stale
 * ticket is removed (we hold the acquisition lock). */
static bool ticket_live(int queue_fd, const char *name) {
        _cleanup_close_ int fd = open_file_in(queue_fd, GJ_LEASE_QUEUE_DIR, name, O_RDONLY);
        struct flock fl;
        if (fd >= 0 && ofd_conflict(fd, F_WRLCK, 0, 1, &fl) > 0)
                return true;
        if (fd >= 0 || fd == -ENOENT)
                (void)unlinkat(queue_fd, name, 0);
        return false;
}

/* Live tickets below `below` (0: all), and the highest live number. */
static int scan_queue(int queue_fd, uint64_t below, size_t *ret_ahead, uint64_t *ret_max) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = open_dir_stream(queue_fd, &d);
        if (r < 0)
                return r;
        size_t ahead = 0;
        uint64_t max = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                uint64_t n = ticket_number(de->d_name);
                if (n == 0 || n == below || !ticket_live(queue_fd, de->d_name))
                        continue;
                ahead += below == 0 || n < below;
                max = n > max ? n : max;
        }
        *ret_ahead = ahead;
        *ret_max = max;
        return 0;
}

int gj_lease_ticket_take(int queue_fd, const struct gj_lease_holder *me,
                         struct gj_lease_ticket *ret) {
        size_t live;
        uint64_t max;
        *ret = (struct gj_lease_ticket)GJ_LEASE_TICKET_INIT;
        int r = scan_queue(queue_fd, 0, &live, &max);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", GJ_LEASE_QUEUE_DIR);
        struct gj_lease_ticket t = { .number = max + 1 };
        snprintf(t.name, sizeof(t.name), "%020llu.ticket", (unsigned long long)t.number);
        t.fd = open_file_in(queue_fd, GJ_LEASE_QUEUE_DIR, t.name, O_RDWR | O_CREAT | O_EXCL);
        if (t.fd < 0)
                return t.fd;
        if ((r = ofd_lock(t.fd, F_WRLCK, 0, 1, false)) < 0 || (r = write_slot(t.fd, 0, me)) < 0) {
                log_error_errno(r, "cannot take a ticket in %s: %m", GJ_LEASE_QUEUE_DIR);
                gj_lease_ticket_drop(queue_fd, &t);
                return r;
        }
        *ret = t;
        return 0;
}

int gj_lease_queue_waiting(size_t *ret_n) {
        _cleanup_close_ int queue_fd = -1;
        uint64_t max;
        *ret_n = 0;
        int r = gj_lease_queue_open(false, &queue_fd);
        if (r == -ENOENT)
                return 0; /* nobody ever waited */
        if (r < 0)
                return r;
        if ((r = scan_queue(queue_fd, 0, ret_n, &max)) < 0)
                return log_error_errno(r, "cannot read %s: %m", GJ_LEASE_QUEUE_DIR);
        return 0;
}

int gj_lease_ticket_position(int queue_fd, const struct gj_lease_ticket *t, size_t *ret_ahead) {
        uint64_t max;
        int r = scan_queue(queue_fd, t->number, ret_ahead, &max);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", GJ_LEASE_QUEUE_DIR);
        return 0;
}

void gj_lease_ticket_drop(int queue_fd, struct gj_lease_ticket *t) {
        if (t->fd < 0)
                return;
        (void)unlinkat(queue_fd, t->name, 0);
        close(t->fd);
        *t = (struct gj_lease_ticket)GJ_LEASE_TICKET_INIT;
}

/* The names of the live tickets, oldest first; read-only (no lock, nothing removed). */
static int live_tickets(int queue_fd, char ***ret) {
        _cleanup_closedir_ DIR *d = NULL;
        int r = open_dir_stream(queue_fd, &d);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (ticket_number(de->d_name) > 0 && strv_push(&names, strdup(de->d_name)) < 0)
                        return -ENOMEM;
        strv_sort(names);
        *ret = TAKE_PTR(names);
        return 0;
}

int gj_lease_queue_list(int queue_fd, struct gj_lease_holder **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        *ret = NULL;
        *ret_n = 0;
        if (queue_fd < 0)
                return 0;
        int r = live_tickets(queue_fd, &names);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", GJ_LEASE_QUEUE_DIR);
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_close_ int fd =
                        open_file_in(queue_fd, GJ_LEASE_QUEUE_DIR, names[i], O_RDONLY);
                struct flock fl;
                if (fd < 0 || ofd_conflict(fd, F_WRLCK, 0, 1, &fl) <= 0)
                        continue; /* gone, or stale */
                if ((r = read_holder(fd, GJ_LEASE_SLOT_OFFSET(0), ret, ret_n)) < 0)
                        return r;
        }
        return 0;
}
