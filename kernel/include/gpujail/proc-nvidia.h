/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a job or a container sees of /proc/driver/nvidia (kernel/proc-nvidia.c),
 * for the launcher and the hook alike: only its own GPUs under gpus/, and a
 * params that tells libcuda not to create device nodes.
 */
#pragma once

/*
 * Bind the /proc/driver that we see (the host's: what the inventory read, so a
 * simulated host stays simulated) read-only over <procfd>/driver, the driver
 * directory of the job's or container's own /proc. 0 also when either is
 * missing; a negative errno, logged.
 */
int gj_proc_bind_host_driver(int procfd);

/*
 * In the /proc at procfd (the job's or container's, in the caller's mount
 * namespace): a read-only tmpfs over driver/nvidia/gpus that holds a read-only
 * bind of the entry of each bus id in keep (NULL: none) and nothing else, and
 * over driver/nvidia/params a read-only copy whose ModifyDeviceFiles is 0, so
 * that libcuda never tries to create or chmod nodes (it would, through the
 * set-uid nvidia-modprobe, where the file says 1). Mounts are private:
 * nothing propagates to the host. 0 when done, or when the driver has no
 * /proc entries; a negative errno, logged, naming what failed.
 */
int gj_proc_nvidia_restrict(int procfd, char *const *keep);

/* params' text with "ModifyDeviceFiles: 0" (the line replaced, or added when
 * missing). NULL when out of memory. Pure; exposed for the unit test. */
char *gj_proc_nvidia_params_nomodify(const char *params);
