/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parent-to-child handoff of `gpujail run` (launcher/launcher-handoff.c): the
 * plan's part travels down a pipe and arrives whole, with odd paths intact; a
 * closed pipe is a quiet -EPIPE (the other side already said why); a broken
 * message is refused, never half taken.
 */
#include <signal.h>

#include "gpujail/util.h"
#include "launcher-internal.h" /* launcher/: internal to the launcher */
#include "tap.h"

static struct gj_plan sample_plan(void) {
        struct gj_plan plan = { 0 };
        struct gj_plan_node nodes[] = {
                { .path = (char *)"/dev/nvidia3", .host_path = (char *)"/dev/nvidia3", .type = 'c',
                  .major = 195, .minor = 3, .mode = 0666 },
                { .path = (char *)"/dev/nvidiactl", .type = 'c', .major = 195, .minor = 255,
                  .mode = 0660, .uid = 0, .gid = 44 },
                { .path = (char *)"/dev/dri/renderD128", .host_path = (char *)"/dev/dri/render node 1",
                  .type = 'c', .major = 226, .minor = 128, .mode = 0600, .uid = 1000, .gid = 105 },
        };
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                gj_plan_add_node(&plan, &nodes[i], false);
        plan.driver.files = calloc(2, sizeof(struct gj_driver_file));
        plan.driver.files[0] =
                (struct gj_driver_file){ .kind = GJ_DRIVER_LIB,
                                         .host_path = strdup("/usr/lib/libcuda.so.550.54.15"),
                                         .soname = strdup("libcuda.so.1") };
        plan.driver.files[1] = (struct gj_driver_file){ .kind = GJ_DRIVER_BIN,
                                                        .host_path = strdup("/usr/bin/nvidia-smi"),
                                                        .path = strdup("/usr/bin/nvidia-smi") };
        plan.driver.n_files = 2;
        return plan;
}

/* Send parent's part down a pipe and take it into child and got: three checks. */
static void hand_over(const struct gj_job *parent, struct gj_job *child, struct gj_plan *got,
                      const char *what) {
        int fds[2];
        ok(pipe(fds) == 0, "pipe");
        is_int(gj_handoff_send(fds[1], parent), 0, "send %s", what);
        close(fds[1]);
        is_int(gj_handoff_receive(fds[0], child, got), 0, "receive %s", what);
        close(fds[0]);
}

static void test_round_trip(void) {
        struct gj_plan sent = sample_plan(), got = { 0 };
        char *keep[] = { (char *)"0000:3b:00.0", NULL };
        char *env[] = { (char *)"GPUJAIL_DEVICES=GPU-1234", (char *)"CUDA_VISIBLE_DEVICES=0", NULL };
        struct gj_job parent = { .plan = &sent, .keep_gpus = keep, .env = env };
        struct gj_job child = { 0 };

        hand_over(&parent, &child, &got, "a plan");
        ok(child.plan == &got, "the child's job points at the plan it received");
        is_int(got.n_nodes, sent.n_nodes, "every node arrives");
        for (size_t i = 0; i < got.n_nodes && i < sent.n_nodes; i++) {
                const struct gj_plan_node *a = &got.nodes[i], *b = &sent.nodes[i];
                is_str(a->path, b->path, "node %zu path", i);
                is_str(a->host_path, b->host_path, "node %zu host path (spaces kept)", i);
                ok(a->type == b->type && a->major == b->major && a->minor == b->minor,
                   "node %zu is %c %u:%u", i, b->type, b->major, b->minor);
                ok(a->mode == b->mode && a->uid == b->uid && a->gid == b->gid,
                   "node %zu keeps mode %o, owner %u:%u", i, (unsigned)b->mode, (unsigned)b->uid,
                   (unsigned)b->gid);
        }
        is_int(got.n_rules, sent.n_rules, "the child's plan has a rule per node too");
        is_int(strv_length(child.keep_gpus), 1, "one kept GPU");
        is_str(child.keep_gpus ? child.keep_gpus[0] : NULL, "0000:3b:00.0", "its bus id");
        is_int(strv_length(child.env), 2, "two env entries");
        is_str(child.env ? child.env[1] : NULL, "CUDA_VISIBLE_DEVICES=0", "in order");
        is_int(got.driver.n_files, 2, "the driver's files arrive");
        if (got.driver.n_files == 2) {
                const struct gj_driver_file *l = &got.driver.files[0], *b = &got.driver.files[1];
                ok(l->kind == GJ_DRIVER_LIB &&
                           streq(l->host_path, "/usr/lib/libcuda.so.550.54.15") &&
                           streq_ptr(l->soname, "libcuda.so.1") && !l->path,
                   "a library: kind, host path, SONAME, no path");
                ok(b->kind == GJ_DRIVER_BIN && streq_ptr(b->path, "/usr/bin/nvidia-smi") &&
                           !b->soname,
                   "a binary: kind, path, no SONAME");
        }

        strv_free(child.keep_gpus);
        strv_free(child.env);
        gj_plan_done(&got);
        gj_plan_done(&sent);
}

static void test_empty_lists(void) {
        struct gj_plan sent = { 0 }, got = { 0 };
        struct gj_job parent = { .plan = &sent }, child = { 0 };

        hand_over(&parent, &child, &got, "a plan with nothing (--gpu void)");
        ok(got.n_nodes == 0 && !child.keep_gpus && !child.env, "nothing arrives as nothing");
        gj_plan_done(&got);
}

/* Feed raw bytes to the receiving end. */
static int receive_bytes(const void *data, size_t len) {
        struct gj_plan got = { 0 };
        struct gj_job child = { 0 };
        int fds[2];
        if (pipe(fds) < 0)
                return -errno;
        if (len > 0 && write(fds[1], data, len) != (ssize_t)len)
                return -errno;
        close(fds[1]);
        int r = gj_handoff_receive(fds[0], &child, &got);
        close(fds[0]);
        strv_free(child.keep_gpus);
        strv_free(child.env);
        gj_plan_done(&got);
        return r;
}

static void test_broken(void) {
        is_int(receive_bytes(NULL, 0), -EPIPE, "EOF before anything: -EPIPE (the parent failed)");
        uint32_t len = 100;
        is_int(receive_bytes(&len, sizeof(len)), -EPIPE, "EOF inside the message: -EPIPE");

        char msg[64];
        len = 0;
        memcpy(msg, &len, sizeof(len));
        is_int(receive_bytes(msg, sizeof(len)), -EBADMSG, "an empty message is refused");

        len = 64 * 1024 * 1024;
        memcpy(msg, &len, sizeof(len));
        is_int(receive_bytes(msg, sizeof(len)), -EBADMSG, "a huge length is refused before any allocation");

        static const char bad_node[] = "c 195 x 666 0 0\0/dev/a\0/dev/a\0\0\0\0";
        len = sizeof(bad_node);
        memcpy(msg, &len, sizeof(len));
        memcpy(msg + sizeof(len), bad_node, sizeof(bad_node));
        is_int(receive_bytes(msg, sizeof(len) + sizeof(bad_node)), -EBADMSG, "a node with bad numbers");

        static const char truncated[] = "c 195 0 666 0 0\0/dev/a\0";
        len = sizeof(truncated);
        memcpy(msg, &len, sizeof(len));
        memcpy(msg + sizeof(len), truncated, sizeof(truncated));
        is_int(receive_bytes(msg, sizeof(len) + sizeof(truncated)), -EBADMSG, "a node without its path");

        static const char no_lists[] = "\0";
        len = sizeof(no_lists);
        memcpy(msg, &len, sizeof(len));
        memcpy(msg + sizeof(len), no_lists, sizeof(no_lists));
        is_int(receive_bytes(msg, sizeof(len) + sizeof(no_lists)), -EBADMSG, "nodes but no lists");

        static const char unterminated[] = { 'x', 'y' };
        len = sizeof(unterminated);
        memcpy(msg, &len, sizeof(len));
        memcpy(msg + sizeof(len), unterminated, sizeof(unterminated));
        is_int(receive_bytes(msg, sizeof(len) + sizeof(unterminated)), -EBADMSG, "no final NUL");
}

static void test_send_to_closed_pipe(void) {
        struct gj_plan sent = sample_plan();
        struct gj_job parent = { .plan = &sent };
        int fds[2];
        signal(SIGPIPE, SIG_IGN); /* gpujail blocks it while the child runs */
        ok(pipe(fds) == 0, "pipe");
        close(fds[0]);
        is_int(gj_handoff_send(fds[1], &parent), -EPIPE, "the child is gone: -EPIPE, quietly");
        close(fds[1]);
        gj_plan_done(&sent);
}

int main(void) {
        log_set_max_level(GJ_LOG_ERROR);
        test_round_trip();
        test_empty_lists();
        test_broken();
        test_send_to_closed_pipe();
        return done_testing();
}
