/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program built from
 * raw instructions (no libbpf), loaded and attached with bpf(2).
 *
 * The program reads struct bpf_cgroup_dev_ctx { access_type, major, minor }
 * and checks the allow rules; nothing matches: deny. A rule matches only if
 * it covers every access asked for (cgroup v1 semantics), so a rule for "r"
 * never lets a write through. In hook mode the checks go in front of the
 * program the runtime attached, whose own instructions then decide the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>

#include "gpujail/bpf-devices.h"
#include "gpujail/util.h"
#include "kernel-syscalls.h"

/* The instruction macros of the kernel's include/linux/filter.h (not uapi). */
#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU32_IMM(op, dst, imm) INSN(BPF_ALU | BPF_OP(op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src) INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JMP_IMM(op, dst, imm, off) INSN(BPF_JMP | BPF_OP(op) | BPF_K, dst, 0, off, imm)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

enum { R0, R1, R2, R3, R4, R5 };

#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)
#define MAX_RULE_INSNS 8

static int rule_access_mask(const struct gj_cgroup_rule *rule, int *ret) {
        int mask = 0;

        if (isempty(rule->access)) { /* OCI: an omitted access means "rwm" */
                *ret = ACC_ALL;
                return 0;
        }
        for (const char *c = rule->access; *c && c < rule->access + sizeof(rule->access); c++)
                switch (*c) {
                case 'r': mask |= BPF_DEVCG_ACC_READ; break;
                case 'w': mask |= BPF_DEVCG_ACC_WRITE; break;
                case 'm': mask |= BPF_DEVCG_ACC_MKNOD; break;
                default: return -EINVAL;
                }
        *ret = mask;
        return 0;
}

/* Point every conditional jump in out[from, to) at out[target]: "no match, go on".
 * -E2BIG when the distance does not fit a jump's 16-bit offset: it would wrap
 * and land anywhere (once, past a group of 16,385 rules, on an allow). */
static int jumps_to(struct bpf_insn *out, size_t from, size_t to, size_t target) {
        for (size_t i = from; i < to; i++)
                if (BPF_CLASS(out[i].code) == BPF_JMP && BPF_OP(out[i].code) != BPF_EXIT) {
                        if (target - i - 1 > INT16_MAX)
                                return -E2BIG;
                        out[i].off = (int16_t)(target - i - 1);
                }
        return 0;
}

/* What a group of rules shares: the device type and the access mask. */
static size_t emit_header(const struct gj_cgroup_rule *rule, int mask, struct bpf_insn *out) {
        size_t n = 0;
        if (rule->type == 'c' || rule->type == 'b')
                out[n++] = JMP_IMM(BPF_JNE, R2, rule->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
        if (mask != ACC_ALL) { /* any access asked for that the rule lacks: no match */
                /* R0 as the scratch: R1 (the context) must reach a runtime's
                 * instructions that may follow ours intact. */
                out[n++] = MOV32_REG(R0, R3);
                out[n++] = ALU32_IMM(BPF_AND, R0, ~mask & ACC_ALL);
                out[n++] = JMP_IMM(BPF_JNE, R0, 0, 0);
        }
        return n;
}

/* One rule of the group: its major and minor, then allow. */
static size_t emit_body(const struct gj_cgroup_rule *rule, struct bpf_insn *out) {
        size_t n = 0;
        if (rule->type != 'a' && rule->major != GJ_WILDCARD)
                out[n++] = JMP_IMM(BPF_JNE, R4, (int32_t)rule->major, 0);
        if (rule->type != 'a' && rule->minor != GJ_WILDCARD)
                out[n++] = JMP_IMM(BPF_JNE, R5, (int32_t)rule->minor, 0);
        out[n++] = MOV64_IMM(R0, 1);
        out[n++] = EXIT();
        return n;
}

static int check_rule(const struct gj_cgroup_rule *rule, int *ret_mask) {
        if (rule->type != 'c' && rule->type != 'b' && rule->type != 'a')
                return -EINVAL;
        return rule_access_mask(rule, ret_mask);
}

/*
 * Consecutive rules of one type and access mask share a header (a container's
 * rules mostly are "c M:m rw"): half the instructions of a block per rule, and
 * a fifth of the verifier's work (120 instructions processed instead of 561 for
 * a job's 12 rules), which every container start pays. Allow rules only, so the
 * order in which they are tried does not change the result. When no rule
 * matches, `tail` decides: our default deny, or the runtime's program.
 */
static int build_program(const struct gj_cgroup_rule *rules, size_t n_rules, const struct bpf_insn *tail,
                         size_t n_tail, struct bpf_insn **ret, size_t *ret_len) {
        static const struct bpf_insn prologue[] = {
                LDX_W(R2, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
                ALU32_IMM(BPF_AND, R2, 0xffff),                  /* r2 = device type */
                LDX_W(R3, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
                ALU32_IMM(BPF_RSH, R3, 16),                      /* r3 = access */
                LDX_W(R4, R1, offsetof(struct bpf_cgroup_dev_ctx, major)),
                LDX_W(R5, R1, offsetof(struct bpf_cgroup_dev_ctx, minor)),
        };
        size_t cap = ELEMENTSOF(prologue) + n_rules * MAX_RULE_INSNS + n_tail, n = 0;
        _cleanup_free_ struct bpf_insn *prog = calloc(cap, sizeof(*prog));
        int mask, next_mask;

        if (!prog)
                return -ENOMEM;
        memcpy(prog, prologue, sizeof(prologue));
        n = ELEMENTSOF(prologue);
        bool always = false;
        for (size_t i = 0; i < n_rules;) {
                int r = check_rule(&rules[i], &mask);
                if (r < 0)
                        return r;
                size_t group = n, header = emit_header(&rules[i], mask, prog + n);
                n += header;
                size_t j = i;
                do {
                        size_t body = emit_body(&rules[j], prog + n);
                        (void)jumps_to(prog, n, n + body, n + body); /* to the next rule: near */
                        /* A rule without conditions ("a", or "c *:* rwm") allows all: what
                         * follows is unreachable, which the verifier refuses. */
                        always = always || (header == 0 && body == 2);
                        n += body;
                        j++;
                } while (j < n_rules && check_rule(&rules[j], &next_mask) >= 0 &&
                         rules[j].type == rules[i].type && next_mask == mask && !always);
                r = jumps_to(prog, group, group + header, n); /* past the whole group */
                if (r < 0)
                        return r;
                i = j;
                if (always) { /* keep validating the remaining rules, emit nothing more */
                        for (; i < n_rules; i++)
                                if ((r = check_rule(&rules[i], &mask)) < 0)
                                        return r;
                        break;
                }
        }
        if (!always) { /* else the tail is unreachable, which the verifier refuses */
                memcpy(prog + n, tail, n_tail * sizeof(*tail));
                n += n_tail;
        }

        *ret = TAKE_PTR(prog);
        *ret_len = n;
        return 0;
}

int gj_bpf_devices_build(const struct gj_cgroup_rule *rules, size_t n_rules,
                         struct bpf_insn **ret, size_t *ret_len) {
        static const struct bpf_insn default_deny[] = { MOV64_IMM(R0, 0), EXIT() };
        return build_program(rules, n_rules, default_deny, ELEMENTSOF(default_deny), ret, ret_len);
}

int gj_bpf_devices_build_before(const struct gj_cgroup_rule *rules, size_t n_rules,
                                const struct bpf_insn *runtime, size_t n_runtime,
                                struct bpf_insn **ret, size_t *ret_len) {
        if (n_runtime == 0)
                return -EINVAL;
        return build_program(rules, n_rules, runtime, n_runtime, ret, ret_len);
}

/*
 * What the kernel shows of a loaded program (xlated_prog_insns) is what its
 * verifier left, not what was loaded: helper calls carry kernel addresses, map
 * loads carry map ids, blinded constants and speculation fixes use R11 (the
 * kernel's own AX), a program hidden from us reads as zeros. None of that loads
 * again, so we take only instructions that mean the same when loaded again
 * (runc's and crun's programs use nothing else) and refuse the rest by name.
 */
static const char *insn_not_portable(const struct bpf_insn *insns, size_t n, size_t i, size_t *ret_slots) {
        const struct bpf_insn *in = &insns[i];
        uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code), mode = BPF_MODE(in->code);

        *ret_slots = 1;
        if (in->dst_reg > 10 || (cls != BPF_LD && in->src_reg > 10))
                return "a use of the kernel's own register (constant blinding or a verifier rewrite)";
        switch (cls) {
        case BPF_ALU:
        case BPF_ALU64:
                if (op == BPF_MOV && BPF_SRC(in->code) == BPF_X && in->imm != 0)
                        return "a kernel-internal move";
                return op <= BPF_END ? NULL : "an unknown arithmetic instruction";
        case BPF_JMP:
        case BPF_JMP32:
                if (op == BPF_CALL)
                        return "a call (helper or subprogram)";
                if (op == BPF_EXIT || op <= BPF_JSLE)
                        return NULL;
                return "an unknown jump";
        case BPF_LDX:
                return mode == BPF_MEM ? NULL : "a load of a kind not carried over";
        case BPF_ST:
                return mode == BPF_MEM ? NULL : "a kernel-internal store (speculation barrier)";
        case BPF_STX:
                return mode == BPF_MEM || mode == BPF_ATOMIC ? NULL : "a store of a kind not carried over";
        default: /* BPF_LD: only a plain 64-bit constant, two slots */
                if (in->code != (BPF_LD | BPF_IMM | BPF_DW) || in->src_reg != 0 || i + 1 >= n ||
                    insns[i + 1].code != 0)
                        return "a map reference or another pseudo load";
                *ret_slots = 2;
                return NULL;
        }
}

int gj_bpf_devices_adopt(struct bpf_insn *insns, size_t n, size_t *ret_bad, const char **ret_why) {
        size_t slots;

        for (size_t i = 0; i < n; i += slots) {
                struct bpf_insn *in = &insns[i];
                /* The zero-extension marker (mov32 rX, rX with imm 1) that the kernel
                 * inserts for JITs of 32-bit subregisters: a plain mov32 rX, rX. */
                if (in->code == (BPF_ALU | BPF_MOV | BPF_X) && in->dst_reg == in->src_reg && in->imm == 1)
                        in->imm = 0;
                const char *why = insn_not_portable(insns, n, i, &slots);
                if (why) {
                        if (ret_bad)
                                *ret_bad = i;
                        if (ret_why)
                                *ret_why = why;
                        return -EOPNOTSUPP;
                }
        }
        return 0;
}

static int load_program(const struct bpf_insn *insns, size_t n, char *log, size_t log_size) {
        union bpf_attr attr = {
                .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                .expected_attach_type = BPF_CGROUP_DEVICE,
                .insns = (uint64_t)(uintptr_t)insns,
                .insn_cnt = (uint32_t)n,
                .license = (uint64_t)(uintptr_t)"Apache-2.0",
                .log_buf = (uint64_t)(uintptr_t)log,
                .log_size = log ? (uint32_t)log_size : 0,
                .log_level = log ? 1 : 0,
        };
        memcpy(attr.prog_name, "gpujail_dev", sizeof("gpujail_dev"));
        int fd = sys_bpf(BPF_PROG_LOAD, &attr);
        return fd < 0 ? -errno : fd;
}

static int load_logged(const struct bpf_insn *insns, size_t n) {
        int r = load_program(insns, n, NULL, 0);
        if (r >= 0)
                return r;

        /* Load again with the verifier's log, only to say why. */
        _cleanup_free_ char *log = calloc(1, 64 * 1024);
        if (log && load_program(insns, n, log, 64 * 1024) < 0 && *log)
                log_error("BPF verifier said: %s", log);
        return log_error_errno(r, "cannot load the device cgroup program (%zu instructions): %m", n);
}

static int log_build_error(int r, size_t n_rules) {
        if (r == -E2BIG)
                return log_error_errno(r, "cannot build a device program for %zu rules: a run of rules of one "
                                       "type and access spans more instructions than a jump can skip "
                                       "(about 8,000 rules): %m", n_rules);
        return log_error_errno(r, "cannot build a device program for %zu rules: %m", n_rules);
}

int gj_bpf_devices_load(const struct gj_cgroup_rule *rules, size_t n_rules) {
        _cleanup_free_ struct bpf_insn *insns = NULL;
        size_t n;
        int r;

        r = gj_bpf_devices_build(rules, n_rules, &insns, &n);
        if (r < 0)
                return log_build_error(r, n_rules);
        return load_logged(insns, n);
}

static int prog_info(int prog_fd, struct bpf_prog_info *info) {
        union bpf_attr attr = {
                .info.bpf_fd = (uint32_t)prog_fd,
                .info.info_len = sizeof(*info),
                .info.info = (uint64_t)(uintptr_t)info,
        };
        return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0 ? -errno : 0;
}

int gj_bpf_prog_id(int prog_fd, uint32_t *ret) {
        struct bpf_prog_info info = {};
        int r = prog_info(prog_fd, &info);
        if (r < 0)
                return r;
        *ret = info.id;
        return 0;
}

static int open_cgroup_dir(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? log_error_errno(-errno, "cannot open cgroup %s: %m", dir) : fd;
}

static int attach_fd(int cgfd, int prog_fd, uint32_t flags, int replace_fd) {
        union bpf_attr attr = {
                .target_fd = (uint32_t)cgfd,
                .attach_bpf_fd = (uint32_t)prog_fd,
                .attach_type = BPF_CGROUP_DEVICE,
                .attach_flags = flags | (replace_fd >= 0 ? BPF_F_REPLACE : 0),
                .replace_bpf_fd = replace_fd >= 0 ? (uint32_t)replace_fd : 0,
        };
        return sys_bpf(BPF_PROG_ATTACH, &attr) < 0 ? -errno : 0;
}

static int detach_fd(int cgfd, int prog_fd) {
        union bpf_attr attr = {
                .target_fd = (uint32_t)cgfd,
                .attach_bpf_fd = (uint32_t)prog_fd,
                .attach_type = BPF_CGROUP_DEVICE,
        };
        return sys_bpf(BPF_PROG_DETACH, &attr) < 0 ? -errno : 0;
}

int gj_cgroup_v2_attach(const char *cgroup_dir, const struct gj_cgroup_rule *rules, size_t n,
                        int replace_fd) {
        _cleanup_close_ int cgfd = open_cgroup_dir(cgroup_dir), prog = -1;
        int r;

        if (cgfd < 0)
                return cgfd;
        prog = gj_bpf_devices_load(rules, n);
        if (prog < 0)
                return prog;
        r = attach_fd(cgfd, prog, BPF_F_ALLOW_MULTI, replace_fd);
        if (r < 0)
                return log_error_errno(r, "cannot attach the device program to %s%s: %m", cgroup_dir,
                                       replace_fd >= 0 ? " (replacing)" : "");
        return TAKE_FD(prog);
}

int gj_cgroup_v2_detach(const char *cgroup_dir, int prog_fd) {
        _cleanup_close_ int cgfd = open_cgroup_dir(cgroup_dir);
        int r;

        if (cgfd < 0)
                return cgfd;
        r = detach_fd(cgfd, prog_fd);
        if (r < 0)
                return log_error_errno(r, "cannot detach the device program from %s: %m", cgroup_dir);
        return 0;
}

static int query_fd(int cgfd, uint32_t **ret_ids, size_t *ret_n, uint32_t *ret_flags) {
        uint32_t cnt = 16;

        for (;;) {
                _cleanup_free_ uint32_t *ids = calloc(cnt, sizeof(uint32_t));
                if (!ids)
                        return -ENOMEM;
                union bpf_attr attr = {
                        .query.target_fd = (uint32_t)cgfd,
                        .query.attach_type = BPF_CGROUP_DEVICE,
                        .query.prog_ids = (uint64_t)(uintptr_t)ids,
                        .query.prog_cnt = cnt,
                };
                if (sys_bpf(BPF_PROG_QUERY, &attr) < 0) {
                        if (errno == ENOSPC && attr.query.prog_cnt > cnt) {
                                cnt = attr.query.prog_cnt;
                                continue;
                        }
                        return -errno;
                }
                *ret_n = attr.query.prog_cnt;
                if (ret_flags)
                        *ret_flags = attr.query.attach_flags;
                if (ret_ids)
                        *ret_ids = TAKE_PTR(ids);
                return 0;
        }
}

int gj_cgroup_v2_query_devices(const char *cgroup_dir, uint32_t **ret_ids, size_t *ret_n,
                               uint32_t *ret_flags) {
        _cleanup_close_ int cgfd = open_cgroup_dir(cgroup_dir);
        int r;

        if (cgfd < 0)
                return cgfd;
        r = query_fd(cgfd, ret_ids, ret_n, ret_flags);
        if (r < 0)
                return log_error_errno(r, "cannot list the device programs of %s: %m", cgroup_dir);
        return 0;
}

static int prog_fd_by_id(uint32_t id) {
        union bpf_attr attr = { .prog_id = id };
        int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
        return fd < 0 ? -errno : fd;
}

/* The instructions of a loaded program as the kernel shows them (xlated).
 * -EPERM: the kernel hides them (a blinded program, kernel.kptr_restrict). */
static int prog_xlated(int prog_fd, struct bpf_insn **ret, size_t *ret_n) {
        struct bpf_prog_info info = {};
        int r;

        r = prog_info(prog_fd, &info);
        if (r < 0)
                return r;
        size_t n = info.xlated_prog_len / sizeof(struct bpf_insn);
        if (n == 0 || info.xlated_prog_len % sizeof(struct bpf_insn) != 0)
                return -ENODATA;
        _cleanup_free_ struct bpf_insn *insns = calloc(n, sizeof(*insns));
        if (!insns)
                return -ENOMEM;
        info = (struct bpf_prog_info){
                .xlated_prog_len = (uint32_t)(n * sizeof(*insns)),
                .xlated_prog_insns = (uint64_t)(uintptr_t)insns,
        };
        r = prog_info(prog_fd, &info);
        if (r < 0)
                return r;
        /* A blinded program shown to a caller who may not see raw instructions:
         * the kernel clears the pointer and copies nothing (zeros would load). */
        if (info.xlated_prog_insns == 0)
                return -EPERM;
        if (info.xlated_prog_len != n * sizeof(*insns))
                return -ENODATA;
        *ret = TAKE_PTR(insns);
        *ret_n = n;
        return 0;
}

/* Our allow checks, then the runtime's program `old` (id `old_id`) unchanged, loaded. */
static int load_before(int old, uint32_t old_id, const char *cgroup_dir, const struct gj_cgroup_rule *rules,
                       size_t n_rules) {
        _cleanup_free_ struct bpf_insn *runtime = NULL, *insns = NULL;
        size_t n_runtime, n, bad;
        const char *why;
        int r;

        r = prog_xlated(old, &runtime, &n_runtime);
        if (r == -EPERM)
                return log_error_errno(r, "cannot read the instructions of the device program %u on %s: the "
                                       "kernel hides them (net.core.bpf_jit_harden=2 blinds them); leaving it "
                                       "in place, adding nothing: %m", old_id, cgroup_dir);
        if (r < 0)
                return log_error_errno(r, "cannot read the instructions of the device program %u on %s: %m",
                                       old_id, cgroup_dir);
        r = gj_bpf_devices_adopt(runtime, n_runtime, &bad, &why);
        if (r < 0)
                return log_error_errno(r, "the device program %u on %s cannot be carried over: its instruction "
                                       "%zu of %zu is %s; leaving it in place, adding nothing: %m",
                                       old_id, cgroup_dir, bad, n_runtime, why);
        r = gj_bpf_devices_build_before(rules, n_rules, runtime, n_runtime, &insns, &n);
        if (r < 0)
                return log_build_error(r, n_rules);
        return load_logged(insns, n);
}

/* Put our rules in front of the one attached program `old_id`, replacing it.
 * -EAGAIN, silent: it changed under us. Other errors logged. */
static int swap_program(int cgfd, const char *cgroup_dir, const struct gj_cgroup_rule *rules, size_t n,
                        uint32_t old_id, uint32_t flags) {
        _cleanup_close_ int old = prog_fd_by_id(old_id), prog = -1;
        int r;

        if (old == -ENOENT)
                return -EAGAIN;
        if (old < 0)
                return log_error_errno(old, "cannot open the device program %u on %s: %m", old_id, cgroup_dir);
        prog = load_before(old, old_id, cgroup_dir, rules, n);
        if (prog < 0)
                return prog;

        if (!(flags & BPF_F_ALLOW_MULTI)) /* single-program mode: attach replaces */
                r = attach_fd(cgfd, prog, flags, -1);
        else
                r = attach_fd(cgfd, prog, BPF_F_ALLOW_MULTI, old);
        if (r == -ENOENT)
                return -EAGAIN; /* old was detached meanwhile */
        if (r == -EINVAL && (flags & BPF_F_ALLOW_MULTI)) {
                /* No BPF_F_REPLACE (kernel < 5.6): add ours, then remove the old one. In
                 * between both run and both must allow: stricter for a moment, never weaker. */
                r = attach_fd(cgfd, prog, BPF_F_ALLOW_MULTI, -1);
                if (r >= 0)
                        r = detach_fd(cgfd, old);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r < 0)
                return log_error_errno(r, "cannot put the device program on %s: %m", cgroup_dir);
        return 0;
}

/* Nothing attached: our program from the runtime's rules as config.json states them, then ours. */
static int attach_rebuilt(int cgfd, const char *cgroup_dir, const struct gj_cgroup_rule *rules, size_t n,
                          const struct gj_cgroup_rule *runtime_rules, size_t n_runtime) {
        _cleanup_free_ struct gj_cgroup_rule *all = calloc(n_runtime + n + 1, sizeof(*all));
        _cleanup_close_ int prog = -1;
        int r;

        if (!all)
                return log_error_errno(-ENOMEM, "cannot build the device program for %s: %m", cgroup_dir);
        if (n_runtime > 0)
                memcpy(all, runtime_rules, n_runtime * sizeof(*all));
        if (n > 0)
                memcpy(all + n_runtime, rules, n * sizeof(*all));
        prog = gj_bpf_devices_load(all, n_runtime + n);
        if (prog < 0)
                return prog;
        r = attach_fd(cgfd, prog, BPF_F_ALLOW_MULTI, -1);
        if (r < 0)
                return log_error_errno(r, "cannot put the device program on %s: %m", cgroup_dir);
        return 0;
}

int gj_cgroup_v2_replace_devices(const char *cgroup_dir, const struct gj_cgroup_rule *rules, size_t n,
                                 const struct gj_cgroup_rule *runtime_rules, size_t n_runtime) {
        _cleanup_close_ int cgfd = open_cgroup_dir(cgroup_dir);
        int r = -EAGAIN;

        if (cgfd < 0)
                return cgfd;
        for (int attempt = 0; attempt < 8 && r == -EAGAIN; attempt++) {
                _cleanup_free_ uint32_t *ids = NULL;
                size_t n_ids;
                uint32_t flags;

                r = query_fd(cgfd, &ids, &n_ids, &flags);
                if (r < 0)
                        return log_error_errno(r, "cannot list the device programs of %s: %m",
                                               cgroup_dir);
                if (n_ids > 1)
                        return log_error_errno(-EBUSY, "%s has %zu device programs attached; cannot "
                                               "tell which holds the runtime's rules, replacing none: %m",
                                               cgroup_dir, n_ids);
                if (n_ids == 0)
                        r = attach_rebuilt(cgfd, cgroup_dir, rules, n, runtime_rules, n_runtime);
                else
                        r = swap_program(cgfd, cgroup_dir, rules, n, ids[0], flags);
        }
        if (r == -EAGAIN) /* more hooks than attempts raced on this cgroup: the winner's program stays */
                return log_error_errno(r, "cannot put the device program on %s: %m", cgroup_dir);
        return r < 0 ? r : 1;
}
