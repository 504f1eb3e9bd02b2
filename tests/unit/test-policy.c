/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared-host policy (devices/policy.c): every malformed line refused with
 * "<path>:<line>: what", what each caller gets (built-in < [default] < groups
 * < [user]), and the loader's refusals of a file anyone but root could have
 * written (as root, in a scratch directory under /tmp; skipped otherwise).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "../tap.h"
#include "gpujail/policy.h"
#include "gpujail/util.h"
#include "log-capture.h"

static int parse_logged(const char *text, struct gj_policy *p, const char **log) {
        capture_begin();
        int r = gj_policy_parse(text, "t.conf", p);
        *log = capture_end();
        return r;
}

static int count_lines(const char *s) {
        int n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* Refused with exactly one message, which starts "t.conf:<line>: " and holds want. */
static void bad(const char *text, unsigned line, const char *want, const char *what) {
        struct gj_policy p;
        const char *log = NULL;
        int r = parse_logged(text, &p, &log);
        is_int(r, -EBADMSG, "refused: %s", what);
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "gpujail: t.conf:%u: ", line);
        ok(startswith(log, prefix) && contains(log, want) && count_lines(log) == 1,
           "refused: %s: says '%s'", what, want);
        if (!startswith(log, prefix) || !contains(log, want))
                printf("#   logged: %s", log);
        ok(!p.path && !p.sections && p.n_sections == 0, "refused: %s: nothing returned", what);
        gj_policy_done(&p);
}

static void test_syntax_errors(void) {
        bad("[default\n", 1, "'[' without ']'", "a header without ']'");
        bad("[default] x\n", 1, "unexpected 'x' after ']'", "text after a header");
        bad("# c\n[default] # all\n", 2, "a comment must be on a line of its own",
            "a comment after a header");
        bad("[host a]\n", 1, "unknown section [host]", "an unknown scope");
        bad("[Default]\n", 1, "unknown section [Default]", "scopes are lower case");
        bad("[]\n", 1, "unknown section []", "an empty header");
        bad("[user]\n", 1, "[user] without a name: write [user NAME]",
            "a user section without a name");
        bad("[group \t ]\n", 1, "[group] without a name", "a group section with a blank name");
        bad("[default x]\n", 1, "[default] takes no name (got 'x')", "[default] with a name");
        bad("[user a:b]\n", 1, "bad user name 'a:b'", "a name with ':'");
        bad("[group a,b]\n", 1, "bad group name 'a,b'", "a name with ','");
        bad("[user [x]\n", 1, "bad user name '[x'", "a name with '['");
        bad("[user a]\n\n[user a]\n", 3, "[user a] again (first at line 1)",
            "a repeated user section");
        bad("[default]\n[default]\n", 2, "[default] again (first at line 1)",
            "a repeated [default]");
        bad("[group g]\ngpus = 0\n[user g]\n[group g]\n", 4, "[group g] again (first at line 1)",
            "a repeated group section (a user of the same name is another section)");
        bad("[default]\ngpus = 0\nmax-gpus = 1\ngpus = 1\n", 4,
            "gpus again in this section (first at line 2)", "a repeated key");
        bad("[default]\ngpu = 0\n", 2, "unknown key 'gpu' (expected gpus, max-gpus or allow)",
            "an unknown key");
        bad("[default]\nGPUS = 0\n", 2, "unknown key 'GPUS'", "keys are lower case");
        bad("[default]\nallow = user, root\n", 2, "unknown word 'root'", "an unknown allow word");
        bad("[default]\nallow = none, user\n", 2, "'none' must stand alone",
            "allow none with a word");
        bad("[default]\nallow = user,,device\n", 2, "an empty item", "an empty allow item");
        bad("[default]\nmax-gpus = two\n", 2, "'two' is not a number (or 'unlimited')",
            "a word for a number");
        bad("[default]\nmax-gpus = -1\n", 2, "'-1' is not a number", "a negative number");
        bad("[default]\nmax-gpus = 1.5\n", 2, "'1.5' is not a number", "a fraction");
        bad("[default]\nmax-gpus = 0x2\n", 2, "'0x2' is not a number", "hex");
        bad("[default]\nmax-gpus = 99999999999\n", 2, "is not a number", "a number past 32 bits");
        bad("[default]\nmax-gpus = Unlimited\n", 2, "is not a number", "'unlimited' is lower case");
        bad("gpus = 0\n[default]\n", 1, "a key outside a section", "a key before any section");
        bad("# policy\n\nmax-gpus = 1\n", 3, "a key outside a section",
            "a key after comments only");
        bad("[default]\nmax-gpus = 2 3\n", 2, "unexpected '3' after '2'", "text after a number");
        bad("[default]\ngpus = 0 1\n", 2, "unexpected '1' after '0'",
            "two selectors without a comma");
        bad("[default]\nallow = user device\n", 2, "unexpected 'device' after 'user'",
            "two words without a comma");
        bad("[default]\ngpus = 0,1 # the first two\n", 2, "a comment must be on a line of its own",
            "a trailing comment after a list");
        bad("[default]\nmax-gpus = 2# two\n", 2, "a comment must be on a line of its own",
            "a trailing comment after a number");
        bad("[default]\ngpus\n", 2, "expected KEY = VALUE", "a key without '='");
        bad("[default]\ngpus =\n", 2, "gpus has no value", "an empty value");
        bad("[default]\ngpus = 0,,1\n", 2, "gpus: an empty item", "an empty selector item");
        bad("[default]\ngpus = 0,\n", 2, "gpus: an empty item", "a trailing comma");
        bad("[default]\ngpus = none,0\n", 2, "'none' must stand alone", "gpus none with a GPU");
        bad("[default]\ngpus = 1,void\n", 2, "'void' must stand alone", "gpus void with a GPU");
        bad("[default]\ngpus = 0\033[31m\n", 2, "control character 0x1b in column 9",
            "an escape sequence");
        bad("[default]\ngpus = 0\r1\n", 2, "control character 0x0d",
            "a carriage return inside a line");

        char long_line[GJ_POLICY_LINE_MAX + 16];
        memset(long_line, 'x', sizeof(long_line));
        long_line[0] = '#';
        memcpy(long_line + GJ_POLICY_LINE_MAX + 1, "\n", 2);
        bad(long_line, 1, "line longer than 4096 bytes", "a line of 4097 bytes (a comment, even)");
        _cleanup_free_ char *many = strdup("[default]\ngpus = 0");
        for (unsigned i = 1; i <= GJ_POLICY_ITEMS_MAX; i++) {
                char *m = strprintf("%s,%u", many, i);
                free(many);
                many = m;
        }
        bad(many, 2, "gpus: more than 256 items", "a list of 257 items");
        many[strlen(many) - 4] = 0;
        struct gj_policy p;
        is_int(gj_policy_parse(many, "t.conf", &p), 0, "a list of 256 items is fine");
        gj_policy_done(&p);

        long_line[GJ_POLICY_LINE_MAX] = '\n';
        long_line[GJ_POLICY_LINE_MAX + 1] = 0;
        is_int(gj_policy_parse(long_line, "t.conf", &p), 0, "a line of 4096 bytes is fine");
        gj_policy_done(&p);
}

static void test_every_error_reported(void) {
        struct gj_policy p;
        const char *log = NULL;
        int r = parse_logged(
                "[default]\nbogus = 1\n[nope]\nalso = ignored\n[user a]\nmax-gpus = x\ngpus = 0\n",
                &p, &log);
        is_int(r, -EBADMSG, "three bad lines: refused");
        is_int(count_lines(log), 3,
               "each bad line logged once; the keys under a bad header are not");
        ok(contains(log, "t.conf:2: unknown key 'bogus'") &&
                   contains(log, "t.conf:3: unknown section [nope]") &&
                   contains(log, "t.conf:6: max-gpus: 'x' is not a number"),
           "each message names its line");
}

static void test_good(void) {
        struct gj_policy p;
        int r = gj_policy_parse("# every caller who is not root\n"
                                "[default]\n"
                                "gpus = all\n"
                                "max-gpus = 2\n"
                                "\n"
                                "[group ml-team]\n"
                                "gpus = 0,1,2,3\n"
                                "max-gpus = 4\n"
                                "\n"
                                "[user alice]\n"
                                "allow = device, cap-add\n",
                                "/etc/gpujail/policy.conf", &p);
        is_int(r, 0, "policy.h's example parses");
        is_str(p.path, "/etc/gpujail/policy.conf", "path kept");
        is_int(p.n_sections, 3, "three sections");
        if (p.n_sections != 3)
                return;
        const struct gj_policy_section *d = &p.sections[0], *g = &p.sections[1],
                                       *u = &p.sections[2];
        ok(d->scope == GJ_POLICY_DEFAULT && !d->name && d->line == 2,
           "[default] at line 2, no name");
        _cleanup_free_ char *gpus = strv_join(d->gpus, ",");
        is_str(gpus, "all", "[default] gpus = all");
        ok(d->gpus_line == 3 && d->max_gpus == 2 && d->max_gpus_line == 4 && d->allow_line == 0,
           "[default] max-gpus 2 at line 4, allow not set");
        ok(g->scope == GJ_POLICY_GROUP && streq_ptr(g->name, "ml-team") && g->line == 6,
           "[group ml-team] at line 6");
        is_int(strv_length(g->gpus), 4, "ml-team: four selectors");
        ok(u->scope == GJ_POLICY_USER && streq_ptr(u->name, "alice") && !u->gpus &&
                   u->max_gpus_line == 0,
           "[user alice] sets only allow");
        is_int(u->allow, GJ_ALLOW_DEVICE | GJ_ALLOW_CAP_ADD, "alice: device, cap-add");
        is_int(u->allow_line, 11, "alice's allow at line 11");
        gj_policy_done(&p);

        r = gj_policy_parse(
                "[default]\r\n\tgpus=0 , nvidia:1,\tGPU-8f3a1c2e\r\n  allow=none\r\nmax-gpus = unlimited\n"
                "[group domain users]\nmax-gpus = 0\n[ user  bob ]\nallow = user,cap-add,mknod,device,share,user",
                "t.conf", &p);
        is_int(r, 0, "CRLF, tabs, no spaces around '=', spaces around items and inside brackets");
        if (r == 0 && p.n_sections == 3) {
                is_str(p.sections[0].gpus[1], "nvidia:1", "items stripped");
                ok(p.sections[0].allow == 0 && p.sections[0].allow_line == 3,
                   "allow = none: set, no bits");
                is_int(p.sections[0].max_gpus, GJ_POLICY_UNLIMITED, "max-gpus = unlimited");
                is_str(p.sections[1].name, "domain users", "a group name with a space");
                ok(p.sections[1].max_gpus == 0 && p.sections[1].max_gpus_line == 6,
                   "max-gpus = 0: no GPU at all");
                is_str(p.sections[2].name, "bob", "spaces inside the brackets stripped");
                is_int(p.sections[2].allow, _GJ_ALLOW_ALL,
                       "every allow word; a repeated word counts once");
        }
        gj_policy_done(&p);

        is_int(gj_policy_parse("", "t.conf", &p), 0, "an empty file is a valid policy");
        ok(p.n_sections == 0 && streq_ptr(p.path, "t.conf"), "no sections");
        gj_policy_done(&p);
        is_int(gj_policy_parse("# only a comment\n\n   \n", "t.conf", &p), 0,
               "comments and blank lines only");
        gj_policy_done(&p);
        is_int(gj_policy_parse("[default]\n[user a]\n", "t.conf", &p), 0, "sections without keys");
        gj_policy_done(&p);
}

/* ---- resolution ---- */

static void grant_of(const char *text, const char *user, const char *groups_csv,
                     struct gj_grant *g) {
        struct gj_policy p = {};
        _cleanup_strv_free_ char **groups = NULL;
        _cleanup_free_ char *copy = groups_csv ? strdup(groups_csv) : NULL;
        for (char *s = copy, *tok; s && (tok = strsep(&s, ","));)
                if (*tok)
                        strv_push(&groups, strdup(tok));
        if (gj_policy_parse(text, "t.conf", &p) < 0 || gj_policy_grant(&p, user, groups, g) < 0)
                abort();
        gj_policy_done(&p);
}

static char *gpus_str(const struct gj_grant *g) {
        return g->gpus ? strv_join(g->gpus, ",") : strdup("(every GPU)");
}

static void is_grant(const struct gj_grant *g, const char *gpus, const char *gpus_from,
                     unsigned max, const char *max_from, unsigned allow, const char *allow_from,
                     const char *what) {
        _cleanup_free_ char *s = gpus_str(g);
        is_str(s, gpus, "%s: gpus", what);
        is_str(g->gpus_from, gpus_from, "%s: gpus from", what);
        is_int(g->max_gpus, max, "%s: max-gpus", what);
        is_str(g->max_gpus_from, max_from, "%s: max-gpus from", what);
        is_int(g->allow, allow, "%s: allow", what);
        is_str(g->allow_from, allow_from, "%s: allow from", what);
}

static const char policy_text[] = "[default]\n"            /* 1 */
                                  "gpus = all\n"           /* 2 */
                                  "max-gpus = 2\n"         /* 3 */
                                  "[group ml]\n"           /* 4 */
                                  "gpus = 0,1\n"           /* 5 */
                                  "max-gpus = 4\n"         /* 6 */
                                  "allow = device\n"       /* 7 */
                                  "[group cv]\n"           /* 8 */
                                  "gpus = 1, 2\n"          /* 9 */
                                  "max-gpus = 8\n"         /* 10 */
                                  "allow = cap-add\n"      /* 11 */
                                  "[user alice]\n"         /* 12 */
                                  "max-gpus = 1\n"         /* 13 */
                                  "[group big]\n"          /* 14 */
                                  "max-gpus = unlimited\n" /* 15 */
                                  "[group nogpu]\n"        /* 16 */
                                  "gpus = none\n"          /* 17 */
                                  "[group nothing]\n"      /* 18 */
                                  "gpus = void\n"          /* 19 */
                                  "[group any]\n"          /* 20 */
                                  "gpus = all\n";          /* 21 */

static void test_grant(void) {
        struct gj_grant g;
        const unsigned U = GJ_POLICY_UNLIMITED;

        grant_of("", "bob", "bob", &g);
        is_grant(&g, "(every GPU)", NULL, U, NULL, 0, NULL, "no policy: the built-in defaults");
        gj_grant_done(&g);

        grant_of(policy_text, "bob", "bob,users", &g);
        is_grant(&g, "all", "t.conf:2", 2, "t.conf:3", 0, NULL, "in no section: [default]");
        gj_grant_done(&g);

        grant_of(policy_text, NULL, NULL, &g);
        is_grant(&g, "all", "t.conf:2", 2, "t.conf:3", 0, NULL, "no name, no groups: [default]");
        gj_grant_done(&g);

        grant_of(policy_text, "carol", "carol,ml", &g);
        is_grant(&g, "0,1", "t.conf:5", 4, "t.conf:6", GJ_ALLOW_DEVICE, "t.conf:7",
                 "one group replaces [default]");
        gj_grant_done(&g);

        grant_of(policy_text, "dave", "cv,ml", &g);
        is_grant(
                &g, "0,1,2", "t.conf:5", 8, "t.conf:10", GJ_ALLOW_DEVICE | GJ_ALLOW_CAP_ADD,
                "t.conf:7",
                "two groups: union of gpus and allow (first group's line, file order), largest max-gpus");
        gj_grant_done(&g);

        grant_of(policy_text, "erin", "ml,big", &g);
        is_grant(&g, "0,1", "t.conf:5", U, "t.conf:15", GJ_ALLOW_DEVICE, "t.conf:7",
                 "unlimited is the largest max-gpus");
        gj_grant_done(&g);

        grant_of(policy_text, "alice", "alice,ml,cv", &g);
        is_grant(&g, "0,1,2", "t.conf:5", 1, "t.conf:13", GJ_ALLOW_DEVICE | GJ_ALLOW_CAP_ADD,
                 "t.conf:7", "[user alice] replaces the groups' max-gpus, key by key");
        gj_grant_done(&g);

        grant_of(policy_text, "alice", "", &g);
        is_grant(&g, "all", "t.conf:2", 1, "t.conf:13", 0, NULL, "[user alice] over [default]");
        gj_grant_done(&g);

        grant_of(policy_text, "frank", "nogpu", &g);
        is_grant(&g, "none", "t.conf:17", 2, "t.conf:3", 0, NULL, "gpus = none");
        gj_grant_done(&g);

        grant_of(policy_text, "frank", "nogpu,cv", &g);
        is_grant(&g, "1,2", "t.conf:9", 8, "t.conf:10", GJ_ALLOW_CAP_ADD, "t.conf:11",
                 "none beside GPUs adds nothing (the joined list stays a valid selector)");
        gj_grant_done(&g);

        grant_of(policy_text, "frank", "nothing,nogpu", &g);
        is_grant(&g, "none", "t.conf:17", 2, "t.conf:3", 0, NULL, "void beside none is none");
        gj_grant_done(&g);

        grant_of(policy_text, "frank", "nothing", &g);
        _cleanup_free_ char *s = gpus_str(&g);
        is_str(s, "void", "gpus = void alone stays void");
        gj_grant_done(&g);

        grant_of(policy_text, "gina", "ml,any", &g);
        is_grant(&g, "all", "t.conf:5", 4, "t.conf:6", GJ_ALLOW_DEVICE, "t.conf:7",
                 "all beside GPUs is all");
        gj_grant_done(&g);

        grant_of("[group a]\ngpus = imex:0, 1\n[group b]\ngpus = all\n", "x", "a,b", &g);
        is_grant(&g, "all,imex:0", "t.conf:2", U, NULL, 0, NULL,
                 "all beside an IMEX channel keeps the channel (all does not name it)");
        gj_grant_done(&g);

        grant_of("[group a]\nmax-gpus = 3\n[group b]\nmax-gpus = 3\n", "x", "b,a", &g);
        is_str(g.max_gpus_from, "t.conf:2",
               "equal max-gpus: the first group's line, in file order");
        gj_grant_done(&g);

        grant_of("[user ml]\nmax-gpus = 1\n[group alice]\nmax-gpus = 5\n", "alice", "ml", &g);
        is_int(g.max_gpus, GJ_POLICY_UNLIMITED,
               "a user section never applies to a group of that name, nor back");
        gj_grant_done(&g);

        grant_of("[default]\nallow = user\n[group ml]\nallow = none\n", "x", "ml", &g);
        is_grant(&g, "(every GPU)", NULL, U, NULL, 0, "t.conf:4",
                 "allow = none in a group takes [default]'s away");
        gj_grant_done(&g);
}

static void test_names(void) {
        static const struct {
                unsigned bit;
                const char *name, *option;
        } want[] = {
                { GJ_ALLOW_USER, "user", "--user" },
                { GJ_ALLOW_CAP_ADD, "cap-add", "--cap-add" },
                { GJ_ALLOW_MKNOD, "mknod", "--allow-mknod" },
                { GJ_ALLOW_DEVICE, "device", "--device" },
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                is_str(gj_policy_allow_name(want[i].bit), want[i].name, "allow name %s",
                       want[i].name);
                is_str(gj_policy_allow_option(want[i].bit), want[i].option, "allow option %s",
                       want[i].option);
        }
        ok(!gj_policy_allow_name(0) && !gj_policy_allow_name(GJ_ALLOW_USER | GJ_ALLOW_DEVICE) &&
                   !gj_policy_allow_name(_GJ_ALLOW_ALL + 1) && !gj_policy_allow_option(1u << 9),
           "no name for no bit, two bits or an unknown bit");
        ok(streq_ptr(gj_policy_scope_name(GJ_POLICY_DEFAULT), "default") &&
                   streq_ptr(gj_policy_scope_name(GJ_POLICY_GROUP), "group") &&
                   streq_ptr(gj_policy_scope_name(GJ_POLICY_USER), "user") &&
                   !gj_policy_scope_name(7),
           "scope names");

        char **names = NULL;
        gid_t gids[] = { 0, 0, 4294967000u };
        is_int(gj_policy_group_names(gids, ELEMENTSOF(gids), &names), 0, "group names of gids");
        _cleanup_free_ char *s = strv_join(names, ",");
        is_str(s, "root", "gid 0 is root, once; a gid without a name left out");
        strv_free(names);
        is_int(gj_policy_group_names(NULL, 0, &names), 0, "no gids");
        ok(names && !names[0], "an empty list, not NULL");
        strv_free(names);
}

/* ---- the loader, as root ---- */

static char dir[] = "/tmp/gj-policy-test-XXXXXX";
static char dir_link[sizeof(dir) + 8]; /* a symlink to dir, beside it */

static char *in_dir(const char *name) {
        static char buf[4][512];
        static int i;
        char *p = buf[i++ % 4];
        snprintf(p, 512, "%s/%s", dir, name);
        return p;
}

static int load_logged(const char *path, struct gj_policy *p, const char **log) {
        capture_begin();
        int r = gj_policy_load(path, p);
        *log = capture_end();
        return r;
}

static void refused(const char *path, int err, const char *want, const char *what) {
        struct gj_policy p;
        const char *log = NULL;
        is_int(load_logged(path, &p, &log), err, "refused: %s", what);
        ok(contains(log, want), "refused: %s: says '%s'", what, want);
        if (!contains(log, want))
                printf("#   logged: %s", log);
        ok(!p.path && !p.n_sections, "refused: %s: nothing returned", what);
        gj_policy_done(&p);
}

static void cleanup_dir(void) {
        static const char *const names[] = { "policy.conf", "link.conf", "fifo.conf", "sub",
                                             "big.conf",    "nul.conf",  "bad.conf" };
        chmod(dir, 0700);
        chown(dir, 0, 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (unlink(in_dir(names[i])) < 0 && errno == EISDIR)
                        rmdir(in_dir(names[i]));
        rmdir(in_dir("sub"));
        unlink(dir_link);
        rmdir(dir);
}

static void write_file(const char *name, const char *text, size_t len, mode_t mode) {
        _cleanup_close_ int fd = open(in_dir(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0 || write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) < 0)
                abort();
}

static void test_load_missing(void) {
        struct gj_policy p;
        is_int(gj_policy_load("/nonexistent-gpujail-dir/policy.conf", &p), 0,
               "a missing directory: no error");
        ok(streq_ptr(p.path, GJ_POLICY_BUILTIN) && p.n_sections == 0,
           "a missing directory: the built-in policy");
        gj_policy_done(&p);
}

static void test_load_modes(void) {
        const char *conf = in_dir("policy.conf");
        struct gj_policy p;

        is_int(gj_policy_load(conf, &p), 0, "a missing file: no error");
        ok(streq_ptr(p.path, GJ_POLICY_BUILTIN) && p.n_sections == 0,
           "a missing file: the built-in policy");
        gj_policy_done(&p);

        static const char text[] = "[default]\nmax-gpus = 1\n";
        write_file("policy.conf", text, sizeof(text) - 1, 0644);
        is_int(gj_policy_load(conf, &p), 0, "root's 0644 file in root's 0700 directory");
        ok(streq_ptr(p.path, conf) && p.n_sections == 1 && p.sections[0].max_gpus == 1,
           "read and parsed");
        gj_policy_done(&p);
        chmod(conf, 0600);
        chmod(dir, 0755);
        is_int(gj_policy_load(conf, &p), 0, "0600 in 0755");
        gj_policy_done(&p);

        chmod(conf, 0666);
        refused(conf, -EPERM, "it is writable by group or others (mode 0666; chmod go-w",
                "a 0666 file");
        chmod(conf, 0664);
        refused(conf, -EPERM, "writable by group or others (mode 0664", "a group-writable file");
        chmod(conf, 0644);
        chmod(dir, 0777);
        refused(conf, -EPERM, "its directory /tmp/gj-policy-test-", "a 0777 directory");
        refused(conf, -EPERM, "is writable by group or others (mode 0777",
                "a 0777 directory: says why");
        chmod(dir, 01777);
        refused(conf, -EPERM, "(mode 1777", "a sticky world-writable directory, as /tmp");
        chmod(dir, 0775);
        refused(in_dir("missing.conf"), -EPERM, "its directory",
                "a missing file in a bad directory: fail closed");
        chmod(dir, 0755);
}

static void test_load_owners(void) {
        const char *conf = in_dir("policy.conf");
        if (chown(conf, 65534, 0) < 0) {
                skip("cannot chown", "ownership checks");
                return;
        }
        refused(conf, -EPERM, "it is owned by uid 65534, not root (chown root",
                "a file owned by uid 65534");
        chown(conf, 0, 65534);
        struct gj_policy p;
        is_int(gj_policy_load(conf, &p), 0,
               "root's file of another group, not group-writable, is fine");
        gj_policy_done(&p);
        chown(dir, 65534, 0);
        refused(conf, -EPERM, "its directory /tmp/gj-policy-test-",
                "a directory owned by uid 65534");
        refused(conf, -EPERM, "is owned by uid 65534, not root",
                "a directory owned by uid 65534: says why");
        chown(dir, 0, 0);
}

static void test_load_types(void) {
        const char *conf = in_dir("policy.conf");
        struct gj_policy p;

        if (symlink("policy.conf", in_dir("link.conf")) < 0 ||
            mkfifo(in_dir("fifo.conf"), 0644) < 0 || mkdir(in_dir("sub"), 0755) < 0 ||
            symlink(dir, dir_link) < 0) {
                skip("cannot make a symlink, fifo or directory", "file types");
                return;
        }
        refused(in_dir("link.conf"), -EPERM, "it is a symlink; it must be a regular file",
                "a symlink to a good file");
        refused(in_dir("fifo.conf"), -EPERM, "it is a fifo", "a fifo (and no hang opening it)");
        refused(in_dir("sub"), -EPERM, "it is a directory", "a directory");
        _cleanup_free_ char *via_link = strprintf("%s/policy.conf", dir_link);
        _cleanup_free_ char *want_link = strprintf("its directory %s is a symlink", dir_link);
        refused(via_link, -EPERM, want_link, "a file in a symlinked directory");
        refused("/dev/null", -EPERM, "it is a character device", "a device node is never opened");
        _cleanup_free_ char *slash = strprintf("%s/", dir);
        refused(slash, -EISDIR, "not a file name", "a path ending in '/'");

        _cleanup_free_ char *twice = strprintf("%s//policy.conf", dir);
        is_int(gj_policy_load(twice, &p), 0, "'dir//file' reads the file");
        gj_policy_done(&p);
        _cleanup_close_ int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (chdir(dir) == 0) {
                is_int(gj_policy_load("policy.conf", &p), 0, "a relative path: checked in '.'");
                ok(streq_ptr(p.path, "policy.conf"), "a relative path: kept for messages");
                gj_policy_done(&p);
                (void)fchdir(cwd);
        }

        size_t n = GJ_POLICY_MAX + 1;
        _cleanup_free_ char *big = malloc(n);
        memset(big, '\n', n);
        write_file("big.conf", big, n, 0644);
        refused(in_dir("big.conf"), -EFBIG, "larger than 1048576 bytes",
                "a file over GJ_POLICY_MAX");
        write_file("big.conf", big, n - 1, 0644);
        is_int(gj_policy_load(in_dir("big.conf"), &p), 0, "a file of exactly GJ_POLICY_MAX bytes");
        gj_policy_done(&p);

        write_file("nul.conf", "[default]\n\0gpus = 0\n", 20, 0644);
        refused(in_dir("nul.conf"), -EBADMSG, "a NUL byte",
                "a NUL byte (the text after it would be ignored)");
        write_file("bad.conf", "[default]\nmax-gpus = 2\nmax-gpus = 3\n", 36, 0644);
        _cleanup_free_ char *want = strprintf("%s:3: max-gpus again", in_dir("bad.conf"));
        refused(in_dir("bad.conf"), -EBADMSG, want,
                "a syntax error: the message names the real path");
        (void)conf;
}

int main(void) {
        log_set_max_level(GJ_LOG_ERROR);
        test_syntax_errors();
        test_every_error_reported();
        test_good();
        test_grant();
        test_names();
        test_load_missing();

        if (geteuid() != 0) {
                skip("needs root (files owned by root and by others)",
                     "the loader's ownership and mode checks");
                return done_testing();
        }
        if (!mkdtemp(dir)) {
                skip("cannot create a directory in /tmp", "the loader's checks");
                return done_testing();
        }
        snprintf(dir_link, sizeof(dir_link), "%s-link", dir);
        atexit(cleanup_dir);
        test_load_modes();
        test_load_owners();
        test_load_types();
        return done_testing();
}
