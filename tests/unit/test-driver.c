/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver-userspace planner on a hand-built host directory: which files each
 * capability brings, version matching against the module, missing libraries.
 */
#include <json-c/json.h>
#include <sys/stat.h>

#include "../tap.h"
#include "gpujail/driver.h"
#include "gpujail/util.h"

#define VERSION "550.54.15"
#define LIBDIR "/usr/lib/x86_64-linux-gnu"

static char root[] = "/tmp/gj-test-driver-XXXXXX";

static void put(const char *rel) {
        _cleanup_free_ char *p = strprintf("%s%s", root, rel);
        _cleanup_free_ char *cmd = strprintf("mkdir -p \"$(dirname '%s')\" && touch '%s'", p, p);
        if (system(cmd) != 0)
                abort();
}

static void link_to(const char *target, const char *rel) {
        _cleanup_free_ char *p = strprintf("%s%s", root, rel);
        if (symlink(target, p) < 0)
                abort();
}

/* A library file with its SONAME link, and the cache entry ldconfig would make. */
static void lib(struct gj_ldcache *c, const char *soname, const char *file, int32_t flags) {
        _cleanup_free_ char *f = strprintf(LIBDIR "/%s", file),
                            *l = strprintf(LIBDIR "/%s", soname);
        put(f);
        link_to(file, l);
        gj_ldcache_set(c, soname, flags, l);
}

static const struct gj_driver_file *find(const struct gj_driver_plan *p, const char *host_path) {
        for (size_t i = 0; i < p->n_files; i++)
                if (streq(p->files[i].host_path, host_path))
                        return &p->files[i];
        return NULL;
}

static void test_caps(void) {
        unsigned caps;
        ok(gj_driver_caps_parse(NULL, &caps) == 0 && caps == GJ_DRIVER_CAPS_DEFAULT,
           "unset: utility,compute");
        ok(gj_driver_caps_parse("", &caps) == 0 && caps == GJ_DRIVER_CAPS_DEFAULT,
           "empty: utility,compute");
        ok(gj_driver_caps_parse("all", &caps) == 0 && caps == GJ_DRIVER_CAP_ALL, "all");
        ok(gj_driver_caps_parse(" video , utility", &caps) == 0 &&
                   caps == (GJ_DRIVER_CAP_VIDEO | GJ_DRIVER_CAP_UTILITY),
           "spaces around words");
        is_int(gj_driver_caps_parse("compute,bogus", &caps), -EINVAL,
               "an unknown word is an error");
        _cleanup_free_ char *s =
                gj_driver_caps_format(GJ_DRIVER_CAP_UTILITY | GJ_DRIVER_CAP_COMPUTE);
        is_str(s, "compute,utility", "format");
}

static unsigned caps_of(const char *json) {
        struct json_object *config = json_tokener_parse(json);
        unsigned caps = 12345;
        int r = gj_driver_caps_from_config(config, &caps);
        json_object_put(config);
        return r < 0 ? 99999 : caps;
}

static void test_caps_from_config(void) {
        is_int(caps_of("{}"), GJ_DRIVER_CAPS_DEFAULT, "config: nothing asked, the default");
        is_int(caps_of("{\"process\":{\"env\":[\"NVIDIA_DRIVER_CAPABILITIES=video\",\"NVIDIA_DRIVER_CAPABILITIES=utility\"]}}"),
               GJ_DRIVER_CAP_UTILITY, "config: the last env value wins");
        is_int(caps_of("{\"annotations\":{\"gpujail.io/capabilities\":\"none\"},"
                       "\"process\":{\"env\":[\"NVIDIA_DRIVER_CAPABILITIES=all\"]}}"),
               0, "config: the annotation wins over the env; none is nothing");
        is_int(caps_of("{\"annotations\":{\"gpujail.io/capabilities\":7}}"), 99999,
               "config: a number is refused");
        is_int(caps_of("{\"process\":{\"env\":[\"NVIDIA_DRIVER_CAPABILITIES=nope\"]}}"), 99999,
               "config: an unknown word is refused");
}

static void test_plan(void) {
        struct gj_ldcache c = { 0 };
        lib(&c, "libcuda.so.1", "libcuda.so." VERSION, GJ_LDCACHE_FLAGS_NATIVE);
        lib(&c, "libnvidia-ml.so.1", "libnvidia-ml.so." VERSION, GJ_LDCACHE_FLAGS_NATIVE);
        lib(&c, "libnvidia-encode.so.1", "libnvidia-encode.so." VERSION, GJ_LDCACHE_FLAGS_NATIVE);
        lib(&c, "libz.so.1", "libz.so.1.2.13", GJ_LDCACHE_FLAGS_NATIVE);
        put("/usr/bin/nvidia-smi");
        put("/lib/firmware/nvidia/" VERSION "/gsp_ga10x.bin");
        put("/lib/firmware/nvidia/" VERSION "/README");
        put("/tmp/nvidia-mps/x");
        struct gj_driver_host host = { .root = root, .version = VERSION, .ldcache = &c };
        struct gj_driver_plan p = { 0 };

        ok(gj_driver_plan_build(&host, GJ_DRIVER_CAPS_DEFAULT, &p) == 0, "default caps: planned");
        const struct gj_driver_file *f = find(&p, LIBDIR "/libcuda.so." VERSION);
        ok(f && f->kind == GJ_DRIVER_LIB && streq(f->soname, "libcuda.so.1") && !f->path,
           "libcuda: the versioned file, its SONAME, no fixed path");
        ok(find(&p, LIBDIR "/libnvidia-ml.so." VERSION), "libnvidia-ml (utility)");
        ok(!find(&p, LIBDIR "/libnvidia-encode.so." VERSION), "no video library without video");
        ok(!find(&p, LIBDIR "/libz.so.1.2.13"), "no library of another project");
        f = find(&p, "/usr/bin/nvidia-smi");
        ok(f && f->kind == GJ_DRIVER_BIN && streq(f->path, "/usr/bin/nvidia-smi"),
           "nvidia-smi (utility)");
        f = find(&p, "/lib/firmware/nvidia/" VERSION "/gsp_ga10x.bin");
        ok(f && f->kind == GJ_DRIVER_FIRMWARE, "GSP firmware at its host path");
        ok(!find(&p, "/lib/firmware/nvidia/" VERSION "/README"), "only gsp*.bin");
        f = find(&p, "/tmp/nvidia-mps");
        ok(f && f->kind == GJ_DRIVER_IPC, "the MPS pipe directory (compute)");
        gj_driver_plan_done(&p);

        ok(gj_driver_plan_build(&host, GJ_DRIVER_CAP_UTILITY, &p) == 0, "utility: planned");
        ok(!find(&p, LIBDIR "/libcuda.so." VERSION), "utility alone: no libcuda");
        ok(!find(&p, "/tmp/nvidia-mps"), "utility alone: no MPS directory");
        gj_driver_plan_done(&p);

        ok(gj_driver_plan_build(&host, GJ_DRIVER_CAP_VIDEO, &p) == 0, "video: planned");
        ok(find(&p, LIBDIR "/libnvidia-encode.so." VERSION) &&
                   find(&p, LIBDIR "/libcuda.so." VERSION),
           "video brings the video libraries and the compute ones");
        gj_driver_plan_done(&p);

        /* compat32: the i386 entries, into their own directory */
        if (GJ_LDCACHE_FLAGS_32 != -1) {
                put("/usr/lib/i386-linux-gnu/libcuda.so." VERSION);
                link_to("libcuda.so." VERSION, "/usr/lib/i386-linux-gnu/libcuda.so.1");
                gj_ldcache_set(&c, "libcuda.so.1", GJ_LDCACHE_FLAGS_32,
                               "/usr/lib/i386-linux-gnu/libcuda.so.1");
                ok(gj_driver_plan_build(&host, GJ_DRIVER_CAP_COMPUTE | GJ_DRIVER_CAP_COMPAT32,
                                        &p) == 0,
                   "compat32: planned");
                f = find(&p, "/usr/lib/i386-linux-gnu/libcuda.so." VERSION);
                ok(f && f->kind == GJ_DRIVER_LIB32,
                   "compat32: the i386 libcuda as a 32-bit library");
                gj_driver_plan_done(&p);
        }

        /* a stale library of another driver version fails the plan, naming both versions */
        lib(&c, "libnvidia-nvvm.so.4", "libnvidia-nvvm.so.525.105.17", GJ_LDCACHE_FLAGS_NATIVE);
        is_int(gj_driver_plan_build(&host, GJ_DRIVER_CAP_COMPUTE, &p), -ENOEXEC,
               "a library of driver 525 on a 550 module: error");
        ok(p.n_files == 0 && !p.version, "and the plan is empty");
        gj_ldcache_done(&c);
}

static void test_no_userspace(void) {
        struct gj_ldcache c = { 0 };
        gj_ldcache_set(&c, "libz.so.1", GJ_LDCACHE_FLAGS_NATIVE, "/usr/lib/libz.so.1");
        struct gj_driver_plan p = { 0 };
        struct gj_driver_host host = { .root = root, .version = "999.1", .ldcache = &c };
        ok(gj_driver_plan_build(&host, GJ_DRIVER_CAP_ALL, &p) == 0 && p.n_files == 0,
           "a module without its userspace on the host: nothing planned, no error");
        gj_driver_plan_done(&p);
        gj_ldcache_done(&c);
}

int main(void) {
        if (!mkdtemp(root))
                return 1;
        log_set_max_level(GJ_LOG_ERROR);
        test_caps();
        test_caps_from_config();
        test_plan();
        test_no_userspace();
        _cleanup_free_ char *cmd = strprintf("rm -rf '%s'", root);
        if (system(cmd) != 0)
                return 1;
        return done_testing();
}
