/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's seccomp filter: TIOCSTI and TIOCLINUX fail with EPERM, the rest is
 * allowed. Why a filter: the job must keep the caller's terminal as its
 * controlling tty (Ctrl-C reaches it, a REPL reads and sets termios), and the
 * kernel's own switch (dev.tty.legacy_tiocsti=0, Linux 6.2) is the host's to
 * set, absent before 6.2, and lets CAP_SYS_ADMIN through (--cap-add); setsid()
 * would cut the job off its terminal; a pty of our own in between (sudo's
 * use_pty) means relaying every byte, signal and window size for the job's
 * whole life.
 * Why raw classic BPF: no libseccomp dependency for a dozen instructions, and
 * every jump is checked by tests/unit/test-seccomp-tty.c.
 *
 * The program, for x86_64 (gj_seccomp_tty_build() writes it from tty_abis):
 *
 *         A = arch
 *         if A != X86_64 goto i386
 *         A = nr & ~X32_BIT         x32 shares the arch value and sets this bit; up
 *         if A == 16 goto request   to Linux 5.4 one table served both ABIs, so 16
 *         if A == 514 goto request  with the bit and 514 (x32's ioctl) without it
 *         return ALLOW              both reached an ioctl
 *   i386: if A != I386 goto kill    int 0x80 works from a 64-bit process too
 *         A = nr
 *         if A == 54 goto request
 *         return ALLOW
 *   kill: return KILL_PROCESS       an ABI we do not know: no guessing its numbers
 *   request:
 *         A = low 32 bits of args[1]    the kernel truncates the request to an
 *         if A == TIOCSTI goto eperm    unsigned int: compared on 64 bits, a high
 *         if A != TIOCLINUX goto allow  bit set would slip by (CVE-2019-10063)
 *   eperm: return ERRNO(EPERM)
 *   allow: return ALLOW
 *
 * Every system call but ioctl returns ALLOW without reading an argument, so on
 * Linux 5.11+ the kernel caches the verdict per syscall number and runs the
 * program for ioctl (and x32 calls) only.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gpujail/seccomp-tty.h"
#include "gpujail/util.h"

#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

/* One way into the kernel: the arch value the kernel reports for it, a mask
 * for the syscall number, and the numbers of its ioctl. */
struct tty_abi {
        uint32_t arch;
        uint32_t nr_mask;
        uint32_t ioctl_nrs[2];
        uint8_t n_ioctl_nrs;
};

#define X32_SYSCALL_BIT 0x40000000u

#if defined(__x86_64__)
#define TTY_ABIS                                                                                   \
        { AUDIT_ARCH_X86_64, ~X32_SYSCALL_BIT, { 16, 514 }, 2 }, { AUDIT_ARCH_I386, ~0u, { 54 }, 1 }
_Static_assert((__NR_ioctl & ~X32_SYSCALL_BIT) == 16 || (__NR_ioctl & ~X32_SYSCALL_BIT) == 514,
               "x86_64's ioctl (x32's when built for x32)");
#elif defined(__aarch64__)
#define TTY_ABIS                                                                                   \
        { AUDIT_ARCH_AARCH64, ~0u, { 29 }, 1 }, { AUDIT_ARCH_ARM, ~0u, { 54 }, 1 }
_Static_assert(__NR_ioctl == 29, "aarch64's ioctl");
#else
#error "the job's seccomp filter knows x86_64 and aarch64: add this architecture's ABIs (TTY_ABIS)"
#endif

static const struct tty_abi tty_abis[] = { TTY_ABIS };

/* The low 32 bits of the ioctl request, wherever the byte order puts them. */
#define REQUEST_LOW_OFFSET                                                                         \
        (offsetof(struct seccomp_data, args[1]) +                                                  \
         (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? sizeof(uint32_t) : 0))

#define STMT(code, k) ((struct sock_filter)BPF_STMT((code), (k)))
#define JEQ(k, jt, jf) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (jt), (jf)))
#define LOAD(offset) STMT(BPF_LD | BPF_W | BPF_ABS, (offset))
#define RET(action) STMT(BPF_RET | BPF_K, (action))

/* One ABI's block, entered with A = arch: not this arch, on to the next block;
 * an ioctl number: a jump to the request check, whose offset the caller fills
 * in (their indexes go to *jumps); anything else: allow. */
static size_t emit_abi(const struct tty_abi *abi, struct sock_filter *out, size_t at, size_t *jumps,
                       size_t *n_jumps) {
        size_t n = at;
        /* the rest of the block: load, mask, one test per number, allow */
        size_t skip = 1 + (abi->nr_mask != ~0u) + abi->n_ioctl_nrs + 1;
        out[n++] = JEQ(abi->arch, 0, skip);
        out[n++] = LOAD(offsetof(struct seccomp_data, nr));
        if (abi->nr_mask != ~0u)
                out[n++] = STMT(BPF_ALU | BPF_AND | BPF_K, abi->nr_mask);
        for (size_t i = 0; i < abi->n_ioctl_nrs; i++) {
                jumps[(*n_jumps)++] = n;
                out[n++] = JEQ(abi->ioctl_nrs[i], 0, 0);
        }
        out[n++] = RET(SECCOMP_RET_ALLOW);
        return n - at;
}

size_t gj_seccomp_tty_build(struct sock_filter out[static GJ_SECCOMP_TTY_MAX]) {
        size_t jumps[2 * ELEMENTSOF(tty_abis)], n_jumps = 0, n = 0;

        out[n++] = LOAD(offsetof(struct seccomp_data, arch));
        for (size_t i = 0; i < ELEMENTSOF(tty_abis); i++)
                n += emit_abi(&tty_abis[i], out, n, jumps, &n_jumps);
        out[n++] = RET(SECCOMP_RET_KILL_PROCESS);

        size_t request = n;
        for (size_t i = 0; i < n_jumps; i++)
                out[jumps[i]].jt = (uint8_t)(request - jumps[i] - 1);
        out[n++] = LOAD(REQUEST_LOW_OFFSET);
        out[n++] = JEQ((uint32_t)TIOCSTI, 1, 0);
        out[n++] = JEQ((uint32_t)TIOCLINUX, 0, 1);
        out[n++] = RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
        out[n++] = RET(SECCOMP_RET_ALLOW);
        return n;
}

/*
 * SECCOMP_FILTER_FLAG_SPEC_ALLOW: on Linux 4.17 to 5.15 the default
 * speculation policy turns Speculative Store Bypass Disable on for every task
 * with a seccomp filter, which slows CPU-bound work (a data loader) for a
 * filter that sandboxes nothing but two ioctls; with the flag the job keeps
 * the mitigations of a process without one. Kernels before 4.17 refuse the
 * flag: installed without it.
 */
int gj_seccomp_tty_install(void) {
        struct sock_filter insns[GJ_SECCOMP_TTY_MAX];
        struct sock_fprog prog = { .len = (unsigned short)gj_seccomp_tty_build(insns),
                                   .filter = insns };
        unsigned long flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;

        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) == 0)
                return 0;
        if (errno == EINVAL && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
                return 0;
        return log_error_errno(-errno, "cannot install the job's seccomp filter (no TIOCSTI, TIOCLINUX): %m");
}
