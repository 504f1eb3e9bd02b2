/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared-host policy (gpujail/policy.h, docs/policy.md): the parser (pure),
 * the loader that trusts only a root-owned file in a root-owned directory, and
 * what one caller gets.
 *
 * Users cannot write this file, but root can get it wrong, and a wrong line
 * here widens what every caller gets. So a line means exactly one thing or it
 * is an error that names it: no trailing comments that might be a value, no
 * ignored keys, no second [section] that silently merges; and a file that
 * anyone but root could have written is not read at all.
 */
#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <sys/stat.h>

#include "gpujail/policy.h"
#include "gpujail/root-file.h"
#include "gpujail/util.h"

/* ---- names ---- */

static const struct allow_word {
        unsigned bit;
        const char *name, *option;
} allow_words[] = {
        { GJ_ALLOW_USER, "user", "--user" },
        { GJ_ALLOW_CAP_ADD, "cap-add", "--cap-add" },
        { GJ_ALLOW_MKNOD, "mknod", "--allow-mknod" },
        { GJ_ALLOW_DEVICE, "device", "--device" },
        { GJ_ALLOW_SHARE, "share", "--share" },
};

static const struct allow_word *allow_word_of_bit(unsigned bit) {
        for (size_t i = 0; i < ELEMENTSOF(allow_words); i++)
                if (allow_words[i].bit == bit)
                        return &allow_words[i];
        return NULL;
}

const char *gj_policy_allow_name(unsigned bit) {
        const struct allow_word *w = allow_word_of_bit(bit);
        return w ? w->name : NULL;
}

const char *gj_policy_allow_option(unsigned bit) {
        const struct allow_word *w = allow_word_of_bit(bit);
        return w ? w->option : NULL;
}

static const char *const scope_names[] = {
        [GJ_POLICY_DEFAULT] = "default",
        [GJ_POLICY_GROUP] = "group",
        [GJ_POLICY_USER] = "user",
};

const char *gj_policy_scope_name(enum gj_policy_scope scope) {
        return (size_t)scope < ELEMENTSOF(scope_names) ? scope_names[scope] : NULL;
}

static int scope_from_word(const char *word) {
        for (size_t i = 0; i < ELEMENTSOF(scope_names); i++)
                if (streq(word, scope_names[i]))
                        return (int)i;
        return -EINVAL;
}

static const struct gj_policy_section *find_section(const struct gj_policy *p,
                                                    enum gj_policy_scope scope, const char *name) {
        for (size_t i = 0; i < p->n_sections; i++)
                if (p->sections[i].scope == scope && streq_ptr(p->sections[i].name, name))
                        return &p->sections[i];
        return NULL;
}

/* ---- the parser ---- */

#define HEADERS "[default], [group NAME] or [user NAME]"

struct parser {
        const char *path;
        unsigned line;
        struct gj_policy *policy;
        struct gj_policy_section *cur; /* NULL before the first header and after a bad one */
        bool skipping;                 /* after a bad header: its keys would only add noise */
        bool failed;
};

/* Logs "<path>:<line>: ..." and returns -EBADMSG; parsing goes on with the next
 * line, so that one run of `gpujail policy check` shows every mistake. */
static int parse_error(struct parser *ps, const char *fmt, ...) _printf_(2, 3);
static int parse_error(struct parser *ps, const char *fmt, ...) {
        char *msg;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        log_error("%s:%u: %s", ps->path, ps->line, msg ? msg : "(out of memory)");
        free(msg);
        ps->failed = true;
        return -EBADMSG;
}

static char *strip(char *s) {
        s += strspn(s, " \t");
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = 0;
        return s;
}

/* A value item is one word: whatever follows it is an error, never ignored. */
static int check_one_word(struct parser *ps, const char *key, const char *item) {
        size_t k = strcspn(item, " \t");
        if (!item[k])
                return 0;
        const char *rest = item + k + strspn(item + k, " \t");
        return parse_error(ps, "%s: unexpected '%s' after '%.*s' (items are separated by commas)",
                           key, rest, (int)k, item);
}

/* "a, b,c" -> {"a", "b", "c"}: no empty item, one word each, GJ_POLICY_ITEMS_MAX
 * at most (a grant's union of groups compares items pairwise). */
static int split_items(struct parser *ps, const char *key, char *value, char ***ret) {
        _cleanup_strv_free_ char **items = NULL;
        unsigned n = 0;
        for (char *p = value;; n++) {
                if (n == GJ_POLICY_ITEMS_MAX)
                        return parse_error(ps, "%s: more than %u items", key, GJ_POLICY_ITEMS_MAX);
                char *comma = strchr(p, ',');
                if (comma)
                        *comma = 0;
                char *item = strip(p);
                if (!*item)
                        return parse_error(ps, "%s: an empty item in the list", key);
                int r = check_one_word(ps, key, item);
                if (r < 0)
                        return r;
                r = strv_push(&items, strdup(item));
                if (r < 0)
                        return r;
                if (!comma)
                        break;
                p = comma + 1;
        }
        *ret = TAKE_PTR(items);
        return 0;
}

static int check_alone(struct parser *ps, const char *key, char *const *items, const char *word) {
        if (strv_length(items) > 1 && strv_contains(items, word))
                return parse_error(ps, "%s: '%s' must stand alone", key, word);
        return 0;
}

static int parse_gpus(struct parser *ps, const char *key, char *value) {
        _cleanup_strv_free_ char **items = NULL;
        int r = split_items(ps, key, value, &items);
        if (r < 0)
                return r;
        if ((r = check_alone(ps, key, items, "none")) < 0 ||
            (r = check_alone(ps, key, items, "void")) < 0)
                return r;
        ps->cur->gpus = TAKE_PTR(items);
        return 0;
}

static int parse_max_gpus(struct parser *ps, const char *key, char *value) {
        int r = check_one_word(ps, key, value);
        if (r < 0)
                return r;
        if (streq(value, "unlimited")) {
                ps->cur->max_gpus = GJ_POLICY_UNLIMITED;
                return 0;
        }
        if (safe_atou(value, &ps->cur->max_gpus) < 0)
                return parse_error(ps, "%s: '%s' is not a number (or 'unlimited')", key, value);
        return 0;
}

static int parse_allow(struct parser *ps, const char *key, char *value) {
        _cleanup_strv_free_ char **items = NULL;
        unsigned bits = 0;
        int r = split_items(ps, key, value, &items);
        if (r < 0)
                return r;
        if ((r = check_alone(ps, key, items, "none")) < 0)
                return r;
        for (size_t i = 0; items[i]; i++) {
                if (streq(items[i], "none"))
                        continue;
                size_t w = 0;
                while (w < ELEMENTSOF(allow_words) && !streq(items[i], allow_words[w].name))
                        w++;
                if (w == ELEMENTSOF(allow_words))
                        return parse_error(ps, "%s: unknown word '%s' (expected %s)", key, items[i],
                                           "user, cap-add, mknod, device, share or none");
                bits |= allow_words[w].bit;
        }
        ps->cur->allow = bits;
        return 0;
}

static const struct policy_key {
        const char *name;
        size_t line_offset; /* of the section's *_line field: 0 = not set yet */
        int (*parse)(struct parser *ps, const char *key, char *value);
} policy_keys[] = {
        { "gpus", offsetof(struct gj_policy_section, gpus_line), parse_gpus },
        { "max-gpus", offsetof(struct gj_policy_section, max_gpus_line), parse_max_gpus },
        { "allow", offsetof(struct gj_policy_section, allow_line), parse_allow },
};

static const struct policy_key *find_key(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(policy_keys); i++)
                if (streq(name, policy_keys[i].name))
                        return &policy_keys[i];
        return NULL;
}

static int parse_assignment(struct parser *ps, char *l) {
        if (ps->skipping)
                return 0;
        if (!ps->cur)
                return parse_error(ps, "a key outside a section: start with %s", HEADERS);
        char *eq = strchr(l, '=');
        if (!eq)
                return parse_error(ps, "expected KEY = VALUE or a [section], got '%s'", l);
        *eq = 0;
        char *key = strip(l), *value = strip(eq + 1);
        const struct policy_key *k = find_key(key);
        if (!k)
                return parse_error(ps, "unknown key '%s' (expected gpus, max-gpus or allow)", key);
        unsigned *line = (unsigned *)((char *)ps->cur + k->line_offset);
        if (*line)
                return parse_error(ps, "%s again in this section (first at line %u)", key, *line);
        if (!*value)
                return parse_error(ps, "%s has no value", key);
        if (strchr(value, '#'))
                return parse_error(ps, "%s: '#' in a value; a comment must be on a line of its own",
                                   key);
        int r = k->parse(ps, key, value);
        if (r < 0)
                return r;
        *line = ps->line;
        return 0;
}

/* User and group names as NSS gives them may hold almost anything ("domain
 * users"); not what /etc/passwd and /etc/group use as separators, nor brackets. */
static bool valid_name(const char *name) {
        return *name && strlen(name) <= 256 && !name[strcspn(name, ":/,[]")];
}

static int add_section(struct parser *ps, enum gj_policy_scope scope, const char *name) {
        struct gj_policy *p = ps->policy;
        struct gj_policy_section *s = realloc(p->sections, (p->n_sections + 1) * sizeof(*s));
        if (!s)
                return -ENOMEM;
        p->sections = s;
        s = &p->sections[p->n_sections];
        *s = (struct gj_policy_section){ .scope = scope, .line = ps->line };
        if (name && !(s->name = strdup(name)))
                return -ENOMEM;
        p->n_sections++;
        ps->cur = s;
        ps->skipping = false;
        return 0;
}

static int parse_header(struct parser *ps, char *l) {
        ps->cur = NULL;
        ps->skipping = true; /* until this header proves good */
        char *end = strchr(l, ']');
        if (!end)
                return parse_error(ps, "'[' without ']' (expected %s)", HEADERS);
        const char *after = end + 1 + strspn(end + 1, " \t");
        if (*after)
                return parse_error(ps, "unexpected '%s' after ']'%s", after,
                                   *after == '#' ? "; a comment must be on a line of its own" : "");
        *end = 0;
        char *word = strip(l + 1), *name = word + strcspn(word, " \t");
        if (*name)
                *name++ = 0;
        name = strip(name);

        int scope = scope_from_word(word);
        if (scope < 0)
                return parse_error(ps, "unknown section [%s] (expected %s)", word, HEADERS);
        if (scope == GJ_POLICY_DEFAULT && *name)
                return parse_error(ps, "[default] takes no name (got '%s')", name);
        if (scope != GJ_POLICY_DEFAULT && !*name)
                return parse_error(ps, "[%s] without a name: write [%s NAME]", word, word);
        if (scope != GJ_POLICY_DEFAULT && !valid_name(name))
                return parse_error(ps, "bad %s name '%s' (%s)", word, name,
                                   "at most 256 bytes, without ':', '/', ',', '[' or ']'");
        const struct gj_policy_section *dup = find_section(ps->policy, scope, *name ? name : NULL);
        if (dup)
                return parse_error(ps,
                                   "[%s%s%s] again (first at line %u); a section may appear once",
                                   word, *name ? " " : "", name, dup->line);
        return add_section(ps, scope, *name ? name : NULL);
}

static int parse_line(struct parser *ps, const char *s, size_t n) {
        if (n > GJ_POLICY_LINE_MAX)
                return parse_error(ps, "line longer than %u bytes", GJ_POLICY_LINE_MAX);
        _cleanup_free_ char *buf = malloc(n + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, s, n); /* not strndup(): the line is not NUL-terminated */
        buf[n] = 0;
        if (n > 0 && buf[n - 1] == '\r')
                buf[--n] = 0; /* written on Windows */
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)buf[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return parse_error(ps, "control character 0x%02x in column %zu", c, i + 1);
        }
        char *l = strip(buf);
        if (!*l || *l == '#')
                return 0;
        if (*l == '[')
                return parse_header(ps, l);
        return parse_assignment(ps, l);
}

int gj_policy_parse(const char *text, const char *path, struct gj_policy *ret) {
        _cleanup_(gj_policy_done) struct gj_policy p = {};
        struct parser ps = { .path = path, .policy = &p };

        *ret = (struct gj_policy){};
        /* memchr() with the length left, not strcspn(): each line costs its own length,
         * also where every string function scans to the NUL (ASan's strict_string_checks) */
        const char *end = text + strlen(text);
        for (const char *s = text; s < end;) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
                ps.line++;
                if (parse_line(&ps, s, n) == -ENOMEM)
                        return -ENOMEM;
                s += n + (nl != NULL);
        }
        if (ps.failed)
                return -EBADMSG;
        if (!(p.path = strdup(path)))
                return -ENOMEM;
        *ret = p;
        p = (struct gj_policy){};
        return 0;
}

void gj_policy_done(struct gj_policy *p) {
        for (size_t i = 0; i < p->n_sections; i++) {
                free(p->sections[i].name);
                strv_free(p->sections[i].gpus);
        }
        free(p->sections);
        free(p->path);
        *p = (struct gj_policy){};
}

/* ---- the loader ---- */

static int builtin_policy(const char *path, struct gj_policy *ret) {
        log_debug("no policy file %s: the built-in defaults", path);
        if (!(ret->path = strdup(GJ_POLICY_BUILTIN)))
                return log_error_errno(-ENOMEM, "policy file %s: %m", path);
        return 0;
}

/* The ownership checks, bounds and "no file: built-in" are gj_read_root_file()'s,
 * shared with the hook's hook.conf. */
int gj_policy_load(const char *path, struct gj_policy *ret) {
        _cleanup_free_ char *text = NULL;
        *ret = (struct gj_policy){};
        int r = gj_read_root_file(path, "policy file", GJ_POLICY_MAX, &text);
        if (r < 0)
                return r;
        if (r == 0)
                return builtin_policy(path, ret);
        r = gj_policy_parse(text, path, ret);
        if (r == -ENOMEM)
                return log_error_errno(r, "cannot parse the policy file %s: %m", path);
        return r;
}

/* ---- what one caller gets ---- */

static bool is_no_gpu(const char *item) { return streq(item, "none") || streq(item, "void"); }

/* Append the items of add that *v does not hold yet. */
static int strv_extend_unique(char ***v, char *const *add) {
        for (size_t i = 0; add && add[i]; i++) {
                if (strv_contains(*v, add[i]))
                        continue;
                int r = strv_push(v, strdup(add[i]));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A union of selector lists as one valid selector: "all" covers the rest but IMEX
 * channels, which "all" does not name (they stay beside it); "none" and "void" (no
 * GPU) add nothing beside a GPU, and "void" nothing beside "none". */
static int normalize_gpus(char ***v) {
        bool real = false;
        for (size_t i = 0; (*v)[i]; i++)
                real = real || !is_no_gpu((*v)[i]);
        const char *only = strv_contains(*v, "all")    ? "all"
                           : real                      ? NULL
                           : strv_contains(*v, "none") ? "none"
                                                       : "void";
        if (only) {
                _cleanup_strv_free_ char **old = *v;
                *v = NULL;
                int r = strv_push(v, strdup(only));
                for (size_t i = 0; r >= 0 && streq(only, "all") && old[i]; i++)
                        if (startswith(old[i], "imex:"))
                                r = strv_push(v, strdup(old[i]));
                return r;
        }
        size_t j = 0;
        for (size_t i = 0; (*v)[i]; i++)
                if (is_no_gpu((*v)[i]))
                        free((*v)[i]);
                else
                        (*v)[j++] = (*v)[i];
        (*v)[j] = NULL;
        return 0;
}

static int set_from(char **from, const struct gj_policy *p, unsigned line) {
        free(*from);
        *from = strprintf("%s:%u", p->path, line);
        return *from ? 0 : -ENOMEM;
}

/* Each key the section sets replaces what the grant had. */
static int apply_section(const struct gj_policy *p, const struct gj_policy_section *s,
                         struct gj_grant *g) {
        int r;
        if (!s)
                return 0;
        if (s->gpus) {
                strv_free(g->gpus);
                g->gpus = NULL;
                if ((r = strv_extend_unique(&g->gpus, s->gpus)) < 0 ||
                    (r = normalize_gpus(&g->gpus)) < 0 ||
                    (r = set_from(&g->gpus_from, p, s->gpus_line)) < 0)
                        return r;
        }
        if (s->max_gpus_line) {
                g->max_gpus = s->max_gpus;
                if ((r = set_from(&g->max_gpus_from, p, s->max_gpus_line)) < 0)
                        return r;
        }
        if (s->allow_line) {
                g->allow = s->allow;
                if ((r = set_from(&g->allow_from, p, s->allow_line)) < 0)
                        return r;
        }
        return 0;
}

/* The caller's groups, folded into one section: gpus and allow their union,
 * max-gpus the largest; each line the first group's (file order). */
static int apply_groups(const struct gj_policy *p, char *const *groups, struct gj_grant *g) {
        _cleanup_strv_free_ char **gpus = NULL;
        struct gj_policy_section u = { .scope = GJ_POLICY_GROUP };
        for (size_t i = 0; i < p->n_sections; i++) {
                const struct gj_policy_section *s = &p->sections[i];
                if (s->scope != GJ_POLICY_GROUP || !strv_contains(groups, s->name))
                        continue;
                if (s->gpus) {
                        int r = strv_extend_unique(&gpus, s->gpus);
                        if (r < 0)
                                return r;
                        u.gpus_line = u.gpus_line ? u.gpus_line : s->gpus_line;
                }
                if (s->max_gpus_line && (!u.max_gpus_line || s->max_gpus > u.max_gpus)) {
                        u.max_gpus = s->max_gpus;
                        u.max_gpus_line = s->max_gpus_line;
                }
                if (s->allow_line) {
                        u.allow |= s->allow;
                        u.allow_line = u.allow_line ? u.allow_line : s->allow_line;
                }
        }
        u.gpus = gpus;
        return apply_section(p, &u, g);
}

int gj_policy_grant(const struct gj_policy *p, const char *user, char *const *groups,
                    struct gj_grant *ret) {
        _cleanup_(gj_grant_done) struct gj_grant g = { .max_gpus = GJ_POLICY_UNLIMITED };
        int r;

        *ret = (struct gj_grant){ .max_gpus = GJ_POLICY_UNLIMITED };
        if ((r = apply_section(p, find_section(p, GJ_POLICY_DEFAULT, NULL), &g)) < 0 ||
            (r = apply_groups(p, groups, &g)) < 0 ||
            (r = apply_section(p, user ? find_section(p, GJ_POLICY_USER, user) : NULL, &g)) < 0)
                return r;
        *ret = g;
        g = (struct gj_grant){};
        return 0;
}

void gj_grant_done(struct gj_grant *g) {
        strv_free(g->gpus);
        free(g->gpus_from);
        free(g->max_gpus_from);
        free(g->allow_from);
        *g = (struct gj_grant){ .max_gpus = GJ_POLICY_UNLIMITED };
}

int gj_policy_group_names(const gid_t *gids, size_t n, char ***ret) {
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                errno = 0;
                const struct group *gr = getgrgid(gids[i]);
                if (!gr && errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF &&
                    errno != EPERM)
                        return -errno; /* NSS failed: a group section might be missed */
                if (!gr || strv_contains(names, gr->gr_name))
                        continue;
                int r = strv_push(&names, strdup(gr->gr_name));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(names);
        return 0;
}
