/* SPDX-License-Identifier: Apache-2.0 */
/* fake libcuda: just enough symbols for dlopen/dlsym probes */
int cuInit(unsigned int flags) {
        (void)flags;
        return 100; /* CUDA_ERROR_NO_DEVICE */
}
int cuDriverGetVersion(int *v) {
        if (v)
                *v = 12040;
        return 0;
}
int cuDeviceGetCount(int *n) {
        if (n)
                *n = 0;
        return 0;
}
int cuGetProcAddress_v2(const char *s, void **p, int v, unsigned long long f, int *st) {
        (void)s;
        (void)v;
        (void)f;
        if (p)
                *p = 0;
        if (st)
                *st = 0;
        return 500;
}
