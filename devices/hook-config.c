/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hook's configuration (gpujail/hook-config.h): which request sources
 * gpujail-hook honours. Parsed as strictly as the policy file: a line means
 * one thing or it is an error naming it, because a misread line here decides
 * who may take the host's GPUs.
 */
#include "gpujail/hook-config.h"
#include "gpujail/root-file.h"
#include "gpujail/util.h"

#define LINE_MAX_BYTES 4096u

static const struct source_word {
        enum gj_request_source source;
        const char *word;
} source_words[] = {
        { GJ_REQUEST_ANNOTATION, "annotation" },
        { GJ_REQUEST_CDI, "cdi" },
        { GJ_REQUEST_ENV, "env" },
};

void gj_hook_config_done(struct gj_hook_config *c) {
        free(c->path);
        *c = (struct gj_hook_config){};
}

char *gj_hook_accept_string(unsigned accept) {
        _cleanup_strv_free_ char **v = NULL;
        for (size_t i = 0; i < ELEMENTSOF(source_words); i++)
                if ((accept & GJ_REQUEST_BIT(source_words[i].source)) &&
                    strv_push(&v, strdup(source_words[i].word)) < 0)
                        return NULL;
        return v ? strv_join(v, ",") : strdup("none");
}

struct parser {
        const char *path;
        unsigned line;
        struct gj_hook_config *config;
};

static int parse_error(const struct parser *ps, const char *fmt, ...) _printf_(2, 3);
static int parse_error(const struct parser *ps, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        log_error("%s:%u: %s", ps->path, ps->line, msg ? msg : "(out of memory)");
        return -EBADMSG;
}

static char *strip(char *s) {
        s += strspn(s, " \t");
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = 0;
        return s;
}

static int source_bit(const struct parser *ps, const char *item, unsigned *bits) {
        if (item[strcspn(item, " \t")])
                return parse_error(ps, "accept: '%s' is not one word (items are separated by commas)", item);
        for (size_t i = 0; i < ELEMENTSOF(source_words); i++)
                if (streq(item, source_words[i].word)) {
                        *bits |= GJ_REQUEST_BIT(source_words[i].source);
                        return 0;
                }
        if (streq(item, "none"))
                return 0;
        return parse_error(ps, "accept: unknown word '%s' (expected annotation, cdi, env or none)", item);
}

/* "annotation, cdi" -> bits; "none" must stand alone. */
static int parse_accept(const struct parser *ps, char *value) {
        unsigned bits = 0, items = 0;
        bool none = false;
        for (char *p = value;;) {
                char *comma = strchr(p, ',');
                items++;
                if (comma)
                        *comma = 0;
                char *item = strip(p);
                if (!*item)
                        return parse_error(ps, "accept: an empty item in the list");
                int r = source_bit(ps, item, &bits);
                if (r < 0)
                        return r;
                none = none || streq(item, "none");
                if (!comma)
                        break;
                p = comma + 1;
        }
        if (none && items > 1)
                return parse_error(ps, "accept: 'none' must stand alone");
        ps->config->accept = bits;
        ps->config->accept_line = ps->line;
        return 0;
}

static int parse_assignment(const struct parser *ps, char *l) {
        char *eq = strchr(l, '=');
        if (!eq)
                return parse_error(ps, "expected KEY = VALUE, got '%s'", l);
        *eq = 0;
        char *key = strip(l), *value = strip(eq + 1);
        if (!streq(key, "accept"))
                return parse_error(ps, "unknown key '%s' (expected accept)", key);
        if (ps->config->accept_line)
                return parse_error(ps, "accept again (first at line %u)", ps->config->accept_line);
        if (!*value)
                return parse_error(ps, "accept has no value (write 'accept = none' for none)");
        if (strchr(value, '#'))
                return parse_error(ps, "accept: '#' in a value; a comment must be on a line of its own");
        return parse_accept(ps, value);
}

static int parse_line(const struct parser *ps, const char *s, size_t n) {
        if (n > LINE_MAX_BYTES)
                return parse_error(ps, "line longer than %u bytes", LINE_MAX_BYTES);
        _cleanup_free_ char *buf = strndup(s, n);
        if (!buf)
                return -ENOMEM;
        if (n > 0 && buf[n - 1] == '\r')
                buf[--n] = 0; /* written on Windows */
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)buf[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return parse_error(ps, "control character 0x%02x in column %zu", c, i + 1);
        }
        char *l = strip(buf);
        if (!*l || *l == '#')
                return 0;
        return parse_assignment(ps, l);
}

int gj_hook_config_parse(const char *text, const char *path, struct gj_hook_config *ret) {
        _cleanup_(gj_hook_config_done) struct gj_hook_config c = { .accept = GJ_HOOK_ACCEPT_DEFAULT };
        struct parser ps = { .path = path, .config = &c };

        *ret = (struct gj_hook_config){};
        /* The first bad line ends it: this file is one line long in practice. */
        for (const char *s = text; *s;) {
                size_t n = strcspn(s, "\n");
                ps.line++;
                int r = parse_line(&ps, s, n);
                if (r < 0)
                        return r;
                s += n + (s[n] == '\n');
        }
        if (!(c.path = strdup(path)))
                return -ENOMEM;
        *ret = c;
        c = (struct gj_hook_config){};
        return 0;
}

int gj_hook_config_load(const char *path, struct gj_hook_config *ret) {
        _cleanup_free_ char *text = NULL;

        *ret = (struct gj_hook_config){};
        int r = gj_read_root_file(path, "hook configuration", GJ_HOOK_CONFIG_MAX, &text);
        if (r < 0)
                return r;
        if (r == 0)
                log_debug("no hook configuration %s: the built-in defaults", path);
        r = gj_hook_config_parse(text ? text : "", text ? path : GJ_HOOK_CONFIG_BUILTIN, ret);
        if (r == -ENOMEM)
                return log_error_errno(r, "cannot parse the hook configuration %s: %m", path);
        return r;
}
