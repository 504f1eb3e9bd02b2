/* SPDX-License-Identifier: Apache-2.0 */
/* No CUDA toolkit needed: dlopen the driver's libcuda.so.1 as an application would,
 * and print cuInit's result, the device count and each device's name. */
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW);
        if (!h) {
                printf("dlopen libcuda.so.1: %s\n", dlerror());
                return 2;
        }
        int (*init)(unsigned) = (int (*)(unsigned))dlsym(h, "cuInit");
        int (*count)(int *) = (int (*)(int *))dlsym(h, "cuDeviceGetCount");
        int (*get)(int *, int) = (int (*)(int *, int))dlsym(h, "cuDeviceGet");
        int (*name)(char *, int, int) = (int (*)(char *, int, int))dlsym(h, "cuDeviceGetName");
        if (!init || !count || !get || !name) {
                printf("libcuda.so.1 lacks cuInit, cuDeviceGetCount, cuDeviceGet or cuDeviceGetName\n");
                return 3;
        }
        int r = init(0), n = -1;
        if (r == 0)
                r = count(&n);
        printf("cuInit=%d devices=%d\n", r, n);
        for (int i = 0; r == 0 && i < n; i++) {
                int dev;
                char buf[256] = "?";
                if (get(&dev, i) == 0)
                        name(buf, sizeof(buf), dev);
                printf("device %d: %s\n", i, buf);
        }
        return r == 0 && n == 1 ? 0 : 1;
}
