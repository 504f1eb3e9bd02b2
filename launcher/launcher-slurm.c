/* SPDX-License-Identifier: Apache-2.0 */
/* `gpujail run` inside a Slurm job: the GPUs Slurm allocated, and a clear refusal of
 * the others (otherwise the kernel's "devices.allow: Operation not permitted" when
 * the job cgroup is made below Slurm's). devices/slurm.c decides; this reads. */
#include "gpujail/cgroup-paths.h"
#include "gpujail/slurm.h"
#include "gpujail/util.h"
#include "launcher-internal.h"

#define DEVICES_LIST_MAX (256 * 1024)

/* Our v1 devices cgroup path, from /proc/self/cgroup (no mountinfo: cheap), or NULL. */
static char *own_devices_cgroup(void) {
        _cleanup_free_ char *text = NULL, *v2 = NULL;
        char *v1 = NULL;
        if (read_full_file("/proc/self/cgroup", &text, NULL, DEVICES_LIST_MAX) < 0 ||
            gj_cgroup_parse_proc_cgroup(text, &v1, &v2) < 0)
                return NULL;
        return v1;
}

bool gj_launcher_in_slurm_job(void) {
        _cleanup_free_ char *cg = NULL;
        return !isempty(getenv("SLURM_JOB_ID")) || gj_slurm_is_job_cgroup(cg = own_devices_cgroup());
}

int gj_launcher_slurm_allowed(const struct gj_inventory *inv, struct gj_selection *ret, const char **ret_from) {
        _cleanup_free_ char *cg = own_devices_cgroup(), *v1 = NULL, *v2 = NULL, *list_path = NULL,
                            *list = NULL;
        const char *job_id = getenv("SLURM_JOB_ID");

        if (isempty(job_id) && !gj_slurm_is_job_cgroup(cg))
                return 0; /* not in a Slurm job: the one check on every run's path */
        /* Where our cgroup is mounted; failing to tell is not a refusal: the kernel decides. */
        if (gj_slurm_is_job_cgroup(cg) && gj_cgroup_paths_of_pid(getpid(), &v1, &v2) == 0 && v1 &&
            (list_path = strprintf("%s/devices.list", v1)))
                (void)read_full_file(list_path, &list, NULL, DEVICES_LIST_MAX);
        return gj_slurm_allowed_gpus(inv, cg, list, job_id, getenv("SLURM_STEP_GPUS"),
                                     getenv("SLURM_JOB_GPUS"), ret, ret_from);
}

int gj_launcher_check_slurm(const struct gj_inventory *inv, const struct gj_selection *sel) {
        _cleanup_(gj_selection_done) struct gj_selection allowed = {};
        const struct gj_device *outside = NULL;
        const char *from = NULL;

        if (sel->n_devices == 0)
                return 0;
        int r = gj_launcher_slurm_allowed(inv, &allowed, &from);
        if (r <= 0)
                return r;
        if (gj_selection_within(sel, &allowed, &outside))
                return 0;
        _cleanup_free_ char *yours = gj_selection_nvidia_indexes(&allowed);
        return log_error_errno(-EPERM, "GPU %u was not allocated to this Slurm job: it may use GPU(s) %s (%s)",
                               outside->index, isempty(yours) ? "none" : yours, from);
}
