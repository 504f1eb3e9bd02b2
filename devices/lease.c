/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GPU leases, the pure part: see gpujail/lease.h. Text in, data out.
 */
#include <inttypes.h>

#include "gpujail/lease.h"
#include "gpujail/util.h"

int gj_lease_parse_auto(const char *gpus, unsigned *ret_n) {
        const char *rest = gpus ? startswith(gpus, "auto") : NULL;
        if (!rest || (*rest && *rest != ':'))
                return 0;
        unsigned n = 1;
        if (*rest == ':' && (safe_atou(rest + 1, &n) < 0 || n == 0 || n > GJ_LEASE_AUTO_MAX))
                return -EINVAL;
        *ret_n = n;
        return 1;
}

char *gj_lease_file_name(const struct gj_device *d) {
        if (d->uuid)
                return strprintf("gpu-%s.lock", d->uuid);
        if (d->pci_bus_id)
                return strprintf("gpu-%s.lock", d->pci_bus_id);
        return strprintf("gpu-%s-%u.lock", gj_vendor_name(d->vendor), d->vendor_index);
}

void gj_lease_holder_done(struct gj_lease_holder *h) {
        free(h->user);
        free(h->cgroup);
        free(h->command);
        *h = (struct gj_lease_holder){ 0 };
}

/* A value on one line: what could end it or forge another key becomes \xNN.
 * At most *left characters of s are shown (then "..."); *left is what remains. */
static void escape_into(struct strbuf *b, const char *s, size_t *left) {
        for (const unsigned char *c = (const unsigned char *)s; *c; c++, (*left)--) {
                if (*left == 0) {
                        strbuf_printf(b, "...");
                        return;
                }
                if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\')
                        strbuf_printf(b, "\\x%02x", *c);
                else
                        strbuf_append(b, c, 1);
        }
}

static void escape_value(struct strbuf *b, const char *key, const char *s, size_t max) {
        strbuf_printf(b, "%s=", key);
        escape_into(b, s, &max);
        strbuf_printf(b, "\n");
}

char *gj_lease_escape_command(char *const *argv) {
        _cleanup_strbuf_ struct strbuf b = {};
        size_t left = 256;
        for (char *const *a = argv; a && *a; a++) {
                if (left == 0) {
                        strbuf_printf(&b, "...");
                        break;
                }
                if (a != argv) {
                        strbuf_append(&b, " ", 1);
                        left--;
                }
                escape_into(&b, *a, &left);
        }
        return strbuf_steal(&b);
}

int gj_lease_holder_format(const struct gj_lease_holder *h, char *buf, size_t size) {
        _cleanup_strbuf_ struct strbuf b = {};
        strbuf_printf(&b, "uid=%u\npid=%d\ninit=%d\nsince=%" PRId64 "\n", (unsigned)h->uid,
                      (int)h->pid, (int)h->init, h->since);
        if (h->user)
                escape_value(&b, "user", h->user, 256);
        if (h->cgroup)
                escape_value(&b, "cgroup", h->cgroup, 400);
        if (h->command)
                strbuf_printf(&b, "command=%s\n", h->command); /* escaped already */
        const char *s = strbuf_str(&b);
        if (!s)
                return -ENOMEM;
        size_t n = strlen(s);
        if (n >= size) { /* only a long command gets here: cut it, keep the line whole */
                n = size - 5;
                memcpy(buf, s, n);
                memcpy(buf + n, "...\n", 5);
                return (int)n + 4;
        }
        memcpy(buf, s, n + 1);
        return (int)n;
}

static int parse_key(struct gj_lease_holder *h, const char *key, const char *value,
                     unsigned *seen) {
        unsigned u;
        int i;
        if (streq(key, "uid")) {
                if (safe_atou(value, &u) < 0)
                        return -EBADMSG;
                h->uid = (uid_t)u;
                *seen |= 1;
        } else if (streq(key, "pid")) {
                if (safe_atoi(value, &i) < 0 || i <= 0)
                        return -EBADMSG;
                h->pid = (pid_t)i;
                *seen |= 2;
        } else if (streq(key, "init")) {
                if (safe_atoi(value, &i) < 0 || i < 0)
                        return -EBADMSG;
                h->init = (pid_t)i;
        } else if (streq(key, "since")) {
                char *end;
                errno = 0;
                long long v = strtoll(value, &end, 10);
                if (errno || end == value || *end)
                        return -EBADMSG;
                h->since = v;
                *seen |= 4;
        } else if (streq(key, "user"))
                return (h->user = strdup(value)) ? 0 : -ENOMEM;
        else if (streq(key, "cgroup"))
                return (h->cgroup = strdup(value)) ? 0 : -ENOMEM;
        else if (streq(key, "command"))
                return (h->command = strdup(value)) ? 0 : -ENOMEM;
        return 0;
}

int gj_lease_holder_parse(const char *data, size_t n, struct gj_lease_holder *ret) {
        _cleanup_(gj_lease_holder_done) struct gj_lease_holder h = {};
        const char *nul = memchr(data, 0, n);
        _cleanup_free_ char *text = strndup(data, nul ? (size_t)(nul - data) : n);
        unsigned seen = 0;
        if (!text)
                return -ENOMEM;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                int r = parse_key(&h, line, eq + 1, &seen);
                if (r < 0)
                        return r;
        }
        if (seen != 7)
                return -EBADMSG;
        *ret = h;
        h = (struct gj_lease_holder){};
        return 0;
}

/* Where a GPU hangs in the PCIe tree: the bridge above its port, i.e. its
 * syspath without the last two components ("…/0000:03:00.0" of
 * "…/0000:03:00.0/0000:04:08.0/0000:05:00.0", a switch's upstream port), or
 * NULL when that is the host bridge itself (a GPU on a root port: no switch).
 * The length of the prefix goes to *len. */
static const char *switch_of(const struct gj_device *d, size_t *len) {
        const char *p = d->syspath;
        if (!p)
                return NULL;
        const char *last = strrchr(p, '/');
        if (!last || last == p)
                return NULL;
        const char *parent = last - 1;
        while (parent > p && *parent != '/')
                parent--;
        if (parent == p)
                return NULL;
        const char *up = parent - 1;
        while (up > p && *up != '/')
                up--;
        if (startswith(up + 1, "pci")) /* the host bridge: no switch */
                return NULL;
        *len = (size_t)(parent - p);
        return p;
}

static bool same_switch(const struct gj_device *a, const struct gj_device *b) {
        size_t la, lb;
        const char *sa = switch_of(a, &la), *sb = switch_of(b, &lb);
        return sa && sb && la == lb && memcmp(sa, sb, la) == 0;
}

/* A group of the free GPUs: one NUMA node's, or one switch's. */
typedef bool (*same_group_fn)(const struct gj_device *a, const struct gj_device *b);

static bool same_numa(const struct gj_device *a, const struct gj_device *b) {
        return a->numa_node >= 0 && a->numa_node == b->numa_node;
}

/* The member of the smallest group that still has `want` (to keep larger
 * groups whole for larger requests); NULL if no group has. */
static const struct gj_device *best_group(const struct gj_device *const *free, size_t n,
                                          unsigned want, same_group_fn same) {
        const struct gj_device *best = NULL;
        size_t best_count = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
                size_t count = 0;
                for (size_t j = 0; j < n; j++)
                        count += same(free[i], free[j]);
                if (count >= want && count < best_count) {
                        best = free[i];
                        best_count = count;
                }
        }
        return best;
}

/* Keep, in order, the GPUs of `member`'s group. */
static size_t keep_group(const struct gj_device **v, size_t n, const struct gj_device *member,
                         same_group_fn same) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (same(member, v[i]))
                        v[k++] = v[i];
        return k;
}

int gj_lease_pick(const struct gj_device *const *free, size_t n, unsigned want,
                  const struct gj_device **ret, const char **reason) {
        if (n < want)
                return -EBUSY;
        _cleanup_free_ const struct gj_device **v = calloc(n ?: 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        memcpy(v, free, n * sizeof(*v));
        const char *why = "lowest free indexes";
        if (want > 1) {
                const struct gj_device *numa = best_group(v, n, want, same_numa);
                if (numa) {
                        n = keep_group(v, n, numa, same_numa);
                        why = "one NUMA node";
                }
                const struct gj_device *sw = best_group(v, n, want, same_switch);
                if (sw) {
                        n = keep_group(v, n, sw, same_switch);
                        why = numa ? "one NUMA node, one PCIe switch" : "one PCIe switch";
                }
        }
        memcpy(ret, v, want * sizeof(*ret));
        if (reason)
                *reason = why;
        return 0;
}
