/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The few NVML calls that name MIG devices, through dlopen("libnvidia-ml.so.1"):
 * never linked, so a host (or a CI machine) without the driver's userspace builds and
 * runs gpujail the same, naming MIG devices by index.
 *
 * The order is NVIDIA's: MIG device j of a GPU is nvmlDeviceGetMigDeviceHandleByIndex(j),
 * the index libnvidia-container's "<gpu>:<mig>" selector, nvidia-smi -L and the CDI names
 * of NVIDIA's toolkit use. Slots may be empty (NVML_ERROR_NOT_FOUND): they are skipped,
 * as NVIDIA's go-nvlib VisitMigDevices does, and j stays the slot's number.
 */
#include <dlfcn.h>

#include "inventory-internal.h"

#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_FOUND 6
#define NVML_STRING_MAX 96 /* NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_DEVICE_NAME_V2_BUFFER_SIZE */

typedef void *nvml_device;
typedef int nvml_return;

struct nvml_session {
        void *dl;
        nvml_return (*shutdown)(void);
        nvml_return (*by_pci_bus_id)(const char *, nvml_device *);
        nvml_return (*mig_mode)(nvml_device, unsigned *, unsigned *);
        nvml_return (*max_migs)(nvml_device, unsigned *);
        nvml_return (*mig_by_index)(nvml_device, unsigned, nvml_device *);
        nvml_return (*gi_id)(nvml_device, unsigned *);
        nvml_return (*ci_id)(nvml_device, unsigned *);
        nvml_return (*uuid)(nvml_device, char *, unsigned);
        nvml_return (*name)(nvml_device, char *, unsigned);
};

static bool load(struct nvml_session *s, const char *sym, void *fn_ptr) {
        void *f = dlsym(s->dl, sym);
        if (!f)
                log_debug("libnvidia-ml.so.1 has no %s: MIG devices named by index", sym);
        memcpy(fn_ptr, &f, sizeof(f));
        return f != NULL;
}

struct nvml_session *nvml_open(void) {
        _cleanup_free_ struct nvml_session *s = calloc(1, sizeof(*s));
        nvml_return (*init)(void) = NULL;

        if (!s)
                return NULL;
        s->dl = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!s->dl) {
                log_debug("no libnvidia-ml.so.1 (%s): MIG devices named by index", dlerror());
                return NULL;
        }
        if (!load(s, "nvmlInit_v2", &init) || !load(s, "nvmlShutdown", &s->shutdown) ||
            !load(s, "nvmlDeviceGetHandleByPciBusId_v2", &s->by_pci_bus_id) ||
            !load(s, "nvmlDeviceGetMigMode", &s->mig_mode) ||
            !load(s, "nvmlDeviceGetMaxMigDeviceCount", &s->max_migs) ||
            !load(s, "nvmlDeviceGetMigDeviceHandleByIndex", &s->mig_by_index) ||
            !load(s, "nvmlDeviceGetGpuInstanceId", &s->gi_id) ||
            !load(s, "nvmlDeviceGetComputeInstanceId", &s->ci_id) ||
            !load(s, "nvmlDeviceGetUUID", &s->uuid) || !load(s, "nvmlDeviceGetName", &s->name)) {
                dlclose(s->dl);
                return NULL;
        }
        nvml_return r = init();
        if (r != NVML_SUCCESS) {
                log_debug("nvmlInit_v2 failed (%d): MIG devices named by index", r);
                dlclose(s->dl);
                return NULL;
        }
        return TAKE_PTR(s);
}

/* NVML writes NUL-terminated strings; keep only what prints, in case it did not. */
static void keep_printable(char *s, size_t size) {
        s[size - 1] = 0;
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        *s = '?';
}

static int query_mig(struct nvml_session *s, nvml_device mig, struct nvml_mig *ret) {
        *ret = (struct nvml_mig){};
        if (s->gi_id(mig, &ret->gi) != NVML_SUCCESS || s->ci_id(mig, &ret->ci) != NVML_SUCCESS)
                return -EIO;
        if (s->uuid(mig, ret->uuid, sizeof(ret->uuid)) != NVML_SUCCESS ||
            !startswith(ret->uuid, "MIG-"))
                ret->uuid[0] = 0;
        if (s->name(mig, ret->name, sizeof(ret->name)) != NVML_SUCCESS)
                ret->name[0] = 0;
        keep_printable(ret->uuid, sizeof(ret->uuid));
        keep_printable(ret->name, sizeof(ret->name));
        return 0;
}

int nvml_query_gpu(struct nvml_session *s, const char *pci_bus_id, struct nvml_gpu *ret) {
        nvml_device dev;
        unsigned current, pending, max = 0;

        *ret = (struct nvml_gpu){ .mig_mode = -1 };
        if (s->by_pci_bus_id(pci_bus_id, &dev) != NVML_SUCCESS)
                return -ENODEV;
        if (s->mig_mode(dev, &current, &pending) == NVML_SUCCESS)
                ret->mig_mode = current ? 1 : 0;
        if (ret->mig_mode != 1 || s->max_migs(dev, &max) != NVML_SUCCESS || max == 0)
                return 0;
        if (max > 64)
                max = 64; /* 7 on A100/H100; a bound against a confused library */
        ret->migs = calloc(max, sizeof(*ret->migs));
        if (!ret->migs)
                return -ENOMEM;
        for (unsigned i = 0; i < max; i++) {
                nvml_device mig;
                nvml_return r = s->mig_by_index(dev, i, &mig);
                if (r == NVML_ERROR_NOT_FOUND)
                        continue;
                if (r != NVML_SUCCESS || query_mig(s, mig, &ret->migs[ret->n_migs]) < 0)
                        continue;
                ret->migs[ret->n_migs++].index = i;
        }
        return 0;
}

void nvml_gpu_done(struct nvml_gpu *g) {
        free(g->migs);
        *g = (struct nvml_gpu){};
}

void nvml_close(struct nvml_session *s) {
        if (!s)
                return;
        s->shutdown();
        dlclose(s->dl);
        free(s);
}
