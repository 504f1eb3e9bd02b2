/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one reader of a bundle's config.json (devices/bundle.c). Pure half: text
 * to the typed result (root resolved against the bundle, the request only when
 * asked for, strict parsing, nothing returned on error). File half, in a
 * temporary directory, no root needed: a regular file read with its mode; a
 * symlink, a fifo (without blocking), a directory, a file past
 * GJ_OCI_CONFIG_MAX, a missing file or bundle refused, each with one message
 * naming <bundle>/config.json, no fd left open.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "../tap.h"
#include "gpujail/bundle.h"
#include "gpujail/oci-config.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"
#include "log-capture.h"

static const char runc_config[] =
        "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],"
        "\"env\":[\"PATH=/usr/bin:/bin\",\"NVIDIA_VISIBLE_DEVICES=3\"]},\"root\":{\"path\":\"rootfs\"},"
        "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}}}";

static const struct gj_bundle_opts with_request = { .request = true };

static int parse(const char *text, const struct gj_bundle_opts *opts, struct gj_bundle *b) {
        return gj_bundle_parse("/b", text, strlen(text), opts, b);
}

/* root.path as the bundle resolves it: NULL when there is none to resolve. */
static void root_is(const char *text, const char *want, const char *what) {
        struct gj_bundle b = {};
        is_int(parse(text, NULL, &b), 0, "%s: parses", what);
        is_str(b.root, want, "%s", what);
        gj_bundle_done(&b);
}

static void test_parse(void) {
        struct gj_bundle b = {};
        is_int(parse(runc_config, NULL, &b), 0, "a runc config parses");
        is_str(b.dir, "/b", "dir kept as given");
        is_str(b.config_path, "/b/config.json", "config_path names the file");
        ok(b.config && json_object_is_type(b.config, json_type_object), "the document");
        is_str(b.root, "/b/rootfs", "relative root.path resolved against the bundle");
        is_int(b.request.source, GJ_REQUEST_NONE, "no request read unless asked for");
        is_int(b.mode, 0, "no mode without a file");
        gj_bundle_done(&b);
        ok(!b.config && !b.root && !b.dir, "done clears the result");

        root_is("{\"root\":{\"path\":\"/var/lib/x/merged\"}}", "/var/lib/x/merged", "absolute root.path kept as is");
        root_is("{\"root\":{\"path\":3}}", NULL, "root.path not a string: no root");
        root_is("{\"root\":{\"path\":\"\"}}", NULL, "root.path empty: no root");
        root_is("{\"root\":\"rootfs\"}", NULL, "root not an object: no root");
        root_is("{}", NULL, "no root");

        static const struct {
                const char *text, *why, *msg;
        } bad[] = {
                { "", "empty", "truncated" },
                { "{\"a\": 1,}", "a trailing comma", "malformed JSON at byte" },
                { "{\"a\": 'x'}", "a single-quoted string", "malformed JSON at byte" },
                { "{\"a\": 1} {}", "trailing data", "at byte 9" },
                { "[]", "an array", "not a JSON object" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct gj_bundle untouched = { .mode = 0755 };
                capture_begin();
                int r = parse(bad[i].text, &with_request, &untouched);
                const char *log = capture_end();
                is_int(r, -EBADMSG, "%s refused", bad[i].why);
                ok(contains(log, "/b/config.json") && contains(log, bad[i].msg), "... naming the file and why");
                ok(!untouched.config && untouched.mode == 0755, "... nothing returned");
        }
}

static void test_request(void) {
        struct gj_bundle b = {};
        is_int(parse(runc_config, &with_request, &b), 0, "request asked for");
        is_int(b.request.source, GJ_REQUEST_ENV, "NVIDIA_VISIBLE_DEVICES read");
        is_str(b.request.selector, "3", "... its value");
        is_int(b.request.select_flags, GJ_SELECT_NVIDIA_INDEXES, "... with NVIDIA index semantics");
        gj_bundle_done(&b);

        is_int(parse("{\"annotations\":{\"gpujail.io/gpus\":\"1,2\"},\"process\":{\"env\":"
                     "[\"NVIDIA_VISIBLE_DEVICES=all\"]}}",
                     &with_request, &b),
               0, "annotation and env");
        is_int(b.request.source, GJ_REQUEST_ANNOTATION, "the annotation wins");
        is_str(b.request.selector, "1,2", "... its selector");
        gj_bundle_done(&b);

        const char *cdi = "{\"annotations\":{\"cdi.k8s.io/x\":\"example.com/gpu=GPU-1234abcd\"}}";
        is_int(parse(cdi, &with_request, &b), 0, "a CDI name of another kind");
        is_int(b.request.source, GJ_REQUEST_NONE, "... is not ours by default");
        gj_bundle_done(&b);
        is_int(parse(cdi, &(struct gj_bundle_opts){ .request = true, .cdi_kind = "example.com/gpu" }, &b), 0,
               "the same with --kind example.com/gpu");
        is_int(b.request.source, GJ_REQUEST_CDI, "... is ours");
        is_str(b.request.selector, "GPU-1234abcd", "... its selector");
        gj_bundle_done(&b);

        /* `gpujail oci inject` does not read the request: a broken one is not its business. */
        const char *broken = "{\"annotations\":{\"gpujail.io/gpus\":3},\"root\":{\"path\":\"r\"}}";
        is_int(parse(broken, NULL, &b), 0, "malformed request not asked for: parses");
        gj_bundle_done(&b);
        struct gj_bundle untouched = {};
        capture_begin();
        int r = parse(broken, &with_request, &untouched);
        const char *log = capture_end();
        is_int(r, -EBADMSG, "malformed request asked for: refused (fails closed)");
        ok(contains(log, "gpujail.io/gpus"), "... naming the annotation");
        ok(!untouched.config && !untouched.root, "... nothing returned");
}

/* ---- the file ---- */

static char tmp[] = "/tmp/gj-test-bundle-XXXXXX";

static char *at(const char *name) {
        static char buf[4][256];
        static unsigned k;
        char *p = buf[k++ % ELEMENTSOF(buf)];
        snprintf(p, sizeof(buf[0]), "%s/%s", tmp, name);
        return p;
}

/* The lowest free fd: the same before and after means nothing was left open. */
static int lowest_free_fd(void) {
        int fd = dup(0);
        close(fd);
        return fd;
}

/* Read tmp/<dir>/config.json, expect error `want` and a message with `msg` naming the file. */
static void read_refused(const char *dir, int want, const char *msg, const char *what) {
        struct gj_bundle b = {};
        capture_begin();
        int r = gj_bundle_read(at(dir), &with_request, &b);
        const char *log = capture_end();
        is_int(r, want, "%s: refused", what);
        char *path = at(dir);
        strcat(path, "/config.json");
        ok(contains(log, path) && contains(log, msg), "%s: says so, naming the file", what);
        ok(!strchr(log, '\n') || !strchr(strchr(log, '\n') + 1, '\n'), "%s: one line", what);
        ok(!b.config, "%s: nothing returned", what);
}

static void write_config(const char *dir, const char *text, mode_t mode) {
        mkdir(at(dir), 0755);
        char *path = at(dir);
        strcat(path, "/config.json");
        if (write_file_atomic(path, text, strlen(text), mode) < 0)
                abort();
}

static void test_read(void) {
        if (!mkdtemp(tmp))
                skip_all("cannot make a temporary directory");
        int fd0 = lowest_free_fd();

        write_config("good", runc_config, 0600);
        struct gj_bundle b = {};
        is_int(gj_bundle_read(at("good"), &with_request, &b), 0, "a regular config.json is read");
        is_str(b.config_path, at("good/config.json"), "config_path");
        is_str(b.root, at("good/rootfs"), "root resolved against the bundle");
        is_int(b.mode, 0600, "its mode, to keep when it is written back");
        is_int(b.request.source, GJ_REQUEST_ENV, "the request in it");
        gj_bundle_done(&b);

        read_refused("none", -ENOENT, "cannot open", "no bundle directory");
        mkdir(at("empty"), 0755);
        read_refused("empty", -ENOENT, "No such file", "no config.json");

        mkdir(at("link"), 0755);
        if (symlink(at("good/config.json"), at("link/config.json")) < 0)
                abort();
        read_refused("link", -ELOOP, "symbolic link", "config.json a symlink to a good file");

        mkdir(at("fifo"), 0755);
        if (mkfifo(at("fifo/config.json"), 0600) < 0)
                abort();
        alarm(30); /* a reader that blocks on the fifo fails here instead of hanging */
        read_refused("fifo", -EBADFD, "not a regular file", "config.json a fifo");
        alarm(0);

        mkdir(at("dir"), 0755);
        mkdir(at("dir/config.json"), 0755);
        read_refused("dir", -EISDIR, "Is a directory", "config.json a directory");

        write_config("big", "{}", 0644);
        if (truncate(at("big/config.json"), (off_t)GJ_OCI_CONFIG_MAX + 1) < 0)
                abort();
        read_refused("big", -EFBIG, "larger than", "config.json past GJ_OCI_CONFIG_MAX");

        write_config("bad", "{\"a\": 1} x", 0644);
        read_refused("bad", -EBADMSG, "at byte 9", "config.json with trailing data");

        is_int(lowest_free_fd(), fd0, "no fd left open");

        static const char *const files[] = { "good/config.json", "link/config.json", "fifo/config.json",
                                             "big/config.json", "bad/config.json" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                unlink(at(files[i]));
        static const char *const dirs[] = { "dir/config.json", "dir", "good", "empty", "link",
                                            "fifo", "big", "bad", "" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                rmdir(at(dirs[i]));
}

int main(void) {
        log_set_max_level(GJ_LOG_ERROR);
        test_parse();
        test_request();
        test_read();
        return done_testing();
}
