/* SPDX-License-Identifier: Apache-2.0 */
/* common/: the growable string, the JSON builders' NULL convention, read_full_fd's bound,
 * map_full_file, strv_sort. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "../tap.h"
#include "gpujail/json-util.h"
#include "gpujail/util.h"

static void test_strbuf(void) {
        _cleanup_strbuf_ struct strbuf b = {};
        _cleanup_free_ char *s = NULL;

        is_str(strbuf_str(&b), "", "strbuf: empty is \"\"");
        strbuf_printf(&b, "%s:%u", "nvidia", 7u);
        strbuf_append(&b, ",", 1);
        for (int i = 0; i < 1000; i++)
                strbuf_printf(&b, "%d", i % 10);
        is_int(b.len, strlen("nvidia:7,") + 1000, "strbuf: length after 1001 appends");
        ok(strncmp(strbuf_str(&b), "nvidia:7,0123456789", 19) == 0, "strbuf: text in order");
        s = strbuf_steal(&b);
        ok(s && strlen(s) == strlen("nvidia:7,") + 1000, "strbuf: steal hands out the string");
        ok(!b.data && b.len == 0, "strbuf: steal leaves it empty");
        free(s);
        s = strbuf_steal(&b);
        is_str(s, "", "strbuf: steal of an empty buffer is \"\"");

        strbuf_append(&b, "a\0b", 3);
        is_int(b.len, 3, "strbuf: NULs are bytes like others");
        ok(b.data[3] == 0, "strbuf: NUL-terminated after an append");

        b.oom = true;
        strbuf_printf(&b, "more");
        is_int(b.len, 3, "strbuf: after a failure appends do nothing");
        ok(strbuf_str(&b) == NULL, "strbuf: a failure shows at the end");
        ok(strbuf_steal(&b) == NULL && !b.data, "strbuf: steal after a failure is NULL and frees");
}

static const char *text(struct json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static void test_json(void) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *a = json_object_new_array();
        char *v[] = { (char *)"A=1", (char *)"B=2", NULL };

        ok(gj_json_add_string(o, "s", "x") == 0 && gj_json_add_string(o, "unknown", NULL) == 0 &&
                   gj_json_add_int(o, "n", -1) == 0 &&
                   gj_json_add_int_or_null(o, "m", 5, false) == 0 &&
                   gj_json_add_bool(o, "b", true) == 0 &&
                   gj_json_add_bool_or_null(o, "k", false, true) == 0,
           "json: adds succeed");
        is_str(text(o), "{\"s\":\"x\",\"unknown\":null,\"n\":-1,\"m\":null,\"b\":true,\"k\":false}",
               "json: a NULL string and an unknown value are null, in insertion order");
        is_int(gj_json_add(o, "failed", NULL), -ENOMEM,
               "json: a NULL value is a failed constructor");
        is_int(gj_json_append(a, NULL), -ENOMEM, "json: the same for arrays");
        ok(!json_object_object_get_ex(o, "failed", NULL), "json: a failed add adds nothing");
        ok(gj_json_append_string(a, "x") == 0 && gj_json_append_string(a, NULL) == 0,
           "json: append strings");
        is_str(text(a), "[\"x\",null]", "json: a NULL string in an array is null");

        _cleanup_json_ struct json_object *sv = gj_json_new_strv(v),
                                          *empty = gj_json_new_strv(NULL);
        is_str(text(sv), "[\"A=1\",\"B=2\"]", "json: array from a strv");
        is_str(text(empty), "[]", "json: a NULL strv is an empty array");
}

/* read_full_fd() of a file of `size` bytes with a bound of `max`. */
static int read_sized(size_t size, size_t max, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = tmpfile();
        _cleanup_free_ char *text = NULL;
        for (size_t i = 0; f && i < size; i++)
                fputc('x', f);
        if (!f || fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
                return -EIO;
        return read_full_fd(fileno(f), &text, ret_len, max);
}

static void test_read_bound(void) {
        size_t len = 0;
        ok(read_sized(10, 10, &len) == 0 && len == 10, "read_full_fd: a file of exactly max bytes is read");
        ok(read_sized(11, 10, &len) == -EFBIG, "... one byte more is -EFBIG");
        ok(read_sized(8192, 8192, &len) == 0 && len == 8192, "... also past the first 4 KiB buffer");
        ok(read_sized(8193, 8192, &len) == -EFBIG, "... and one byte more there");
        ok(read_sized(0, 10, &len) == 0 && len == 0, "... an empty file is empty");
}

static void test_map_full_file(void) {
        char dir[] = "/tmp/gj-test-common-XXXXXX";
        if (!mkdtemp(dir)) {
                skip("mkdtemp failed", "map_full_file");
                return;
        }
        _cleanup_free_ char *path = strprintf("%s/f", dir);
        void *p = NULL;
        size_t len = 1;
        ok(write_file_atomic(path, "", 0, 0644) == 0 && map_full_file(path, 16, &p, &len) == 0 && !p && len == 0,
           "map_full_file: an empty file maps to nothing");
        ok(write_file_atomic(path, "0123456789", 10, 0644) == 0 && map_full_file(path, 16, &p, &len) == 0 &&
                   len == 10 && memcmp(p, "0123456789", 10) == 0,
           "map_full_file: its bytes");
        if (p)
                munmap(p, len);
        is_int(map_full_file(path, 9, &p, &len), -EFBIG, "map_full_file: a byte past max: -EFBIG");
        is_int(map_full_file(dir, 1 << 20, &p, &len), -EBADFD, "map_full_file: a directory is refused");
        is_int(map_full_file("/nonexistent/gj", 16, &p, &len), -ENOENT, "map_full_file: missing: -ENOENT");
        unlink(path);
        rmdir(dir);
}

static void test_strv_sort(void) {
        char *v[] = { "libnvidia-ml.so", "libEGL_nvidia.so", "libcuda.so", "libcuda.so", NULL };
        strv_sort(v);
        _cleanup_free_ char *joined = strv_join(v, " ");
        is_str(joined, "libEGL_nvidia.so libcuda.so libcuda.so libnvidia-ml.so",
               "strv_sort: strcmp order, duplicates kept");
        strv_sort(NULL);
        char *empty[] = { NULL };
        strv_sort(empty);
        ok(empty[0] == NULL, "strv_sort: NULL and an empty vector are fine");
}

int main(void) {
        test_strbuf();
        test_strv_sort();
        test_read_bound();
        test_map_full_file();
        test_json();
        return done_testing();
}
