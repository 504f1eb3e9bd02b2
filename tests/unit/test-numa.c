/* SPDX-License-Identifier: Apache-2.0 */
/* CPU lists and the NUMA binding (devices/numa.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "gpujail/numa.h"
#include "gpujail/util.h"

static void roundtrip(const char *in, const char *want) {
        struct gj_cpuset s;
        int r = gj_cpuset_parse(in, &s);
        _cleanup_free_ char *out = r == 0 ? gj_cpuset_format(&s) : NULL;
        ok(r == 0 && out && streq(out, want), "'%.*s' -> '%s' (got %s)", (int)strcspn(in, "\n"), in,
           want, out ?: "error");
}

static void test_lists(void) {
        struct gj_cpuset s;
        roundtrip("0-27,56-83\n", "0-27,56-83");
        roundtrip("3,1,2,7", "1-3,7");
        roundtrip("", "");
        roundtrip("\n", "");
        roundtrip("8191", "8191");
        ok(gj_cpuset_parse("3-1", &s) == -EINVAL, "a range upside down is refused");
        ok(gj_cpuset_parse("1,,2", &s) == -EINVAL, "an empty item is refused");
        ok(gj_cpuset_parse("1-", &s) == -EINVAL, "an open range is refused");
        ok(gj_cpuset_parse("0 1", &s) == -EINVAL, "a space is refused");
        ok(gj_cpuset_parse("8192", &s) == -ERANGE, "a CPU past GJ_CPUSET_MAX is refused");
}

static const char *const two_nodes[] = { "0-3,8-11\n", "4-7,12-15\n" };
static struct gj_numa_host host(void) {
        return (struct gj_numa_host){ .online = "0-1\n",
                                      .node_cpus = two_nodes,
                                      .n_node_cpus = 2,
                                      .caller_cpus = "0-15",
                                      .caller_mems = "0-1" };
}

static void expect(const int *nodes, size_t n, struct gj_numa_host h, const char *cpus,
                   const char *mems, const char *name) {
        struct gj_numa_bind b;
        int r = gj_numa_bind_compute(nodes, n, &h, &b);
        bool same = r == 0 && (cpus ? b.cpus && streq(b.cpus, cpus) : !b.cpus) &&
                    (mems ? b.mems && streq(b.mems, mems) : !b.mems) &&
                    (cpus && mems ? !b.why : !!b.why);
        ok(same, "%s: cpus %s mems %s (got r=%d cpus %s mems %s why %s)", name, cpus ?: "-",
           mems ?: "-", r, b.cpus ?: "-", b.mems ?: "-", b.why ?: "-");
        gj_numa_bind_done(&b);
}

static void test_bind(void) {
        struct gj_numa_host h = host();
        expect((int[]){ 1 }, 1, h, "4-7,12-15", "1", "a GPU on node 1");
        expect((int[]){ 0, 1 }, 2, h, "0-15", "0-1", "GPUs on both nodes: the union");
        expect((int[]){ 1, 1 }, 2, h, "4-7,12-15", "1", "two GPUs on one node");
        expect((int[]){ -1 }, 1, h, NULL, NULL, "numa_node -1: unpinned");
        expect((int[]){ 0, -1 }, 2, h, NULL, NULL, "one GPU of two with numa_node -1: unpinned");
        expect((int[]){ 2 }, 1, h, NULL, NULL, "a node without a CPU list: unpinned");
        expect(NULL, 0, h, NULL, NULL, "no GPU: unpinned");
        h.online = "0\n";
        expect((int[]){ 0 }, 1, h, NULL, NULL, "one node online: unpinned");
        h.online = NULL;
        expect((int[]){ 0 }, 1, h, NULL, NULL, "no node in sysfs: unpinned");
        h = host();
        h.caller_cpus = "0-5";
        expect((int[]){ 1 }, 1, h, "4-5", "1", "never wider than the caller's CPUs");
        h.caller_cpus = "0-3";
        expect((int[]){ 1 }, 1, h, NULL, NULL, "the caller's CPUs miss the node: unpinned");
        h = host();
        h.caller_mems = "0";
        expect((int[]){ 1 }, 1, h, "4-7,12-15", NULL, "the caller's mems miss the node: CPUs only");
        h = host();
        h.has_memory = "0\n";
        expect((int[]){ 0, 1 }, 2, h, "0-15", "0", "a memoryless node is not in mems");
        h.caller_cpus = "0-1-";
        struct gj_numa_bind b;
        ok(gj_numa_bind_compute((int[]){ 0 }, 1, &h, &b) == -EINVAL,
           "a malformed caller list: -EINVAL");
        gj_numa_bind_done(&b);
}

int main(void) {
        test_lists();
        test_bind();
        return done_testing();
}
