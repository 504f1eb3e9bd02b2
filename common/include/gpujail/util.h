/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error convention and the cleanup helpers every file uses.
 *
 * Errors: functions return a negative errno (or >= 0 on success). The code
 * that knows *what* failed and *on which path* logs it once, with
 * log_error_errno(), which returns the same negative errno so that
 * `return log_error_errno(r, "cannot open %s: %m", p);` is one line.
 * Callers above just propagate r. Entry points turn r < 0 into exit 125.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GJ_EXIT_FAILURE 125 /* gpujail's own failure, as docker/podman run */
#define GJ_EXIT_CANNOT_EXEC 126
#define GJ_EXIT_NOT_FOUND 127

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _fd;                                                                               \
        })

/* ---- logging (common/log.c) ---- */

enum gj_log_level { GJ_LOG_ERROR, GJ_LOG_WARNING, GJ_LOG_INFO, GJ_LOG_DEBUG };

/* "gpujail" or "gpujail-hook": the prefix of every message. */
void log_set_program(const char *name);
void log_set_max_level(enum gj_log_level level);
/* Hand every message (formatted, without the program prefix) to fn instead of
 * stderr and syslog: a plugin that lives in another program's process logs
 * through that program (spank_gpujail.so: slurm_error). NULL: back to stderr. */
typedef void (*gj_log_sink_t)(enum gj_log_level level, const char *line);
void log_set_sink(gj_log_sink_t fn);
/* Also send errors and warnings to syslog (the hook, whose stderr the runtime may drop). */
void log_set_syslog(bool on);
/* One audit line: always to syslog (authpriv.notice), to stderr only at debug
 * level (GPUJAIL_DEBUG=1). The caller escapes what it did not make itself. */
void log_audit(const char *fmt, ...) _printf_(1, 2);

/* Logs "prog: <fmt>" with %m expanding to strerror(-error); returns -abs(error). */
int log_full_errno(enum gj_log_level level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_error_errno(err, ...) log_full_errno(GJ_LOG_ERROR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(GJ_LOG_WARNING, (err), __VA_ARGS__)
#define log_error(...) (void)log_full_errno(GJ_LOG_ERROR, 0, __VA_ARGS__)
#define log_warning(...) (void)log_full_errno(GJ_LOG_WARNING, 0, __VA_ARGS__)
#define log_info(...) (void)log_full_errno(GJ_LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) (void)log_full_errno(GJ_LOG_DEBUG, 0, __VA_ARGS__)

/* ---- small helpers (common/util.c) ---- */

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool streq_ptr(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}
static inline bool isempty(const char *s) { return !s || !*s; }
/* s past prefix, or NULL. Inline: with a literal prefix the compiler folds the
 * strlen() and compares in place (hot in the ld.so.cache scan: ~1,000 keys). */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Read a whole (small) file, NUL-terminated, at most max bytes: -EFBIG past that. */
int read_full_file(const char *path, char **ret, size_t *ret_len, size_t max);
int read_full_fd(int fd, char **ret, size_t *ret_len, size_t max);
/* A regular file of at most max bytes, mapped read-only: for a parser that reads a
 * big file once (the host's ld.so.cache), the page cache's pages rather than a
 * copy into fresh ones (a 44 KiB cache took 75 us to read, 31 page faults). Only
 * for files that are replaced, never truncated, while mapped (ldconfig renames):
 * a truncated mapping faults. *ret_len 0 and *ret NULL for an empty file; else
 * munmap(*ret, *ret_len) when done. -EFBIG past max, -errno. */
int map_full_file(const char *path, size_t max, void **ret, size_t *ret_len);
/* First line of a file, trailing whitespace stripped (sysfs attributes). */
int read_one_line(const char *path, char **ret);

/* Write data to path atomically: temp file in the same dir, fsync, rename. */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode);
/* The same, with flags: WRITE_ATOMIC_NO_SYNC skips the fsync (the rename stays atomic
 * for readers) for files that need not outlive a crash, e.g. a bundle's config.json
 * on the container-start path, where the fsync costs ~15 ms on ext4. */
enum { WRITE_ATOMIC_NO_SYNC = 1 << 0 };
int write_file_atomic_flags(const char *path, const char *data, size_t len, mode_t mode, unsigned flags);
/* Write a string to an existing file (cgroup and sysfs knobs): one write(2). */
int write_string_file(const char *path, const char *s);

int safe_atou(const char *s, unsigned *ret);  /* whole string, base 10 */
int safe_atoi(const char *s, int *ret);

char *strdup_or_null(const char *s);
/* asprintf that returns NULL on failure. */
char *strprintf(const char *fmt, ...) _printf_(1, 2);

/* NULL-terminated string vectors. */
size_t strv_length(char *const *v);
int strv_push(char ***v, char *s); /* takes s, even on failure */
bool strv_contains(char *const *v, const char *s);
/* qsort(3)'s comparator for an array of strings (char * or const char *), by strcmp. */
int strcmp_ptr(const void *a, const void *b);
void strv_sort(char **v); /* in place, by strcmp; NULL is fine */
char *strv_join(char *const *v, const char *sep);

/* ---- a growable string (common/strbuf.c) ---- */

/* Appends do not fail one by one: an allocation failure is remembered, later
 * appends do nothing, and the one check is at the end (strbuf_str() or
 * strbuf_steal() give NULL). So a message is a run of appends and one test.
 * data is NUL-terminated after every append; len counts what was appended,
 * NULs included. Start from (struct strbuf){}. */
struct strbuf {
        char *data;
        size_t len, size;
        bool oom;
};

void strbuf_append(struct strbuf *b, const void *data, size_t n); /* bytes, NULs included */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);
/* The string so far ("" when nothing was appended); NULL if an append failed. */
const char *strbuf_str(const struct strbuf *b);
/* Hand the string out (malloc'ed; "" when nothing was appended) and empty b;
 * NULL if an append failed or on OOM. */
char *strbuf_steal(struct strbuf *b);
void strbuf_done(struct strbuf *b);
#define _cleanup_strbuf_ _cleanup_(strbuf_done)
