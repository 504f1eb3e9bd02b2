/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 device programs, for real: build, load, attach to a scratch
 * cgroup2 child, and ask the kernel through the oracle (tests/unit/kernel-test.h).
 * Also the launcher's job cgroup on cgroup2. Leaves no cgroup, mount or BPF
 * program behind: checked at the end.
 */
#include <linux/bpf.h>
#include <sys/syscall.h>

#include "gpujail/cgroup.h"
#include "kernel-test.h"

#define C(ma, mi, acc) { .type = 'c', .major = (ma), .minor = (mi), .access = acc }

static char cg[512];

static void test_build_pure(void) {
        _cleanup_free_ struct bpf_insn *insns = NULL;
        size_t n = 0;
        struct gj_cgroup_rule bad_type[] = { { .type = 'x', .access = "rw" } };
        struct gj_cgroup_rule bad_access[] = { C(195, 0, "rx") };
        struct gj_cgroup_rule one[] = { C(195, 0, "rw") };

        is_int(gj_bpf_devices_build(NULL, 0, &insns, &n), 0, "build: no rules");
        is_int(n, 8, "build: no rules = prologue + default deny");
        free(TAKE_PTR(insns));
        is_int(gj_bpf_devices_build(bad_type, 1, &insns, &n), -EINVAL, "build: type 'x' refused");
        is_int(gj_bpf_devices_build(bad_access, 1, &insns, &n), -EINVAL, "build: access 'x' refused");
        is_int(gj_bpf_devices_build(one, 1, &insns, &n), 0, "build: one rule");
        ok(insns && insns[n - 1].code == (BPF_JMP | BPF_EXIT) && insns[n - 2].imm == 0,
           "build: ends in default deny");
}

static size_t attached(const char *dir, uint32_t *first_id) {
        _cleanup_free_ uint32_t *ids = NULL;
        size_t n = 0;
        if (gj_cgroup_v2_query_devices(dir, &ids, &n, NULL) < 0)
                return (size_t)-1;
        if (first_id)
                *first_id = n ? ids[0] : 0;
        return n;
}

static void expect(const char *node, int flags, int want, const char *why) {
        int got = kt_open_in(cg, node, flags);
        TAP_CHECK(got == want, "%s: open %s -> %s", why, node, kt_errname(want));
        if (got != want)
                printf("#   got %s\n", kt_errname(got));
}

static void test_attach_and_replace(void) {
        struct gj_cgroup_rule r1[] = { C(195, 0, "rw"), C(195, 2, "r") };
        struct gj_cgroup_rule r2[] = { C(195, 0, "rw"), C(195, 2, "r"), C(195, 1, "rw") };
        struct gj_cgroup_rule r3[] = { C(195, 0, "rw"), C(195, 2, "r"), C(195, 1, "rw"), C(195, 3, "rw") };
        uint32_t id = 0, want_id = 0;

        int p1 = gj_cgroup_v2_attach(cg, r1, ELEMENTSOF(r1), -1);
        ok(p1 >= 0, "attach: program for c 195:0 rw, c 195:2 r");
        if (p1 < 0)
                return;
        expect("nvidia0", O_RDWR, ENXIO, "allowed");
        expect("nvidia1", O_RDWR, EPERM, "not in the rules");
        expect("nvidia2", O_RDONLY, ENXIO, "read-only rule, read");
        expect("nvidia2", O_RDWR, EPERM, "read-only rule, write");
        expect("null", O_RDWR, EPERM, "c 1:3 not in the rules");
        is_int(attached(cg, &id), 1, "query: one program attached");
        ok(gj_bpf_prog_id(p1, &want_id) == 0 && id == want_id, "query: it is ours (id %u)", id);

        /* The launcher's and crun's way: explicit BPF_F_REPLACE of a known fd. */
        int p2 = gj_cgroup_v2_attach(cg, r2, ELEMENTSOF(r2), p1);
        ok(p2 >= 0, "attach with BPF_F_REPLACE: old rules + c 195:1");
        expect("nvidia0", O_RDWR, ENXIO, "after replace, old rule kept");
        expect("nvidia1", O_RDWR, ENXIO, "after replace, new rule");
        expect("nvidia3", O_RDWR, EPERM, "after replace, others denied");
        is_int(attached(cg, &id), 1, "after replace: still one program");
        ok(gj_bpf_prog_id(p2, &want_id) == 0 && id == want_id, "after replace: the new one");
        close(p1);

        /* The hook's way: find the one attached program and replace it. */
        is_int(gj_cgroup_v2_replace_devices(cg, r3, ELEMENTSOF(r3)), 1, "replace_devices: found and replaced");
        is_int(attached(cg, &id), 1, "replace_devices: one program");
        ok(gj_bpf_prog_id(p2, &want_id) == 0 && id != want_id, "replace_devices: not the old one");
        expect("nvidia3", O_RDWR, ENXIO, "replace_devices: new rule");
        expect("nvidia0", O_RDWR, ENXIO, "replace_devices: old rule kept");
        expect("nvidia2", O_RDWR, EPERM, "replace_devices: old read-only rule still read-only");
        close(p2);

        is_int(gj_cgroup_v2_replace_devices(cg, r3, ELEMENTSOF(r3)), 1, "replace_devices twice");
        is_int(attached(cg, NULL), 1, "twice = once: one program");
        expect("nvidia3", O_RDWR, ENXIO, "twice = once: allowed");
        expect("nvidia1", O_RDWR, ENXIO, "twice = once: allowed");
        expect("nvidia5", O_RDWR, EPERM, "twice = once: still default deny");
}

static void test_wildcards(void) {
        struct gj_cgroup_rule minor_any[] = { C(195, GJ_WILDCARD, "rw") };
        struct gj_cgroup_rule major_any[] = { C(GJ_WILDCARD, 3, "rw") };
        struct gj_cgroup_rule all[] = { { .type = 'a', .major = GJ_WILDCARD, .minor = GJ_WILDCARD, .access = "rwm" } };
        struct gj_cgroup_rule block_only[] = { { .type = 'b', .major = GJ_WILDCARD, .minor = GJ_WILDCARD, .access = "rwm" } };

        is_int(gj_cgroup_v2_replace_devices(cg, minor_any, 1), 1, "c 195:* rw");
        expect("nvidia255", O_RDWR, ENXIO, "c 195:* allows 195:255");
        expect("null", O_RDWR, EPERM, "c 195:* does not allow 1:3");
        is_int(gj_cgroup_v2_replace_devices(cg, major_any, 1), 1, "c *:3 rw");
        expect("null", O_RDWR, 0, "c *:3 allows 1:3");
        expect("nvidia3", O_RDWR, ENXIO, "c *:3 allows 195:3");
        expect("nvidia0", O_RDWR, EPERM, "c *:3 does not allow 195:0");
        is_int(gj_cgroup_v2_replace_devices(cg, block_only, 1), 1, "b *:* rwm");
        expect("null", O_RDWR, EPERM, "a block rule does not allow a char device");
        is_int(gj_cgroup_v2_replace_devices(cg, all, 1), 1, "a (all)");
        expect("null", O_RDWR, 0, "'a' allows everything");
        expect("nvidia7", O_RDWR, ENXIO, "'a' allows 195:7");
        struct gj_cgroup_rule all_then_more[] = { all[0], C(195, 0, "rw") };
        is_int(gj_cgroup_v2_replace_devices(cg, all_then_more, 2), 1, "'a' then more rules (unreachable code not emitted)");
        expect("null", O_RDWR, 0, "'a' then more: allows 1:3");
}

/* Rules of one type and access share a header in the program: groups that
 * alternate, a wildcard inside a group and a block rule between char rules
 * must each still decide alone. */
static void test_grouped_rules(void) {
        struct gj_cgroup_rule rules[] = {
                C(195, 0, "rw"), C(195, 1, "rw"),   /* group c rw */
                C(195, 2, "r"),                     /* group c r */
                { .type = 'b', .major = 7, .minor = 0, .access = "rw" }, /* group b rw */
                C(195, 3, "rw"), C(1, GJ_WILDCARD, "rw"), /* c rw again, with a wildcard */
                C(195, 4, "w"),                     /* group c w, last */
        };
        _cleanup_free_ struct bpf_insn *insns = NULL;
        size_t n = 0;
        is_int(gj_bpf_devices_build(rules, ELEMENTSOF(rules), &insns, &n), 0, "groups: build");
        /* prologue, then per group a 4-instruction header and a body per rule (4, or 3
         * with a wildcard), then the default deny */
        is_int(n, 6 + (4 + 4 + 4) + (4 + 4) + (4 + 4) + (4 + 4 + 3) + (4 + 4) + 2,
               "groups: one header per run of equal type and access");
        is_int(gj_cgroup_v2_replace_devices(cg, rules, ELEMENTSOF(rules)), 1, "groups: loaded and attached");
        expect("nvidia0", O_RDWR, ENXIO, "groups: first rule of the first group");
        expect("nvidia1", O_RDWR, ENXIO, "groups: second rule of the first group");
        expect("nvidia2", O_RDONLY, ENXIO, "groups: read-only group, read");
        expect("nvidia2", O_RDWR, EPERM, "groups: read-only group, write");
        expect("nvidia3", O_RDWR, ENXIO, "groups: a char rule after the block group");
        expect("null", O_RDWR, 0, "groups: c 1:* inside a group");
        expect("nvidia4", O_WRONLY, ENXIO, "groups: write-only group, write");
        expect("nvidia4", O_RDONLY, EPERM, "groups: write-only group, read");
        expect("nvidia5", O_RDWR, EPERM, "groups: nothing else");
}

static void test_mknod_access(void) {
        struct gj_cgroup_rule rw[] = { C(195, 7, "rw") };
        struct gj_cgroup_rule rwm[] = { C(195, 7, "rwm") };
        const char *dirs[] = { cg };

        is_int(gj_cgroup_v2_replace_devices(cg, rw, 1), 1, "c 195:7 rw");
        is_int(kt_oracle(dirs, 1, 'm', kt_path("made"), 0, 195, 7), EPERM, "mknod denied without 'm'");
        is_int(gj_cgroup_v2_replace_devices(cg, rwm, 1), 1, "c 195:7 rwm");
        is_int(kt_oracle(dirs, 1, 'm', kt_path("made"), 0, 195, 7), 0, "mknod allowed with 'm'");
}

static void test_refuses_ambiguity(void) {
        struct gj_cgroup_rule r[] = { C(195, 0, "rw") };
        struct gj_cgroup_rule more[] = { C(195, 0, "rw"), C(195, 1, "rw") };
        uint32_t before = 0, after = 0;

        /* A second program attached next to the first (ALLOW_MULTI: both must allow). */
        attached(cg, &before);
        int extra = gj_cgroup_v2_attach(cg, r, 1, -1);
        ok(extra >= 0, "a second program attached alongside");
        is_int(attached(cg, NULL), 2, "two programs");
        is_int(gj_cgroup_v2_replace_devices(cg, more, 2), -EBUSY, "two programs: replace refused (-EBUSY)");
        is_int(attached(cg, NULL), 2, "two programs: nothing changed");
        expect("nvidia1", O_RDWR, EPERM, "two programs: not weakened");
        if (extra >= 0) {
                is_int(gj_cgroup_v2_detach(cg, extra), 0, "detach ours");
                close(extra);
        }
        is_int(attached(cg, &after), 1, "back to one program");
        ok(before == after, "the other one is untouched");
}

/* A cgroup whose program was attached without BPF_F_ALLOW_MULTI (single-program
 * mode, as some tools do): replacing it is a plain attach with the same flags. */
static void test_single_program_mode(const char *dir) {
        struct gj_cgroup_rule old_rules[] = { C(195, 0, "rw") };
        struct gj_cgroup_rule new_rules[] = { C(195, 0, "rw"), C(195, 1, "rw") };
        _cleanup_close_ int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int old = gj_bpf_devices_load(old_rules, 1);
        union bpf_attr attr = { .target_fd = (uint32_t)cgfd, .attach_bpf_fd = (uint32_t)old,
                                .attach_type = BPF_CGROUP_DEVICE, .attach_flags = 0 };
        uint32_t flags = 99;
        size_t n = 0;

        strcpy(cg, dir);
        ok(syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) == 0, "single mode: a program attached with flags 0");
        ok(gj_cgroup_v2_query_devices(dir, NULL, &n, &flags) == 0 && n == 1 && flags == 0, "single mode: query says flags 0");
        is_int(gj_cgroup_v2_replace_devices(dir, new_rules, 2), 1, "single mode: replaced");
        is_int(attached(dir, NULL), 1, "single mode: one program");
        expect("nvidia0", O_RDWR, ENXIO, "single mode: old rule kept");
        expect("nvidia1", O_RDWR, ENXIO, "single mode: new rule");
        expect("nvidia2", O_RDWR, EPERM, "single mode: default deny");
}

static void test_job_cgroup(void) {
        struct gj_cgroup_rule r[] = { C(195, 0, "rw") };
        struct gj_job_cgroup job = GJ_JOB_CGROUP_INIT;
        char id[64];

        snprintf(id, sizeof(id), "test-bpf-%i", (int)getpid());
        is_int(gj_job_cgroup_create_with(id, r, 1, GJ_CGROUP_V2, &job), 0, "job cgroup on cgroup2");
        ok(job.v2_dir && !job.v1_dir && job.v2_prog_fd >= 0, "job: v2 only, with a program");
        if (!job.v2_dir)
                return;
        const char *dirs[] = { job.v2_dir };
        is_int(kt_oracle(dirs, 1, 'o', kt_path("nvidia0"), O_RDWR, 0, 0), ENXIO, "job: its GPU opens (ENXIO)");
        is_int(kt_oracle(dirs, 1, 'o', kt_path("nvidia1"), O_RDWR, 0, 0), EPERM, "job: another GPU is EPERM");
        struct gj_job_cgroup dup = GJ_JOB_CGROUP_INIT;
        ok(gj_job_cgroup_create_with(id, r, 1, GJ_CGROUP_V2, &dup) < 0, "job: same id twice refused");
        ok(dup.v2_dir == NULL && dup.v2_prog_fd == -1, "job: a failed create leaves *ret empty");
        ok(kt_exists(job.v2_dir), "job: the failed second create did not remove the first");

        _cleanup_free_ char *dir = strdup(job.v2_dir);
        gj_job_cgroup_destroy(&job);
        ok(!kt_exists(dir), "job: destroy removed %s", dir);
        ok(job.v2_dir == NULL && job.v2_prog_fd == -1, "job: destroy reset the struct");
        gj_job_cgroup_destroy(&job); /* twice is harmless */
        struct gj_job_cgroup bad = GJ_JOB_CGROUP_INIT;
        is_int(gj_job_cgroup_create_with("../escape", r, 1, GJ_CGROUP_V2, &bad), -EINVAL, "job: id with '/' refused");
}

int main(void) {
        _cleanup_(gj_cgroup_mounts_done) struct gj_cgroup_mounts m = {};
        size_t root_progs_before, root_progs_after;

        test_build_pure();
        if (geteuid() != 0)
                kt_skip_rest("needs root (bpf, cgroups, mknod)");
        if (gj_cgroup_mounts_read(&m) < 0 || !m.v2)
                kt_skip_rest("no cgroup2 mounted");
        int probe = gj_bpf_devices_load(NULL, 0);
        if (probe < 0)
                kt_skip_rest("this kernel does not load BPF_PROG_TYPE_CGROUP_DEVICE programs");
        close(probe);

        kt_private_mount_ns();
        kt_scratch();
        for (unsigned i = 0; i < 8; i++) {
                char name[32];
                snprintf(name, sizeof(name), "nvidia%u", i);
                kt_mknod(name, 195, i);
        }
        kt_mknod("nvidia255", 195, 255);
        kt_mknod("null", 1, 3);

        root_progs_before = attached(m.v2, NULL);
        snprintf(cg, sizeof(cg), "%s/gj-test-bpf-%i", m.v2, (int)getpid());
        if (mkdir(cg, 0755) < 0) {
                kt_teardown();
                kt_skip("cannot create a scratch cgroup2 child");
        }

        test_attach_and_replace();
        test_wildcards();
        test_grouped_rules();
        test_mknod_access();
        test_refuses_ambiguity();

        is_int(rmdir(cg), 0, "scratch cgroup removed (programs go with it)");
        char cg1[sizeof(cg)];
        strcpy(cg1, cg);
        char single[sizeof(cg) + 16];
        snprintf(single, sizeof(single), "%s-single", cg1);
        if (mkdir(single, 0755) == 0) {
                test_single_program_mode(single);
                is_int(rmdir(single), 0, "single-mode scratch cgroup removed");
        }
        strcpy(cg, cg1);
        test_job_cgroup();

        kt_teardown();
        root_progs_after = attached(m.v2, NULL);
        is_int(root_progs_after, root_progs_before, "root cgroup's device programs unchanged");
        ok(!kt_exists(cg), "no scratch cgroup left");
        _cleanup_free_ char *parent = strprintf("%s/gpujail", m.v2);
        ok(!kt_exists(parent) || rmdir(parent) < 0, "no empty gpujail/ left by the job test");
        ok(!kt_exists(kt_dir), "no scratch directory left");
        return done_testing();
}
