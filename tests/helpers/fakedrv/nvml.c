/* SPDX-License-Identifier: Apache-2.0 */
int nvmlInit_v2(void) { return 9; /* NVML_ERROR_DRIVER_NOT_LOADED */ }
int nvmlInit(void) { return 9; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int r) {
        (void)r;
        return "fake";
}
int nvmlSystemGetDriverVersion(char *b, unsigned n) {
        const char *v = "550.54.15";
        unsigned i = 0;
        for (; v[i] && i + 1 < n; i++)
                b[i] = v[i];
        if (n)
                b[i] = 0;
        return 0;
}
