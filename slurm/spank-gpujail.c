/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spank_gpujail.so: Slurm's SPANK plugin that confines every task of a job step to
 * the GPUs Slurm allocated it, default deny (docs/slurm.md).
 *
 * Slurm's own ConstrainDevices=yes only denies the gres.conf GPUs a task was not
 * given: a GPU node missing from gres.conf, nvidiactl and nvidia-uvm stay open to
 * every job. Here each task's device cgroup is made default-deny with exactly: the
 * allocated GPUs' nodes, the control nodes they need (only when a GPU is allocated),
 * the OCI default nodes (null, zero, full, random, urandom, tty, ptmx, pts) and what
 * plugstack.conf adds (allow=...).
 *
 * Where: slurm_spank_task_post_fork, in slurmstepd (root), once per task. slurmstepd
 * has forked the task, task/cgroup has moved it into its own device cgroup
 * (.../job_J/step_S/task_T) and written Slurm's rules there, and the task still
 * waits for slurmstepd's go before it execs (src/slurmd/slurmstepd/mgr.c,
 * _fork_all_tasks): the last privileged point before the job's code runs, and the
 * first where the task's own cgroup exists. A failure here fails the step's launch
 * (slurmstepd kills the waiting tasks, srun prints the reason): closed. With
 * dev=curated, slurm_spank_task_init_privileged (in the task, root) also mounts
 * gpujail's /dev in a mount namespace of the task's own.
 *
 * The plan (inventory, allocation, rules) is made once per step in slurm_spank_user_init,
 * before slurmstepd forks the tasks, which inherit it.
 *
 * Allocation: SLURM_STEP_GPUS (SLURM_JOB_GPUS for a batch script), which Slurm sets
 * or clears for every step; Slurm's numbers are gpujail's indexes when gres.conf came
 * from `gpujail slurm gres-conf` (devices/slurm.c).
 */
#include <slurm/slurm.h> /* SLURM_BATCH_SCRIPT */
#include <slurm/spank.h>
#include <stdint.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "gpujail/cgroup.h"
#include "gpujail/devfs.h"
#include "gpujail/inventory.h"
#include "gpujail/mount.h"
#include "gpujail/plan.h"
#include "gpujail/slurm.h"
#include "gpujail/util.h"

SPANK_PLUGIN(gpujail, 1);

/* slurmstepd takes a callback's failure for one only when it is negative (22.05:
 * `spank_task_post_fork(job, i) < 0`); ESPANK_ERROR and the other ESPANK_* codes
 * are positive and would let the task run unconfined. */
#define SPANK_FAIL (-1)

#define MAX_EXTRA_RULES 32
#define ENV_VALUE_MAX 4096

/* plugstack.conf arguments. */
static struct gj_cgroup_rule extra_rules[MAX_EXTRA_RULES];
static size_t n_extra_rules;
static bool dev_curated; /* dev=curated */

/* The step's plan and rules, made once per process (every task of a step on a node
 * has the same): in slurmstepd for the cgroups, in each task for its /dev. */
static struct gj_inventory *step_inv;
static struct gj_plan step_plan;
static struct gj_cgroup_rule *step_rules;
static size_t n_step_rules;
static char *step_gpus_text; /* "0,1" or "none": for messages */

static void log_to_slurm(enum gj_log_level level, const char *line) {
        if (level == GJ_LOG_ERROR)
                slurm_error("gpujail: %s", line);
        else if (level == GJ_LOG_WARNING)
                slurm_info("gpujail: warning: %s", line);
        else if (level == GJ_LOG_INFO)
                slurm_verbose("gpujail: %s", line);
        else
                slurm_debug("gpujail: %s", line);
}

/* "c:231:*:rw": one more allow rule for every task (InfiniBand, FUSE, ...). */
static int parse_allow(const char *s) {
        char type, major[16], minor[16], access[4];
        struct gj_cgroup_rule r = {};

        if (n_extra_rules >= MAX_EXTRA_RULES)
                return log_error_errno(-E2BIG, "more than %d allow= arguments", MAX_EXTRA_RULES);
        if (sscanf(s, "%c:%15[0-9*]:%15[0-9*]:%3[rwm]", &type, major, minor, access) != 4 ||
            (type != 'c' && type != 'b'))
                return log_error_errno(-EINVAL, "allow=%s: want TYPE:MAJOR:MINOR:ACCESS, e.g. allow=c:231:*:rw", s);
        r.type = type;
        if (streq(major, "*"))
                r.major = GJ_WILDCARD;
        else if (safe_atou(major, &r.major) < 0)
                return log_error_errno(-EINVAL, "allow=%s: bad major '%s'", s, major);
        if (streq(minor, "*"))
                r.minor = GJ_WILDCARD;
        else if (safe_atou(minor, &r.minor) < 0)
                return log_error_errno(-EINVAL, "allow=%s: bad minor '%s'", s, minor);
        snprintf(r.access, sizeof(r.access), "%s", access);
        extra_rules[n_extra_rules++] = r;
        return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av) {
        if (!spank_remote(sp))
                return ESPANK_SUCCESS;
        log_set_program("gpujail");
        log_set_sink(log_to_slurm);
        for (int i = 0; i < ac; i++) {
                const char *v = startswith(av[i], "allow=");
                if (v) {
                        if (parse_allow(v) < 0)
                                return SPANK_FAIL;
                } else if (streq(av[i], "dev=curated"))
                        dev_curated = true;
                else {
                        log_error("unknown plugstack.conf argument '%s' (allow=TYPE:MAJOR:MINOR:ACCESS, "
                                  "dev=curated)", av[i]);
                        return SPANK_FAIL;
                }
        }
        return ESPANK_SUCCESS;
}

/* A variable of the step's environment, or NULL when unset. */
static char *step_getenv(spank_t sp, const char *name, char *buf, int size) {
        return spank_getenv(sp, name, buf, size) == ESPANK_SUCCESS ? buf : NULL;
}

/* The GPUs Slurm gave this step. The inventory is loaded only when there are some. */
static int step_allocation(spank_t sp, struct gj_inventory **inv, struct gj_selection *ret) {
        char job_id[32], gpus[ENV_VALUE_MAX];
        uint32_t step_id = 0;
        const char *step_gpus = NULL, *job_gpus = NULL;

        if (spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS)
                return log_error_errno(-EIO, "cannot get the step id from Slurm");
        if (!step_getenv(sp, "SLURM_JOB_ID", job_id, sizeof(job_id)))
                snprintf(job_id, sizeof(job_id), "?"); /* in a step: Slurm's, never unset */
        /* A batch script has its job's GPUs; any other step only its own (Slurm sets
         * or clears SLURM_STEP_GPUS for each, but not SLURM_JOB_GPUS). */
        if (step_id == SLURM_BATCH_SCRIPT)
                job_gpus = step_getenv(sp, "SLURM_JOB_GPUS", gpus, sizeof(gpus));
        else
                step_gpus = step_getenv(sp, "SLURM_STEP_GPUS", gpus, sizeof(gpus));
        if (!step_gpus && !job_gpus)
                step_gpus = "";

        if (!isempty(step_gpus) || !isempty(job_gpus)) {
                int r = gj_inventory_load(&(struct gj_inventory_opts){ .skip_modules = true }, inv);
                if (r < 0)
                        return log_error_errno(r, "cannot discover the node's GPUs: %m");
        }
        int r = gj_slurm_allocation(*inv, job_id, step_gpus, job_gpus, ret);
        return r < 0 ? r : 0;
}

/* The step's plan (GPU and control nodes) and rules: the plan's, the defaults, allow=. */
static int plan_step(spank_t sp) {
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        _cleanup_(gj_selection_done) struct gj_selection sel = {};
        _cleanup_(gj_plan_done) struct gj_plan plan = {};
        int r;

        if ((r = step_allocation(sp, &inv, &sel)) < 0)
                return r;
        if (!sel.none && (r = gj_plan_build(inv, &sel, &(struct gj_plan_opts){}, &plan)) < 0)
                return r;

        size_t n = plan.n_rules + gj_devfs_n_default_rules + n_extra_rules;
        struct gj_cgroup_rule *rules = calloc(n, sizeof(*rules));
        _cleanup_free_ char *text = sel.none ? strdup("none") : gj_selection_nvidia_indexes(&sel);
        if (!rules || !text) {
                free(rules);
                return log_error_errno(-ENOMEM, "cannot plan the step's devices: %m");
        }
        memcpy(rules, plan.rules, plan.n_rules * sizeof(*rules));
        memcpy(rules + plan.n_rules, gj_devfs_default_rules, gj_devfs_n_default_rules * sizeof(*rules));
        memcpy(rules + plan.n_rules + gj_devfs_n_default_rules, extra_rules, n_extra_rules * sizeof(*rules));
        step_rules = rules;
        n_step_rules = n;
        step_gpus_text = TAKE_PTR(text);
        step_plan = plan;
        plan = (struct gj_plan){};
        step_inv = TAKE_PTR(inv); /* the plan points into it */
        return 0;
}

/* Only a cgroup Slurm made for this very task (".../task_<id>") is the task's own:
 * never deny devices to slurmd's or the whole machine's cgroup. */
static bool is_task_cgroup(const char *dir, int task_id) {
        char want[32];
        const char *slash = dir ? strrchr(dir, '/') : NULL;
        snprintf(want, sizeof(want), "task_%d", task_id);
        return slash && streq(slash + 1, want);
}

static double ms_since(const struct timespec *t0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static int confine_task(pid_t pid, int task_id, const struct timespec *t0) {
        _cleanup_free_ char *v1 = NULL, *v2 = NULL;
        bool done = false;
        int r;

        if ((r = gj_cgroup_paths_of_pid(pid, &v1, &v2)) < 0)
                return r;
        if (is_task_cgroup(v1, task_id)) {
                if ((r = gj_cgroup_v1_deny_all(v1)) < 0 ||
                    (r = gj_cgroup_v1_allow(v1, step_rules, n_step_rules)) < 0)
                        return r;
                done = true;
        }
        if (is_task_cgroup(v2, task_id)) {
                int fd = gj_cgroup_v2_attach(v2, step_rules, n_step_rules, -1);
                if (fd < 0)
                        return fd;
                close(fd); /* the attachment stays, and goes with the cgroup */
                done = true;
        }
        if (!done)
                return log_error_errno(-EOPNOTSUPP,
                                       "task %d (pid %d) has no device cgroup of its own (devices: %s, cgroup2: "
                                       "%s): set TaskPlugin=task/cgroup and ConstrainDevices=yes (cgroup.conf)",
                                       task_id, (int)pid, v1 ? v1 : "none", v2 ? v2 : "none");
        /* The time spent here (bench/slurm.sh reads it): what the plugin adds to a task's start. */
        log_info("task %d (pid %d): device cgroup default-deny, GPUs %s (%.2f ms)", task_id, (int)pid,
                 step_gpus_text, ms_since(t0));
        return 0;
}

/* Once per step, in slurmstepd before it forks the tasks (privileges dropped to the
 * user's: the inventory only reads): the tasks inherit the plan, and each of their
 * callbacks costs only what it changes. */
int slurm_spank_user_init(spank_t sp, int ac, char **av) {
        struct timespec t0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!spank_remote(sp) || step_rules)
                return ESPANK_SUCCESS;
        if (plan_step(sp) < 0) {
                log_error("cannot plan the step's devices: failing it");
                return SPANK_FAIL;
        }
        log_info("step planned: GPUs %s (%.2f ms)", step_gpus_text, ms_since(&t0));
        return ESPANK_SUCCESS;
}

/* dev=curated: the task's own mount namespace with gpujail's /dev (kernel/devfs.c:
 * a tmpfs with the OCI default nodes, the plan's nodes, pts, fd links), except that
 * /dev/shm stays the host's, shared by the step's tasks (MPI's shared memory).
 * gj_devfs_setup() binds the host's nodes by their /dev paths, so the new /dev is
 * built in a scratch tmpfs first (on /dev/shm, which we replace anyway) and then
 * moved onto /dev; the scratch stays hidden below it and goes with the namespace. */
static int curate_dev(void) {
        static const char *const scratch_opts[] = { "mode=0700", "size=64k", NULL };
        _cleanup_close_ int shm = -1, scratch = -1, shmdir = -1, scratchroot = -1, newdev = -1,
                            devdir = -1, newshm = -1;
        int r;

        if (unshare(CLONE_NEWNS) < 0)
                return log_error_errno(-errno, "cannot make the task a mount namespace: %m");
        /* Slave, not private: the host's later mounts (automounts) still reach the job,
         * nothing of ours reaches the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return log_error_errno(-errno, "cannot make the task's mounts slaves: %m");
        if ((shm = gj_mount_clone_tree(AT_FDCWD, "/dev/shm", 0, 0, "/dev/shm")) < 0)
                return shm;
        if ((scratch = gj_mount_new_fs("tmpfs", scratch_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)) < 0)
                return log_error_errno(scratch, "cannot make a scratch tmpfs: %m");
        if ((shmdir = open("/dev/shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return log_error_errno(-errno, "cannot open /dev/shm: %m");
        if ((r = gj_mount_attach(scratch, shmdir, "a scratch tmpfs", "/dev/shm")) < 0)
                return r;
        if ((scratchroot = open("/dev/shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return log_error_errno(-errno, "cannot open the scratch tmpfs: %m");
        if ((r = gj_devfs_setup(scratchroot, &step_plan, 0)) < 0)
                return r;
        if ((newdev = openat(scratchroot, "dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
            (devdir = open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return log_error_errno(-errno, "cannot open the new /dev: %m");
        if ((r = gj_mount_attach(newdev, devdir, "gpujail's /dev", "/dev")) < 0)
                return r;
        if ((newshm = open("/dev/shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return log_error_errno(-errno, "cannot open the new /dev/shm: %m");
        return gj_mount_attach(shm, newshm, "the host's /dev/shm", "/dev/shm");
}

/* In the task itself (root, before Slurm drops privileges and long before exec). */
int slurm_spank_task_init_privileged(spank_t sp, int ac, char **av) {
        struct timespec t0;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!spank_remote(sp) || !dev_curated)
                return ESPANK_SUCCESS;
        if ((!step_rules && (r = plan_step(sp)) < 0) || (r = curate_dev()) < 0) {
                log_error("cannot give the task gpujail's /dev (dev=curated): failing it");
                return SPANK_FAIL;
        }
        log_info("pid %d: gpujail's /dev, GPUs %s (%.2f ms)", (int)getpid(), step_gpus_text, ms_since(&t0));
        return ESPANK_SUCCESS;
}

int slurm_spank_task_post_fork(spank_t sp, int ac, char **av) {
        pid_t pid = 0;
        uint32_t step_id = 0;
        int task_id = -1, r;

        struct timespec t0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!spank_remote(sp))
                return ESPANK_SUCCESS;
        if (spank_get_item(sp, S_JOB_STEPID, &step_id) == ESPANK_SUCCESS && step_id == SLURM_EXTERN_CONT) {
                /* Its one task is Slurm's sleep; what pam_slurm_adopt puts there later
                 * (ssh sessions) never passes here (docs/slurm.md). */
                log_warning("the extern step is not confined by gpujail");
                return ESPANK_SUCCESS;
        }
        if (spank_get_item(sp, S_TASK_PID, &pid) != ESPANK_SUCCESS ||
            spank_get_item(sp, S_TASK_ID, &task_id) != ESPANK_SUCCESS) {
                log_error("cannot get the task's pid and id from Slurm: not confining it, failing it");
                return SPANK_FAIL;
        }
        if (!step_rules && (r = plan_step(sp)) < 0) {
                log_error("cannot plan the devices of task %d: failing it", task_id);
                return SPANK_FAIL;
        }
        if ((r = confine_task(pid, task_id, &t0)) < 0) {
                log_error("cannot confine task %d (pid %d) to its GPUs: failing it", task_id, (int)pid);
                return SPANK_FAIL;
        }
        return ESPANK_SUCCESS;
}
