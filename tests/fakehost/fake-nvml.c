/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test-only libnvidia-ml.so.1: the dozen NVML calls gpujail makes for MIG
 * devices (devices/nvml.c), answered from a text file, so that the NVML path
 * (MIG UUIDs, NVIDIA's MIG index order, MIG mode) runs for real on a simulated
 * host. Put its directory first in LD_LIBRARY_PATH and name the file in
 * FAKE_NVML:
 *
 *   gpu <pci bus id> <mig mode 0|1>
 *   mig <pci bus id> <NVML index> <gi> <ci> <uuid> <name...>
 *
 * Never installed; the real library is NVIDIA's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define MAX_GPUS 16
#define MAX_MIGS 8

struct fake_dev {
        char bus[32];
        int is_mig;
        unsigned mode;
        unsigned gi, ci;
        char uuid[96];
        char name[96];
        struct fake_dev *migs[MAX_MIGS];
};

static struct fake_dev gpus[MAX_GPUS], migs[MAX_GPUS * MAX_MIGS];
static int n_gpus, n_migs, inited;

static struct fake_dev *gpu_by_bus(const char *bus) {
        for (int i = 0; i < n_gpus; i++)
                if (strcasecmp(gpus[i].bus, bus) == 0)
                        return &gpus[i];
        return NULL;
}

static void parse_line(char *line) {
        char bus[32], uuid[96];
        unsigned a, b, c;
        int off = 0;

        if (sscanf(line, "gpu %31s %u", bus, &a) == 2 && n_gpus < MAX_GPUS) {
                struct fake_dev *g = &gpus[n_gpus++];
                snprintf(g->bus, sizeof(g->bus), "%s", bus);
                g->mode = a;
                return;
        }
        if (sscanf(line, "mig %31s %u %u %u %95s %n", bus, &a, &b, &c, uuid, &off) == 5 &&
            off > 0) {
                struct fake_dev *g = gpu_by_bus(bus);
                if (!g || a >= MAX_MIGS || n_migs >= MAX_GPUS * MAX_MIGS)
                        return;
                struct fake_dev *m = &migs[n_migs++];
                m->is_mig = 1;
                m->gi = b;
                m->ci = c;
                snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
                snprintf(m->name, sizeof(m->name), "%s", line + off);
                m->name[strcspn(m->name, "\n")] = 0;
                g->migs[a] = m;
        }
}

int nvmlInit_v2(void) {
        const char *path = getenv("FAKE_NVML");
        FILE *f = path ? fopen(path, "re") : NULL;
        char line[512];

        if (!f)
                return NVML_ERROR_UNINITIALIZED;
        n_gpus = n_migs = 0;
        while (fgets(line, sizeof(line), f))
                parse_line(line);
        fclose(f);
        inited = 1;
        return NVML_SUCCESS;
}

int nvmlShutdown(void) {
        inited = 0;
        return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByPciBusId_v2(const char *bus, struct fake_dev **ret) {
        struct fake_dev *g = inited ? gpu_by_bus(bus) : NULL;
        if (!g)
                return NVML_ERROR_NOT_FOUND;
        *ret = g;
        return NVML_SUCCESS;
}

int nvmlDeviceGetMigMode(struct fake_dev *d, unsigned *current, unsigned *pending) {
        *current = *pending = d->mode;
        return NVML_SUCCESS;
}

int nvmlDeviceGetMaxMigDeviceCount(struct fake_dev *d, unsigned *count) {
        *count = d->mode ? 7 : 0;
        return NVML_SUCCESS;
}

int nvmlDeviceGetMigDeviceHandleByIndex(struct fake_dev *d, unsigned i, struct fake_dev **ret) {
        if (i >= MAX_MIGS || !d->migs[i])
                return NVML_ERROR_NOT_FOUND;
        *ret = d->migs[i];
        return NVML_SUCCESS;
}

int nvmlDeviceGetGpuInstanceId(struct fake_dev *d, unsigned *id) {
        if (!d->is_mig)
                return NVML_ERROR_INVALID_ARGUMENT;
        *id = d->gi;
        return NVML_SUCCESS;
}

int nvmlDeviceGetComputeInstanceId(struct fake_dev *d, unsigned *id) {
        if (!d->is_mig)
                return NVML_ERROR_INVALID_ARGUMENT;
        *id = d->ci;
        return NVML_SUCCESS;
}

static int copy_out(const char *s, char *buf, unsigned len) {
        if (strlen(s) + 1 > len)
                return NVML_ERROR_INSUFFICIENT_SIZE;
        memcpy(buf, s, strlen(s) + 1);
        return NVML_SUCCESS;
}

int nvmlDeviceGetUUID(struct fake_dev *d, char *buf, unsigned len) {
        return copy_out(d->uuid, buf, len);
}

int nvmlDeviceGetName(struct fake_dev *d, char *buf, unsigned len) {
        return copy_out(d->name, buf, len);
}
