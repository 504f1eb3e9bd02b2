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
#include "gpujail/oci-state.h"
#include "kernel-test.h"

#define C(ma, mi, acc) { .type = 'c', .major = (ma), .minor = (mi), .access = acc }
#define B(ma, mi, acc) { .type = 'b', .major = (ma), .minor = (mi), .access = acc }

/* Raw instructions for the stand-in runtimes below. */
#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(dst, off) INSN(BPF_LDX | BPF_MEM | BPF_W, dst, 1, off, 0)
#define JNE(dst, imm, off) INSN(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define RET(v) INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, v), INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static char cg[512];

/* A rule list of `n` rules, c or b, major `ma`, minors 0..n-1 (malloc'ed). */
static struct gj_cgroup_rule *many_rules(char type, unsigned ma, size_t n, const char *access) {
        struct gj_cgroup_rule *v = calloc(n, sizeof(*v));
        for (size_t i = 0; v && i < n; i++) {
                v[i] = (struct gj_cgroup_rule){ .type = type, .major = ma, .minor = (unsigned)i };
                snprintf(v[i].access, sizeof(v[i].access), "%s", access);
        }
        return v;
}

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

/* A jump offset is 16 bits: a run of rules longer than one jump can skip is
 * refused, never wrapped (16,385 block rules once made the type check jump
 * onto an allow: /dev/mem and every GPU). */
static void test_build_offsets(void) {
        _cleanup_free_ struct bpf_insn *insns = NULL;
        size_t n = 0;
        _cleanup_free_ struct gj_cgroup_rule *rw = many_rules('c', 195, 8192, "rw");
        _cleanup_free_ struct gj_cgroup_rule *blk = many_rules('b', 8, 16385 + 2, "rwm");

        /* rw: a 4-instruction header, then 4 per rule; the header's first jump skips 4n+3. */
        is_int(gj_bpf_devices_build(rw, 8191, &insns, &n), 0, "offsets: 8,191 rules in one run build");
        free(TAKE_PTR(insns));
        is_int(gj_bpf_devices_build(rw, 8192, &insns, &n), -E2BIG, "offsets: 8,192 rules in one run: -E2BIG");
        ok(!insns, "offsets: nothing returned");
        blk[16385] = (struct gj_cgroup_rule)C(1, 3, "rwm");
        blk[16386] = (struct gj_cgroup_rule)C(136, GJ_WILDCARD, "rwm");
        is_int(gj_bpf_devices_build(blk, 16385 + 2, &insns, &n), -E2BIG,
               "offsets: 16,385 block rules and the runtime's defaults: -E2BIG (the wrap of issue 13)");
        /* Where the hook builds the program from config.json, the most it accepts,
         * runc's 11 defaults and a plan of 4,000 nodes still build in one run. */
        free(TAKE_PTR(insns));
        is_int(gj_bpf_devices_build(rw, GJ_OCI_MAX_DEVICE_RULES + 11 + 4000, &insns, &n), 0,
               "offsets: the hook's bound on config.json, the defaults and 4,000 planned nodes build");
        free(TAKE_PTR(insns));
        /* Runs that each fit may add up to any length. */
        for (size_t i = 4096; i < 8192; i++)
                strcpy(rw[i].access, "r");
        is_int(gj_bpf_devices_build(rw, 8192, &insns, &n), 0, "offsets: two runs of 4,096 rules build");
}

/* Our checks go in front of a runtime's program, which then decides the rest:
 * its instructions copied unchanged, the context register left alone. */
static void test_build_before(void) {
        struct gj_cgroup_rule rules[] = { C(195, 0, "rw"), C(195, 255, "rw"), B(7, 0, "r"), C(GJ_WILDCARD, 9, "w") };
        struct bpf_insn runtime[] = { LDX_W(2, 8), JNE(2, 3, 1), RET(1), RET(0) };
        _cleanup_free_ struct bpf_insn *insns = NULL, *plain = NULL;
        size_t n = 0, n_plain = 0;

        is_int(gj_bpf_devices_build_before(rules, ELEMENTSOF(rules), runtime, ELEMENTSOF(runtime), &insns, &n), 0,
               "before: built");
        is_int(gj_bpf_devices_build(rules, ELEMENTSOF(rules), &plain, &n_plain), 0, "before: the plain program");
        is_int(n, n_plain - 2 + ELEMENTSOF(runtime), "before: our checks, then the runtime's in place of the default deny");
        ok(insns && memcmp(insns, plain, (n_plain - 2) * sizeof(*insns)) == 0, "before: our checks as in the plain program");
        ok(insns && memcmp(insns + n - ELEMENTSOF(runtime), runtime, sizeof(runtime)) == 0,
           "before: the runtime's instructions copied unchanged");
        bool r1_kept = true, into_runtime = true;
        for (size_t i = 0; insns && i < n - ELEMENTSOF(runtime); i++) {
                uint8_t cls = BPF_CLASS(insns[i].code);
                if ((cls == BPF_ALU || cls == BPF_ALU64 || cls == BPF_LDX) && insns[i].dst_reg == 1)
                        r1_kept = false;
                /* every jump of ours stays within our part or lands on the runtime's first */
                if (cls == BPF_JMP && BPF_OP(insns[i].code) != BPF_EXIT && i + 1 + insns[i].off > n - ELEMENTSOF(runtime))
                        into_runtime = false;
        }
        ok(r1_kept, "before: our checks never write R1 (the context the runtime reads)");
        ok(into_runtime, "before: no jump of ours lands past the runtime's first instruction");
        free(TAKE_PTR(insns));

        is_int(gj_bpf_devices_build_before(rules, 1, runtime, 0, &insns, &n), -EINVAL, "before: no runtime program: -EINVAL");
        struct gj_cgroup_rule all[] = { { .type = 'a', .major = GJ_WILDCARD, .minor = GJ_WILDCARD, .access = "rwm" } };
        is_int(gj_bpf_devices_build_before(all, 1, runtime, ELEMENTSOF(runtime), &insns, &n), 0, "before: 'a' rwm");
        ok(insns && insns[n - 1].code == (BPF_JMP | BPF_EXIT) && insns[n - 2].imm == 1 && n < 6 + ELEMENTSOF(runtime),
           "before: rules that allow everything leave the (unreachable) runtime part out");
}

static int adopt(struct bpf_insn *insns, size_t n, size_t *bad) {
        const char *why = NULL;
        *bad = (size_t)-1;
        int r = gj_bpf_devices_adopt(insns, n, bad, &why);
        if (r < 0)
                printf("# refused instruction %zu: %s\n", *bad, why ? why : "(no reason)");
        return r;
}

/* What the kernel shows of a program and what of it loads again. */
static void test_adopt(void) {
        size_t bad;
        struct bpf_insn runc_like[] = { INSN(BPF_LDX | BPF_MEM | BPF_H, 2, 1, 0, 0), LDX_W(3, 0),
                                        INSN(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16),
                                        INSN(BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0),
                                        INSN(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, 6),
                                        INSN(BPF_JMP | BPF_JNE | BPF_X, 1, 3, 1, 0),
                                        INSN(BPF_JMP32 | BPF_JA, 0, 0, 0, 1), RET(1), RET(0) };
        is_int(adopt(runc_like, ELEMENTSOF(runc_like), &bad), 0, "adopt: runc's kind of program carries over");

        struct bpf_insn zext[] = { INSN(BPF_ALU | BPF_MOV | BPF_X, 4, 4, 0, 1), RET(0) };
        is_int(adopt(zext, ELEMENTSOF(zext), &bad), 0, "adopt: the kernel's zero-extension marker");
        is_int(zext[0].imm, 0, "adopt: ... turned back into a plain mov32");

        struct bpf_insn const64[] = { INSN(BPF_LD | BPF_IMM | BPF_DW, 2, 0, 0, 1), INSN(0, 0, 0, 0, 2), RET(0) };
        is_int(adopt(const64, ELEMENTSOF(const64), &bad), 0, "adopt: a plain 64-bit constant (two slots)");

        struct { const char *what; struct bpf_insn in; } refused[] = {
                { "a helper call", INSN(BPF_JMP | BPF_CALL, 0, 0, 0, 15) },
                { "a subprogram call", INSN(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2) },
                { "a tail call", INSN(BPF_JMP | 0xf0, 0, 0, 0, 0) },
                { "a map load", INSN(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_FD, 0, 7) },
                { "R11 (blinded constants)", INSN(BPF_ALU64 | BPF_MOV | BPF_K, 11, 0, 0, 0x5a5a) },
                { "R11 as a source", INSN(BPF_ALU64 | BPF_XOR | BPF_X, 2, 11, 0, 0) },
                { "a speculation barrier", INSN(BPF_ST | 0xc0, 0, 0, 0, 0) },
                { "an all-zero instruction (a program the kernel hid)", INSN(0, 0, 0, 0, 0) },
                { "a kernel-internal move", INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 3, 0, 1 << 16) },
                { "a packet load", INSN(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, 0) },
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                struct bpf_insn prog[] = { LDX_W(2, 8), refused[i].in, INSN(0, 0, 0, 0, 3), RET(0) };
                int r = adopt(prog, ELEMENTSOF(prog), &bad);
                TAP_CHECK(r == -EOPNOTSUPP && bad == 1, "adopt: %s refused, at its index", refused[i].what);
        }
        struct bpf_insn cut[] = { RET(0), INSN(BPF_LD | BPF_IMM | BPF_DW, 2, 0, 0, 1) };
        is_int(adopt(cut, ELEMENTSOF(cut), &bad), -EOPNOTSUPP, "adopt: a 64-bit constant cut off at the end refused");
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

static int prog_fd_of(uint32_t id) {
        union bpf_attr attr = { .prog_id = id };
        return (int)syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof(attr));
}

/* Make `rules` the cgroup's one program, whatever was there (the launcher's
 * way: gj_cgroup_v2_attach with BPF_F_REPLACE). 1 on success. */
static int set_exactly(const struct gj_cgroup_rule *rules, size_t n) {
        uint32_t id = 0;
        _cleanup_close_ int old = -1;
        if (attached(cg, &id) == 1)
                old = prog_fd_of(id);
        int p = gj_cgroup_v2_attach(cg, rules, n, old);
        if (p < 0)
                return p;
        close(p);
        return 1;
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

        /* The hook's way: find the one attached program, ours in front of it. */
        is_int(gj_cgroup_v2_replace_devices(cg, r3 + 3, 1, NULL, 0), 1, "replace_devices: found and replaced");
        is_int(attached(cg, &id), 1, "replace_devices: one program");
        ok(gj_bpf_prog_id(p2, &want_id) == 0 && id != want_id, "replace_devices: not the old one");
        expect("nvidia3", O_RDWR, ENXIO, "replace_devices: new rule");
        expect("nvidia0", O_RDWR, ENXIO, "replace_devices: old rule kept");
        expect("nvidia2", O_RDWR, EPERM, "replace_devices: old read-only rule still read-only");
        close(p2);

        is_int(gj_cgroup_v2_replace_devices(cg, r3 + 3, 1, NULL, 0), 1, "replace_devices twice");
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

        is_int(set_exactly(minor_any, 1), 1, "c 195:* rw");
        expect("nvidia255", O_RDWR, ENXIO, "c 195:* allows 195:255");
        expect("null", O_RDWR, EPERM, "c 195:* does not allow 1:3");
        is_int(set_exactly(major_any, 1), 1, "c *:3 rw");
        expect("null", O_RDWR, 0, "c *:3 allows 1:3");
        expect("nvidia3", O_RDWR, ENXIO, "c *:3 allows 195:3");
        expect("nvidia0", O_RDWR, EPERM, "c *:3 does not allow 195:0");
        is_int(set_exactly(block_only, 1), 1, "b *:* rwm");
        expect("null", O_RDWR, EPERM, "a block rule does not allow a char device");
        is_int(set_exactly(all, 1), 1, "a (all)");
        expect("null", O_RDWR, 0, "'a' allows everything");
        expect("nvidia7", O_RDWR, ENXIO, "'a' allows 195:7");
        struct gj_cgroup_rule all_then_more[] = { all[0], C(195, 0, "rw") };
        is_int(set_exactly(all_then_more, 2), 1, "'a' then more rules (unreachable code not emitted)");
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
        is_int(set_exactly(rules, ELEMENTSOF(rules)), 1, "groups: loaded and attached");
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

        is_int(set_exactly(rw, 1), 1, "c 195:7 rw");
        is_int(kt_oracle(dirs, 1, 'm', kt_path("made"), 0, 195, 7), EPERM, "mknod denied without 'm'");
        is_int(set_exactly(rwm, 1), 1, "c 195:7 rwm");
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
        is_int(gj_cgroup_v2_replace_devices(cg, more, 2, NULL, 0), -EBUSY, "two programs: replace refused (-EBUSY)");
        is_int(attached(cg, NULL), 2, "two programs: nothing changed");
        expect("nvidia1", O_RDWR, EPERM, "two programs: not weakened");
        if (extra >= 0) {
                is_int(gj_cgroup_v2_detach(cg, extra), 0, "detach ours");
                close(extra);
        }
        is_int(attached(cg, &after), 1, "back to one program");
        ok(before == after, "the other one is untouched");
}

static int load_raw(const struct bpf_insn *insns, size_t n) {
        union bpf_attr attr = {
                .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                .expected_attach_type = BPF_CGROUP_DEVICE,
                .insns = (uint64_t)(uintptr_t)insns,
                .insn_cnt = (uint32_t)n,
                .license = (uint64_t)(uintptr_t)"GPL",
        };
        return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

/* A scratch cgroup `name` next to cg with the raw program attached as a
 * runtime does (BPF_F_ALLOW_MULTI); cg then names it. Its id in *ret_id. */
static bool runtime_cgroup(const char *base, const char *name, const struct bpf_insn *insns, size_t n,
                           uint32_t *ret_id) {
        _cleanup_close_ int prog = load_raw(insns, n);
        snprintf(cg, sizeof(cg), "%s-%s", base, name);
        if (prog < 0 || mkdir(cg, 0755) < 0)
                return false;
        _cleanup_close_ int cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        union bpf_attr attr = { .target_fd = (uint32_t)cgfd, .attach_bpf_fd = (uint32_t)prog,
                                .attach_type = BPF_CGROUP_DEVICE, .attach_flags = BPF_F_ALLOW_MULTI };
        return syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) == 0 && attached(cg, ret_id) == 1;
}

/*
 * A runtime's program in runc's style, written by hand: it reads the context
 * late (R1 at several places, so a prefix that clobbered R1 would not load),
 * allows /dev/null, every GPU but 195:1 (a deny after an allow, which no
 * allow list rebuilt from rules can express) and tun only if `tun`.
 */
static void runtime_program(struct bpf_insn out[21], bool tun) {
        const struct bpf_insn p[21] = {
                LDX_W(2, 0),
                INSN(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff),
                JNE(2, BPF_DEVCG_DEV_CHAR, 16), /* -> deny */
                LDX_W(3, 4),
                JNE(3, 1, 4),                   /* -> 195 */
                LDX_W(4, 8),
                JNE(4, 3, 12),                  /* -> deny */
                RET(1),
                JNE(3, 195, 4),                 /* -> tun */
                LDX_W(4, 8),
                INSN(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 7, 1), /* 195:1 -> deny */
                RET(1),
                JNE(3, 10, 4),                  /* -> deny */
                LDX_W(4, 8),
                JNE(4, 200, 2),                 /* -> deny */
                RET(tun),
                RET(0),
        };
        memcpy(out, p, sizeof(p));
}

/* The hook's merge against a runtime's program: what the runtime allowed, plus
 * ours, nothing more; tun exactly when the runtime allowed it. */
static void test_merge(const char *base, bool tun) {
        struct bpf_insn prog[21];
        struct gj_cgroup_rule ours[] = { C(195, 1, "rw"), C(195, 7, "rw") };
        uint32_t rt_id = 0, id = 0;
        const char *name = tun ? "runtime-tun" : "runtime-notun";

        runtime_program(prog, tun);
        bool made = runtime_cgroup(base, name, prog, ELEMENTSOF(prog), &rt_id);
        ok(made, "%s: the runtime's program attached", name);
        if (!made)
                return;
        expect("nvidia1", O_RDWR, EPERM, "runtime alone: 195:1 denied");
        expect("nvidia0", O_RDWR, ENXIO, "runtime alone: 195:0 allowed");
        TAP_CHECK((kt_open_in(cg, "tun", O_RDWR) == EPERM) == !tun, "runtime alone: tun %s", tun ? "allowed" : "denied");

        is_int(gj_cgroup_v2_replace_devices(cg, ours, ELEMENTSOF(ours), NULL, 0), 1, "%s: merged", name);
        ok(attached(cg, &id) == 1 && id != rt_id, "%s: one program, not the runtime's", name);
        expect("nvidia1", O_RDWR, ENXIO, "merged: ours, though the runtime denied it");
        expect("nvidia7", O_RDWR, ENXIO, "merged: ours");
        expect("nvidia0", O_RDWR, ENXIO, "merged: the runtime's");
        expect("nvidia255", O_RDWR, ENXIO, "merged: the runtime's 195:* kept");
        expect("null", O_RDWR, 0, "merged: the runtime's /dev/null");
        expect("c240", O_RDWR, EPERM, "merged: what neither allowed stays denied");
        int got = kt_open_in(cg, "tun", O_RDWR);
        TAP_CHECK((got == EPERM) == !tun, "merged: tun %s, as the runtime decided (%s)",
                  tun ? "allowed" : "denied", kt_errname(got));

        is_int(gj_cgroup_v2_replace_devices(cg, ours, ELEMENTSOF(ours), NULL, 0), 1, "%s: merged twice", name);
        is_int(attached(cg, NULL), 1, "twice: one program");
        TAP_CHECK((kt_open_in(cg, "tun", O_RDWR) == EPERM) == !tun, "twice: tun still as the runtime decided");
        expect("c240", O_RDWR, EPERM, "twice: still nothing more");
        is_int(rmdir(cg), 0, "%s: scratch cgroup removed", name);
}

/* A program whose instructions do not load again is left as it is. */
static void test_merge_refused(const char *base) {
        struct bpf_insn helper[] = { INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_current_uid_gid), RET(0) };
        struct gj_cgroup_rule ours[] = { C(195, 0, "rw") };
        uint32_t rt_id = 0, id = 0;

        bool made = runtime_cgroup(base, "helper", helper, ELEMENTSOF(helper), &rt_id);
        ok(made, "a runtime program with a helper call attached");
        if (!made)
                return;
        is_int(gj_cgroup_v2_replace_devices(cg, ours, 1, NULL, 0), -EOPNOTSUPP, "helper call: refused (-EOPNOTSUPP)");
        ok(attached(cg, &id) == 1 && id == rt_id, "helper call: the runtime's program untouched");
        expect("nvidia0", O_RDWR, EPERM, "helper call: nothing added");
        is_int(rmdir(cg), 0, "helper call: scratch cgroup removed");

        /* Nothing attached: the program comes from the runtime's rules as config.json
         * states them; one it cannot build is refused, nothing attached. */
        snprintf(cg, sizeof(cg), "%s-empty", base);
        made = mkdir(cg, 0755) == 0;
        ok(made, "a cgroup with no program");
        if (!made)
                return;
        _cleanup_free_ struct gj_cgroup_rule *blk = many_rules('b', 8, 16385, "rwm");
        is_int(gj_cgroup_v2_replace_devices(cg, ours, 1, blk, 16385), -E2BIG, "16,385 rules in one run: -E2BIG");
        is_int(attached(cg, NULL), 0, "-E2BIG: nothing attached");
        struct gj_cgroup_rule runtime_rules[] = { C(1, 3, "rwm") };
        is_int(gj_cgroup_v2_replace_devices(cg, ours, 1, runtime_rules, 1), 1, "none attached: rebuilt from the rules");
        expect("null", O_RDWR, 0, "rebuilt: the runtime's rule");
        expect("nvidia0", O_RDWR, ENXIO, "rebuilt: ours");
        expect("nvidia1", O_RDWR, EPERM, "rebuilt: default deny");
        is_int(rmdir(cg), 0, "no-program scratch cgroup removed");
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
        is_int(gj_cgroup_v2_replace_devices(dir, new_rules + 1, 1, NULL, 0), 1, "single mode: replaced");
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
        test_build_offsets();
        test_build_before();
        test_adopt();
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
        kt_mknod("tun", 10, 200);
        kt_mknod("c240", 240, 0);

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
        test_merge(cg1, true);
        test_merge(cg1, false);
        test_merge_refused(cg1);
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
