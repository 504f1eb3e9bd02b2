/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's seccomp filter (kernel/seccomp-tty.c). First its program, run on a
 * small classic-BPF interpreter for each ABI's ioctl and for look-alikes (the
 * paths this machine cannot take: x32, an unknown arch). Then for real: forked
 * children whose controlling terminal is a fresh pty install it and try
 * TIOCSTI (also with a high bit set, and through the i386 entry), TIOCLINUX
 * and TIOCGWINSZ. Needs no root: no_new_privs is enough for a filter.
 */
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "gpujail/seccomp-tty.h"
#include "gpujail/util.h"
#include "tap.h"

#define EPERM_VERDICT (SECCOMP_RET_ERRNO | EPERM)
#define BAD_PROGRAM 0xdeadbeefu
#define X32_BIT 0x40000000u
#define HIGH_BIT 0x100000000ULL

/* ---- the program, interpreted ---- */

static struct sock_filter prog[GJ_SECCOMP_TTY_MAX];
static size_t prog_len;

/* What the kernel's classic BPF would return; BAD_PROGRAM for an instruction
 * the builder should never emit, a load out of bounds or falling off the end. */
static uint32_t verdict(uint32_t arch, int nr, uint64_t request) {
        struct seccomp_data d = { .nr = nr, .arch = arch, .args = { 0, request, 0 } };
        uint32_t a = 0;
        for (size_t pc = 0; pc < prog_len; pc++) {
                const struct sock_filter *i = &prog[pc];
                switch (i->code) {
                case BPF_LD | BPF_W | BPF_ABS:
                        if (i->k + sizeof(a) > sizeof(d))
                                return BAD_PROGRAM;
                        memcpy(&a, (const char *)&d + i->k, sizeof(a));
                        break;
                case BPF_ALU | BPF_AND | BPF_K:
                        a &= i->k;
                        break;
                case BPF_JMP | BPF_JEQ | BPF_K:
                        pc += a == i->k ? i->jt : i->jf;
                        break;
                case BPF_RET | BPF_K:
                        return i->k;
                default:
                        return BAD_PROGRAM;
                }
        }
        return BAD_PROGRAM;
}

static const char *verdict_name(uint32_t v) {
        return v == SECCOMP_RET_ALLOW          ? "allow"
               : v == EPERM_VERDICT            ? "EPERM"
               : v == SECCOMP_RET_KILL_PROCESS ? "kill"
                                               : "bad program";
}

#define is_verdict(arch, nr, req, want, ...)                                                       \
        do {                                                                                       \
                uint32_t _v = verdict((arch), (nr), (req));                                        \
                TAP_CHECK(_v == (want), __VA_ARGS__);                                              \
                if (_v != (want))                                                                  \
                        printf("#   got %s, want %s\n", verdict_name(_v), verdict_name(want));     \
        } while (0)

/* Every number but the ABI's ioctls is allowed, whatever its second argument. */
static void check_only_ioctl(uint32_t arch, const int *ioctls, size_t n, const char *abi) {
        int wrong = -1;
        for (int nr = 0; nr < 1024 && wrong < 0; nr++) {
                bool is_ioctl = false;
                for (size_t i = 0; i < n; i++)
                        is_ioctl |= nr == ioctls[i];
                if (!is_ioctl && verdict(arch, nr, TIOCSTI) != SECCOMP_RET_ALLOW)
                        wrong = nr;
        }
        ok(wrong < 0,
           "%s: no other syscall number (0..1023) is refused with TIOCSTI as argument (%d)", abi,
           wrong);
}

static void check_program(void) {
        prog_len = gj_seccomp_tty_build(prog);
        ok(prog_len > 0 && prog_len <= GJ_SECCOMP_TTY_MAX, "the program fits (%zu instructions)",
           prog_len);

#if defined(__x86_64__)
        const uint32_t native = AUDIT_ARCH_X86_64, compat = AUDIT_ARCH_I386,
                       foreign = AUDIT_ARCH_AARCH64;
        const int nr = 16, compat_nr = 54;
        is_verdict(native, 514, TIOCSTI, EPERM_VERDICT,
                   "x86_64: 514 (x32's ioctl without the x32 bit, Linux < 5.4)");
        is_verdict(native, (int)(X32_BIT | 514), TIOCSTI, EPERM_VERDICT, "x32: ioctl TIOCSTI");
        is_verdict(native, (int)(X32_BIT | 514), TIOCSTI | HIGH_BIT, EPERM_VERDICT,
                   "x32: TIOCSTI with a high bit");
        is_verdict(native, (int)(X32_BIT | 16), TIOCLINUX, EPERM_VERDICT,
                   "x32: 16 with the x32 bit (Linux < 5.4)");
        is_verdict(native, (int)(X32_BIT | 514), TIOCGWINSZ, SECCOMP_RET_ALLOW,
                   "x32: ioctl TIOCGWINSZ allowed");
        is_verdict(native, (int)(X32_BIT | 0), TIOCSTI, SECCOMP_RET_ALLOW, "x32: read allowed");
        check_only_ioctl(native, (const int[]){ 16, 514 }, 2, "x86_64");
        check_only_ioctl(compat, (const int[]){ 54 }, 1, "i386");
#elif defined(__aarch64__)
        const uint32_t native = AUDIT_ARCH_AARCH64, compat = AUDIT_ARCH_ARM,
                       foreign = AUDIT_ARCH_X86_64;
        const int nr = 29, compat_nr = 54;
        check_only_ioctl(native, (const int[]){ 29 }, 1, "aarch64");
        check_only_ioctl(compat, (const int[]){ 54 }, 1, "arm");
#else
#error "add this architecture's cases (see kernel/seccomp-tty.c)"
#endif
        is_verdict(native, nr, TIOCSTI, EPERM_VERDICT, "native ioctl TIOCSTI: EPERM");
        is_verdict(native, nr, TIOCSTI | HIGH_BIT, EPERM_VERDICT, "native TIOCSTI | 1<<32: EPERM");
        is_verdict(native, nr, TIOCSTI | 0xffffffff00000000ULL, EPERM_VERDICT,
                   "native TIOCSTI, high half all ones: EPERM");
        is_verdict(native, nr, TIOCLINUX, EPERM_VERDICT, "native ioctl TIOCLINUX: EPERM");
        is_verdict(native, nr, TIOCLINUX | HIGH_BIT, EPERM_VERDICT,
                   "native TIOCLINUX | 1<<32: EPERM");
        is_verdict(native, nr, TIOCGWINSZ, SECCOMP_RET_ALLOW, "native ioctl TIOCGWINSZ: allowed");
        is_verdict(native, nr, TIOCSTI + 1, SECCOMP_RET_ALLOW, "native ioctl TIOCSTI+1: allowed");
        is_verdict(native, nr, (uint64_t)TIOCSTI << 32, SECCOMP_RET_ALLOW,
                   "native ioctl TIOCSTI<<32 (low half 0): allowed");
        is_verdict(compat, compat_nr, TIOCSTI, EPERM_VERDICT, "compat ioctl TIOCSTI: EPERM");
        is_verdict(compat, compat_nr, TIOCLINUX, EPERM_VERDICT, "compat ioctl TIOCLINUX: EPERM");
        is_verdict(compat, compat_nr, TIOCGWINSZ, SECCOMP_RET_ALLOW,
                   "compat ioctl TIOCGWINSZ: allowed");
        is_verdict(compat, nr, TIOCSTI, nr == compat_nr ? EPERM_VERDICT : SECCOMP_RET_ALLOW,
                   "compat: the native ioctl number is another syscall there");
        is_verdict(foreign, nr, TIOCGWINSZ, SECCOMP_RET_KILL_PROCESS,
                   "an arch the filter does not know: killed");
        is_verdict(0, 0, 0, SECCOMP_RET_KILL_PROCESS, "arch 0: killed");
}

/* ---- the kernel: a child with a pty as its controlling terminal ---- */

enum probe {
        PROBE_STI,        /* ioctl(TIOCSTI, "x") */
        PROBE_STI_HIGH,   /* the same with bit 32 of the request set */
        PROBE_LINUX,      /* ioctl(TIOCLINUX, subcode 0) */
        PROBE_WINSZ,      /* ioctl(TIOCGWINSZ) */
        PROBE_STI_I386,   /* TIOCSTI through int 0x80 (x86_64 only) */
        PROBE_STI_X32,    /* TIOCSTI through x32's ioctl (x86_64 only) */
        PROBE_GETPID_I386 /* getpid through int 0x80: is the i386 entry there? */
};
#define INJECTED_NOT_SEEN 200 /* the ioctl succeeded but the byte did not arrive */

#if defined(__x86_64__)
static long int80(long nr, long a, long b, long c) {
        long ret;
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(nr), "b"(a), "c"(b), "d"(c)
                         : "memory", "r8", "r9", "r10", "r11");
        return ret;
}
#endif

/* A new session whose controlling terminal is a fresh pty in raw mode (an
 * injected byte is readable at once); the pty's slave fd. */
static int ctty_pty(void) {
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || setsid() < 0)
                return -1;
        int slave = open(ptsname(master), O_RDWR | O_CLOEXEC);
        struct termios t;
        if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || tcgetattr(slave, &t) < 0)
                return -1;
        cfmakeraw(&t);
        return tcsetattr(slave, TCSANOW, &t) < 0 ? -1 : slave;
}

static int do_probe(int fd, enum probe p) {
#ifndef MAP_32BIT
#define MAP_32BIT 0
#endif
        /* below 4 GiB, for the i386 and x32 entries */
        char *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                       -1, 0);
        if (c == MAP_FAILED)
                return errno;
        *c = 'x';
        long r;
        switch (p) {
        case PROBE_STI:
                r = ioctl(fd, TIOCSTI, c) < 0 ? -errno : 0;
                break;
        case PROBE_STI_HIGH:
                r = ioctl(fd, (unsigned long)TIOCSTI | HIGH_BIT, c) < 0 ? -errno : 0;
                break;
        case PROBE_LINUX:
                *c = 0;
                r = ioctl(fd, TIOCLINUX, c) < 0 ? -errno : 0;
                return (int)-r;
        case PROBE_WINSZ: {
                struct winsize w;
                return ioctl(fd, TIOCGWINSZ, &w) < 0 ? errno : 0;
        }
#if defined(__x86_64__)
        case PROBE_STI_I386:
                r = int80(54, fd, TIOCSTI, (long)(uintptr_t)c);
                break;
        case PROBE_STI_X32:
                r = syscall(X32_BIT | 514, fd, TIOCSTI, c) < 0 ? -errno : 0;
                break;
        case PROBE_GETPID_I386:
                return int80(20, 0, 0, 0) == getpid() ? 0 : ENOSYS;
#endif
        default:
                return ENOSYS;
        }
        if (r < 0)
                return (int)-r;
        char got = 0;
        (void)fcntl(fd, F_SETFL, O_NONBLOCK);
        return read(fd, &got, 1) == 1 && got == 'x' ? 0 : INJECTED_NOT_SEEN;
}

/* In a forked child: 0 if the probe worked, its errno, or -signal. */
static int probe(bool filter, enum probe p) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return -1000;
        if (pid == 0) {
                int fd = ctty_pty();
                if (fd < 0)
                        _exit(255);
                if (filter &&
                    (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || gj_seccomp_tty_install() < 0))
                        _exit(254);
                _exit(do_probe(fd, p));
        }
        int status;
        if (waitpid(pid, &status, 0) < 0)
                return -1000;
        return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

static const char *probe_result(int r) {
        static char buf[64];
        if (r == 255)
                return "no pty as controlling terminal";
        if (r == 254)
                return "filter not installed";
        if (r == INJECTED_NOT_SEEN)
                return "ioctl ok, byte not seen";
        if (r < 0)
                snprintf(buf, sizeof(buf), "killed by signal %d", -r);
        else
                snprintf(buf, sizeof(buf), "%s", r ? strerror(r) : "ok");
        return buf;
}

#define is_probe(filter, p, want, ...)                                                             \
        do {                                                                                       \
                int _r = probe((filter), (p));                                                     \
                TAP_CHECK(_r == (want), __VA_ARGS__);                                              \
                if (_r != (want))                                                                  \
                        printf("#   got: %s\n", probe_result(_r));                                 \
        } while (0)

static void check_kernel(void) {
        int r = probe(false, PROBE_WINSZ);
        if (r == 255) {
                skip("cannot make a pty the controlling terminal here", "kernel checks");
                return;
        }
        /* Without the filter: what the job could do. With CAP_SYS_ADMIN or
         * dev.tty.legacy_tiocsti=1 TIOCSTI works, high bit or not. */
        r = probe(false, PROBE_STI);
        if (r == 0) {
                ok(true, "without the filter: TIOCSTI injects into the terminal");
                is_probe(
                        false, PROBE_STI_HIGH, 0,
                        "without the filter: TIOCSTI | 1<<32 injects too (the kernel reads 32 bits)");
        } else
                skip("the kernel refuses TIOCSTI here already (dev.tty.legacy_tiocsti=0)",
                     "without the filter: TIOCSTI injects");
        r = probe(false, PROBE_LINUX);
        ok(r != EPERM && r >= 0, "without the filter: TIOCLINUX on a pty is not EPERM (%s)",
           probe_result(r));

        is_probe(true, PROBE_STI, EPERM, "filter: TIOCSTI fails with EPERM");
        is_probe(true, PROBE_STI_HIGH, EPERM, "filter: TIOCSTI | 1<<32 fails with EPERM");
        is_probe(true, PROBE_LINUX, EPERM, "filter: TIOCLINUX fails with EPERM");
        is_probe(true, PROBE_WINSZ, 0, "filter: TIOCGWINSZ works");

#if defined(__x86_64__)
        if (probe(false, PROBE_GETPID_I386) != 0) {
                skip("no i386 entry (int 0x80) in this kernel", "filter: TIOCSTI through int 0x80");
                return;
        }
        if (probe(false, PROBE_STI) == 0)
                is_probe(false, PROBE_STI_I386, 0,
                         "without the filter: TIOCSTI through int 0x80 injects");
        is_probe(true, PROBE_STI_I386, EPERM,
                 "filter: TIOCSTI through int 0x80 (i386) fails with EPERM");
        is_probe(true, PROBE_GETPID_I386, 0, "filter: other i386 calls work (getpid)");
        r = probe(false, PROBE_STI_X32);
        printf("# without the filter, TIOCSTI through x32's ioctl: %s%s\n", probe_result(r),
               r == ENOSYS ? " (x32 is off in this kernel)" : "");
        is_probe(true, PROBE_STI_X32, EPERM,
                 "filter: TIOCSTI through x32's ioctl fails with EPERM");
#endif
}

int main(void) {
        check_program();
        check_kernel();
        return done_testing();
}
