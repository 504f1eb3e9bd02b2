/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail policy check: is the shared-host policy valid, and what does it give whom. */
#include <getopt.h>
#include <grp.h>
#include <json-c/json.h>
#include <pwd.h>

#include "cli.h"
#include "gpujail/json-util.h"
#include "gpujail/launcher.h"
#include "gpujail/policy.h"
#include "gpujail/util.h"

static void policy_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail policy check [FILE] [--user NAME] [--json]\n"
                "\n"
                "Check the shared-host policy, the root-owned file that says what a caller who\n"
                "is not root may ask of 'gpujail run': which GPUs, how many at once, which\n"
                "privileged options. Root itself is never limited by it.\n"
                "\n"
                "FILE defaults to " GJ_POLICY_PATH ". The checks are those of 'gpujail\n"
                "run': the file is refused unless it is a regular file and it and its directory\n"
                "are owned by root and not writable by group or others; each malformed line is\n"
                "reported as FILE:LINE: what is wrong. A missing file is valid: the built-in\n"
                "defaults (every GPU, no limit, nothing privileged).\n"
                "\n"
                "Prints what [default] gives and what each group and user the file names gets,\n"
                "with the line that decided each value; with --user, what one user gets.\n"
                "\n"
                "Options:\n"
                "  -u, --user NAME  what this user gets, with their groups as this host has them\n"
                "      --json       print the grants as JSON\n"
                "  -h, --help       this text\n"
                "\n"
                "The file (docs/policy.md):\n"
                "  # every caller who is not root\n"
                "  [default]\n"
                "  gpus = all\n"
                "  max-gpus = 2\n"
                "\n"
                "  [group ml-team]\n"
                "  gpus = 0,1,2,3\n"
                "  max-gpus = 4\n"
                "\n"
                "  [user alice]\n"
                "  allow = device, cap-add\n"
                "\n"
                "Keys, each at most once per section:\n"
                "  gpus      the GPUs the caller may be given, a selector list as --gpu takes it\n"
                "            (all, none, 0,2, nvidia:1, GPU-<uuid>, 0000:3b:00.0)\n"
                "  max-gpus  how many GPUs one job may hold: a number, or unlimited\n"
                "  allow     the privileged options of 'gpujail run' the caller may use: user\n"
                "            (--user), cap-add (--cap-add), mknod (--allow-mknod), device\n"
                "            (--device); none for none\n"
                "Key by key, each of these replaces the one before: the built-in defaults,\n"
                "[default], the caller's [group NAME] sections (when several set a key: gpus and\n"
                "allow are their union, max-gpus the largest), [user NAME]. Above, alice in\n"
                "ml-team gets GPUs 0-3, 4 at once, --device and --cap-add. '#' starts a comment\n"
                "on a line of its own; a '#' after a value is an error, never a comment.\n"
                "\n"
                "Examples:\n"
                "  gpujail policy check\n"
                "  gpujail policy check --user alice\n"
                "  gpujail policy check /etc/gpujail/policy.conf --json\n"
                "  sudo install -o root -g root -m 0644 policy.conf " GJ_POLICY_PATH "\n"
                "\n"
                "Exit status: 0 when the file is valid (or absent); 125 when it is refused (a\n"
                "malformed line, wrong owner or mode, not a regular file), for an unknown --user,\n"
                "or a bad option.\n");
}

/* One grant to show: of [default], of a group's members, or of a user. */
struct entry {
        enum gj_policy_scope scope;
        const char *name;
        unsigned line;     /* of the section; 0: none (the built-in [default]) */
        char **groups;     /* a user's groups as this host has them */
        bool unknown_user; /* a [user NAME] that this host does not know */
        bool asked;        /* --user NAME, which need not have a section */
        struct gj_grant grant;
};

struct entries {
        struct entry *v;
        size_t n;
};

static void entries_done(struct entries *e) {
        for (size_t i = 0; i < e->n; i++) {
                strv_free(e->v[i].groups);
                gj_grant_done(&e->v[i].grant);
        }
        free(e->v);
}

/* The user's groups, primary included, by name (getpwnam, getgrouplist).
 * -ESRCH, not logged, when there is no such user; other errors logged. */
static int user_groups(const char *name, char ***ret) {
        errno = 0;
        const struct passwd *pw = getpwnam(name);
        if (!pw && errno != 0 && errno != ENOENT && errno != ESRCH)
                return log_error_errno(-errno, "cannot look up the user %s: %m", name);
        if (!pw)
                return -ESRCH;
        _cleanup_free_ gid_t *gids = NULL;
        int n = 0;
        int r = gj_user_groups(name, pw->pw_gid, &gids, &n);
        if (r < 0)
                return r;
        r = gj_policy_group_names(gids, (size_t)n, ret);
        if (r < 0)
                return log_error_errno(r, "cannot look up the groups of %s: %m", name);
        return 0;
}

/* Fill in one entry's grant: a user with their host groups, a group alone. */
static int entry_resolve(const struct gj_policy *p, struct entry *e) {
        int r;
        if (e->scope == GJ_POLICY_USER) {
                r = user_groups(e->name, &e->groups);
                if (r < 0 && r != -ESRCH)
                        return r;
                e->unknown_user = r == -ESRCH;
        }
        char *one[] = { (char *)e->name, NULL };
        r = gj_policy_grant(p, e->scope == GJ_POLICY_USER ? e->name : NULL,
                            e->scope == GJ_POLICY_GROUP ? one : e->groups, &e->grant);
        if (r < 0)
                return log_error_errno(r, "cannot resolve the policy: %m");
        return 0;
}

static int entries_add(struct entries *es, const struct gj_policy *p, const struct entry *e) {
        struct entry *v = realloc(es->v, (es->n + 1) * sizeof(*v));
        if (!v)
                return log_error_errno(-ENOMEM, "cannot resolve the policy: %m");
        es->v = v;
        v[es->n] = *e;
        return entry_resolve(p, &v[es->n++]);
}

static unsigned section_line(const struct gj_policy *p, enum gj_policy_scope scope,
                             const char *name) {
        for (size_t i = 0; i < p->n_sections; i++)
                if (p->sections[i].scope == scope && streq_ptr(p->sections[i].name, name))
                        return p->sections[i].line;
        return 0;
}

static int entries_of_user(const struct gj_policy *p, const char *user, struct entries *es) {
        struct entry e = { .scope = GJ_POLICY_USER, .name = user, .asked = true };
        e.line = section_line(p, GJ_POLICY_USER, user);
        int r = entries_add(es, p, &e);
        if (r < 0)
                return r;
        if (es->v[0].unknown_user)
                return log_error_errno(-ESRCH, "no user '%s' on this host", user);
        return 0;
}

/* [default] first (the built-in one when the file has none), then each section in file order. */
static int entries_of_sections(const struct gj_policy *p, struct entries *es) {
        int r = entries_add(es, p,
                            &(struct entry){ .scope = GJ_POLICY_DEFAULT,
                                             .line = section_line(p, GJ_POLICY_DEFAULT, NULL) });
        for (size_t i = 0; r >= 0 && i < p->n_sections; i++) {
                const struct gj_policy_section *s = &p->sections[i];
                struct entry e = { .scope = s->scope, .name = s->name, .line = s->line };
                if (s->scope != GJ_POLICY_DEFAULT)
                        r = entries_add(es, p, &e);
        }
        return r;
}

/* ---- text ---- */

static char *allow_string(unsigned allow) {
        _cleanup_strv_free_ char **words = NULL;
        for (unsigned bit = 1; bit & _GJ_ALLOW_ALL; bit <<= 1)
                if ((allow & bit) && strv_push(&words, strdup(gj_policy_allow_name(bit))) < 0)
                        return NULL;
        return words ? strv_join(words, ", ") : strdup("none");
}

static void print_value(const char *key, const char *value, const char *from) {
        printf("  %-9s %-24s %s\n", key, value ? value : "(out of memory)",
               from ? from : "built-in");
}

static void print_title(const struct entry *e) {
        if (e->asked)
                printf("user %s", e->name);
        else if (e->scope == GJ_POLICY_DEFAULT)
                printf("[default]");
        else
                printf("[%s %s]", gj_policy_scope_name(e->scope), e->name);
        if (!e->asked && e->line)
                printf(" (line %u)", e->line);
        if (!e->line && e->scope == GJ_POLICY_DEFAULT)
                printf(" (none in the file: built-in)");
        if (e->scope == GJ_POLICY_GROUP)
                printf(", for a member of no other group the file names");
        if (e->unknown_user)
                printf(", not a user of this host, so without groups");
        if (e->scope == GJ_POLICY_USER && !e->unknown_user && strv_length(e->groups) == 0)
                printf(", without groups");
        if (e->scope == GJ_POLICY_USER && !e->unknown_user && strv_length(e->groups) > 0) {
                _cleanup_free_ char *groups = strv_join(e->groups, ", ");
                printf(", with the groups %s", groups ? groups : "(out of memory)");
        }
        printf(":\n");
        if (e->scope == GJ_POLICY_USER && streq(e->name, "root"))
                printf("  (root is never limited by the policy: this is only what the file says)\n");
}

static void print_entry(const struct entry *e) {
        const struct gj_grant *g = &e->grant;
        print_title(e);
        _cleanup_free_ char *gpus = g->gpus ? strv_join(g->gpus, ",") : strdup("every GPU");
        _cleanup_free_ char *allow = allow_string(g->allow);
        char max[16] = "unlimited";
        if (g->max_gpus != GJ_POLICY_UNLIMITED)
                snprintf(max, sizeof(max), "%u", g->max_gpus);
        print_value("gpus", gpus, g->gpus_from);
        print_value("max-gpus", max, g->max_gpus_from);
        print_value("allow", allow, g->allow_from);
}

static int print_text(const struct gj_policy *p, const char *file, const struct entries *es) {
        if (streq(p->path, GJ_POLICY_BUILTIN))
                printf("%s: no such file; the built-in defaults apply\n", file);
        else
                printf("%s: valid, %zu section%s\n", file, p->n_sections,
                       p->n_sections == 1 ? "" : "s");
        for (size_t i = 0; i < es->n; i++) {
                printf("\n");
                print_entry(&es->v[i]);
        }
        return fflush(stdout) == 0 ? 0 : GJ_EXIT_FAILURE;
}

/* ---- JSON ---- */

/* key: the strings, or null when there is no vector (not set). */
static int json_add_strv_or_null(struct json_object *o, const char *key, char *const *v) {
        return v ? gj_json_add(o, key, gj_json_new_strv(v)) : gj_json_add_null(o, key);
}

static struct json_object *from_to_json(const struct gj_grant *g) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_string(o, "gpus", g->gpus_from) < 0 ||
            gj_json_add_string(o, "max_gpus", g->max_gpus_from) < 0 ||
            gj_json_add_string(o, "allow", g->allow_from) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *allow_to_json(unsigned allow) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        for (unsigned bit = 1; a && (bit & _GJ_ALLOW_ALL); bit <<= 1) {
                const char *name = allow & bit ? gj_policy_allow_name(bit) : NULL;
                if (name && gj_json_append(a, json_object_new_string(name)) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static struct json_object *entry_to_json(const struct entry *e) {
        const struct gj_grant *g = &e->grant;
        bool limited = g->max_gpus != GJ_POLICY_UNLIMITED;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        if (!o || gj_json_add_string(o, "scope", gj_policy_scope_name(e->scope)) < 0 ||
            gj_json_add_string(o, "name", e->name) < 0 ||
            gj_json_add_int_or_null(o, "line", e->line, e->line > 0) < 0 ||
            json_add_strv_or_null(o, "gpus", g->gpus) < 0 ||
            gj_json_add_int_or_null(o, "max_gpus", g->max_gpus, limited) < 0 ||
            gj_json_add(o, "allow", allow_to_json(g->allow)) < 0 ||
            gj_json_add(o, "from", from_to_json(g)) < 0)
                return NULL;
        if (e->scope == GJ_POLICY_USER &&
            json_add_strv_or_null(o, "groups", e->unknown_user ? NULL : e->groups) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *entries_to_json(const struct gj_policy *p, const char *file,
                                           const struct entries *es) {
        bool found = !streq(p->path, GJ_POLICY_BUILTIN);
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *grants = json_object_new_array();
        if (!o || !grants || gj_json_add(o, "version", json_object_new_int(1)) < 0 ||
            gj_json_add(o, "path", json_object_new_string(file)) < 0 ||
            gj_json_add(o, "found", json_object_new_boolean(found)) < 0)
                return NULL;
        for (size_t i = 0; i < es->n; i++)
                if (gj_json_append(grants, entry_to_json(&es->v[i])) < 0)
                        return NULL;
        if (gj_json_add(o, "grants", TAKE_PTR(grants)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- the command ---- */

static int policy_check(int argc, char **argv) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "user", required_argument, NULL, 'u' },
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *user = NULL, *file = GJ_POLICY_PATH;
        bool json = false;
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "u:h", options, NULL)) >= 0)
                switch (c) {
                case 'u':
                        user = optarg;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case 'h':
                        policy_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "See 'gpujail policy --help'.\n");
                        return GJ_EXIT_FAILURE;
                }
        if (optind < argc)
                file = argv[optind++];
        if (optind < argc) {
                log_error("unexpected argument '%s'; see 'gpujail policy --help'", argv[optind]);
                return GJ_EXIT_FAILURE;
        }

        _cleanup_(gj_policy_done) struct gj_policy p = {};
        if (gj_policy_load(file, &p) < 0)
                return GJ_EXIT_FAILURE;
        _cleanup_(entries_done) struct entries es = {};
        int r = user ? entries_of_user(&p, user, &es) : entries_of_sections(&p, &es);
        if (r < 0)
                return GJ_EXIT_FAILURE;
        if (json)
                return cli_print_json(entries_to_json(&p, file, &es));
        return print_text(&p, file, &es);
}

int cmd_policy(int argc, char **argv) {
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") ||
            streq(argv[1], "help")) {
                policy_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? GJ_EXIT_FAILURE : 0;
        }
        if (!streq(argv[1], "check")) {
                log_error("unknown command 'policy %s'; see 'gpujail policy --help'", argv[1]);
                return GJ_EXIT_FAILURE;
        }
        return policy_check(argc - 1, argv + 1);
}
