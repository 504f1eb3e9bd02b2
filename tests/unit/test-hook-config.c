/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's /etc/gpujail/hook.conf parser (devices/hook-config.c): what each
 * accepted line gives, and that every malformed line is refused naming it. */
#include "../tap.h"
#include "gpujail/hook-config.h"
#include "gpujail/util.h"
#include "log-capture.h"

#define ANN GJ_REQUEST_BIT(GJ_REQUEST_ANNOTATION)
#define CDI GJ_REQUEST_BIT(GJ_REQUEST_CDI)
#define ENV GJ_REQUEST_BIT(GJ_REQUEST_ENV)

static void accepts(const char *text, unsigned want, unsigned want_line, const char *name) {
        struct gj_hook_config c = { 0 };
        int r = gj_hook_config_parse(text, "hook.conf", &c);
        ok(r == 0 && c.accept == want && c.accept_line == want_line, "%s", name);
        gj_hook_config_done(&c);
}

static void refuses(const char *text, const char *want_msg, const char *name) {
        struct gj_hook_config c = { 0 };
        capture_begin();
        int r = gj_hook_config_parse(text, "hook.conf", &c);
        const char *msg = capture_end();
        ok(r == -EBADMSG && contains(msg, want_msg), "%s (%s)", name, want_msg);
        gj_hook_config_done(&c);
}

int main(void) {
        accepts("", GJ_HOOK_ACCEPT_DEFAULT, 0, "an empty file: the default (annotation, cdi)");
        accepts("# only a comment\n\n", GJ_HOOK_ACCEPT_DEFAULT, 0, "comments and blank lines: the default");
        accepts("accept = env\n", ENV, 1, "accept = env: env alone");
        accepts("accept=annotation,cdi,env\n", ANN | CDI | ENV, 1, "no spaces needed; all three");
        accepts("\n# x\naccept = none\n", 0, 3, "accept = none: nothing, and the line is named");
        accepts("accept = cdi\r\n", CDI, 1, "a CRLF line");

        refuses("accept = gpus\n", "hook.conf:1: accept: unknown word 'gpus'", "an unknown source");
        refuses("accept = none, cdi\n", "'none' must stand alone", "none beside a source");
        refuses("accept = cdi,,env\n", "an empty item", "an empty item");
        refuses("accept = cdi # env too\n", "a comment must be on a line of its own", "a comment after a value");
        refuses("accept = cdi\naccept = env\n", "hook.conf:2: accept again (first at line 1)", "accept twice");
        refuses("allow = env\n", "unknown key 'allow'", "an unknown key");
        refuses("accept\n", "expected KEY = VALUE", "a line that is no assignment");
        refuses("accept =\n", "accept has no value", "an empty value");
        refuses("accept = c\001di\n", "control character 0x01", "a control character");

        char long_line[5000];
        memset(long_line, 'a', sizeof(long_line) - 1);
        long_line[sizeof(long_line) - 1] = 0;
        refuses(long_line, "line longer than", "a line over 4096 bytes");

        _cleanup_free_ char *s = gj_hook_accept_string(ANN | ENV);
        is_str(s, "annotation,env", "the accept string names the sources");
        _cleanup_free_ char *none = gj_hook_accept_string(0);
        is_str(none, "none", "... and 'none' for none");
        return done_testing();
}
