/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job's seccomp filter (kernel/seccomp-tty.c): ioctl(fd, TIOCSTI, ...) and
 * ioctl(fd, TIOCLINUX, ...) fail with EPERM, every other system call is
 * allowed. A job shares the caller's terminal (Ctrl-C, a REPL and vim need
 * it), and with TIOCSTI it could push "cmd\n" into that terminal's input for
 * the caller's shell (root's, under sudo) to run once the job ends
 * (CVE-2017-5226); TIOCLINUX pastes a console selection the same way
 * (CVE-2023-28100). What the job can still do with its terminal is in
 * docs/gpujail.md (run, security).
 */
#pragma once

#include <linux/filter.h>
#include <stddef.h>

/* Room for the program of every architecture the builder knows. */
#define GJ_SECCOMP_TTY_MAX 24

/* ---- pure ---- */
/* Write the program into `out`; returns its length. It knows the architecture
 * gpujail is built for and that one's compat ABIs (x86_64: i386 and x32;
 * aarch64: arm); a system call of any other architecture kills the process.
 * The ioctl request is compared on its low 32 bits, all the kernel reads
 * (CVE-2019-10063). */
size_t gj_seccomp_tty_build(struct sock_filter out[static GJ_SECCOMP_TTY_MAX]);

/* ---- kernel ---- */
/* Install it on the calling thread for good: children inherit it, execve keeps
 * it. Needs no_new_privs (or CAP_SYS_ADMIN). Allocates nothing (the program is
 * on the stack), so the vfork'ed job may call it. 0, or a negative errno,
 * logged. */
int gj_seccomp_tty_install(void);
