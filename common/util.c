/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "gpujail/util.h"

void strv_free(char **v) {
        if (!v)
                return;
        for (char **s = v; *s; s++)
                free(*s);
        free(v);
}

int read_full_fd(int fd, char **ret, size_t *ret_len, size_t max) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;

        /* room for max bytes, the NUL, and one byte more: a file of exactly max
         * bytes is read to its EOF, one byte more is refused */
        for (;;) {
                if (len + 1 >= size) {
                        size_t n = size ? size * 2 : 4096;
                        if (n > max + 2)
                                n = max + 2;
                        char *b = realloc(buf, n);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        size = n;
                }
                ssize_t k = read(fd, buf + len, size - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = 0;
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_full_file(const char *path, char **ret, size_t *ret_len, size_t max) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, ret, ret_len, max);
}

int map_full_file(const char *path, size_t max, void **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        *ret = NULL;
        *ret_len = (size_t)st.st_size;
        if (st.st_size == 0)
                return 0;
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        *ret = p;
        return 0;
}

int read_one_line(const char *path, char **ret) {
        char *s;
        int r = read_full_file(path, &s, NULL, 64 * 1024);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = 0;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = 0;
        *ret = s;
        return 0;
}

static int write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t k = write(fd, data, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += k;
                len -= (size_t)k;
        }
        return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode) {
        return write_file_atomic_flags(path, data, len, mode, 0);
}

/* Fill the temp file and rename it over path; the caller removes it on failure. */
static int write_and_rename(int fd, const char *tmp, const char *path, const char *data, size_t len,
                            mode_t mode, unsigned flags) {
        int r = write_all(fd, data, len);
        if (r < 0)
                return r;
        if (fchmod(fd, mode) < 0)
                return -errno;
        if (!(flags & WRITE_ATOMIC_NO_SYNC) && fsync(fd) < 0)
                return -errno;
        if (rename(tmp, path) < 0)
                return -errno;
        return 0;
}

int write_file_atomic_flags(const char *path, const char *data, size_t len, mode_t mode, unsigned flags) {
        _cleanup_free_ char *tmp = strprintf("%s.gpujail-tmp.%d", path, (int)getpid());
        if (!tmp)
                return -ENOMEM;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        int r = write_and_rename(fd, tmp, path, data, len, mode, flags);
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

int write_string_file(const char *path, const char *s) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        size_t n = strlen(s);
        ssize_t k = write(fd, s, n);
        if (k < 0)
                return -errno;
        return (size_t)k == n ? 0 : -EIO;
}

int safe_atou(const char *s, unsigned *ret) {
        char *end;
        if (isempty(s) || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno)
                return -errno;
        if (*end || v > UINT_MAX)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

int safe_atoi(const char *s, int *ret) {
        char *end;
        if (isempty(s) || *s == ' ')
                return -EINVAL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno)
                return -errno;
        if (*end || v > INT_MAX || v < INT_MIN)
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

char *strdup_or_null(const char *s) { return s ? strdup(s) : NULL; }

char *strprintf(const char *fmt, ...) {
        char *s;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

size_t strv_length(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

int strv_push(char ***v, char *s) {
        if (!s)
                return -ENOMEM;
        size_t n = strv_length(*v);
        char **nv = realloc(*v, (n + 2) * sizeof(char *));
        if (!nv) {
                free(s);
                return -ENOMEM;
        }
        nv[n] = s;
        nv[n + 1] = NULL;
        *v = nv;
        return 0;
}

int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void strv_sort(char **v) {
        size_t n = strv_length(v);
        if (n > 1) /* qsort(NULL, 0) is undefined */
                qsort(v, n, sizeof(*v), strcmp_ptr);
}

bool strv_contains(char *const *v, const char *s) {
        for (size_t i = 0; v && v[i]; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

char *strv_join(char *const *v, const char *sep) {
        size_t n = 1, k = strlen(sep);
        for (size_t i = 0; v && v[i]; i++)
                n += strlen(v[i]) + k;
        char *s = malloc(n), *p = s;
        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; v && v[i]; i++) {
                if (i > 0)
                        p = stpcpy(p, sep);
                p = stpcpy(p, v[i]);
        }
        return s;
}
