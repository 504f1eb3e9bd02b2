/* SPDX-License-Identifier: Apache-2.0 */
/*
 * glibc's dynamic-linker cache, /etc/ld.so.cache (devices/ldcache.c).
 *
 * Pure code: bytes in, entries out, and back. Read for two purposes: the
 * host's cache says where the driver's libraries are (by SONAME), and a
 * container's cache gets entries for the libraries gpujail binds into it, so
 * that the container's ld.so and `ldconfig -p` (Triton) find them, without
 * running any ldconfig (docs/driver.md says why).
 *
 * Layouts read: new ("glibc-ld.so.cache1.1", glibc >= 2.32's default), old
 * plus new ("ld.so-1.7.0" followed by the new one, `ldconfig -c compat`) and
 * old only. Written: new only, in the order ld.so's binary search needs
 * (descending _dl_cache_libcmp, then flags descending, glibc-hwcaps entries
 * first), in this machine's byte order, with the glibc-hwcaps extension kept.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GJ_LDCACHE_MAX (64u << 20) /* a cache of 100,000 libraries is ~10 MiB */

/* FLAG_ELF_LIBC6 plus this architecture's ABI bits: the only flags ld.so
 * accepts on x86-64 and aarch64 (it compares them exactly). */
#define GJ_LDCACHE_FLAG_ELF_LIBC6 0x0003
#if defined(__x86_64__) && !defined(__ILP32__)
#define GJ_LDCACHE_FLAGS_NATIVE 0x0303
#define GJ_LDCACHE_FLAGS_32 0x0003 /* i386 (compat32) */
#elif defined(__x86_64__)
#define GJ_LDCACHE_FLAGS_NATIVE 0x0803 /* x32 */
#define GJ_LDCACHE_FLAGS_32 (-1)
#elif defined(__aarch64__)
#define GJ_LDCACHE_FLAGS_NATIVE 0x0a03
#define GJ_LDCACHE_FLAGS_32 0x0903 /* armhf */
#elif defined(__powerpc64__)
#define GJ_LDCACHE_FLAGS_NATIVE 0x0503
#define GJ_LDCACHE_FLAGS_32 (-1)
#else
#define GJ_LDCACHE_FLAGS_NATIVE GJ_LDCACHE_FLAG_ELF_LIBC6
#define GJ_LDCACHE_FLAGS_32 (-1)
#endif

/* hwcap of an entry found in a glibc-hwcaps subdirectory: this bit, the ISA
 * level in bits 32..41, the index of the subdirectory name in the low 32. */
#define GJ_LDCACHE_HWCAP_EXTENSION (UINT64_C(1) << 62)

struct gj_ldcache_entry {
        int32_t flags;
        uint64_t hwcap; /* 0 for a plain entry */
        char *key;      /* the SONAME, "libcuda.so.1" */
        char *value;    /* the path ld.so opens, "/usr/lib/x86_64-linux-gnu/libcuda.so.1" */
};

struct gj_ldcache {
        struct gj_ldcache_entry *entries; /* in file order */
        size_t n_entries;
        char **hwcaps; /* glibc-hwcaps subdirectory names, by index; NULL-terminated or NULL */
        size_t n_hwcaps;
};

/*
 * Parse a cache file's bytes. 0 and *ret filled; -EBADMSG for anything that is
 * not a cache ld.so would read (bad magic, counts or offsets past the end, a
 * string without its NUL, the other byte order); -ENOMEM. Does not log.
 * Entries whose glibc-hwcaps index is out of range are dropped, as ld.so
 * ignores them. On error *ret is empty.
 */
int gj_ldcache_parse(const void *data, size_t size, struct gj_ldcache *ret);

/* The same, keeping only the entries whose key keep() takes (the whole file is
 * still checked): what reads a host's cache for a few libraries copies those
 * alone, not its thousand others. */
int gj_ldcache_parse_matching(const void *data, size_t size, bool (*keep)(const char *key),
                              struct gj_ldcache *ret);
void gj_ldcache_done(struct gj_ldcache *c);

/* The first plain (hwcap 0) entry for key with exactly these flags: its value,
 * or NULL. Borrowed from c. */
const char *gj_ldcache_lookup(const struct gj_ldcache *c, const char *key, int32_t flags);

/* Make key (with flags) resolve to value: every entry of that key and flags,
 * glibc-hwcaps ones included (they would win over it), is replaced by one
 * plain entry. 0 or -ENOMEM; does not log. */
int gj_ldcache_set(struct gj_ldcache *c, const char *key, int32_t flags, const char *value);

/* The bytes of a new-format cache holding c's entries, sorted as ld.so needs.
 * 0, *ret (malloc'ed) and *ret_size; -ENOMEM; -E2BIG past GJ_LDCACHE_MAX.
 * Does not log. */
int gj_ldcache_serialize(const struct gj_ldcache *c, char **ret, size_t *ret_size);

/* glibc's _dl_cache_libcmp: digit runs compare as numbers, the rest bytewise. */
int gj_ldcache_libcmp(const char *a, const char *b);
