/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who is calling: see gpujail/launcher.h. Root can be told from a user it acts
 * for only by what the elevating tool left behind: sudo sets SUDO_UID,
 * SUDO_GID and SUDO_USER itself (whatever the user's environment held),
 * pkexec PKEXEC_UID, doas DOAS_USER. A tool that keeps the user's environment
 * (doas keepenv, sudo SETENV) could let one of the others through, so two of
 * them at once are refused rather than guessed between; docs/shared-hosts.md
 * says not to grant SETENV.
 */
#include <grp.h>
#include <pwd.h>

#include "gpujail/policy.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

void gj_caller_done(struct gj_caller *c) {
        free(c->name);
        free(c->groups);
        strv_free(c->group_names);
        *c = (struct gj_caller){ 0 };
}

static bool in_groups(const gid_t *groups, int n, gid_t gid) {
        for (int i = 0; i < n; i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

bool gj_caller_has_group(const struct gj_caller *c, gid_t gid) {
        return gid == c->gid || in_groups(c->groups, c->n_groups, gid);
}

static int env_id(const char *name, unsigned *ret) {
        const char *v = getenv(name);
        if (!v)
                return 0;
        if (safe_atou(v, ret) < 0)
                return log_error_errno(-EPERM, "refusing to run: $%s='%s' is not a number", name, v);
        return 1;
}

int gj_user_groups(const char *name, gid_t gid, gid_t **ret, int *ret_n) {
        int n = 32;
        for (int tries = 0; tries < 8; tries++) {
                gid_t *g = realloc(*ret, (size_t)n * sizeof(gid_t));
                if (!g)
                        return -ENOMEM;
                *ret = g;
                int want = n;
                if (getgrouplist(name, gid, *ret, &want) >= 0) {
                        *ret_n = want;
                        return 0;
                }
                n = want > n ? want : n * 2;
        }
        return log_error_errno(-E2BIG, "user %s has too many groups", name);
}


/* The user `uid`, verified: it exists; `claimed_name`, when given, is its name;
 * `claimed_gid`, when given, is one of its groups. */
static int verify_user(struct gj_caller *c, const char *via, uid_t uid, const char *claimed_name,
                       const gid_t *claimed_gid) {
        struct passwd *pw = getpwuid(uid);
        if (!pw)
                return log_error_errno(-EPERM, "refusing to run: %s says the caller is uid %u, "
                                               "who is not in the password database", via, (unsigned)uid);
        if (claimed_name && !streq(claimed_name, pw->pw_name))
                return log_error_errno(-EPERM, "refusing to run: %s names the caller '%s', but uid %u is '%s'",
                                       via, claimed_name, (unsigned)uid, pw->pw_name);
        *c = (struct gj_caller){ .kind = GJ_CALLER_USER, .via = via, .uid = uid,
                                 .gid = claimed_gid ? *claimed_gid : pw->pw_gid };
        if (!(c->name = strdup(pw->pw_name)))
                return -ENOMEM;
        int r = gj_user_groups(c->name, pw->pw_gid, &c->groups, &c->n_groups);
        if (r < 0)
                return r;
        /* the user's groups from the database, not the claimed gid itself */
        if (claimed_gid && !in_groups(c->groups, c->n_groups, *claimed_gid))
                return log_error_errno(-EPERM, "refusing to run: %s gives the caller group %u, "
                                               "which is not one of %s's groups", via,
                                       (unsigned)*claimed_gid, c->name);
        /* a name that cannot be looked up fails closed: a [group] may be about it */
        if ((r = gj_policy_group_names(c->groups, (size_t)c->n_groups, &c->group_names)) < 0)
                return log_error_errno(r, "cannot look up the groups of %s: %m", c->name);
        return 0;
}

static int from_sudo(struct gj_caller *c) {
        unsigned uid = 0, gid;
        int r = env_id("SUDO_UID", &uid);
        if (r < 0)
                return r;
        if ((r = env_id("SUDO_GID", &gid)) < 0)
                return r;
        gid_t g = (gid_t)gid;
        return verify_user(c, "sudo", (uid_t)uid, getenv("SUDO_USER"), r > 0 ? &g : NULL);
}

static int from_pkexec(struct gj_caller *c) {
        unsigned uid = 0;
        int r = env_id("PKEXEC_UID", &uid);
        return r < 0 ? r : verify_user(c, "pkexec", (uid_t)uid, NULL, NULL);
}

static int from_doas(struct gj_caller *c) {
        const char *name = getenv("DOAS_USER");
        struct passwd *pw = getpwnam(name);
        if (!pw)
                return log_error_errno(-EPERM, "refusing to run: doas names the caller '%s', "
                                               "who is not in the password database", name);
        return verify_user(c, "doas", pw->pw_uid, name, NULL);
}

static unsigned tools_claiming(void) {
        return !!getenv("SUDO_UID") + !!getenv("PKEXEC_UID") + !!getenv("DOAS_USER");
}

int gj_caller_identify(struct gj_caller *ret) {
        *ret = (struct gj_caller){ .kind = GJ_CALLER_ROOT, .uid = getuid(), .gid = getgid() };
        if (geteuid() != 0) {
                ret->kind = GJ_CALLER_UNPRIVILEGED;
                return 0;
        }
        int r;
        if (getuid() != 0)
                r = verify_user(ret, "setuid", getuid(), NULL, NULL);
        else if (tools_claiming() > 1)
                r = log_error_errno(-EPERM, "refusing to run: more than one of SUDO_UID, PKEXEC_UID and "
                                            "DOAS_USER is set, so the caller is not known");
        else if (getenv("SUDO_UID"))
                r = from_sudo(ret);
        else if (getenv("PKEXEC_UID"))
                r = from_pkexec(ret);
        else if (getenv("DOAS_USER"))
                r = from_doas(ret);
        else
                r = 0; /* root itself */
        if (r < 0)
                gj_caller_done(ret);
        else if (ret->kind == GJ_CALLER_USER && ret->uid == 0) {
                gj_caller_done(ret); /* root ran sudo: still root */
                *ret = (struct gj_caller){ .kind = GJ_CALLER_ROOT };
        }
        return r < 0 ? r : 0;
}
