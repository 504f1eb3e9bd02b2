/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
        const char *lib = argc > 1 ? argv[1] : "libcuda.so.1";
        void *h = dlopen(lib, RTLD_NOW);
        if (!h) {
                fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
                return 2;
        }
        int (*init)(unsigned) = (int (*)(unsigned))dlsym(h, "cuInit");
        int (*ver)(int *) = (int (*)(int *))dlsym(h, "cuDriverGetVersion");
        Dl_info di;
        char path[4096] = "?";
        if (init && dladdr((void *)init, &di))
                snprintf(path, sizeof path, "%s", di.dli_fname);
        int v = 0;
        if (ver)
                ver(&v);
        printf("%s -> %s cuInit=%d version=%d\n", lib, path, init ? init(0) : -1, v);
        return 0;
}
