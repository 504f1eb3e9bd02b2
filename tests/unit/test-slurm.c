/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slurm's GPU numbers and gpujail's (devices/slurm.c): gres.conf lines in index
 * order, a step's allocation read from Slurm's variables, and refusals of values
 * that are not Slurm's (a user can set these variables outside a step).
 */
#include "../tap.h"
#include "gpujail/slurm.h"
#include "plan-fixture.h"

static struct fixture fx;

static void check_type(const char *model, const char *want) {
        char *t = gj_slurm_gres_type(model);
        is_str(t, want, "Type= of '%s'", model ? model : "(null)");
        free(t);
}

/* The allocation as gpujail indexes "0,2", "none", "unrestricted" or "error". */
static char *allocation(const char *job, const char *step, const char *jobgpus) {
        struct gj_selection sel;
        capture_begin();
        int r = gj_slurm_allocation(&fx.inv, job, step, jobgpus, &sel);
        (void)capture_end();
        if (r < 0)
                return strdup("error");
        if (r == 0)
                return strdup("unrestricted");
        char *s = sel.none ? strdup("none") : gj_selection_nvidia_indexes(&sel);
        ok(sel.want_controls == !sel.none, "control nodes only with a GPU (%s)", s);
        gj_selection_done(&sel);
        return s;
}

static void check_alloc(const char *job, const char *step, const char *jobgpus, const char *want) {
        char *got = allocation(job, step, jobgpus);
        is_str(got, want, "job=%s step=%s job_gpus=%s -> %s", job ? job : "-", step ? step : "-",
               jobgpus ? jobgpus : "-", want);
        free(got);
}

static void test_gres_conf(void) {
        char *cpus[] = { (char *)"0-31,64-95", NULL };
        char *text = NULL;

        is_int(gj_slurm_gres_conf(&fx.inv, "gpu01", cpus, 2, &text), 0, "gres.conf lines");
        const char *l0 = "NodeName=gpu01 Name=gpu Type=nvidia_h100_80gb_hbm3 File=/dev/nvidia2 Cores=0-31,64-95\n";
        const char *l7 = "NodeName=gpu01 Name=gpu Type=nvidia_h100_80gb_hbm3 File=/dev/nvidia5\n";
        ok(text && strstr(text, l0), "GPU 0 (minor 2) with its NUMA node's CPUs");
        ok(text && strstr(text, l7), "GPU 7 (minor 5), NUMA node 1 has no CPU list: no Cores=");
        /* File= in index order: minors 2 3 0 1 6 7 4 5 */
        const char *p = text;
        bool order = true;
        for (unsigned i = 0; i < FX_N_NVIDIA && p; i++) {
                char f[32];
                snprintf(f, sizeof(f), "File=/dev/nvidia%u", fx_nvidia_minor[i]);
                p = strstr(p, f);
                order = order && p;
        }
        ok(order, "File= lines in gpujail's index order, not minor order");
        ok(text && !strstr(text, "/dev/dri"), "only NVIDIA GPUs");
        free(text);

        text = NULL;
        is_int(gj_slurm_gres_conf(&fx.inv, NULL, NULL, 0, &text), 0, "without node name and cores");
        ok(text && strstr(text, "\nName=gpu Type=nvidia_h100_80gb_hbm3 File=/dev/nvidia2\n"), "plain lines");
        free(text);

        struct gj_inventory none = { .devices = &fx.devices[8], .n_devices = 3 };
        capture_begin();
        is_int(gj_slurm_gres_conf(&none, "n", NULL, 0, &text), -ENODEV, "no NVIDIA GPU: -ENODEV");
        ok(contains(capture_end(), "no NVIDIA GPU"), "and says so");
}

/* gj_slurm_allowed_gpus as "0,2 (from)", "none (from)", "unrestricted" or "error". */
static char *allowed(const char *cg, const char *list, const char *job, const char *step) {
        struct gj_selection sel;
        const char *from = NULL;
        capture_begin();
        int r = gj_slurm_allowed_gpus(&fx.inv, cg, list, job, step, NULL, &sel, &from);
        (void)capture_end();
        if (r <= 0)
                return strdup(r < 0 ? "error" : "unrestricted");
        _cleanup_free_ char *ids = sel.none ? strdup("none") : gj_selection_nvidia_indexes(&sel);
        gj_selection_done(&sel);
        return strprintf("%s (%s)", ids, from);
}

static void check_allowed(const char *cg, const char *list, const char *job, const char *step, const char *want) {
        char *got = allowed(cg, list, job, step);
        is_str(got, want, "cgroup %s, job %s, step gpus %s -> %s", cg ? cg : "-", job ? job : "-",
               step ? step : "-", want);
        free(got);
}

static void test_allowed(void) {
        const char *task = "/slurm_gpu01/uid_1000/job_7/step_0/task_0";
        /* What spank_gpujail.so leaves for GPU 2 (minor 0) and GPU 5 (minor 7). */
        const char *confined = "c 195:0 rw\nc 195:7 rw\nc 195:255 rw\nc 511:0 rw\nc 1:3 rw\nc 136:* rw\n";

        ok(gj_slurm_is_job_cgroup(task), "%s is a Slurm job's cgroup", task);
        ok(gj_slurm_is_job_cgroup("/slurm/uid_0/job_12/step_batch"), "so is the older slurm/ layout");
        ok(!gj_slurm_is_job_cgroup("/system.slice/slurmd.service"), "slurmd's own cgroup is not");
        ok(!gj_slurm_is_job_cgroup("/user.slice/job_7"), "job_7 outside slurm* is not");
        ok(!gj_slurm_is_job_cgroup("/slurm_x/job_7x"), "job_7x is not a job id");
        ok(!gj_slurm_is_job_cgroup(NULL), "NULL is not");

        check_allowed("/", "a *:* rwm\n", NULL, NULL, "unrestricted");
        check_allowed(task, confined, NULL, NULL, "2,5 (its device cgroup)");
        check_allowed(task, confined, "7", "0,1", "2,5 (its device cgroup)"); /* the cgroup wins */
        check_allowed(task, "c 1:3 rw\nc 136:* rw\n", NULL, NULL, "none (its device cgroup)");
        check_allowed(task, "c 195:* rw\n", NULL, NULL, "0,1,2,3,4,5,6,7 (its device cgroup)");
        check_allowed(task, "a *:* rwm\n", "7", "3", "3 (SLURM_STEP_GPUS)"); /* Slurm alone: no list */
        check_allowed(task, "a *:* rwm\n", NULL, NULL, "unrestricted");    /* sudo, Slurm alone */
        check_allowed(task, NULL, NULL, NULL, "unrestricted");
        check_allowed("/", NULL, "7", "1", "1 (SLURM_STEP_GPUS)");
        check_allowed("/", NULL, "7", NULL, "none (SLURM_STEP_GPUS)");
        check_allowed("/", NULL, "7", "all", "error");
}

int main(void) {
        fixture_init(&fx);

        check_type("NVIDIA H100 80GB HBM3", "nvidia_h100_80gb_hbm3");
        check_type("  NVIDIA A100-SXM4-80GB ", "nvidia_a100_sxm4_80gb");
        check_type("Tesla V100 (PCIe)", "tesla_v100_pcie");
        check_type("---", NULL);
        check_type(NULL, NULL);

        test_gres_conf();

        check_alloc(NULL, "0,1", NULL, "unrestricted");
        check_alloc("", "0", NULL, "unrestricted");
        check_alloc("42", "0", NULL, "0");
        check_alloc("42", "1,3", "0,1,2,3", "1,3");
        check_alloc("42", NULL, "2,5", "2,5");
        check_alloc("42", NULL, NULL, "none");
        check_alloc("42", "", "0,1", "none"); /* a step without GPUs in a job with some */
        check_alloc("42", "8", NULL, "error");
        check_alloc("42", "all", NULL, "error");
        check_alloc("42", "0,,1", NULL, "error");
        check_alloc("42", "0,", NULL, "error");
        check_alloc("42", "GPU-aaaaaaaa-1111-2222-3333-444444444444", NULL, "error");
        check_alloc("42", "-1", NULL, "error");
        check_alloc("42", " 0", NULL, "error");

        test_allowed();

        struct gj_selection want, allowed_sel;
        const struct gj_device *missing = NULL;
        gj_select(&fx.inv, "1,3", 0, &want);
        gj_select(&fx.inv, "0,1,3", 0, &allowed_sel);
        ok(gj_selection_within(&want, &allowed_sel, &missing), "1,3 within 0,1,3");
        ok(!gj_selection_within(&allowed_sel, &want, &missing) && missing && missing->index == 0,
           "0,1,3 not within 1,3: GPU 0 is missing");
        gj_selection_done(&want);
        gj_selection_done(&allowed_sel);
        return done_testing();
}
