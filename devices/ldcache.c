/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /etc/ld.so.cache, read and written. See gpujail/ldcache.h.
 *
 * The layout is glibc's (sysdeps/generic/dl-cache.h, elf/cache.c): a 48-byte
 * header, 24-byte entries, a string table, and an extension directory. Every
 * offset in the new format is from the start of the new header, which in an
 * old+new file sits after the old entries. Integers are in the byte order of
 * the machine that wrote the file; a file from the other order is refused, as
 * ld.so ignores it. Every read is bounds-checked: the file may be an image's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpujail/ldcache.h"
#include "gpujail/util.h"

#define MAGIC_OLD "ld.so-1.7.0"
#define MAGIC_NEW "glibc-ld.so.cache1.1"
#define OLD_HEADER 16u
#define OLD_ENTRY 12u
#define NEW_HEADER 48u
#define NEW_ENTRY 24u
#define EXTENSION_MAGIC 0xeaa42174u
#define EXTENSION_TAG_GENERATOR 0u
#define EXTENSION_TAG_HWCAPS 1u
#define MAX_SECTIONS 64u

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ENDIAN_FLAG 3u
#else
#define ENDIAN_FLAG 2u
#endif

static uint32_t get32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

static uint64_t get64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

/* A NUL-terminated string at base+off inside [base, base+size), in place; NULL if
 * there is none. */
static const char *peek_string(const uint8_t *base, size_t size, uint32_t off) {
        if (off >= size || !memchr(base + off, 0, size - off))
                return NULL;
        return (const char *)base + off;
}

/* The same, copied. */
static int get_string(const uint8_t *base, size_t size, uint32_t off, char **ret) {
        const char *s = peek_string(base, size, off);
        if (!s)
                return -EBADMSG;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

void gj_ldcache_done(struct gj_ldcache *c) {
        for (size_t i = 0; i < c->n_entries; i++) {
                free(c->entries[i].key);
                free(c->entries[i].value);
        }
        free(c->entries);
        strv_free(c->hwcaps);
        *c = (struct gj_ldcache){ 0 };
}

/* The glibc-hwcaps section: uint32 string offsets, one per subdirectory. */
static int parse_hwcaps(const uint8_t *section, uint32_t len, const uint8_t *base, size_t size,
                        struct gj_ldcache *c) {
        if (len % 4 != 0)
                return -EBADMSG;
        size_t n = len / 4;
        c->hwcaps = calloc(n + 1, sizeof(char *));
        if (!c->hwcaps)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int r = get_string(base, size, get32(section + 4 * i), &c->hwcaps[i]);
                if (r < 0)
                        return r;
                c->n_hwcaps++;
        }
        return 0;
}

/* Extension and section offsets are from the start of the file (ld.so's
 * cache_extension_load); the names in the hwcaps section, like every string,
 * from the new header (strings, size bytes from there). */
static int parse_extensions(const uint8_t *file, size_t file_size, uint32_t ext,
                            const uint8_t *strings, size_t size, struct gj_ldcache *c) {
        if (ext == 0)
                return 0;
        if (ext % 4 != 0 || ext > file_size || file_size - ext < 8 ||
            get32(file + ext) != EXTENSION_MAGIC)
                return -EBADMSG;
        uint32_t count = get32(file + ext + 4);
        if (count > MAX_SECTIONS || (file_size - ext - 8) / 16 < count)
                return -EBADMSG;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *s = file + ext + 8 + 16 * i;
                uint32_t tag = get32(s), off = get32(s + 8), len = get32(s + 12);
                if (off > file_size || len > file_size - off)
                        return -EBADMSG;
                if (tag == EXTENSION_TAG_HWCAPS && !c->hwcaps) {
                        int r = parse_hwcaps(file + off, len, strings, size, c);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static bool hwcap_is_valid(const struct gj_ldcache *c, uint64_t hwcap) {
        if (!(hwcap & GJ_LDCACHE_HWCAP_EXTENSION))
                return true; /* 0, or the legacy hwcap bits glibc < 2.37 still reads */
        return (hwcap & UINT32_MAX) < c->n_hwcaps;
}

/* The array grows in powers of two, its capacity implied by the count (the
 * next power of two, at least 8): one entry at a time, a host's ~1,000
 * libraries were ~1,000 reallocs, most of them moving the whole array past
 * the strings allocated since. Removing entries (gj_ldcache_set) only lowers
 * the implied capacity below the real one. */
static int push_entry(struct gj_ldcache *c, int32_t flags, uint64_t hwcap, char *key, char *value) {
        size_t n = c->n_entries;
        struct gj_ldcache_entry *e = c->entries;
        if (n < 8 ? n == 0 : (n & (n - 1)) == 0) {
                e = reallocarray(c->entries, n < 8 ? 8 : 2 * n, sizeof(*e));
                if (!e) {
                        free(key);
                        free(value);
                        return -ENOMEM;
                }
                c->entries = e;
        }
        e[c->n_entries++] = (struct gj_ldcache_entry){
                .flags = flags, .hwcap = hwcap, .key = key, .value = value
        };
        return 0;
}

/* An entry's flags, key and value offsets, as both formats start them: both
 * strings must be there, in strings[0, size); kept unless dropped or keep
 * (NULL: all) refuses the key. */
static int add_entry(struct gj_ldcache *c, bool (*keep)(const char *key), const uint8_t *strings,
                     size_t size, const uint8_t *e, uint64_t hwcap, bool dropped) {
        const char *key = peek_string(strings, size, get32(e + 4));
        const char *value = peek_string(strings, size, get32(e + 8));
        if (!key || !value)
                return -EBADMSG;
        if (dropped || (keep && !keep(key)))
                return 0;
        char *k = strdup(key), *v = strdup(value);
        if (!k || !v) {
                free(k);
                free(v);
                return -ENOMEM;
        }
        return push_entry(c, (int32_t)get32(e), hwcap, k, v);
}

/* The new format, its header at file + off. */
static int parse_new(const uint8_t *file, size_t file_size, size_t off, bool (*keep)(const char *key),
                     struct gj_ldcache *c) {
        const uint8_t *base = file + off;
        size_t size = file_size - off;
        if (size < NEW_HEADER || memcmp(base, MAGIC_NEW, strlen(MAGIC_NEW)) != 0)
                return -EBADMSG;
        uint32_t nlibs = get32(base + 20);
        uint8_t endian = base[28] & 3;
        if (endian != 0 && endian != ENDIAN_FLAG)
                return -EBADMSG;
        if ((size - NEW_HEADER) / NEW_ENTRY < nlibs)
                return -EBADMSG;
        int r = parse_extensions(file, file_size, get32(base + 32), base, size, c);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < nlibs; i++) {
                const uint8_t *e = base + NEW_HEADER + (size_t)NEW_ENTRY * i;
                uint64_t hwcap = get64(e + 16);
                /* ld.so ignores an entry whose glibc-hwcaps index is out of range */
                r = add_entry(c, keep, base, size, e, hwcap, !hwcap_is_valid(c, hwcap));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An old-only file: entries' strings are relative to the end of the entries. */
static int parse_old(const uint8_t *data, size_t size, uint32_t nlibs, bool (*keep)(const char *key),
                     struct gj_ldcache *c) {
        size_t strtab = OLD_HEADER + (size_t)OLD_ENTRY * nlibs;
        for (uint32_t i = 0; i < nlibs; i++) {
                const uint8_t *e = data + OLD_HEADER + (size_t)OLD_ENTRY * i;
                int r = add_entry(c, keep, data + strtab, size - strtab, e, 0, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse(const uint8_t *data, size_t size, bool (*keep)(const char *key), struct gj_ldcache *c) {
        if (size >= strlen(MAGIC_NEW) && memcmp(data, MAGIC_NEW, strlen(MAGIC_NEW)) == 0)
                return parse_new(data, size, 0, keep, c);
        if (size < OLD_HEADER || memcmp(data, MAGIC_OLD, strlen(MAGIC_OLD)) != 0)
                return -EBADMSG;
        uint32_t nlibs = get32(data + 12);
        if ((size - OLD_HEADER) / OLD_ENTRY < nlibs)
                return -EBADMSG;
        /* ld.so's ALIGN_CACHE: the new header follows, aligned to 8 */
        size_t new_off = (OLD_HEADER + (size_t)OLD_ENTRY * nlibs + 7) & ~(size_t)7;
        if (new_off < size && size - new_off >= NEW_HEADER &&
            memcmp(data + new_off, MAGIC_NEW, strlen(MAGIC_NEW)) == 0)
                return parse_new(data, size, new_off, keep, c);
        return parse_old(data, size, nlibs, keep, c);
}

int gj_ldcache_parse_matching(const void *data, size_t size, bool (*keep)(const char *key),
                              struct gj_ldcache *ret) {
        struct gj_ldcache c = { 0 };
        int r = parse(data, size, keep, &c);
        if (r < 0) {
                gj_ldcache_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int gj_ldcache_parse(const void *data, size_t size, struct gj_ldcache *ret) {
        return gj_ldcache_parse_matching(data, size, NULL, ret);
}

const char *gj_ldcache_lookup(const struct gj_ldcache *c, const char *key, int32_t flags) {
        for (size_t i = 0; i < c->n_entries; i++)
                if (c->entries[i].flags == flags && c->entries[i].hwcap == 0 &&
                    streq(c->entries[i].key, key))
                        return c->entries[i].value;
        return NULL;
}

int gj_ldcache_set(struct gj_ldcache *c, const char *key, int32_t flags, const char *value) {
        size_t kept = 0;
        for (size_t i = 0; i < c->n_entries; i++) {
                struct gj_ldcache_entry *e = &c->entries[i];
                if (e->flags == flags && streq(e->key, key)) {
                        free(e->key);
                        free(e->value);
                        continue;
                }
                c->entries[kept++] = *e;
        }
        c->n_entries = kept;
        char *k = strdup(key), *v = strdup(value);
        if (!k || !v) {
                free(k);
                free(v);
                return -ENOMEM;
        }
        return push_entry(c, flags, 0, k, v);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Digit runs as glibc reads them (an int that wraps on absurd lengths). */
static int32_t digit_run(const char **p) {
        uint32_t v = 0;
        while (is_digit(**p))
                v = v * 10 + (uint32_t)(*(*p)++ - '0');
        return (int32_t)v;
}

int gj_ldcache_libcmp(const char *p1, const char *p2) {
        while (*p1 != '\0') {
                if (is_digit(*p1)) {
                        if (!is_digit(*p2))
                                return 1;
                        int32_t v1 = digit_run(&p1), v2 = digit_run(&p2);
                        if (v1 != v2)
                                return v1 < v2 ? -1 : 1;
                } else if (is_digit(*p2))
                        return -1;
                else if (*p1 != *p2)
                        return *p1 - *p2;
                else {
                        p1++;
                        p2++;
                }
        }
        return -(int)*p2;
}

/* elf/cache.c's compare(): the order ld.so's binary search expects. */
static int entry_order(const void *a, const void *b, void *userdata) {
        const struct gj_ldcache *c = userdata;
        const struct gj_ldcache_entry *e1 = *(struct gj_ldcache_entry *const *)a;
        const struct gj_ldcache_entry *e2 = *(struct gj_ldcache_entry *const *)b;
        int r = gj_ldcache_libcmp(e2->key, e1->key);
        if (r != 0)
                return r;
        if (e1->flags != e2->flags)
                return e1->flags < e2->flags ? 1 : -1;
        bool x1 = e1->hwcap & GJ_LDCACHE_HWCAP_EXTENSION,
             x2 = e2->hwcap & GJ_LDCACHE_HWCAP_EXTENSION;
        if (x1 != x2)
                return x1 ? -1 : 1;
        if (x1 &&
            (r = strcmp(c->hwcaps[e1->hwcap & UINT32_MAX], c->hwcaps[e2->hwcap & UINT32_MAX])) != 0)
                return r;
        if (e1->hwcap != e2->hwcap)
                return e1->hwcap > e2->hwcap ? 1 : -1;
        return e1 < e2 ? -1 : e1 > e2; /* stable: file order */
}

static void put32(struct strbuf *b, uint32_t v) { strbuf_append(b, &v, sizeof(v)); }

static void pad_to(struct strbuf *b, size_t align) {
        static const char zeros[8];
        if (b->len % align)
                strbuf_append(b, zeros, align - b->len % align);
}

int gj_ldcache_serialize(const struct gj_ldcache *c, char **ret, size_t *ret_size) {
        if (c->n_entries > GJ_LDCACHE_MAX / NEW_ENTRY)
                return -E2BIG;
        _cleanup_free_ const struct gj_ldcache_entry **order =
                calloc(c->n_entries + 1, sizeof(*order));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_entries; i++)
                order[i] = &c->entries[i];
        qsort_r(order, c->n_entries, sizeof(*order), entry_order, (void *)c);

        /* strings: each entry's key and value, then the hwcaps names; offsets from the header */
        size_t str_base = NEW_HEADER + NEW_ENTRY * c->n_entries;
        _cleanup_strbuf_ struct strbuf strings = { 0 }, entries = { 0 };
        for (size_t i = 0; i < c->n_entries; i++) {
                const struct gj_ldcache_entry *e = order[i];
                uint32_t key = (uint32_t)(str_base + strings.len);
                strbuf_append(&strings, e->key, strlen(e->key) + 1);
                uint32_t value = (uint32_t)(str_base + strings.len);
                strbuf_append(&strings, e->value, strlen(e->value) + 1);
                put32(&entries, (uint32_t)e->flags);
                put32(&entries, key);
                put32(&entries, value);
                put32(&entries, 0);
                strbuf_append(&entries, &e->hwcap, sizeof(e->hwcap));
        }
        _cleanup_free_ uint32_t *hwcap_offs = calloc(c->n_hwcaps + 1, sizeof(uint32_t));
        if (!hwcap_offs)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_hwcaps; i++) {
                hwcap_offs[i] = (uint32_t)(str_base + strings.len);
                strbuf_append(&strings, c->hwcaps[i], strlen(c->hwcaps[i]) + 1);
        }
        static const char generator[] = "gpujail";
        size_t len_strings = strings.len;

        _cleanup_strbuf_ struct strbuf out = { 0 };
        strbuf_append(&out, MAGIC_NEW, strlen(MAGIC_NEW));
        put32(&out, (uint32_t)c->n_entries);
        put32(&out, (uint32_t)len_strings);
        const uint8_t flags[4] = { ENDIAN_FLAG, 0, 0, 0 }; /* the flags byte, then padding */
        strbuf_append(&out, flags, sizeof(flags));
        size_t ext = (str_base + len_strings + 3) & ~(size_t)3;
        put32(&out, (uint32_t)ext);
        for (int i = 0; i < 3; i++)
                put32(&out, 0);
        strbuf_append(&out, entries.data ?: "", entries.len);
        strbuf_append(&out, strings.data ?: "", strings.len);
        pad_to(&out, 4);

        /* extension directory: the generator, and the hwcaps names when there are any */
        uint32_t count = c->n_hwcaps ? 2 : 1;
        size_t data_off = ext + 8 + 16 * count;
        put32(&out, EXTENSION_MAGIC);
        put32(&out, count);
        uint32_t gen[4] = { EXTENSION_TAG_GENERATOR, 0, (uint32_t)data_off, sizeof(generator) - 1 };
        strbuf_append(&out, gen, sizeof(gen));
        if (c->n_hwcaps) {
                size_t hw_off = (data_off + sizeof(generator) - 1 + 3) & ~(size_t)3;
                uint32_t hw[4] = { EXTENSION_TAG_HWCAPS, 0, (uint32_t)hw_off,
                                   (uint32_t)(4 * c->n_hwcaps) };
                strbuf_append(&out, hw, sizeof(hw));
        }
        strbuf_append(&out, generator, sizeof(generator) - 1);
        if (c->n_hwcaps) {
                pad_to(&out, 4);
                strbuf_append(&out, hwcap_offs, 4 * c->n_hwcaps);
        }
        if (out.oom || strings.oom || entries.oom)
                return -ENOMEM;
        if (out.len > GJ_LDCACHE_MAX)
                return -E2BIG;
        *ret_size = out.len;
        *ret = strbuf_steal(&out);
        return *ret ? 0 : -ENOMEM;
}
