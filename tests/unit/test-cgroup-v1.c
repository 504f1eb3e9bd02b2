/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v1 devices for real (devices.deny / devices.allow on a scratch
 * child, checked with the ENXIO/EPERM oracle), the launcher's job cgroup on
 * v1, and the pure parsers of /proc/self/mountinfo and /proc/<pid>/cgroup.
 */
#include "gpujail/cgroup.h"
#include "kernel-test.h"

#define C(ma, mi, acc) { .type = 'c', .major = (ma), .minor = (mi), .access = acc }

static void test_parse_mountinfo(void) {
        static const char hybrid[] =
                "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime shared:9 - cgroup cgroup rw,devices\n"
                "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        static const char pure_v2[] =
                "25 20 0:22 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n";
        static const char odd[] =
                "35 30 0:32 /kubepods/pod1 /sys/fs/cgroup/cpu\\040devices rw - cgroup cgroup rw,cpu,devices\n"
                "36 30 0:32 / /second rw - cgroup cgroup rw,devices\n"
                "garbage line without separator\n"
                "37 30 0:33 / /x rw - cgroup cgroup rw,devices_foo\n";
        struct gj_cgroup_mounts m = {};

        is_int(gj_cgroup_parse_mountinfo(hybrid, &m), 0, "mountinfo: hybrid host");
        is_str(m.v1_devices, "/sys/fs/cgroup/devices", "hybrid: v1 devices mount");
        is_str(m.v2, "/sys/fs/cgroup/unified", "hybrid: cgroup2 mount");
        gj_cgroup_mounts_done(&m);

        is_int(gj_cgroup_parse_mountinfo(pure_v2, &m), 0, "mountinfo: pure v2 host (optional fields)");
        ok(m.v1_devices == NULL, "pure v2: no v1 devices");
        is_str(m.v2, "/sys/fs/cgroup", "pure v2: cgroup2 at /sys/fs/cgroup");
        gj_cgroup_mounts_done(&m);

        is_int(gj_cgroup_parse_mountinfo(odd, &m), 0, "mountinfo: escapes, subtree root, junk");
        is_str(m.v1_devices, "/sys/fs/cgroup/cpu devices", "\\040 unescaped; first mount wins");
        is_str(m.v1_devices_root, "/kubepods/pod1", "mount root kept");
        ok(m.v2 == NULL, "no cgroup2 there");
        gj_cgroup_mounts_done(&m);

        is_int(gj_cgroup_parse_mountinfo("", &m), 0, "mountinfo: empty");
        ok(!m.v1_devices && !m.v2, "empty: nothing");
}

static void test_parse_proc_cgroup(void) {
        _cleanup_free_ char *v1 = NULL, *v2 = NULL, *j = NULL;

        is_int(gj_cgroup_parse_proc_cgroup("9:name=systemd:/\n5:devices:/machine/ctr:1\n0::/machine/ctr:1\n",
                                           &v1, &v2), 0, "proc cgroup: hybrid");
        is_str(v1, "/machine/ctr:1", "devices path (with a colon)");
        is_str(v2, "/machine/ctr:1", "v2 path");
        free(TAKE_PTR(v1));
        free(TAKE_PTR(v2));
        is_int(gj_cgroup_parse_proc_cgroup("0::/user.slice/session-1.scope\n", &v1, &v2), 0, "proc cgroup: pure v2");
        ok(v1 == NULL, "pure v2: no devices line");
        is_str(v2, "/user.slice/session-1.scope", "pure v2: path");
        free(TAKE_PTR(v2));
        is_int(gj_cgroup_parse_proc_cgroup("4:cpu,devices,memory:/a\n3:devicesX:/b\nbroken\n1:x:rel\n", &v1, &v2), 0,
               "proc cgroup: co-mounted controllers, junk");
        is_str(v1, "/a", "co-mounted devices found, 'devicesX' ignored");
        ok(v2 == NULL, "no 0:: line");
        free(TAKE_PTR(v1));

        is_int(gj_cgroup_join("/sys/fs/cgroup/devices", "/", "/a/b", &j), 0, "join: root mount");
        is_str(j, "/sys/fs/cgroup/devices/a/b", "join: path");
        free(TAKE_PTR(j));
        is_int(gj_cgroup_join("/sys/fs/cgroup", "/", "/", &j), 0, "join: the root itself");
        is_str(j, "/sys/fs/cgroup", "join: no trailing slash");
        free(TAKE_PTR(j));
        is_int(gj_cgroup_join("/cg", "/kube", "/kube/pod", &j), 0, "join: subtree mount");
        is_str(j, "/cg/pod", "join: subtree stripped");
        free(TAKE_PTR(j));
        is_int(gj_cgroup_join("/cg", "/kube", "/kubelet/x", &j), -ENOENT, "join: not below the mount root");
        is_int(gj_cgroup_join("/cg", "/kube", "/other", &j), -ENOENT, "join: outside the mount root");
}

static void expect(const char *dir, const char *node, int flags, int want, const char *why) {
        int got = kt_open_in(dir, node, flags);
        TAP_CHECK(got == want, "%s: open %s -> %s", why, node, kt_errname(want));
        if (got != want)
                printf("#   got %s\n", kt_errname(got));
}

static void test_v1_rules(const char *cg) {
        struct gj_cgroup_rule rules[] = { C(195, 0, "rw"), C(195, GJ_WILDCARD, "r") };
        struct gj_cgroup_rule bad[] = { { .type = 'x', .major = 1, .minor = 1, .access = "rw" } };
        _cleanup_free_ char *child = strprintf("%s/child", cg), *v1 = NULL, *v2 = NULL;

        expect(cg, "nvidia1", O_RDWR, ENXIO, "before deny: inherited allow-all");
        is_int(gj_cgroup_v1_deny_all(cg), 0, "devices.deny a");
        expect(cg, "nvidia0", O_RDWR, EPERM, "deny all");
        expect(cg, "null", O_RDWR, EPERM, "deny all: even null");
        is_int(gj_cgroup_v1_allow(cg, rules, ELEMENTSOF(rules)), 0, "devices.allow c 195:0 rw, c 195:* r");
        expect(cg, "nvidia0", O_RDWR, ENXIO, "allowed rw");
        expect(cg, "nvidia1", O_RDONLY, ENXIO, "wildcard minor, read");
        expect(cg, "nvidia1", O_RDWR, EPERM, "wildcard minor is read-only");
        expect(cg, "null", O_RDWR, EPERM, "1:3 still denied");
        is_int(gj_cgroup_v1_allow(cg, bad, 1), -EINVAL, "rule type 'x' refused before any write");

        /* A child cannot get more than its parent: the kernel refuses, we report it. */
        ok(mkdir(child, 0755) == 0, "child cgroup");
        struct gj_cgroup_rule more[] = { C(1, 3, "rw") };
        is_int(gj_cgroup_v1_allow(child, more, 1), -EPERM, "allow beyond the parent refused (EPERM)");

        /* gj_cgroup_paths_of_pid finds a process's devices dir. */
        pid_t pid = fork();
        if (pid == 0) {
                pause();
                _exit(0);
        }
        char buf[16];
        snprintf(buf, sizeof(buf), "%i", (int)pid);
        _cleanup_free_ char *procs = strprintf("%s/cgroup.procs", child);
        ok(write_string_file(procs, buf) == 0, "a process in the child");
        is_int(gj_cgroup_paths_of_pid(pid, &v1, &v2), 0, "paths of pid");
        is_str(v1, child, "paths of pid: v1 devices dir");
        ok(v2 != NULL, "paths of pid: a v2 dir too (%s)", v2 ? v2 : "none");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        is_int(rmdir(child), 0, "child cgroup removed");
}

static void test_job_cgroup_v1(void) {
        struct gj_cgroup_rule r[] = { C(195, 0, "rw") };
        struct gj_job_cgroup job = GJ_JOB_CGROUP_INIT;
        char id[64];

        snprintf(id, sizeof(id), "test-v1-%i", (int)getpid());
        is_int(gj_job_cgroup_create_with(id, r, 1, GJ_CGROUP_V1, &job), 0, "job cgroup on v1 devices");
        ok(job.v1_dir && !job.v2_dir && job.v2_prog_fd == -1, "job: v1 only");
        if (!job.v1_dir)
                return;
        expect(job.v1_dir, "nvidia0", O_RDWR, ENXIO, "job: its GPU");
        expect(job.v1_dir, "nvidia1", O_RDWR, EPERM, "job: another GPU");

        /* enter: a waiting process moved in by pid. */
        pid_t pid = fork();
        if (pid == 0) {
                pause();
                _exit(0);
        }
        is_int(gj_job_cgroup_enter(&job, pid), 0, "job: enter a process");
        _cleanup_free_ char *v1 = NULL, *v2 = NULL;
        ok(gj_cgroup_paths_of_pid(pid, &v1, &v2) == 0 && streq_ptr(v1, job.v1_dir), "job: it is in %s", job.v1_dir);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);

        _cleanup_free_ char *dir = strdup(job.v1_dir);
        gj_job_cgroup_destroy(&job);
        ok(!kt_exists(dir), "job: destroyed");

        /* destroy of a cgroup with a live process: it is killed and the cgroup removed. */
        is_int(gj_job_cgroup_create_with(id, r, 1, GJ_CGROUP_V1, &job), 0, "job again");
        pid = fork();
        if (pid == 0) {
                pause();
                _exit(0);
        }
        ok(gj_job_cgroup_enter(&job, pid) == 0, "job: a process that will not leave");
        free(dir);
        dir = strdup(job.v1_dir);
        pid_t reaper = fork(); /* reap it as destroy kills it */
        if (reaper == 0) {
                gj_job_cgroup_destroy(&job);
                _exit(kt_exists(dir) ? 1 : 0);
        }
        waitpid(pid, NULL, 0);
        int status = 0;
        waitpid(reaper, &status, 0);
        ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "job: destroy killed the straggler and removed the cgroup");
        gj_job_cgroup_destroy(&job); /* the parent's copy: dir already gone, frees memory */
}

/* The v1 cpuset hierarchy (the NUMA binding's, where cgroup2 has no cpuset). */
static void test_parse_v1_dir(void) {
        static const char mountinfo[] =
                "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
                "34 30 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
                "35 30 0:32 /pod /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";
        _cleanup_free_ char *d = NULL;

        is_int(gj_cgroup_parse_v1_dir(mountinfo, "3:cpuset:/a/b\n5:devices:/\n", "cpuset", &d), 0,
               "v1 dir: cpuset");
        is_str(d, "/sys/fs/cgroup/cpuset/a/b", "v1 dir: mount + path");
        free(TAKE_PTR(d));
        is_int(gj_cgroup_parse_v1_dir(mountinfo, "3:cpuacct,cpuset:/\n", "cpuset", &d), 0,
               "v1 dir: co-mounted controllers");
        is_str(d, "/sys/fs/cgroup/cpuset", "v1 dir: the root");
        free(TAKE_PTR(d));
        is_int(gj_cgroup_parse_v1_dir(mountinfo, "5:devices:/other\n", "devices", &d), 0,
               "v1 dir: a path outside the mount's root");
        ok(d == NULL, "... is not reachable: NULL");
        is_int(gj_cgroup_parse_v1_dir(mountinfo, "0::/x\n", "cpuset", &d), 0, "v1 dir: no cpuset line");
        ok(d == NULL, "... NULL");
        is_int(gj_cgroup_parse_v1_dir("25 20 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
                                      "3:cpuset:/\n", "cpuset", &d), 0, "v1 dir: no v1 cpuset mount");
        ok(d == NULL, "... NULL");
}

int main(void) {
        _cleanup_(gj_cgroup_mounts_done) struct gj_cgroup_mounts m = {};
        char cg[512];

        test_parse_mountinfo();
        test_parse_proc_cgroup();
        test_parse_v1_dir();
        if (geteuid() != 0)
                kt_skip_rest("needs root (cgroups, mknod)");
        if (gj_cgroup_mounts_read(&m) < 0 || !m.v1_devices)
                kt_skip_rest("no cgroup v1 devices hierarchy mounted (a pure cgroup2 host)");
        kt_private_mount_ns();
        kt_scratch();
        kt_mknod("nvidia0", 195, 0);
        kt_mknod("nvidia1", 195, 1);
        kt_mknod("null", 1, 3);

        snprintf(cg, sizeof(cg), "%s/gj-test-v1-%i", m.v1_devices, (int)getpid());
        if (mkdir(cg, 0755) < 0) {
                kt_teardown();
                kt_skip("cannot create a scratch devices cgroup");
        }
        test_v1_rules(cg);
        is_int(rmdir(cg), 0, "scratch cgroup removed");
        test_job_cgroup_v1();

        kt_teardown();
        ok(!kt_exists(cg), "no scratch cgroup left");
        _cleanup_free_ char *parent = strprintf("%s/gpujail", m.v1_devices);
        ok(!kt_exists(parent) || rmdir(parent) < 0, "no empty gpujail/ left");
        ok(!kt_exists(kt_dir), "no scratch directory left");
        return done_testing();
}
