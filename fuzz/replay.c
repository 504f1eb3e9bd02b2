/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replays fuzz inputs through a target's LLVMFuzzerTestOneInput() without libFuzzer:
 * the seed corpus and every crash ever found (tests/fuzz/regressions/<target>/) run in
 * the normal build, with gcc, under CI's sanitizers. One TAP line per input.
 *
 *   replay-<target> DIR|FILE...
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz-common.h"
#include "gpujail/util.h"

static int n_inputs;

static int replay_file(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_full_file(path, &data, &len, 16u << 20);
        if (r < 0) {
                printf("not ok %d - %s: cannot read: %s\n", ++n_inputs, path, strerror(-r));
                return r;
        }
        fflush(stdout);
        LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        printf("ok %d - %s\n", ++n_inputs, path);
        return 0;
}

static int filter_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

static int replay_dir(const char *dir) {
        struct dirent **names = NULL;
        int n = scandir(dir, &names, filter_hidden, alphasort), ret = 0;
        if (n < 0)
                return 0; /* no regressions yet for this target */
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = strprintf("%s/%s", dir, names[i]->d_name);
                struct stat st;
                if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) && replay_file(p) < 0)
                        ret = -1;
                free(names[i]);
        }
        free(names);
        return ret;
}

int main(int argc, char **argv) {
        int ret = 0;
        /* the parsers log what they refuse: that is expected here, and noise */
        if (!getenv("GJ_REPLAY_VERBOSE"))
                (void)freopen("/dev/null", "w", stderr);
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0 && errno == ENOENT)
                        continue; /* no regression inputs for this target (yet) */
                if (S_ISDIR(st.st_mode)) {
                        if (replay_dir(argv[i]) < 0)
                                ret = 1;
                } else if (replay_file(argv[i]) < 0)
                        ret = 1;
        }
        if (n_inputs == 0) {
                printf("1..0 # SKIP no inputs\n");
                return 77;
        }
        printf("1..%d\n", n_inputs);
        return ret;
}
