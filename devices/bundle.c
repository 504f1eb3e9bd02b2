/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one reader of an OCI bundle's config.json. The bundle directory is the
 * engine's; config.json in it may have been put there by anyone who could
 * write the bundle, so it is opened without following a link or waiting on a
 * fifo, read bounded, and parsed strictly; what the faces need from it is
 * taken out here, once.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "gpujail/bundle.h"
#include "gpujail/oci-config.h"
#include "gpujail/util.h"

void gj_bundle_done(struct gj_bundle *b) {
        gj_oci_request_done(&b->request);
        free(b->root);
        json_object_put(b->config);
        free(b->config_path);
        free(b->dir);
        *b = (struct gj_bundle){};
}

/* root.path, relative to dir unless absolute; NULL when there is no non-empty string. */
static int root_path(struct json_object *config, const char *dir, char **ret) {
        struct json_object *root, *path;

        *ret = NULL;
        if (!json_object_object_get_ex(config, "root", &root) || !json_object_object_get_ex(root, "path", &path) ||
            !json_object_is_type(path, json_type_string) || isempty(json_object_get_string(path)))
                return 0;
        const char *p = json_object_get_string(path);
        *ret = p[0] == '/' ? strdup(p) : strprintf("%s/%s", dir, p);
        return *ret ? 0 : -ENOMEM;
}

int gj_bundle_parse(const char *dir, const char *text, size_t len, const struct gj_bundle_opts *opts,
                    struct gj_bundle *ret) {
        _cleanup_(gj_bundle_done) struct gj_bundle b = {};
        int r;

        b.dir = strdup(dir);
        b.config_path = strprintf("%s/config.json", dir);
        if (!b.dir || !b.config_path)
                return log_error_errno(-ENOMEM, "cannot read %s/config.json: %m", dir);
        r = gj_oci_config_parse(b.config_path, text, len, &b.config);
        if (r < 0)
                return r;
        r = root_path(b.config, dir, &b.root);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", b.config_path);
        if (opts && opts->request) {
                r = gj_oci_request_accepted(b.config, opts->cdi_kind, GJ_REQUEST_ALL & ~opts->refuse, &b.request);
                if (r < 0)
                        return r;
        }
        *ret = b;
        b = (struct gj_bundle){};
        return 0;
}

/* path is <dir>/config.json, for messages. */
static int open_config(const char *dir, const char *path) {
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        /* O_NONBLOCK: a fifo planted as config.json must not hang the runtime. */
        int fd = openat(dfd, "config.json", O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ELOOP)
                return log_error_errno(-ELOOP, "cannot open %s: it is a symbolic link", path);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        return fd;
}

int gj_bundle_read(const char *dir, const struct gj_bundle_opts *opts, struct gj_bundle *ret) {
        _cleanup_free_ char *path = strprintf("%s/config.json", dir);
        if (!path)
                return log_error_errno(-ENOMEM, "cannot read %s/config.json: %m", dir);
        _cleanup_close_ int fd = open_config(dir, path);
        if (fd < 0)
                return fd;

        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot read %s: %m", path);
        if (S_ISDIR(st.st_mode))
                return log_error_errno(-EISDIR, "cannot read %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(-EBADFD, "cannot read %s: not a regular file", path);
        /* Said before reading 16 MiB for nothing; read_full_fd() bounds a file that grows. */
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = st.st_size > GJ_OCI_CONFIG_MAX ? -EFBIG : read_full_fd(fd, &text, &len, GJ_OCI_CONFIG_MAX);
        if (r == -EFBIG)
                return log_error_errno(r, "cannot read %s: larger than %u bytes", path, GJ_OCI_CONFIG_MAX);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", path);

        struct gj_bundle b;
        r = gj_bundle_parse(dir, text, len, opts, &b);
        if (r < 0)
                return r;
        b.mode = st.st_mode & 07777;
        *ret = b;
        return 0;
}
