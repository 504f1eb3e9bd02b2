/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail ps: who holds which GPU; the collecting is launcher/ps.c. */
#include <time.h>

#include "cli.h"
#include "gpujail/launcher.h"
#include "gpujail/ps.h"
#include "gpujail/util.h"

static void ps_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail ps [--json]\n"
                "\n"
                "Show, for each GPU, whether a gpujail job holds it and whose job it is:\n"
                "  free    no job holds it: --gpu auto may pick it\n"
                "  held    one job holds it alone (the default for 'gpujail run --gpu')\n"
                "  shared  held by jobs that asked for it with 'gpujail run --share'\n"
                "with each holder's user, gpujail's pid (on the host), since when, the job's\n"
                "cgroup and the command (the command only for root and for your own jobs).\n"
                "\n"
                "Then the processes that have a GPU's node open without being in a gpujail job:\n"
                "users going around gpujail ('gpujail setup --lockdown' stops that). As root\n"
                "every process is looked at; as a user, only your own.\n"
                "\n"
                "Then who waits for GPUs (gpujail run --wait), in the order they will be served.\n"
                "\n"
                "Leases are locks the kernel drops when a job ends, however it ends: what ps\n"
                "shows as held is held now, never a leftover.\n"
                "\n"
                "Options:\n"
                "  --json    the stable machine-readable form (docs/json.md, \"version\": 1):\n"
                "              gpujail ps --json | jq -r '.gpus[] | select(.state == \"free\") | .index'\n"
                "  -h, --help\n"
                "\n"
                "Exit status 0, or 125 when gpujail cannot look at the host.\n");
}

static void format_since(int64_t since, char *buf, size_t size) {
        time_t t = (time_t)since;
        struct tm tm;
        if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, size, "?");
}

static void print_holder(const struct gj_ps *ps, const struct gj_ps_gpu *g,
                         const struct gj_lease_holder *h, bool first) {
        char since[32];
        format_since(h->since, since, sizeof(since));
        if (first)
                printf("%-4u %-7s", g->device->index, gj_lease_state_name(g->state));
        else
                printf("%-4s %-7s", "", "");
        printf(" %-12s %-8d %-19s %s\n", h->user ?: "?", (int)h->pid, since,
               gj_ps_may_see_command(ps, h) ? h->command ?: "-" : "(another user's job)");
}

static int print_table(const struct gj_ps *ps) {
        printf("%-4s %-7s %-12s %-8s %-19s %s\n", "GPU", "STATE", "USER", "PID", "SINCE",
               "COMMAND");
        for (size_t i = 0; i < ps->n_gpus; i++) {
                const struct gj_ps_gpu *g = &ps->gpus[i];
                if (g->n_holders == 0)
                        printf("%-4u %-7s%s\n", g->device->index, gj_lease_state_name(g->state),
                               g->state == GJ_LEASE_FREE ? "" : " (a job starting or ending)");
                for (size_t j = 0; j < g->n_holders; j++)
                        print_holder(ps, g, &g->holders[j], j == 0);
        }
        if (ps->n_queue > 0)
                printf("\nWaiting (--wait), first come first served:\n");
        for (size_t i = 0; i < ps->n_queue; i++) {
                const struct gj_lease_holder *h = &ps->queue[i];
                char since[32];
                format_since(h->since, since, sizeof(since));
                printf("  %zu. %-12s pid %-8d since %s  %s\n", i + 1, h->user ?: "?", (int)h->pid,
                       since,
                       gj_ps_may_see_command(ps, h) ? h->command ?: "-" : "(another user's job)");
        }
        bool header = false;
        for (size_t i = 0; i < ps->n_gpus; i++)
                for (size_t j = 0; j < ps->gpus[i].n_outsiders; j++) {
                        const struct gj_ps_outsider *o = &ps->gpus[i].outsiders[j];
                        if (!header)
                                printf("\nOutside gpujail (a GPU node open, in no gpujail job):\n");
                        header = true;
                        printf("  ! GPU %u: pid %d (%s, %s) has %s open\n",
                               ps->gpus[i].device->index, (int)o->pid, o->user ?: "?",
                               o->comm ?: "?", o->node ?: "?");
                }
        if (!ps->scanned_all)
                printf("\n(only your own processes were looked at for GPU nodes opened outside gpujail)\n");
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Root sees every command; a user (also one root acts for through sudo) only their own. */
static int viewer(long *ret) {
        struct gj_caller c;
        int r = gj_caller_identify(&c);
        if (r < 0)
                return r;
        *ret = c.kind == GJ_CALLER_ROOT ? -1 : (long)c.uid;
        gj_caller_done(&c);
        return 0;
}

int cmd_ps(int argc, char **argv) {
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        _cleanup_(gj_ps_done) struct gj_ps ps = { 0 };
        bool json = false;
        long uid;
        int r;

        if ((r = cli_parse_json_only(argc, argv, "ps", ps_usage, &json)) != 0)
                return r > 0 ? 0 : GJ_EXIT_FAILURE;
        if (viewer(&uid) < 0)
                return GJ_EXIT_FAILURE;
        if ((r = cli_load_inventory(false, &inv)) != 0)
                return r;
        log_debug("discovered %zu device(s)", inv->n_devices);
        if ((r = gj_ps_collect(inv, uid, &ps)) < 0)
                return log_error_errno(r, "cannot tell who holds the GPUs: %m"), GJ_EXIT_FAILURE;
        log_debug("leases and processes looked at");
        if (json)
                return cli_print_json(gj_ps_to_json(&ps));
        if (print_table(&ps) < 0)
                return log_error_errno(-EIO, "cannot print: %m"), GJ_EXIT_FAILURE;
        return 0;
}
