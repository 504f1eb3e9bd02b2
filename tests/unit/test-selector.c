/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Selector parsing against a hand-built inventory. The selector is a security
 * boundary: every malformed, unknown or ambiguous item must fail, with a
 * message that names it, and must never select anything.
 */
#include "../tap.h"
#include "plan-fixture.h"

static struct fixture fx;

/* Selects spec; returns the indexes as "0,2" ("" for none), or NULL on error. */
static char *selected(const char *spec, unsigned flags, struct gj_selection *out) {
        struct gj_selection sel;
        if (gj_select(&fx.inv, spec, flags, &sel) < 0)
                return NULL;
        char buf[256] = "";
        size_t o = 0;
        for (size_t i = 0; i < sel.n_devices; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%u", i ? "," : "", sel.devices[i]->index);
        if (out)
                *out = sel;
        else
                gj_selection_done(&sel);
        return strdup(buf);
}

static void check_sel(const char *spec, unsigned flags, const char *want) {
        char *got = selected(spec, flags, NULL);
        is_str(got, want, "'%s'%s selects %s", spec, flags ? " (NVIDIA indexes)" : "", want);
        free(got);
}

/* A TAP line must stay one line whatever the selector holds. */
static void printable(const char *s, char *buf, size_t size) {
        size_t i = 0;
        for (; s[i] && i + 4 < size; i++)
                buf[i] = s[i] >= ' ' && s[i] < 127 ? s[i] : '?';
        if (s[i])
                buf[i++] = '~';
        buf[i] = 0;
}

/* An error: returns the message; checks that nothing at all was selected. */
static const char *check_err(const char *spec, unsigned flags) {
        struct gj_selection sel = { .n_devices = 99, .none = true, .want_controls = true };
        capture_begin();
        int r = gj_select(&fx.inv, spec, flags, &sel);
        const char *msg = capture_end();
        char shown[48];
        printable(spec, shown, sizeof(shown));
        ok(r < 0, "'%s' is an error (%d): %.*s", shown, r, (int)strcspn(msg, "\n"), msg);
        ok(sel.n_devices == 0 && !sel.devices && !sel.none && !sel.want_controls,
           "'%s' selects nothing, not even control nodes", shown);
        return msg;
}

static void test_indexes(void) {
        check_sel("0", 0, "0");
        check_sel("0,2", 0, "0,2");
        check_sel("2,0", 0, "0,2");
        check_sel("7,3,5", 0, "3,5,7");
        check_sel("0,0,0", 0, "0");
        check_sel("1,nvidia:1,0000:1c:00.0," "GPU-aaaaaaaa-5555-2222-3333-444444444444", 0, "1");
        check_sel(" 1 , 3 ", 0, "1,3");
        check_sel("\t4\t", 0, "4");
        check_sel("10", 0, "10");
        check_sel("8", 0, "8");
        check_sel("08", 0, "8");
        /* NVIDIA_VISIBLE_DEVICES semantics */
        check_sel("0", GJ_SELECT_NVIDIA_INDEXES, "0");
        check_sel("7", GJ_SELECT_NVIDIA_INDEXES, "7");
        check_sel("amd:0", GJ_SELECT_NVIDIA_INDEXES, "8");
}

static void test_keywords(void) {
        check_sel("all", 0, "0,1,2,3,4,5,6,7,8,9,10");
        check_sel("all", GJ_SELECT_NVIDIA_INDEXES, "0,1,2,3,4,5,6,7");
        check_sel("all,3", 0, "0,1,2,3,4,5,6,7,8,9,10");
        check_sel("3, all", GJ_SELECT_NVIDIA_INDEXES, "0,1,2,3,4,5,6,7");

        struct gj_selection sel;
        char *s = selected("none", 0, &sel);
        is_str(s, "", "'none' selects no device");
        ok(sel.none && sel.want_controls, "'none' = no device but the control nodes");
        gj_selection_done(&sel);
        free(s);

        const char *voids[] = { "void", "", " ", "\t \t", NULL };
        for (size_t i = 0; i < ELEMENTSOF(voids); i++) {
                s = selected(voids[i], 0, &sel);
                is_str(s, "", "'%s' selects no device", voids[i] ? voids[i] : "(unset)");
                ok(sel.none && !sel.want_controls, "'%s' = nothing at all, no control nodes",
                   voids[i] ? voids[i] : "(unset)");
                gj_selection_done(&sel);
                free(s);
        }
}

static void test_vendor(void) {
        check_sel("nvidia:all", 0, "0,1,2,3,4,5,6,7");
        check_sel("amd:all", 0, "8");
        check_sel("nvidia:1", 0, "1");
        check_sel("nvidia:7,nvidia:0", 0, "0,7");
        check_sel("amd:0", 0, "8");
        check_sel("intel:0", 0, "9");
        check_sel("accel:0", 0, "10");
        check_sel("accel:all,amd:all", 0, "8,10");
}

static void test_uuid(void) {
        check_sel("GPU-13a5b7c9-0000-1111-2222-333333333333", 0, "3");
        check_sel("gpu-13A5B7C9-0000-1111-2222-333333333333", 0, "3");
        check_sel("GPU-13a5b7c9", 0, "3");
        check_sel("GPU-aaaaaaaa-1", 0, "0");
        check_sel("GPU-aaaaaaaa-5", 0, "1");
        check_sel("GPU-aaaaaaaa-1111-2222-3333-444444444444,GPU-7c000000", 0, "0,7");
}

static void test_pci(void) {
        check_sel("0000:3e:00.0", 0, "3");
        check_sel("3e:00.0", 0, "3");
        check_sel("0000:3E:00.0", 0, "3");
        check_sel("3E:00.0", 0, "3");
        check_sel("00000000:3E:00.0", 0, "3"); /* as nvidia-smi prints it */
        check_sel("0000:c3:00.0", 0, "8");
        check_sel("00:02.0", 0, "9");
        check_sel("0000:b2:00.0,0000:1b:00.0", GJ_SELECT_NVIDIA_INDEXES, "0,7");
}

static void test_errors(void) {
        const char *m;

        m = check_err("11", 0);
        is_str(m, "gpujail: unknown GPU '11': this host has 0-10 (nvidia:0-7, amd:0, intel:0, accel:0)\n",
               "unknown index: names it and lists what exists");
        m = check_err("8", GJ_SELECT_NVIDIA_INDEXES);
        ok(contains(m, "unknown GPU '8'") && contains(m, "this host has 0-7 (nvidia:0-7"),
           "NVIDIA index 8 (the AMD card is 8 otherwise): names it, lists NVIDIA 0-7");
        m = check_err("0,1,99", 0);
        ok(contains(m, "'99'"), "the bad item of a list is named");

        const char *bad[] = {
                "foo", "-1", "+1", "1.5", "0x1", "1e3", "ALL", "All", "NONE", "Void", "99999999999999999999",
                "0,,1", "0,", ",0", ",", "0 1", "nvidia", "nvidia:", "nvidia:x", "nvidia:-1", "nvidia:+1",
                "nvidia:8", "nvidia: 1", "nvidia:1x", "amd:1", "intel:1", "accel:1", "nvidia:all:0",
                "foo:1", "cuda:0", "GPU-", "GPU-aaa", "GPU-aaaaaaaa",
                "GPU-ffffffff-0000-1111-2222-333333333333", "GPU-13a5b7c9-0000-1111-2222-3333333333334",
                "MIG-13a5b7c9-0000-1111-2222-333333333333", "0000:ff:00.0", "ff:00.0", "1b:00",
                "1b:00.8", "1b:20.0", "0000:1b:00.0x", "001b:00.0", "000:1b:00.0", "0000:1b:00:0",
                "0000:1b:00.0 0", "1b:00.0.0", "0001:1b:00.0", "none,0", "0,none", "void,none",
                "none,none", "void,0", "all,none", "none,", "/dev/nvidia0", "*", "0-3", "0;1",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                check_err(bad[i], 0);
        check_err("8", GJ_SELECT_NVIDIA_INDEXES);
        check_err("10", GJ_SELECT_NVIDIA_INDEXES);

        m = check_err("GPU-aaaaaaaa", 0);
        ok(contains(m, "ambiguous GPU 'GPU-aaaaaaaa'") && contains(m, fx_nvidia_uuid[0]) &&
           contains(m, fx_nvidia_uuid[1]), "ambiguous UUID prefix: names both matches");
        m = check_err("GPU-aaa", 0);
        ok(contains(m, "at least 8 hex digits"), "too short a UUID prefix: says why");
        m = check_err("GPU-ffffffff", 0);
        ok(contains(m, "no device has this UUID"), "unknown UUID: says so");
        m = check_err("MIG-12345678-aaaa-bbbb-cccc-000000000000", 0);
        ok(contains(m, "known only through NVML"),
           "MIG UUID on a host without NVML: says why (test-mig: more)");
        m = check_err("0000:ff:00.0", 0);
        ok(contains(m, "no device at that PCI address"), "unknown PCI address: says so");
        m = check_err("none,0", 0);
        ok(contains(m, "'none' must stand alone"), "none with others: says so");
        m = check_err("0,,1", 0);
        ok(contains(m, "empty item"), "empty item: says so");
        m = check_err("foo", 0);
        ok(contains(m, "unknown GPU 'foo'") && contains(m, "expected N, all"), "garbage: lists the forms");
}

static void test_hostile_text(void) {
        const char *m = check_err("\x1b[2J\x1b]0;pwned\x07", 0);
        ok(!strchr(m, '\x1b') && !strchr(m, '\x07'), "control characters never reach the log");
        ok(strchr(m, '\n') == m + strlen(m) - 1, "the message is one line");

        char longitem[4096];
        memset(longitem, 'x', sizeof(longitem) - 1);
        longitem[sizeof(longitem) - 1] = 0;
        m = check_err(longitem, 0);
        ok(strlen(m) < 400 && contains(m, "xxx..."), "a huge item is cut short in the message");

        m = check_err("0,\n1", 0);
        ok(strchr(m, '\n') == m + strlen(m) - 1, "a newline in a selector is not a second log line");
}

static void test_empty_host(void) {
        struct gj_inventory saved = fx.inv;
        fx.inv.n_devices = 0;
        fx.inv.devices = NULL;

        const char *m = check_err("all", 0);
        ok(contains(m, "this host has no accelerators"), "'all' on a host without GPUs is an error");
        m = check_err("0", 0);
        is_str(m, "gpujail: unknown GPU '0': this host has no accelerators\n", "'0' on an empty host");
        check_err("nvidia:all", 0);
        check_err("GPU-aaaaaaaa-1111-2222-3333-444444444444", 0);
        check_err("0000:1b:00.0", 0);
        check_sel("none", 0, "");
        check_sel("void", 0, "");

        /* An AMD-only view for NVIDIA semantics: "all" NVIDIA GPUs = none there: error. */
        fx.inv = saved;
        fx.inv.devices = &fx.devices[8];
        fx.inv.n_devices = 3;
        m = check_err("all", GJ_SELECT_NVIDIA_INDEXES);
        ok(contains(m, "no NVIDIA GPUs"), "NVIDIA 'all' without NVIDIA GPUs: says so");
        m = check_err("0", GJ_SELECT_NVIDIA_INDEXES);
        ok(contains(m, "no NVIDIA GPUs"), "NVIDIA '0' without NVIDIA GPUs: says so");
        fx.inv = saved;
}

/* Which selectors let discovery skip the GPUs not asked for. */
static void test_plain_indexes(void) {
        unsigned *v = NULL;
        size_t n = 0;
        ok(gj_selector_plain_indexes("0", &v, &n) == 1 && n == 1 && v[0] == 0, "plain: 0");
        free(v);
        ok(gj_selector_plain_indexes(" 3 ,1,12", &v, &n) == 1 && n == 3 && v[0] == 3 && v[1] == 1 &&
                   v[2] == 12,
           "plain: 3, 1, 12 as written, spaces allowed");
        free(v);
        static const char *const other[] = { "all",    "none",   "void",   "", " ",       "0,all",
                                             "GPU-12345678", "2:1", "2:3:0", "nvidia:1", "18:00.0",
                                             "imex:0", "0,,1",  "-1",     "+1", "1x",      "auto" };
        for (size_t i = 0; i < ELEMENTSOF(other); i++) {
                v = (unsigned *)1;
                n = 99;
                ok(gj_selector_plain_indexes(other[i], &v, &n) == 0 && !v && n == 0,
                   "plain: '%s' is not (every device's details needed)", other[i]);
        }
        ok(gj_selector_plain_indexes(NULL, &v, &n) == 0 && !v, "plain: NULL is not");
}

int main(void) {
        fixture_init(&fx);
        test_plain_indexes();
        test_indexes();
        test_keywords();
        test_vendor();
        test_uuid();
        test_pci();
        test_errors();
        test_hostile_text();
        test_empty_host();
        free(capture_buf);
        return done_testing();
}
