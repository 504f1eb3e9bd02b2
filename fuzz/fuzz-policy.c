/* SPDX-License-Identifier: Apache-2.0 */
/* The shared-host policy file (/etc/gpujail/policy.conf): gj_policy_parse, then
 * gj_policy_grant for every user and group it names, all its groups at once. A
 * policy that parses keeps policy.h's promises (lines, names, each section once,
 * known allow bits, selector lists of one word per item); a grant's gpus list
 * joined with "," is a selector (each item once, "all"/"none"/"void" alone). */
#include "fuzz-common.h"
#include "gpujail/policy.h"
#include "gpujail/util.h"

#define PATH "fuzz.conf"

static bool alone_or_absent(char *const *v, const char *word) {
        return !strv_contains(v, word) || strv_length(v) == 1;
}

/* "all" stands alone, but for IMEX channels, which "all" does not name (policy.c). */
static bool all_alone_but_imex(char *const *v) {
        if (!strv_contains(v, "all"))
                return true;
        for (size_t i = 0; v[i]; i++)
                if (!streq(v[i], "all") && !startswith(v[i], "imex:"))
                        return false;
        return true;
}

static void check_items(char *const *v) {
        if (strv_length(v) == 0)
                abort(); /* set means at least one item */
        for (size_t i = 0; v[i]; i++)
                if (!*v[i] || v[i][strcspn(v[i], " \t,#")])
                        abort(); /* one word per item */
        if (!alone_or_absent(v, "none") || !alone_or_absent(v, "void"))
                abort();
}

static void check_section(const struct gj_policy *p, size_t i) {
        const struct gj_policy_section *s = &p->sections[i];
        if (s->line == 0 || (i > 0 && s->line <= p->sections[i - 1].line))
                abort(); /* file order */
        if ((s->scope == GJ_POLICY_DEFAULT) != !s->name ||
            (s->name && (!*s->name || s->name[strcspn(s->name, ":/,[]")])))
                abort();
        for (size_t j = 0; j < i; j++)
                if (p->sections[j].scope == s->scope && streq_ptr(p->sections[j].name, s->name))
                        abort(); /* a section appears once */
        if (!s->gpus != !s->gpus_line || (s->gpus && s->gpus_line <= s->line))
                abort();
        if (s->gpus)
                check_items(s->gpus);
        if ((s->max_gpus_line && s->max_gpus_line <= s->line) || (!s->max_gpus_line && s->max_gpus))
                abort();
        if ((s->allow & ~_GJ_ALLOW_ALL) || (!s->allow_line && s->allow) ||
            (s->allow_line && s->allow_line <= s->line))
                abort();
}

static void check_from(const char *from) {
        if (from && !startswith(from, PATH ":"))
                abort();
}

static void check_grant(const struct gj_policy *p, const char *user, char *const *groups) {
        struct gj_grant g;
        if (gj_policy_grant(p, user, groups, &g) < 0)
                abort(); /* -ENOMEM only */
        if (g.gpus) {
                check_items(g.gpus);
                for (size_t i = 0; g.gpus[i]; i++)
                        for (size_t j = 0; j < i; j++)
                                if (streq(g.gpus[i], g.gpus[j]))
                                        abort(); /* each item once */
                if (!all_alone_but_imex(g.gpus))
                        abort();
        }
        if ((g.allow & ~_GJ_ALLOW_ALL) || (!g.gpus != !g.gpus_from) ||
            (!g.max_gpus_from && g.max_gpus != GJ_POLICY_UNLIMITED))
                abort();
        check_from(g.gpus_from);
        check_from(g.max_gpus_from);
        check_from(g.allow_from);
        gj_grant_done(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        struct gj_policy p;
        if (gj_policy_parse(text, PATH, &p) < 0) {
                if (p.path || p.sections || p.n_sections)
                        abort(); /* nothing returned on error */
                return 0;
        }
        if (!streq_ptr(p.path, PATH))
                abort();
        _cleanup_strv_free_ char **groups = NULL;
        for (size_t i = 0; i < p.n_sections; i++) {
                check_section(&p, i);
                if (p.sections[i].scope == GJ_POLICY_GROUP &&
                    strv_push(&groups, strdup(p.sections[i].name)) < 0)
                        abort();
        }
        check_grant(&p, NULL, NULL);
        check_grant(&p, NULL, groups);
        for (size_t i = 0; i < p.n_sections; i++) {
                char *one[] = { p.sections[i].name, NULL };
                if (p.sections[i].scope == GJ_POLICY_USER)
                        check_grant(&p, p.sections[i].name, groups);
                else if (p.sections[i].scope == GJ_POLICY_GROUP)
                        check_grant(&p, NULL, one);
        }
        gj_policy_done(&p);
        return 0;
}
