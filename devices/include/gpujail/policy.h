/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared-host policy (devices/policy.c): what a caller who is not root
 * may ask of `gpujail run`. Root itself is never checked against it.
 *
 * One root-owned file, /etc/gpujail/policy.conf (docs/policy.md):
 *
 *     # every caller who is not root
 *     [default]
 *     gpus = all
 *     max-gpus = 2
 *
 *     [group ml-team]
 *     gpus = 0,1,2,3
 *     max-gpus = 4
 *
 *     [user alice]
 *     allow = device, cap-add
 *
 * Sections: [default], [group NAME], [user NAME]; a section may appear once.
 * Keys (each at most once per section), "KEY = VALUE", spaces optional:
 *   gpus      selector list, as --gpu takes it ("all", "none", "0,2", UUIDs,
 *             PCI ids, "nvidia:1", ...): the GPUs the caller may be given.
 *             Only the list's shape is checked here (no empty item, one word
 *             per item, "none"/"void" alone); what an item names is for
 *             gj_select() on the host that enforces it.
 *   max-gpus  how many GPUs one job may hold (a number; "unlimited")
 *   allow     comma list of the privileged options the caller may use:
 *             "user" (--user: another uid, or a gid outside the caller's
 *             groups), "cap-add", "mknod" (--allow-mknod), "device" (--device),
 *             "share" (--share: lease GPUs shared with other sharing jobs);
 *             "none" for none
 * '#' starts a comment (whole lines only: "gpus = 0 # x" is an error, never
 * a silent "0"); blank lines are ignored; a line may be GJ_POLICY_LINE_MAX
 * bytes long; control characters (but tab) are refused. A [group NAME] or
 * [user NAME] name is the rest of the header, so "[group domain users]"
 * works; it may not hold ':', '/', ',', '[' or ']'.
 *
 * What a caller gets, key by key: built-in defaults (every GPU, no limit,
 * nothing privileged), replaced by [default]'s, replaced by the caller's
 * groups' (when several of the caller's groups set a key: gpus and allow are
 * their union, max-gpus the largest), replaced by [user NAME]'s.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <stddef.h>
#include <sys/types.h>

#define GJ_POLICY_PATH "/etc/gpujail/policy.conf"
#define GJ_POLICY_MAX (1u << 20)     /* bytes; a larger file is refused */
#define GJ_POLICY_LINE_MAX 4096      /* bytes of one line, newline excluded */
#define GJ_POLICY_ITEMS_MAX 256      /* items of one gpus or allow list: a host has far fewer GPUs */
#define GJ_POLICY_BUILTIN "<built-in>" /* gj_policy.path when there is no file */
#define GJ_POLICY_UNLIMITED ((unsigned)-1)

enum gj_policy_allow {
        GJ_ALLOW_USER = 1u << 0,    /* --user */
        GJ_ALLOW_CAP_ADD = 1u << 1, /* --cap-add */
        GJ_ALLOW_MKNOD = 1u << 2,   /* --allow-mknod */
        GJ_ALLOW_DEVICE = 1u << 3,  /* --device */
        GJ_ALLOW_SHARE = 1u << 4,   /* --share: a GPU that other jobs share too */
        _GJ_ALLOW_ALL = (1u << 5) - 1,
};
/* "user", "cap-add", "mknod", "device", "share" for one bit; NULL for anything else. */
const char *gj_policy_allow_name(unsigned bit);
/* The command-line option a bit stands for: "--user", "--cap-add", ...; NULL as above. */
const char *gj_policy_allow_option(unsigned bit);

enum gj_policy_scope {
        GJ_POLICY_DEFAULT,
        GJ_POLICY_GROUP,
        GJ_POLICY_USER,
};
/* "default", "group", "user" (the header's word, and `policy check --json`'s "scope"). */
const char *gj_policy_scope_name(enum gj_policy_scope scope);

/* One section as written. A key's *_line is the line it is on (for
 * "<path>:<line>" in messages); 0 = the section does not set it. */
struct gj_policy_section {
        enum gj_policy_scope scope;
        char *name;   /* user or group name; NULL for [default] */
        unsigned line; /* of the [section] header */
        char **gpus;  /* NULL-terminated selector strings; NULL when not set */
        unsigned gpus_line;
        unsigned max_gpus;
        unsigned max_gpus_line;
        unsigned allow; /* enum gj_policy_allow bits */
        unsigned allow_line;
};

struct gj_policy {
        char *path; /* what it was read from, for messages (GJ_POLICY_BUILTIN when no file) */
        struct gj_policy_section *sections; /* in file order */
        size_t n_sections;
};

/* Pure: parse text. -EBADMSG, logged as "<path>:<line>: what is wrong", for a
 * malformed line, an unknown section, key or allow word, a repeated section
 * or key, a bad number, a key outside a section, text after a value, a line
 * over GJ_POLICY_LINE_MAX, a list over GJ_POLICY_ITEMS_MAX. Every bad line is logged, not only the first (the
 * keys under a refused header are skipped). -ENOMEM. On error *ret is empty.
 * path is only used in messages and kept in ret. */
int gj_policy_parse(const char *text, const char *path, struct gj_policy *ret);
/*
 * Read and parse the file at path (GJ_POLICY_PATH). A missing file (or
 * directory) is no error: an empty policy (the built-in defaults), path
 * GJ_POLICY_BUILTIN. Fail closed, -EPERM logged naming the file and what is
 * wrong: the file or its directory is not owned by root, or is writable by
 * group or others (a POSIX ACL that grants write shows as group write), or
 * the file is not a regular file (opened O_NOFOLLOW; a symlink is refused),
 * or the directory is a symlink. The directory is checked through the fd the
 * file is then opened from, so what is checked is what is read; its parents
 * are not checked. -EFBIG over GJ_POLICY_MAX, -EBADMSG for a NUL byte or a
 * parse error. Every error is logged.
 */
int gj_policy_load(const char *path, struct gj_policy *ret);
void gj_policy_done(struct gj_policy *p);

/* What one caller gets (pure). */
struct gj_grant {
        /* NULL-terminated selectors whose union may be given; NULL: every GPU (built-in).
         * Each item once; "all" alone when any item is "all"; "none"/"void" only alone
         * (a union of groups drops them beside real items), so the list joined with ","
         * is a valid selector. */
        char **gpus;
        unsigned max_gpus;  /* GJ_POLICY_UNLIMITED: no limit */
        unsigned allow;     /* enum gj_policy_allow bits */
        /* "<path>:<line>" of the line that decided each, or NULL for a built-in default */
        char *gpus_from;
        char *max_gpus_from;
        char *allow_from;
};
/* user: the caller's name (NULL: matches no [user] section); groups: the
 * names of all the caller's groups (primary included), NULL-terminated (NULL:
 * none). Group sections are visited in file order, so for a union of several
 * groups *_from names the first group's line; for max-gpus the line of the
 * largest (the first of equals). -ENOMEM only, not logged. */
int gj_policy_grant(const struct gj_policy *p, const char *user, char *const *groups,
                    struct gj_grant *ret);
void gj_grant_done(struct gj_grant *g);

/* The names of groups, for gj_policy_grant(): getgrgid() of each gid (reads
 * NSS, changes nothing), each name once; a gid without a name is left out (no
 * section can name it). NULL-terminated, never NULL on success. -ENOMEM, or the
 * error getgrgid() reports; not logged. */
int gj_policy_group_names(const gid_t *gids, size_t n, char ***ret);
