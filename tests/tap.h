/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny TAP producer for the C tests: one "ok N - name" line per check. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define TAP_CHECK(cond, ...)                                                                       \
        do {                                                                                       \
                int _ok = !!(cond);                                                                \
                printf("%sok %d - ", _ok ? "" : "not ", ++tap_n);                                  \
                printf(__VA_ARGS__);                                                               \
                printf("\n");                                                                      \
                if (!_ok) {                                                                        \
                        tap_failed++;                                                              \
                        printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
                }                                                                                  \
        } while (0)

#define ok(cond, ...) TAP_CHECK(cond, __VA_ARGS__)
#define is_int(a, b, ...)                                                                          \
        do {                                                                                       \
                long long _a = (long long)(a), _b = (long long)(b);                                \
                TAP_CHECK(_a == _b, __VA_ARGS__);                                                  \
                if (_a != _b)                                                                      \
                        printf("#   got %lld, want %lld\n", _a, _b);                               \
        } while (0)
#define is_str(a, b, ...)                                                                          \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                int _eq = _a && _b ? strcmp(_a, _b) == 0 : _a == _b;                               \
                TAP_CHECK(_eq, __VA_ARGS__);                                                       \
                if (!_eq)                                                                          \
                        printf("#   got '%s', want '%s'\n", _a ? _a : "(null)", _b ? _b : "(null)"); \
        } while (0)

/* A check that cannot run here: counted as skipped, with the reason. */
#define skip(reason, ...)                                                                          \
        do {                                                                                       \
                printf("ok %d - ", ++tap_n);                                                       \
                printf(__VA_ARGS__);                                                               \
                printf(" # SKIP %s\n", reason);                                                    \
        } while (0)

/* Whole test program cannot run here: TAP "skip all", exit 77 for meson. */
#define skip_all(reason)                                                                           \
        do {                                                                                       \
                printf("1..0 # SKIP %s\n", reason);                                                \
                exit(77);                                                                          \
        } while (0)

static inline int done_testing(void) {
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}
