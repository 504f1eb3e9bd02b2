/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GPU leases, the pure part (devices/lease.c): the auto selector, lock file
 * names, the holder record (round trip; nothing a user typed can forge a
 * key or a line), and the auto pick (one NUMA node when one fits).
 */
#include "../tap.h"
#include "gpujail/lease.h"
#include "gpujail/util.h"

static void test_parse_auto(void) {
        unsigned n = 0;
        ok(gj_lease_parse_auto("auto", &n) == 1 && n == 1, "auto: one GPU");
        ok(gj_lease_parse_auto("auto:3", &n) == 1 && n == 3, "auto:3: three");
        is_int(gj_lease_parse_auto("0,1", &n), 0, "an index list is no auto selector");
        is_int(gj_lease_parse_auto(NULL, &n), 0, "no --gpu is no auto selector");
        is_int(gj_lease_parse_auto("automatic", &n), 0, "'automatic' is not auto");
        is_int(gj_lease_parse_auto("auto:", &n), -EINVAL, "auto: without a number");
        is_int(gj_lease_parse_auto("auto:0", &n), -EINVAL, "auto:0");
        is_int(gj_lease_parse_auto("auto:-1", &n), -EINVAL, "auto:-1");
        is_int(gj_lease_parse_auto("auto:2,3", &n), -EINVAL, "auto:2,3");
        is_int(gj_lease_parse_auto("auto:99999", &n), -EINVAL, "auto over the maximum");
}

static void test_file_name(void) {
        struct gj_device d = { .vendor = GJ_VENDOR_NVIDIA,
                               .uuid = (char *)"GPU-1234abcd",
                               .pci_bus_id = (char *)"0000:3b:00.0" };
        _cleanup_free_ char *a = gj_lease_file_name(&d);
        is_str(a, "gpu-GPU-1234abcd.lock", "by UUID first");
        d.uuid = NULL;
        _cleanup_free_ char *b = gj_lease_file_name(&d);
        is_str(b, "gpu-0000:3b:00.0.lock", "then by PCI bus id");
        d.pci_bus_id = NULL;
        d.vendor = GJ_VENDOR_ACCEL;
        d.vendor_index = 2;
        _cleanup_free_ char *c = gj_lease_file_name(&d);
        is_str(c, "gpu-accel-2.lock", "then by vendor index");
}

static void test_record(void) {
        char *argv[] = { (char *)"python", (char *)"a\nuid=0", (char *)"\"q\"", NULL };
        _cleanup_free_ char *cmd = gj_lease_escape_command(argv);
        is_str(cmd, "python a\\x0auid=0 \\x22q\\x22", "the command is one escaped line");
        struct gj_lease_holder h = { .uid = 1001,
                                     .user = (char *)"alice\nuid=0",
                                     .pid = 4242,
                                     .init = 4243,
                                     .since = 1700000000,
                                     .cgroup = (char *)"/sys/fs/cgroup/x",
                                     .command = cmd };
        char buf[GJ_LEASE_SLOT_SIZE];
        int n = gj_lease_holder_format(&h, buf, sizeof(buf));
        ok(n > 0 && (size_t)n == strlen(buf), "formatted");
        struct gj_lease_holder got = {};
        is_int(gj_lease_holder_parse(buf, sizeof(buf), &got), 0, "parsed back");
        ok(got.uid == 1001 && got.pid == 4242 && got.init == 4243 && got.since == 1700000000,
           "numbers");
        is_str(got.user, "alice\\x0auid=0", "a user name cannot forge a key");
        is_str(got.cgroup, "/sys/fs/cgroup/x", "cgroup");
        is_str(got.command, cmd, "command");
        gj_lease_holder_done(&got);

        is_int(gj_lease_holder_parse("uid=1\nsince=2\n", 14, &got), -EBADMSG,
               "no pid: not a record");
        is_int(gj_lease_holder_parse("", 0, &got), -EBADMSG, "an empty slot is no record");
        is_int(gj_lease_holder_parse("uid=x\npid=1\nsince=2\n", 20, &got), -EBADMSG,
               "a bad number");

        char *long_argv[] = { (char *)"x", NULL, NULL };
        char big[4000];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        long_argv[1] = big;
        _cleanup_free_ char *lcmd = gj_lease_escape_command(long_argv);
        ok(lcmd && strlen(lcmd) == 256 + 3 && !strcmp(lcmd + 256, "..."),
           "a long command is cut at 256, '...'");
}

static void test_pick(void) {
        struct gj_device d[6];
        const int numa[] = { 0, 0, 0, 1, 1, -1 };
        const struct gj_device *free_v[6], *got[3];
        const char *why = NULL;
        for (unsigned i = 0; i < 6; i++) {
                d[i] = (struct gj_device){ .index = i, .numa_node = numa[i] };
                free_v[i] = &d[i];
        }
        is_int(gj_lease_pick(free_v, 6, 2, got, &why), 0, "pick 2 of 6");
        ok(got[0] == &d[3] && got[1] == &d[4],
           "two on the NUMA node with just enough (1), keeping node 0 whole");
        is_str(why, "one NUMA node", "... and says why");
        is_int(gj_lease_pick(free_v, 6, 3, got, &why), 0, "pick 3 of 6");
        ok(got[0] == &d[0] && got[1] == &d[1] && got[2] == &d[2], "three on node 0");
        is_int(gj_lease_pick(free_v + 2, 4, 3, got, &why), 0, "pick 3 of 2,3,4,5");
        ok(got[0] == &d[2] && got[1] == &d[3] && got[2] == &d[4],
           "no node fits: the lowest indexes");
        is_str(why, "lowest free indexes", "... and says so");
        is_int(gj_lease_pick(free_v, 2, 3, got, &why), -EBUSY, "fewer free than wanted: -EBUSY");
}

/* Two NUMA nodes, each with two switches of two GPUs, and one GPU on a root port. */
static void test_pick_switch(void) {
        static const char *const paths[] = {
                "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.0",
                "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0/0000:04:00.0",
                "/sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/0000:06:00.0/0000:07:00.0",
                "/sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/0000:06:01.0/0000:08:00.0",
                "/sys/devices/pci0000:80/0000:80:01.0/0000:81:00.0/0000:82:00.0/0000:83:00.0",
                "/sys/devices/pci0000:80/0000:80:01.0/0000:81:00.0/0000:82:01.0/0000:84:00.0",
                "/sys/devices/pci0000:80/0000:80:02.0/0000:85:00.0",
        };
        const int numa[] = { 0, 0, 0, 0, 1, 1, 1 };
        struct gj_device d[7];
        const struct gj_device *v[7], *got[4];
        const char *why;
        for (unsigned i = 0; i < 7; i++) {
                d[i] = (struct gj_device){ .index = i,
                                           .numa_node = numa[i],
                                           .syspath = (char *)paths[i] };
                v[i] = &d[i];
        }
        is_int(gj_lease_pick(v, 7, 2, got, &why), 0, "pick 2 of 7");
        ok(got[0] == &d[4] && got[1] == &d[5],
           "two behind one switch, on the NUMA node with fewest free (1)");
        is_str(why, "one NUMA node, one PCIe switch", "... and says both");
        const struct gj_device *w[] = { &d[0], &d[2], &d[3], &d[6] };
        is_int(gj_lease_pick(w, 4, 2, got, &why), 0, "pick 2 of 0,2,3,6");
        ok(got[0] == &d[2] && got[1] == &d[3],
           "the pair behind one switch, not the lowest indexes 0,2");
        is_int(gj_lease_pick(v, 7, 4, got, &why), 0, "pick 4 of 7");
        ok(got[0] == &d[0] && got[3] == &d[3], "four: NUMA node 0 (no switch has four)");
        is_str(why, "one NUMA node", "... and says so");
        d[6].syspath = NULL;
        const struct gj_device *x[] = { &d[6], &d[0] };
        is_int(gj_lease_pick(x, 2, 1, got, &why), 0, "a GPU without a syspath is no problem");
}

int main(void) {
        test_parse_auto();
        test_file_name();
        test_record();
        test_pick();
        test_pick_switch();
        return done_testing();
}
