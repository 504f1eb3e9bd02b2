/* SPDX-License-Identifier: Apache-2.0 */
/* CPU and node lists, and a job's NUMA binding (gpujail/numa.h). Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpujail/numa.h"
#include "gpujail/util.h"

void gj_cpuset_add(struct gj_cpuset *s, unsigned i) {
        if (i < GJ_CPUSET_MAX)
                s->bits[i / 64] |= UINT64_C(1) << (i % 64);
}

bool gj_cpuset_has(const struct gj_cpuset *s, unsigned i) {
        return i < GJ_CPUSET_MAX && (s->bits[i / 64] >> (i % 64)) & 1;
}

void gj_cpuset_and(struct gj_cpuset *s, const struct gj_cpuset *other) {
        for (size_t i = 0; i < ELEMENTSOF(s->bits); i++)
                s->bits[i] &= other->bits[i];
}

void gj_cpuset_or(struct gj_cpuset *s, const struct gj_cpuset *other) {
        for (size_t i = 0; i < ELEMENTSOF(s->bits); i++)
                s->bits[i] |= other->bits[i];
}

bool gj_cpuset_empty(const struct gj_cpuset *s) {
        for (size_t i = 0; i < ELEMENTSOF(s->bits); i++)
                if (s->bits[i])
                        return false;
        return true;
}

/* One decimal number of a list; moves *p past it. */
static int parse_number(const char **p, unsigned *ret) {
        char *end;
        if (**p < '0' || **p > '9')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(*p, &end, 10);
        if (errno || v >= GJ_CPUSET_MAX)
                return -ERANGE;
        *p = end;
        *ret = (unsigned)v;
        return 0;
}

int gj_cpuset_parse(const char *list, struct gj_cpuset *ret) {
        *ret = (struct gj_cpuset){ 0 };
        const char *p = list;
        if (*p == '\n')
                p++;
        while (*p) {
                unsigned a, b;
                int r = parse_number(&p, &a);
                if (r < 0)
                        return r;
                b = a;
                if (*p == '-') {
                        p++;
                        if ((r = parse_number(&p, &b)) < 0)
                                return r;
                        if (b < a)
                                return -EINVAL;
                }
                for (unsigned i = a; i <= b; i++)
                        gj_cpuset_add(ret, i);
                if (*p == ',')
                        p++;
                else if (*p == '\n' && p[1] == 0)
                        p++;
                else if (*p)
                        return -EINVAL;
        }
        return 0;
}

char *gj_cpuset_format(const struct gj_cpuset *s) {
        _cleanup_strbuf_ struct strbuf b = {};
        for (unsigned i = 0; i < GJ_CPUSET_MAX; i++) {
                if (!gj_cpuset_has(s, i))
                        continue;
                unsigned j = i;
                while (j + 1 < GJ_CPUSET_MAX && gj_cpuset_has(s, j + 1))
                        j++;
                strbuf_printf(&b, b.len ? ",%u" : "%u", i);
                if (j > i)
                        strbuf_printf(&b, "-%u", j);
                i = j;
        }
        return strbuf_steal(&b);
}

void gj_numa_bind_done(struct gj_numa_bind *b) {
        free(b->cpus);
        free(b->mems);
        *b = (struct gj_numa_bind){ 0 };
}

static unsigned count(const struct gj_cpuset *s) {
        unsigned n = 0;
        for (size_t i = 0; i < ELEMENTSOF(s->bits); i++)
                n += (unsigned)__builtin_popcountll(s->bits[i]);
        return n;
}

/* The GPUs' nodes and their CPUs; a static reason (returned) when unknown. */
static const char *gpu_nodes_cpus(const int *gpu_nodes, size_t n, const struct gj_numa_host *h,
                                  struct gj_cpuset *nodes, struct gj_cpuset *cpus, int *ret) {
        *ret = 0;
        for (size_t i = 0; i < n; i++) {
                int node = gpu_nodes[i];
                if (node < 0)
                        return "a GPU's NUMA node is unknown (numa_node -1)";
                if ((size_t)node >= h->n_node_cpus || !h->node_cpus[node])
                        return "a GPU's NUMA node has no CPU list in sysfs";
                struct gj_cpuset c;
                if ((*ret = gj_cpuset_parse(h->node_cpus[node], &c)) < 0)
                        return NULL;
                gj_cpuset_or(cpus, &c);
                gj_cpuset_add(nodes, (unsigned)node);
        }
        return NULL;
}

/* `set` &= the list `text` (NULL: no limit). */
static int and_list(struct gj_cpuset *set, const char *text) {
        struct gj_cpuset other;
        if (!text)
                return 0;
        int r = gj_cpuset_parse(text, &other);
        if (r < 0)
                return r;
        gj_cpuset_and(set, &other);
        return 0;
}

int gj_numa_bind_compute(const int *gpu_nodes, size_t n, const struct gj_numa_host *h,
                         struct gj_numa_bind *ret) {
        struct gj_cpuset online, nodes = { 0 }, cpus = { 0 };
        int r;

        *ret = (struct gj_numa_bind){ 0 };
        if (!h->online || (r = gj_cpuset_parse(h->online, &online)) < 0 || count(&online) < 2) {
                ret->why = "the host has one NUMA node";
                return 0;
        }
        if (n == 0) {
                ret->why = "no GPU";
                return 0;
        }
        ret->why = gpu_nodes_cpus(gpu_nodes, n, h, &nodes, &cpus, &r);
        if (r < 0)
                return r;
        if (ret->why)
                return 0;
        if ((r = and_list(&cpus, h->caller_cpus)) < 0)
                return r;
        if (gj_cpuset_empty(&cpus)) {
                ret->why = "none of the GPUs' CPUs is among those the caller may use";
                return 0;
        }
        if ((r = and_list(&nodes, h->has_memory)) < 0 || (r = and_list(&nodes, h->caller_mems)) < 0)
                return r;
        ret->cpus = gj_cpuset_format(&cpus);
        if (!ret->cpus)
                return -ENOMEM;
        if (gj_cpuset_empty(&nodes)) {
                ret->why = "the GPUs' node(s) have no memory the caller may use";
                return 0;
        }
        ret->mems = gj_cpuset_format(&nodes);
        return ret->mems ? 0 : -ENOMEM;
}
