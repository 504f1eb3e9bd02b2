/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the libFuzzer targets and the regression replayer: each target is one
 * LLVMFuzzerTestOneInput() over a parser an attacker or a broken host can shape.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parsers take NUL-terminated text, as read_full_file() hands it to them. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}
