/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a caller who is not root may ask of `gpujail run` (docs/shared-hosts.md):
 * the privileged options need the policy's word (gpujail/policy.h), the GPUs
 * must be among those it gives, and no more of them than it allows. Each
 * refusal names the option and the policy line that would allow it.
 */
#include "gpujail/lease.h"
#include "gpujail/policy.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

static int refuse(const struct gj_caller *c, const struct gj_grant *g, unsigned bit) {
        const char *from = g->allow_from ? g->allow_from : "no policy line";
        return log_error_errno(-EPERM,
                               "%s is not allowed for %s (%s): an administrator can allow it with "
                               "'allow = %s' under [user %s] or one of the user's [group NAME] in %s",
                               gj_policy_allow_option(bit), c->name, from, gj_policy_allow_name(bit), c->name,
                               GJ_POLICY_PATH);
}

/* --user as oneself, with one of one's own groups, is no privilege. */
static bool user_option_is_own(const struct gj_caller *c, const struct gj_launch_opts *o) {
        return o->uid == c->uid && (!o->has_gid || gj_caller_has_group(c, o->gid));
}

static unsigned privileges_asked(const struct gj_caller *c, const struct gj_launch_opts *o) {
        unsigned asked = 0;
        if (o->has_user && !user_option_is_own(c, o))
                asked |= GJ_ALLOW_USER;
        if (o->cap_add && o->cap_add[0])
                asked |= GJ_ALLOW_CAP_ADD;
        if (o->allow_mknod)
                asked |= GJ_ALLOW_MKNOD;
        if (o->devices && o->devices[0])
                asked |= GJ_ALLOW_DEVICE;
        if (o->share)
                asked |= GJ_ALLOW_SHARE;
        return asked;
}

int gj_launcher_check_options(const struct gj_caller *c, const struct gj_launch_opts *o,
                              const struct gj_grant *g) {
        unsigned denied = privileges_asked(c, o) & ~g->allow;
        for (unsigned bit = 1; bit <= denied; bit <<= 1)
                if (denied & bit)
                        return refuse(c, g, bit);
        return 0;
}

static char *device_list(const struct gj_selection *sel) {
        _cleanup_strv_free_ char **v = NULL;
        for (size_t i = 0; i < sel->n_devices; i++)
                if (strv_push(&v, strprintf("%u", sel->devices[i]->index)) < 0)
                        return NULL;
        return v ? strv_join(v, ",") : strdup("none");
}

/* The GPUs the policy gives (all of them without a gpus = line). */
static int policy_gpus(const struct gj_grant *g, const struct gj_inventory *inv, struct gj_selection *ret) {
        *ret = (struct gj_selection){ 0 };
        if (inv->n_devices == 0)
                return 0; /* "all" of nothing is an error to gj_select() */
        _cleanup_free_ char *spec = g && g->gpus ? strv_join(g->gpus, ",") : strdup("all");
        if (!spec)
                return -ENOMEM;
        int r = gj_select(inv, spec, 0, ret);
        if (r < 0)
                return log_error_errno(r, "the policy's gpus = %s (%s) does not fit this host: %m", spec,
                                       g && g->gpus_from ? g->gpus_from : "built-in");
        return 0;
}

int gj_launcher_allowed_gpus(const struct gj_caller *c _unused_, const struct gj_grant *g,
                             const struct gj_inventory *inv, struct gj_selection *ret) {
        int r = policy_gpus(g, inv, ret);
        if (r < 0)
                return r;
        /* inside a Slurm job, only what Slurm allocated to it */
        _cleanup_(gj_selection_done) struct gj_selection slurm = { 0 };
        const char *from = NULL;
        if ((r = gj_launcher_slurm_allowed(inv, &slurm, &from)) < 0) {
                gj_selection_done(ret);
                return r;
        }
        if (r > 0)
                gj_selection_keep(ret, &slurm);
        return 0;
}

/* A MIG device is granted with its GPU, or by name. */
static bool mig_granted(const struct gj_inventory *inv, const struct gj_selection *granted,
                        const struct gj_mig *m) {
        for (size_t i = 0; i < granted->n_migs; i++)
                if (granted->migs[i] == m)
                        return true;
        return gj_selection_has(granted, &inv->devices[m->parent]);
}

static const struct gj_device *first_not_granted(const struct gj_inventory *inv,
                                                 const struct gj_selection *sel,
                                                 const struct gj_selection *granted) {
        const struct gj_device *outside = NULL;
        if (!gj_selection_within(sel, granted, &outside))
                return outside;
        for (size_t i = 0; i < sel->n_migs; i++)
                if (!mig_granted(inv, granted, sel->migs[i]))
                        return &inv->devices[sel->migs[i]->parent];
        return NULL;
}

/* An IMEX channel is granted by name only ("imex:N", "imex:all" in the policy's gpus). */
static const struct gj_node *first_imex_not_granted(const struct gj_selection *sel,
                                                    const struct gj_selection *granted) {
        for (size_t i = 0; i < sel->n_imex; i++) {
                bool found = false;
                for (size_t k = 0; k < granted->n_imex && !found; k++)
                        found = granted->imex[k] == sel->imex[i];
                if (!found)
                        return sel->imex[i];
        }
        return NULL;
}

int gj_launcher_check_gpus(const struct gj_caller *c, const struct gj_grant *g, const struct gj_inventory *inv,
                           const struct gj_selection *sel) {
        /* A MIG device counts as one GPU. */
        if (sel->n_devices + sel->n_migs > g->max_gpus)
                return log_error_errno(
                        -EPERM, "%s may use at most %u GPU(s) per job (%s), and asked for %zu",
                        c->name, g->max_gpus, g->max_gpus_from ? g->max_gpus_from : "built-in",
                        sel->n_devices + sel->n_migs);
        if (sel->n_devices + sel->n_migs + sel->n_imex == 0 || !g->gpus)
                return 0; /* nothing asked, or every GPU granted: nothing to resolve */
        struct gj_selection granted = { 0 };
        int r = policy_gpus(g, inv, &granted);
        if (r < 0)
                return r;
        const struct gj_node *imex = first_imex_not_granted(sel, &granted);
        if (imex) {
                gj_selection_done(&granted);
                return log_error_errno(-EPERM, "%s is not %s's to use: %s gives IMEX channels only by "
                                       "name (imex:N)", imex->path, c->name,
                                       g->gpus_from ? g->gpus_from : "the policy");
        }
        const struct gj_device *outside = first_not_granted(inv, sel, &granted);
        _cleanup_free_ char *yours = outside ? device_list(&granted) : NULL;
        gj_selection_done(&granted);
        if (!outside)
                return 0;
        return log_error_errno(-EPERM, "GPU %u is not %s's to use: %s gives %s the GPUs %s", outside->index,
                               c->name, g->gpus_from ? g->gpus_from : "the policy", c->name,
                               yours ? yours : "?");
}

void gj_launcher_audit(const struct gj_job *job, const char *decision) {
        const struct gj_caller *c = job->caller;
        if (!c || c->kind != GJ_CALLER_USER)
                return;
        _cleanup_free_ char *devices = job->plan ? gj_plan_devices_string(job->plan) : NULL;
        _cleanup_free_ char *command = gj_lease_escape_command(job->opts->argv);
        log_audit("run caller=%s uid=%u via=%s decision=%s gpus=%s devices=%s command=\"%s\"", c->name,
                  (unsigned)c->uid, c->via, decision, job->opts->gpus ? job->opts->gpus : "void",
                  isempty(devices) ? "-" : devices, command ? command : "?");
}
