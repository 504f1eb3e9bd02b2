/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parent hands the child after clone.
 *
 * The child is cloned before discovery, so that it builds the plan-free half
 * of the job's root (a third of the start-up) while the parent reads sysfs.
 * The plan's part it needs then travels down the sync pipe: the nodes for its
 * /dev, the GPUs whose /proc/driver/nvidia entries stay, the job's extra
 * environment. Both ends are the same binary, so the format is simply a
 * length, then NUL-terminated strings; each list ends with an empty string and
 * a node is its numbers ("c 195 0 666 0 0"), its host path and its path.
 */
#include <sys/stat.h>

#include "gpujail/plan.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

#define HANDOFF_MAX (4 * 1024 * 1024) /* 64 GPUs' worth is ~20 KiB */

struct buffer {
        char *data;
        size_t len, cap;
};

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
        int r = 0;
        for (char *const *s = list; r >= 0 && s && *s; s++)
                r = buffer_add(b, *s);
        return r < 0 ? r : buffer_add(b, "");
}

static int buffer_add_node(struct buffer *b, const struct gj_plan_node *n) {
        char numbers[96];
        snprintf(numbers, sizeof(numbers), "%c %u %u %o %u %u", n->type, n->major, n->minor,
                 (unsigned)n->mode, (unsigned)n->uid, (unsigned)n->gid);
        int r = buffer_add(b, numbers);
        if (r >= 0)
                r = buffer_add(b, n->host_path ?: n->path);
        return r < 0 ? r : buffer_add(b, n->path);
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

int gj_handoff_send(int fd, const struct gj_job *job) {
        _cleanup_free_ char *data = NULL;
        struct buffer b = { 0 };
        int r = 0;

        for (size_t i = 0; r >= 0 && i < job->plan->n_nodes; i++)
                r = buffer_add_node(&b, &job->plan->nodes[i]);
        if (r >= 0)
                r = buffer_add(&b, "");
        if (r >= 0)
                r = buffer_add_list(&b, job->keep_gpus);
        if (r >= 0)
                r = buffer_add_list(&b, job->env);
        data = b.data;
        if (r < 0)
                return log_error_errno(r, "cannot hand the plan to the job: %m");
        uint32_t len = (uint32_t)b.len;
        if ((r = write_all(fd, &len, sizeof(len))) < 0 || (r = write_all(fd, b.data, b.len)) < 0) {
                if (r == -EPIPE)
                        return r; /* the child failed building the root, and said why */
                return log_error_errno(r, "cannot hand the plan to the job: %m");
        }
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

int gj_handoff_receive(int fd, struct gj_job *job, struct gj_plan *plan) {
        _cleanup_free_ char *data = NULL;
        uint32_t len;
        size_t pos = 0;
        const char *s;
        int r;

        if ((r = read_all(fd, &len, sizeof(len))) < 0)
                return r;
        if (len == 0 || len > HANDOFF_MAX || !(data = malloc(len)))
                return log_error_errno(-EBADMSG, "cannot take the plan from gpujail: %m");
        if ((r = read_all(fd, data, len)) < 0)
                return r;
        if (data[len - 1] != 0)
                return log_error_errno(-EBADMSG, "cannot take the plan from gpujail: %m");
        while ((s = next_string(data, len, &pos)) && *s) {
                const char *host_path = next_string(data, len, &pos);
                if ((r = parse_node(s, host_path, next_string(data, len, &pos), plan)) < 0)
                        return log_error_errno(r, "cannot take the plan from gpujail: %m");
        }
        if (!s || (r = parse_list(data, len, &pos, &job->keep_gpus)) < 0 ||
            (r = parse_list(data, len, &pos, &job->env)) < 0)
                return log_error_errno(r ?: -EBADMSG, "cannot take the plan from gpujail: %m");
        job->plan = plan;
        return 0;
}
