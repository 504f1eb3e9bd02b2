/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parent hands the child after clone.
 *
 * The child is cloned before discovery, so that it builds the plan-free half
 * of the job's root (a third of the start-up) while the parent reads sysfs.
 * The plan's part it needs then travels down the sync pipe: the nodes for its
 * /dev, the GPUs whose /proc/driver/nvidia entries stay, the job's extra
 * environment, the driver's files for a --rootfs. Both ends are the same
 * binary, so the format is simply a length, then NUL-terminated strings; each
 * list ends with an empty string, a node is its numbers ("c 195 0 666 0 0"),
 * its host path and its path, and a driver file its kind ("0"), host path,
 * path and SONAME ("" for none).
 *
 * The job's lease fds (launcher-lease.c) ride along with the length, as
 * SCM_RIGHTS, when the channel is a socket (gpujail's is): the init holds
 * them too, so a lease outlives neither gpujail nor the job's init.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include "gpujail/plan.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

#define HANDOFF_MAX (4 * 1024 * 1024) /* 64 GPUs' worth is ~20 KiB */

struct buffer {
        char *data;
        size_t len, cap;
};

static void buffer_done(struct buffer *b) { free(b->data); }

static int buffer_add(struct buffer *b, const char *s) {
        size_t n = strlen(s) + 1;
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 4096;
                while (cap < b->len + n)
                        cap *= 2;
                char *d = realloc(b->data, cap);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        return 0;
}

static int buffer_add_list(struct buffer *b, char *const *list) {
        int r;
        for (char *const *s = list; s && *s; s++)
                if ((r = buffer_add(b, *s)) < 0)
                        return r;
        return buffer_add(b, "");
}

static int buffer_add_node(struct buffer *b, const struct gj_plan_node *n) {
        char numbers[96];
        int r;
        snprintf(numbers, sizeof(numbers), "%c %u %u %o %u %u", n->type, n->major, n->minor,
                 (unsigned)n->mode, (unsigned)n->uid, (unsigned)n->gid);
        if ((r = buffer_add(b, numbers)) < 0)
                return r;
        if ((r = buffer_add(b, n->host_path ?: n->path)) < 0)
                return r;
        return buffer_add(b, n->path);
}

static int buffer_add_driver(struct buffer *b, const struct gj_driver_plan *d) {
        int r;
        for (size_t i = 0; i < d->n_files; i++) {
                const struct gj_driver_file *f = &d->files[i];
                char kind[16];
                snprintf(kind, sizeof(kind), "%u", (unsigned)f->kind);
                if ((r = buffer_add(b, kind)) < 0 || (r = buffer_add(b, f->host_path)) < 0 ||
                    (r = buffer_add(b, f->path ?: "")) < 0 ||
                    (r = buffer_add(b, f->soname ?: "")) < 0)
                        return r;
        }
        return buffer_add(b, "");
}

/* The whole message: the nodes, the kept GPUs, the environment, the driver's files. */
static int buffer_add_plan(struct buffer *b, const struct gj_job *job) {
        int r;
        for (size_t i = 0; i < job->plan->n_nodes; i++)
                if ((r = buffer_add_node(b, &job->plan->nodes[i])) < 0)
                        return r;
        if ((r = buffer_add(b, "")) < 0)
                return r;
        if ((r = buffer_add_list(b, job->keep_gpus)) < 0)
                return r;
        if ((r = buffer_add_list(b, job->env)) < 0)
                return r;
        return buffer_add_driver(b, &job->plan->driver);
}

static int write_all(int fd, const void *data, size_t len) {
        for (const char *p = data; len > 0;) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EPIPE;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* The length, with the fds attached (a socket only carries them). */
static int send_length(int fd, uint32_t len, const int *fds, size_t n_fds) {
        if (n_fds == 0)
                return write_all(fd, &len, sizeof(len));
        char control[CMSG_SPACE(sizeof(int) * GJ_HANDOFF_MAX_FDS)] = { 0 };
        struct iovec iov = { .iov_base = &len, .iov_len = sizeof(len) };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control,
                             .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        ssize_t n;
        while ((n = sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
                ;
        if (n < 0)
                return -errno;
        return n == sizeof(len) ? 0 : -EIO; /* 4 bytes on a fresh stream socket go whole */
}

/* A length, then the message. */
static int send_message(int fd, const struct buffer *b, const int *fds, size_t n_fds) {
        uint32_t len = (uint32_t)b->len;
        int r = send_length(fd, len, fds, n_fds);
        if (r < 0)
                return r;
        return write_all(fd, b->data, b->len);
}

int gj_handoff_send(int fd, const struct gj_job *job) {
        _cleanup_(buffer_done) struct buffer b = { 0 };
        int r = buffer_add_plan(&b, job);
        if (r < 0)
                return log_error_errno(r, "cannot hand the plan to the job: %m");
        size_t n_fds =
                job->n_lease_fds < GJ_HANDOFF_MAX_FDS ? job->n_lease_fds : GJ_HANDOFF_MAX_FDS;
        r = send_message(fd, &b, job->lease_fds, n_fds);
        if (r == -EPIPE)
                return r; /* the child failed building the root, and said why */
        if (r < 0)
                return log_error_errno(r, "cannot hand the plan to the job: %m");
        return 0;
}

/* ---- the child's end ---- */

static int read_all(int fd, void *data, size_t len) {
        for (char *p = data; len > 0;) {
                ssize_t n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EPIPE; /* EOF: the parent failed and said why */
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* The next string of the message, or NULL past its end. */
static const char *next_string(const char *data, size_t len, size_t *pos) {
        if (*pos >= len)
                return NULL;
        const char *s = data + *pos;
        const char *nul = memchr(s, 0, len - *pos);
        if (!nul)
                return NULL;
        *pos += (size_t)(nul - s) + 1;
        return s;
}

static int parse_node(const char *numbers, const char *host_path, const char *path,
                      struct gj_plan *plan) {
        unsigned maj, min, mode, uid, gid;
        char type;
        if (isempty(host_path) || isempty(path) ||
            sscanf(numbers, "%c %u %u %o %u %u", &type, &maj, &min, &mode, &uid, &gid) != 6)
                return -EBADMSG;
        struct gj_plan_node node = {
                .path = (char *)path,
                .host_path = (char *)host_path,
                .type = type,
                .major = maj,
                .minor = min,
                .mode = (mode_t)mode,
                .uid = (uid_t)uid,
                .gid = (gid_t)gid,
        };
        return gj_plan_add_node(plan, &node, false);
}

static int parse_list(const char *data, size_t len, size_t *pos, char ***ret) {
        const char *s;
        while ((s = next_string(data, len, pos)) && *s)
                if (strv_push(ret, strdup(s)) < 0)
                        return -ENOMEM;
        return s ? 0 : -EBADMSG;
}

static int bad_plan(int r) {
        return log_error_errno(r, "cannot take the plan from gpujail: %m");
}

static char *strdup_nonempty(const char *s) { return isempty(s) ? NULL : strdup(s); }

static int parse_driver(const char *data, size_t len, size_t *pos, struct gj_driver_plan *d) {
        const char *kind;
        while ((kind = next_string(data, len, pos)) && *kind) {
                const char *host_path = next_string(data, len, pos);
                const char *path = next_string(data, len, pos);
                const char *soname = next_string(data, len, pos);
                unsigned k;
                if (isempty(host_path) || !path || !soname || safe_atou(kind, &k) < 0 ||
                    k > GJ_DRIVER_IPC)
                        return -EBADMSG;
                struct gj_driver_file *f = reallocarray(d->files, d->n_files + 1, sizeof(*f));
                if (!f)
                        return -ENOMEM;
                d->files = f;
                f[d->n_files++] = (struct gj_driver_file){ .kind = (enum gj_driver_file_kind)k,
                                                           .host_path = strdup(host_path),
                                                           .path = strdup_nonempty(path),
                                                           .soname = strdup_nonempty(soname) };
                if (!f[d->n_files - 1].host_path || (*path && !f[d->n_files - 1].path) ||
                    (*soname && !f[d->n_files - 1].soname))
                        return -ENOMEM;
        }
        return kind ? 0 : -EBADMSG;
}

/* The message as gj_handoff_send() wrote it: nodes, kept GPUs, environment, driver files. */
static int parse_plan(const char *data, size_t len, struct gj_job *job, struct gj_plan *plan) {
        size_t pos = 0;
        const char *s;
        int r;

        while ((s = next_string(data, len, &pos)) && *s) {
                const char *host_path = next_string(data, len, &pos);
                if ((r = parse_node(s, host_path, next_string(data, len, &pos), plan)) < 0)
                        return r;
        }
        if (!s)
                return -EBADMSG;
        if ((r = parse_list(data, len, &pos, &job->keep_gpus)) < 0)
                return r;
        if ((r = parse_list(data, len, &pos, &job->env)) < 0)
                return r;
        return parse_driver(data, len, &pos, &plan->driver);
}

static int take_fds(struct msghdr *mh, struct gj_job *job) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = realloc(job->lease_fds, (job->n_lease_fds + n) * sizeof(int));
                if (!fds)
                        return -ENOMEM;
                memcpy(fds + job->n_lease_fds, CMSG_DATA(c), n * sizeof(int));
                job->lease_fds = fds;
                job->n_lease_fds += n;
        }
        return mh->msg_flags & MSG_CTRUNC ? -EBADMSG : 0;
}

/* The length, and the fds that came with it; a pipe has none. */
static int receive_length(int fd, uint32_t *len, struct gj_job *job) {
        char control[CMSG_SPACE(sizeof(int) * GJ_HANDOFF_MAX_FDS)];
        struct iovec iov = { .iov_base = len, .iov_len = sizeof(*len) };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control,
                             .msg_controllen = sizeof(control) };
        ssize_t n;
        while ((n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL)) < 0 && errno == EINTR)
                ;
        if (n < 0 && errno == ENOTSOCK)
                return read_all(fd, len, sizeof(*len));
        if (n < 0)
                return -errno;
        if (n != sizeof(*len))
                return -EPIPE; /* EOF: the parent failed and said why */
        return take_fds(&mh, job);
}

int gj_handoff_receive(int fd, struct gj_job *job, struct gj_plan *plan) {
        uint32_t len;
        int r;

        if ((r = receive_length(fd, &len, job)) < 0)
                return r;
        if (len == 0 || len > HANDOFF_MAX)
                return bad_plan(-EBADMSG);
        _cleanup_free_ char *data = malloc(len);
        if (!data)
                return bad_plan(-EBADMSG);
        if ((r = read_all(fd, data, len)) < 0)
                return r;
        if (data[len - 1] != 0)
                return bad_plan(-EBADMSG);
        if ((r = parse_plan(data, len, job, plan)) < 0)
                return bad_plan(r);
        job->plan = plan;
        return 0;
}
