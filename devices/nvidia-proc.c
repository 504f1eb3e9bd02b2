/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure parsers for what the NVIDIA driver and the kernel write under /proc:
 * strings in, data out, no I/O, so that unit tests can feed them real
 * samples as well as truncated, malformed and huge ones.
 */
#include <ctype.h>

#include "gpujail/inventory.h"
#include "gpujail/util.h"

/* The driver reserves minors 254 (nvidia-modeset) and 255 (nvidiactl). */
#define NVIDIA_MAX_GPU_MINOR 253

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Duplicate [s, s+n) with surrounding blanks removed; NULL (not "") when nothing is left. */
static char *strndup_trimmed(const char *s, size_t n) {
        while (n > 0 && is_blank(*s))
                s++, n--;
        while (n > 0 && is_blank(s[n - 1]))
                n--;
        return n > 0 ? strndup(s, n) : NULL;
}

/*
 * Call fn for each complete "Key: value" line. A last line without its
 * newline was cut short (a truncated read) and is not trusted: a partial
 * UUID would name the wrong GPU.
 */
typedef int (*kv_fn)(const char *key, size_t key_len, const char *value, size_t value_len,
                     void *userdata);

static int for_each_key_value(const char *text, kv_fn fn, void *userdata) {
        for (const char *line = text; *line;) {
                const char *eol = strchr(line, '\n');
                if (!eol)
                        break;
                const char *colon = memchr(line, ':', (size_t)(eol - line));
                if (colon) {
                        const char *k = line;
                        size_t kn = (size_t)(colon - line);
                        while (kn > 0 && is_blank(k[kn - 1]))
                                kn--;
                        int r = fn(k, kn, colon + 1, (size_t)(eol - colon - 1), userdata);
                        if (r < 0)
                                return r;
                }
                line = eol + 1;
        }
        return 0;
}

static bool key_is(const char *key, size_t n, const char *want) {
        return strlen(want) == n && strncmp(key, want, n) == 0;
}

/* "GPU-" followed by hex digits and dashes, as the driver prints it (MIG: "MIG-"). */
static bool uuid_is_valid(const char *s) {
        const char *p = startswith(s, "GPU-");
        if (!p || !*p || strlen(s) > 64)
                return false;
        for (; *p; p++)
                if (!isxdigit((unsigned char)*p) && *p != '-')
                        return false;
        return true;
}

static bool model_is_valid(const char *s) {
        if (strlen(s) > 255)
                return false;
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

struct info_state {
        struct gj_nvidia_info *info;
        bool have_minor, bad_minor;
};

static int info_field(const char *key, size_t kn, const char *value, size_t vn, void *userdata) {
        struct info_state *st = userdata;
        struct gj_nvidia_info *info = st->info;
        char **target = NULL;

        if (key_is(key, kn, "Model"))
                target = &info->model;
        else if (key_is(key, kn, "GPU UUID"))
                target = &info->uuid;
        else if (key_is(key, kn, "Bus Location"))
                target = &info->bus_location;
        else if (key_is(key, kn, "Device Minor")) {
                _cleanup_free_ char *v = strndup_trimmed(value, vn);
                unsigned m;
                if (st->have_minor || st->bad_minor)
                        return 0; /* the first one counts */
                if (v && safe_atou(v, &m) >= 0 && m <= NVIDIA_MAX_GPU_MINOR) {
                        info->minor = (int)m;
                        st->have_minor = true;
                } else
                        st->bad_minor = true;
                return 0;
        } else
                return 0;

        if (*target)
                return 0;
        *target = strndup_trimmed(value, vn);
        if (vn > 0 && !*target && strspn(value, " \t\r") != vn)
                return -ENOMEM;
        return 0;
}

int gj_nvidia_info_parse(const char *text, struct gj_nvidia_info *ret) {
        struct info_state st = { .info = ret };

        *ret = (struct gj_nvidia_info){ .minor = -1 };
        int r = for_each_key_value(text, info_field, &st);
        if (r < 0)
                return r;

        /* Drop what does not look like the driver's: better unknown than wrong. */
        if (ret->uuid && !uuid_is_valid(ret->uuid))
                ret->uuid = (free(ret->uuid), NULL);
        if (ret->model && !model_is_valid(ret->model))
                ret->model = (free(ret->model), NULL);

        return st.have_minor ? 0 : -EBADMSG;
}

void gj_nvidia_info_done(struct gj_nvidia_info *info) {
        free(info->model);
        free(info->uuid);
        free(info->bus_location);
        *info = (struct gj_nvidia_info){ .minor = -1 };
}

int gj_proc_devices_find_char(const char *text, const char *name, unsigned *ret_major) {
        bool in_char = false;

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');
                size_t n = (size_t)(eol - line);

                if (n >= 18 && strncmp(line, "Character devices:", 18) == 0)
                        in_char = true;
                else if (n >= 14 && strncmp(line, "Block devices:", 14) == 0)
                        in_char = false;
                else if (in_char) {
                        /* "%3d %s\n" */
                        const char *p = line, *end = eol;
                        while (p < end && is_blank(*p))
                                p++;
                        unsigned long major = 0;
                        const char *digits = p;
                        while (p < end && isdigit((unsigned char)*p) && p - digits < 8)
                                major = major * 10 + (unsigned long)(*p++ - '0');
                        if (p > digits && p < end && *p == ' ') {
                                p++;
                                size_t k = (size_t)(end - p);
                                while (k > 0 && is_blank(p[k - 1]))
                                        k--;
                                if (k == strlen(name) && strncmp(p, name, k) == 0 && major < 4096) {
                                        *ret_major = (unsigned)major;
                                        return 0;
                                }
                        }
                }
                line = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

struct params_state {
        mode_t *mode;
        uid_t *uid;
        gid_t *gid;
};

static int params_field(const char *key, size_t kn, const char *value, size_t vn, void *userdata) {
        struct params_state *st = userdata;
        _cleanup_free_ char *v = NULL;
        unsigned u;

        if (!key_is(key, kn, "DeviceFileMode") && !key_is(key, kn, "DeviceFileUID") &&
            !key_is(key, kn, "DeviceFileGID"))
                return 0;
        v = strndup_trimmed(value, vn);
        if (!v || safe_atou(v, &u) < 0)
                return 0; /* keep the default */
        if (key_is(key, kn, "DeviceFileMode")) {
                if (u <= 07777)
                        *st->mode = (mode_t)u;
        } else if (u != (unsigned)-1) {
                if (key_is(key, kn, "DeviceFileUID"))
                        *st->uid = (uid_t)u;
                else
                        *st->gid = (gid_t)u;
        }
        return 0;
}

void gj_nvidia_params_parse(const char *text, mode_t *mode, uid_t *uid, gid_t *gid) {
        struct params_state st = { mode, uid, gid };
        (void)for_each_key_value(text, params_field, &st);
}

/* "1.2" or "550.54.15": digits and dots, starting and ending with a digit, one dot at least. */
static bool word_is_version(const char *w, size_t n) {
        bool dot = false;
        if (n == 0 || n > 32 || !isdigit((unsigned char)w[0]) || !isdigit((unsigned char)w[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (w[i] == '.')
                        dot = true;
                else if (!isdigit((unsigned char)w[i]))
                        return false;
        }
        return dot;
}

int gj_nvidia_version_parse(const char *text, char **ret) {
        const char *p = startswith(text, "NVRM version:");
        if (!p)
                return -EBADMSG;
        const char *eol = strchrnul(p, '\n');
        while (p < eol) {
                while (p < eol && (is_blank(*p)))
                        p++;
                const char *w = p;
                while (p < eol && !is_blank(*p))
                        p++;
                if (word_is_version(w, (size_t)(p - w))) {
                        char *v = strndup(w, (size_t)(p - w));
                        if (!v)
                                return -ENOMEM;
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

/* ---- /proc/driver/nvidia/capabilities: MIG and other capability files ---- */

/* nvidia-caps minors fit the kernel's 20 bits; the driver hands out a few thousand. */
#define NVIDIA_CAP_MINOR_MAX ((1u << 20) - 1)

struct cap_state {
        struct gj_nvidia_cap *cap;
        bool have_minor, bad_minor;
};

/* A decimal field as the driver prints it ("%d"): digits only, at most 10 of them. */
static int field_uint(const char *value, size_t vn, unsigned *ret) {
        _cleanup_free_ char *v = strndup_trimmed(value, vn);
        if (!v || strlen(v) > 10 || strspn(v, "0123456789") != strlen(v))
                return -EINVAL;
        return safe_atou(v, ret);
}

static int cap_field(const char *key, size_t kn, const char *value, size_t vn, void *userdata) {
        struct cap_state *st = userdata;
        unsigned u;

        if (key_is(key, kn, "DeviceFileMinor")) {
                if (st->have_minor || st->bad_minor)
                        return 0; /* the first one counts */
                if (field_uint(value, vn, &u) >= 0 && u <= NVIDIA_CAP_MINOR_MAX) {
                        st->cap->minor = u;
                        st->have_minor = true;
                } else
                        st->bad_minor = true;
        } else if (key_is(key, kn, "DeviceFileMode")) {
                if (!st->cap->have_mode && field_uint(value, vn, &u) >= 0 && u <= 0777) {
                        st->cap->mode = (mode_t)u;
                        st->cap->have_mode = true;
                }
        } else if (key_is(key, kn, "DeviceFileModify")) {
                if (field_uint(value, vn, &u) >= 0)
                        st->cap->modify = u != 0;
        }
        return 0;
}

int gj_nvidia_cap_parse(const char *text, struct gj_nvidia_cap *ret) {
        struct cap_state st = { .cap = ret };

        *ret = (struct gj_nvidia_cap){ .mode = 0444, .modify = true };
        int r = for_each_key_value(text, cap_field, &st);
        if (r < 0)
                return r;
        return st.have_minor ? 0 : -EBADMSG;
}

int gj_nvidia_numbered_name(const char *name, const char *prefix, unsigned *ret) {
        const char *p = startswith(name, prefix);
        size_t n = p ? strlen(p) : 0;

        /* "gi0", "ci12", "channel2047": no sign, no leading zero, no blank, no suffix. */
        if (n == 0 || n > 9 || strspn(p, "0123456789") != n || (p[0] == '0' && n > 1))
                return -EINVAL;
        return safe_atou(p, ret);
}
