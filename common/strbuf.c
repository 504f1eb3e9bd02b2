/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>

#include "gpujail/util.h"

/* Room for n more bytes and the NUL; false (and oom from then on) when there is none. */
static bool strbuf_reserve(struct strbuf *b, size_t n) {
        if (b->oom)
                return false;
        if (n >= SIZE_MAX / 4 - b->len) {
                b->oom = true;
                return false;
        }
        if (b->len + n + 1 <= b->size)
                return true;
        size_t size = b->size ?: 64;
        while (size < b->len + n + 1)
                size *= 2;
        char *d = realloc(b->data, size);
        if (!d) {
                b->oom = true;
                return false;
        }
        b->data = d;
        b->size = size;
        return true;
}

void strbuf_append(struct strbuf *b, const void *data, size_t n) {
        if (!strbuf_reserve(b, n))
                return;
        memcpy(b->data + b->len, data, n);
        b->len += n;
        b->data[b->len] = 0;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->oom = true;
                return;
        }
        if (!strbuf_reserve(b, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

const char *strbuf_str(const struct strbuf *b) {
        if (b->oom)
                return NULL;
        return b->data ?: "";
}

char *strbuf_steal(struct strbuf *b) {
        char *s = b->oom ? NULL : b->data ? TAKE_PTR(b->data) : strdup("");
        strbuf_done(b);
        return s;
}

void strbuf_done(struct strbuf *b) {
        free(b->data);
        *b = (struct strbuf){};
}
