/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slurm and gpujail agree on "GPU N" (devices/slurm.c): pure code, no I/O.
 *
 * Slurm numbers a node's GPUs in the order of gres.conf's File= entries, and hands a
 * step its GPUs as those numbers (SLURM_STEP_GPUS, SLURM_JOB_GPUS in a batch script;
 * Slurm 22.05). `gpujail slurm gres-conf` writes gres.conf in gpujail's index order
 * (PCI bus order), so that Slurm's number N is gpujail's NVIDIA GPU N: the SPANK
 * plugin and `gpujail run` inside a job read an allocation with gj_select().
 */
#pragma once

#include <stddef.h>

#include "gpujail/plan.h"

/* Slurm's gres.conf Type= for a GPU model, spelt as Slurm's AutoDetect=nvml spells
 * it: lowercase, each run of characters other than [a-z0-9] one '_', none at either
 * end ("NVIDIA H100 80GB HBM3" -> "nvidia_h100_80gb_hbm3"). NULL when the model is
 * NULL or has no letter or digit, or on OOM. Does not log. */
char *gj_slurm_gres_type(const char *model);

/* gres.conf lines for the host's NVIDIA GPUs, one per GPU, in gpujail's index order:
 *   NodeName=<node> Name=gpu Type=<type> File=/dev/nvidiaN [Cores=<cpus>]
 * NodeName= only when node_name is not NULL; Type= only when the model is known;
 * Cores= when numa_cpus[numa node] is not NULL or empty (numa_cpus: the CPU list of
 * each NUMA node, n_numa entries, as /sys/devices/system/node/nodeN/cpulist says).
 * Starts with a comment that says where it comes from. -ENODEV (logged) when the
 * host has no NVIDIA GPU; -ENOMEM. *ret: malloc'ed text. */
int gj_slurm_gres_conf(const struct gj_inventory *inv, const char *node_name,
                       char *const *numa_cpus, size_t n_numa, char **ret);

/* The GPUs that Slurm gave the calling step, from its environment:
 *   job_id     SLURM_JOB_ID: NULL or empty when not in a Slurm job
 *   step_gpus  SLURM_STEP_GPUS (a step's GPUs; Slurm sets or clears it for every step)
 *   job_gpus   SLURM_JOB_GPUS (the job's, read only when step_gpus is NULL: a batch
 *              script)
 * Returns 0 when not in a Slurm job (*ret untouched: no restriction), 1 with *ret the
 * allocated NVIDIA GPUs (sel->none when none was allocated), -EINVAL (logged, naming
 * the variable) when a value is not a list of GPUs this host has. Slurm's numbers are
 * read as NVIDIA indexes: they are gpujail's when gres.conf came from gres-conf. */
int gj_slurm_allocation(const struct gj_inventory *inv, const char *job_id,
                        const char *step_gpus, const char *job_gpus, struct gj_selection *ret);

/* "0,1,3": the NVIDIA indexes of sel, as Slurm and gpujail both write them; "" for
 * none. NULL on OOM. */
char *gj_selection_nvidia_indexes(const struct gj_selection *sel);

/* Whether a cgroup path (from /proc/<pid>/cgroup, or a directory below a mount)
 * is in a Slurm job: a job_<digits> component below a slurm* one (cgroup/v1's
 * slurm_<node>/uid_U/job_J/step_S/task_T). false for NULL. */
bool gj_slurm_is_job_cgroup(const char *path);

/* What a caller inside a Slurm job may use: the allowed GPU set for `gpujail run`
 * (and `--gpu auto`). In a Slurm job when job_id is set, or when cgroup_path (the
 * caller's v1 devices cgroup, "/slurm_node/uid_0/job_7/step_0/task_0"; NULL if none)
 * has a job_<N> component below a slurm* one: sudo drops SLURM_* variables, the
 * cgroup stays. Then, first that answers:
 *   devices_list  the text of that cgroup's devices.list, when it is default-deny
 *                 (no "a *:*" line: spank_gpujail.so made it so): the GPUs all of
 *                 whose nodes it allows, whatever the environment says;
 *   the variables as gj_slurm_allocation() reads them, when job_id is set;
 * Returns 0 when not in a Slurm job, or when neither answers (sudo dropped the
 * variables and Slurm's own cgroup lists no denials): no restriction known, the
 * kernel decides; *ret untouched. 1 with *ret the allowed set (sel->none when
 * none), or a negative errno (logged) for a variable that is not Slurm's. *ret_from
 * (may be NULL) names where the answer came from ("its device cgroup",
 * "SLURM_STEP_GPUS", "SLURM_JOB_GPUS"), a static string. */
int gj_slurm_allowed_gpus(const struct gj_inventory *inv, const char *cgroup_path,
                          const char *devices_list, const char *job_id, const char *step_gpus,
                          const char *job_gpus, struct gj_selection *ret, const char **ret_from);
