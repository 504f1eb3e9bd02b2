/* SPDX-License-Identifier: Apache-2.0 */
/* What gpujail logs, captured, for tests that check the one message a failure gives. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* log.c writes to stderr: swap it for a memory stream. */
static char *capture_buf;
static size_t capture_len;
static FILE *capture_saved;

static void capture_begin(void) {
        fflush(stderr);
        capture_saved = stderr;
        free(capture_buf);
        capture_buf = NULL;
        stderr = open_memstream(&capture_buf, &capture_len);
        if (!stderr) {
                stderr = capture_saved;
                abort();
        }
}

/* The captured text (owned by the capture; valid until the next capture_begin). */
static const char *capture_end(void) {
        fclose(stderr);
        stderr = capture_saved;
        return capture_buf ? capture_buf : "";
}

static bool contains(const char *haystack, const char *needle) {
        return haystack && strstr(haystack, needle);
}
