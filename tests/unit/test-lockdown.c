/* SPDX-License-Identifier: Apache-2.0 */
/* The pure part of the lockdown: which paths are GPU nodes, the files' text and
 * marker, the permissions lockdown and undo give, and the judgement of a host. */
#include "gpujail/lockdown.h"
#include "gpujail/util.h"
#include "../tap.h"

#define GID 990

static void test_kinds(void) {
        static const struct {
                const char *path;
                int kind;
        } cases[] = {
                { "/dev/nvidia0", GJ_GPU_NODE_NVIDIA },
                { "/dev/nvidia17", GJ_GPU_NODE_NVIDIA },
                { "/dev/nvidiactl", GJ_GPU_NODE_NVIDIA },
                { "/dev/nvidia-modeset", GJ_GPU_NODE_NVIDIA },
                { "/dev/nvidia-uvm", GJ_GPU_NODE_NVIDIA },
                { "/dev/nvidia-uvm-tools", GJ_GPU_NODE_NVIDIA },
                { "/dev/nvidia-caps/nvidia-cap1", GJ_GPU_NODE_NVIDIA_CAP },
                { "/dev/dri/card0", GJ_GPU_NODE_DRM_CARD },
                { "/dev/dri/renderD128", GJ_GPU_NODE_DRM_RENDER },
                { "/dev/kfd", GJ_GPU_NODE_KFD },
                { "/dev/accel/accel3", GJ_GPU_NODE_ACCEL },
                { "/dev/nvidia", -EINVAL },
                { "/dev/nvidia0x", -EINVAL },
                { "/dev/nvidia-nvswitchctl", -EINVAL },
                { "/dev/nvidia-caps/", -EINVAL },
                { "/dev/nvidia-caps/..", -EINVAL },
                { "/dev/nvidia-caps/a/b", -EINVAL },
                { "/dev/dri/card0-DP-1", -EINVAL },
                { "/dev/dri/by-path/pci-0000:03:00.0-card", -EINVAL },
                { "/dev/null", -EINVAL },
                { "/dev/kfd2", -EINVAL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                is_int(gj_gpu_node_kind_from_path(cases[i].path), cases[i].kind, "kind of %s", cases[i].path);
}

static void test_group_names(void) {
        ok(gj_lockdown_group_name_ok("gpujail"), "gpujail is a group name that can be written");
        ok(gj_lockdown_group_name_ok("gpu_jail.2-x"), "letters, digits, '_', '.', '-'");
        ok(!gj_lockdown_group_name_ok(""), "empty: refused");
        ok(!gj_lockdown_group_name_ok(NULL), "NULL: refused");
        ok(!gj_lockdown_group_name_ok("-rf"), "a leading '-': refused");
        ok(!gj_lockdown_group_name_ok("a\", MODE:=\"0666"), "a quote (udev rule injection): refused");
        ok(!gj_lockdown_group_name_ok("a b"), "a space: refused");
        ok(!gj_lockdown_group_name_ok("a\nb"), "a newline: refused");
        ok(!gj_lockdown_group_name_ok("abcdefghijklmnopqrstuvwxyz0123456"), "33 characters: refused");
}

static void test_files(void) {
        _cleanup_free_ char *conf = gj_lockdown_modprobe_conf("gpujail", GID);
        _cleanup_free_ char *rules = gj_lockdown_udev_rules("gpujail", GID);
        char *group = NULL;
        gid_t gid = 0;

        ok(conf && strstr(conf, "options nvidia NVreg_DeviceFileUID=0 NVreg_DeviceFileGID=990 "
                                "NVreg_DeviceFileMode=0660\n"),
           "modprobe.d: the driver's three parameters, root:990 0660");
        ok(rules && strstr(rules, "SUBSYSTEM==\"kfd\"") && strstr(rules, "SUBSYSTEM==\"accel\"") &&
                   strstr(rules, "DRIVERS==\"nvidia|amdgpu|i915|xe\""),
           "udev: drm (of GPU drivers only), kfd and accel");
        ok(rules && strstr(rules, "GROUP:=\"gpujail\", MODE:=\"0660\", TAG-=\"uaccess\""),
           "udev: final group and mode, no seat ACL");

        is_int(gj_lockdown_marker_parse(conf, &group, &gid), 0, "modprobe.d: its marker parses");
        is_str(group, "gpujail", "modprobe.d marker: group");
        is_int(gid, GID, "modprobe.d marker: gid");
        free(group);
        group = NULL;
        is_int(gj_lockdown_marker_parse(rules, &group, &gid), 0, "udev: its marker parses");
        is_str(group, "gpujail", "udev marker: group");
        free(group);
        group = NULL;

        is_int(gj_lockdown_marker_parse("options nvidia NVreg_DeviceFileMode=0660\n", &group, &gid), -ENOENT,
               "no marker: -ENOENT");
        is_int(gj_lockdown_marker_parse("# x\n# gpujail-lockdown group=gpujail\n", &group, &gid), -EBADMSG,
               "marker without gid: -EBADMSG");
        is_int(gj_lockdown_marker_parse("# gpujail-lockdown group=gpujail gid=-1\n", &group, &gid), -EBADMSG,
               "marker with a negative gid: -EBADMSG");
        is_int(gj_lockdown_marker_parse("# gpujail-lockdown group=a\"b gid=5\n", &group, &gid), -EBADMSG,
               "marker with a name that cannot be written: -EBADMSG");
        is_int(gj_lockdown_marker_parse("# gpujail-lockdown group=g gid=5", &group, &gid), 0,
               "marker as the last line without newline: parses");
        is_str(group, "g", "last-line marker: group");
        free(group);
}

static struct gj_gpu_node node(const char *path, mode_t mode, uid_t uid, gid_t gid) {
        struct gj_gpu_node n = {
                .path = (char *)path,
                .kind = gj_gpu_node_kind_from_path(path),
                .found = { mode, uid, gid },
        };
        n.driver = n.found;
        return n;
}

static bool perms_are(struct gj_perms p, mode_t mode, uid_t uid, gid_t gid) {
        return p.mode == mode && p.uid == uid && p.gid == gid;
}

static void test_perms(void) {
        struct gj_gpu_node n = node("/dev/nvidia0", 0666, 0, 0);
        ok(perms_are(gj_lockdown_perms(&n, GID), 0660, 0, GID), "lockdown: /dev/nvidia0 0660 root:GROUP");
        n = node("/dev/dri/renderD128", 0600, 0, 0);
        ok(perms_are(gj_lockdown_perms(&n, GID), 0660, 0, GID), "lockdown: a render node 0660 root:GROUP");
        n = node("/dev/nvidia-caps/nvidia-cap2", 0444, 0, 0);
        ok(perms_are(gj_lockdown_perms(&n, GID), 0440, 0, GID), "lockdown: mig monitor cap 0444 -> 0440");
        n.found.mode = 0440;
        ok(perms_are(gj_lockdown_perms(&n, GID), 0440, 0, GID), "lockdown: a locked cap stays 0440");
        n = node("/dev/nvidia-caps/nvidia-cap1", 0400, 0, 0);
        ok(perms_are(gj_lockdown_perms(&n, GID), 0400, 0, GID),
           "lockdown: mig config cap stays 0400 (the group gets nothing others lacked)");

        struct gj_undo_defaults d = { .lockdown_gid = GID, .video_gid = 44, .render_gid = 105 };
        n = node("/dev/nvidia0", 0660, 0, GID);
        n.driver = (struct gj_perms){ 0666, 0, 0 };
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0666, 0, 0), "undo: NVIDIA node back to the params'");
        n.driver = (struct gj_perms){ 0660, 0, 33 };
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0660, 0, 33), "undo: NVIDIA params of the admin's kept");
        n.driver = (struct gj_perms){ 0660, 0, GID };
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0666, 0, 0),
           "undo: module loaded with the lockdown's params: the driver's defaults, as its next load");
        n = node("/dev/nvidia-caps/nvidia-cap2", 0440, 0, GID);
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0444, 0, 0), "undo: cap 0440 -> 0444 root:root");
        n = node("/dev/dri/card1", 0660, 0, GID);
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0660, 0, 44), "undo: card root:video 0660");
        n = node("/dev/dri/renderD128", 0660, 0, GID);
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0660, 0, 105), "undo: render root:render 0660");
        n = node("/dev/kfd", 0660, 0, GID);
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0660, 0, 105), "undo: kfd root:render 0660");
        n = node("/dev/accel/accel0", 0660, 0, GID);
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0600, 0, 0), "undo: accel root:root 0600 (no udev rule)");
        d.video_gid = d.render_gid = (gid_t)-1;
        n = node("/dev/dri/card1", 0660, 0, GID);
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0600, 0, 0), "undo: card without a video group: 0600");
        n = node("/dev/dri/renderD128", 0660, 0, GID);
        ok(perms_are(gj_lockdown_undo_perms(&n, &d), 0660, 0, 0), "undo: render without a render group: 0660 root");
}

/* A locked nvidia host with a render node: every fact as the lockdown wants it. */
struct host {
        struct gj_lockdown_config config;
        struct gj_gpu_node nodes[4];
        struct gj_lockdown_facts facts;
};

static void locked_host(struct host *h) {
        *h = (struct host){
                .config = {
                        .modprobe = { GJ_LOCKDOWN_MODPROBE_CONF, true, (char *)"gpujail", GID, true },
                        .rules = { GJ_LOCKDOWN_UDEV_RULES, true, (char *)"gpujail", GID, true },
                },
                .nodes = {
                        node("/dev/nvidia0", 0660, 0, GID),
                        node("/dev/nvidiactl", 0660, 0, GID),
                        node("/dev/nvidia-uvm", 0660, 0, GID),
                        node("/dev/dri/renderD128", 0660, 0, GID),
                },
        };
        h->facts = (struct gj_lockdown_facts){
                .config = &h->config,
                .nodes = h->nodes,
                .n_nodes = ELEMENTSOF(h->nodes),
                .group_found = true,
                .group_gid_now = GID,
        };
}

static bool has_problem(const struct gj_lockdown_status *s, const char *needle) {
        for (size_t i = 0; s->problems && s->problems[i]; i++)
                if (strstr(s->problems[i], needle))
                        return true;
        return false;
}

static void test_judge(void) {
        struct gj_lockdown_status s;
        struct host h;

        locked_host(&h);
        is_int(gj_lockdown_judge(&h.facts, &s), 0, "locked host: judged");
        is_str(gj_lockdown_state_name(s.state), "locked", "locked host: locked");
        is_str(s.group, "gpujail", "locked host: the group");
        is_int(strv_length(s.problems), 0, "locked host: no problem");
        ok(!s.bypass && !s.open_nodes, "locked host: no bypass");
        gj_lockdown_status_done(&s);

        /* The default host: nothing configured, NVIDIA's 0666. */
        locked_host(&h);
        h.config = (struct gj_lockdown_config){};
        for (size_t i = 0; i < 3; i++)
                h.nodes[i].found = h.nodes[i].driver = (struct gj_perms){ 0666, 0, 0 };
        h.nodes[3].found = (struct gj_perms){ 0660, 0, 105 };
        gj_lockdown_judge(&h.facts, &s);
        is_str(gj_lockdown_state_name(s.state), "open", "default host: open");
        ok(!s.group, "default host: no group");
        is_int(strv_length(s.open_nodes), 3, "default host: the three NVIDIA nodes are open to all");
        ok(s.bypass && strstr(s.bypass, "users can bypass gpujail: /dev/nvidia0 is mode 0666 (and 2 more"),
           "default host: the bypass warning names the first node and counts the rest");
        is_int(strv_length(s.problems), 0, "default host: no lockdown, so no lockdown problems");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.nodes[0].driver = h.nodes[1].driver = h.nodes[2].driver = (struct gj_perms){ 0666, 0, 0 };
        gj_lockdown_judge(&h.facts, &s);
        is_str(gj_lockdown_state_name(s.state), "partial", "module not reloaded: partial");
        ok(has_problem(&s, "reload the NVIDIA modules"), "module not reloaded: says to reload");
        is_int(strv_length(s.problems), 1, "module not reloaded: said once");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        char *members[] = { (char *)"alice", (char *)"bob", NULL };
        h.facts.group_members = members;
        gj_lockdown_judge(&h.facts, &s);
        is_str(gj_lockdown_state_name(s.state), "partial", "group with members: partial");
        ok(has_problem(&s, "group gpujail has members (alice, bob)"), "group with members: names them");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.nodes[0].found = (struct gj_perms){ 0666, 0, 0 };
        gj_lockdown_judge(&h.facts, &s);
        is_str(gj_lockdown_state_name(s.state), "partial", "a node reopened: partial");
        ok(has_problem(&s, "/dev/nvidia0 is 0666 0:0, the lockdown gives it 0660 0:990"), "a node reopened: named");
        ok(s.bypass && strstr(s.bypass, "/dev/nvidia0 is mode 0666; see"), "a node reopened: the bypass warning");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.nodes[3].acl = true;
        gj_lockdown_judge(&h.facts, &s);
        ok(has_problem(&s, "/dev/dri/renderD128 has an ACL"), "an ACL on a node: named");
        ok(!s.bypass, "an ACL is not 'any user'");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.config.rules = (struct gj_lockdown_file){ .path = GJ_LOCKDOWN_UDEV_RULES };
        gj_lockdown_judge(&h.facts, &s);
        is_str(gj_lockdown_state_name(s.state), "partial", "udev rule missing: partial");
        ok(has_problem(&s, GJ_LOCKDOWN_UDEV_RULES " is missing"), "udev rule missing: named");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.config.rules.group = (char *)"video";
        h.config.rules.gid = 44;
        gj_lockdown_judge(&h.facts, &s);
        ok(has_problem(&s, "is for group video (gid 44), not gpujail (gid 990)"), "files for two groups: named");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.config.modprobe.as_written = false;
        gj_lockdown_judge(&h.facts, &s);
        ok(has_problem(&s, "edited by hand"), "an edited file: named");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.config.modprobe.group = NULL;
        h.config.rules.group = NULL;
        gj_lockdown_judge(&h.facts, &s);
        is_str(gj_lockdown_state_name(s.state), "partial", "files without markers: partial");
        ok(!s.group, "files without markers: no group");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.facts.group_found = false;
        gj_lockdown_judge(&h.facts, &s);
        ok(has_problem(&s, "group gpujail does not exist any more"), "group deleted: named");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.facts.group_gid_now = 991;
        gj_lockdown_judge(&h.facts, &s);
        ok(has_problem(&s, "group gpujail is gid 991 now"), "group renumbered: named");
        gj_lockdown_status_done(&s);

        locked_host(&h);
        h.facts.n_nodes = 0;
        gj_lockdown_judge(&h.facts, &s);
        is_str(gj_lockdown_state_name(s.state), "locked", "configured host without GPU nodes: locked");
        gj_lockdown_status_done(&s);
}

int main(void) {
        test_kinds();
        test_group_names();
        test_files();
        test_perms();
        test_judge();
        return done_testing();
}
