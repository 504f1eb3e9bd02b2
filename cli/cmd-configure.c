/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpujail configure ENGINE: wire gpujail into podman, CRI-O, containerd or
 * Docker through the engine's own drop-ins. The edits are planned by
 * devices/engine-config.c (pure); here: find the engine's version, read and
 * write the files under --root, atomically, and say what changed.
 */
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"
#include "gpujail/engine-config.h"
#include "gpujail/util.h"

#ifndef GPUJAIL_BINDIR
#define GPUJAIL_BINDIR "/usr/local/bin"
#endif
#define CONFIG_MAX (4u << 20) /* bytes: engine configs are small; refuse anything odd */

extern char **environ;

struct configure_args {
        struct gj_configure_opts o;
        const char *root; /* NULL: / */
        const char *version;
        bool dry_run;
};

static void configure_usage(FILE *f) {
        fprintf(f,
                "Usage: sudo gpujail configure ENGINE [--dry-run] [--undo] [--root DIR] [OPTIONS]\n"
                "\n"
                "Wire gpujail into a container engine through the engine's own drop-ins, keeping\n"
                "every setting that is not gpujail's. ENGINE and what is written:\n"
                "  podman      /etc/containers/oci/hooks.d/gpujail.json: gpujail-hook on containers\n"
                "              annotated gpujail.io/gpus=SEL (podman >= 4.1; podman reads CDI specs\n"
                "              itself: --device gpujail.io/gpu=0)\n"
                "  crio        the same hooks.d entry in /usr/share/containers/oci/hooks.d, and\n"
                "              /etc/crio/crio.conf.d/50-gpujail.conf: the runtime wrapper as the\n"
                "              RuntimeClass handler \"gpujail\" (CRI-O >= 1.24)\n"
                "  containerd  /etc/containerd/conf.d/gpujail.toml (enable_cdi, runtime handler\n"
                "              \"gpujail\"), imported by /etc/containerd/config.toml (>= 1.7; >= 1.6\n"
                "              with --no-cdi)\n"
                "  docker      /etc/docker/daemon.json: \"features\": {\"cdi\": true} and the runtime\n"
                "              \"gpujail\", merged key by key; the file as it was is kept in\n"
                "              daemon.json.gpujail-backup (Docker >= 25; any with --no-cdi)\n"
                "Running it again changes nothing. --undo takes out exactly what it put in\n"
                "(the files as they were, byte for byte, when nobody changed them since).\n"
                "Engines and drivers are never restarted: it says what to restart.\n"
                "\n"
                "Options:\n"
                "  --dry-run               say what would change, change nothing\n"
                "  --undo                  take gpujail out again\n"
                "  --root DIR              edit the files under DIR (DIR/etc/...), e.g. an image\n"
                "  --no-cdi                containerd, docker: register the runtime wrapper only\n"
                "  --always                podman, crio: run the hook for every container, so that\n"
                "                          NVIDIA_VISIBLE_DEVICES works without an annotation\n"
                "  --hook PATH             gpujail-hook as the engine runs it (default %s)\n"
                "  --runtime PATH          the runtime wrapper (default %s)\n"
                "  --engine-version VER    the engine's version, instead of asking `ENGINE --version`\n"
                "                          (`dockerd --version` for docker)\n"
                "  -h, --help\n"
                "\n"
                "Exit status: 0 when the engine is (now) configured, or with --dry-run would be;\n"
                "125 otherwise (an engine too old for what is asked, a file it cannot edit safely).\n",
                GPUJAIL_BINDIR "/gpujail-hook", GPUJAIL_BINDIR "/gpujail-runc");
}

static char *under_root(const char *root, const char *path) {
        return root ? strprintf("%s%s", root, path) : strdup(path);
}

/* The planner's reader: path under --root; -ENOENT quietly, anything else logged. */
static int read_under_root(const char *path, char **ret, void *userdata) {
        const char *root = userdata;
        _cleanup_free_ char *p = under_root(root, path);
        if (!p)
                return -ENOMEM;
        int r = read_full_file(p, ret, NULL, CONFIG_MAX);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", p);
        return 0;
}

/* The output of `program --version` (stdout and stderr), at most 64 KiB. */
static int program_version_output(const char *program, char **ret) {
        _cleanup_close_ int rd = -1, wr = -1;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        rd = fds[0];
        wr = fds[1];
        posix_spawn_file_actions_t fa;
        if (posix_spawn_file_actions_init(&fa) != 0)
                return -ENOMEM;
        posix_spawn_file_actions_adddup2(&fa, wr, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, wr, STDERR_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        char *argv[] = { (char *)program, (char *)"--version", NULL };
        pid_t pid;
        int r = -posix_spawnp(&pid, program, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r < 0)
                return r;
        closep(&wr);
        wr = -1;
        r = read_full_fd(rd, ret, NULL, 64 * 1024);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                free(*ret);
                r = -EPROTO;
        }
        return r;
}

static int find_engine_version(struct configure_args *a) {
        const char *program = gj_engine_program(a->o.engine);
        _cleanup_free_ char *out = NULL;
        if (a->version) {
                if (gj_version_parse(a->version, &a->o.version) < 0)
                        return log_error_errno(-EINVAL, "--engine-version %s: expected a version like 1.7.2", a->version);
                return 0;
        }
        int r = program_version_output(program, &out);
        if (r < 0)
                return log_error_errno(r, "cannot tell %s's version: `%s --version` failed (%m); is %s installed? "
                                          "--engine-version VER says it",
                                       gj_engine_name(a->o.engine), program, gj_engine_name(a->o.engine));
        if (gj_version_parse(out, &a->o.version) < 0)
                return log_error_errno(-EBADMSG, "cannot find a version in the output of `%s --version`; "
                                                 "--engine-version VER says it",
                                       program);
        return 0;
}

/* Parents of path up to root, 0755, as a package would make them. */
static int mkdir_parents(const char *root, const char *path) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        size_t skip = root ? strlen(root) : 0;
        for (char *s = strchr(p + skip + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(-errno, "cannot create %s: %m", p);
                *s = '/';
        }
        return 0;
}

static int apply_edit(const char *root, const struct gj_edit *e) {
        _cleanup_free_ char *p = under_root(root, e->path);
        struct stat st;
        if (!p)
                return -ENOMEM;
        if (e->action == GJ_EDIT_REMOVE) {
                if (unlink(p) < 0 && errno != ENOENT)
                        return log_error_errno(-errno, "cannot remove %s: %m", p);
                return 0;
        }
        int r = mkdir_parents(root, p);
        if (r < 0)
                return r;
        /* An existing file keeps its mode: the admin's choice. */
        mode_t mode = lstat(p, &st) >= 0 && S_ISREG(st.st_mode) ? st.st_mode & 07777 : e->mode;
        r = write_file_atomic(p, e->content, strlen(e->content), mode);
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %m", p);
        return 0;
}

static void print_edit(const struct configure_args *a, const struct gj_edit *e) {
        static const char *const verbs[] = {
                [GJ_EDIT_KEEP] = "unchanged",
                [GJ_EDIT_WRITE] = "written",
                [GJ_EDIT_REMOVE] = "removed",
        };
        static const char *const dry[] = {
                [GJ_EDIT_KEEP] = "unchanged",
                [GJ_EDIT_WRITE] = "would write",
                [GJ_EDIT_REMOVE] = "would remove",
        };
        printf("  %-12s %s%s: %s\n", (a->dry_run ? dry : verbs)[e->action], a->root ? a->root : "", e->path, e->what);
}

static int configure_apply(const struct configure_args *a, const struct gj_config_plan *plan) {
        const char *engine = gj_engine_name(a->o.engine);
        bool changed = false;
        printf("gpujail configure %s%s%s:\n", engine, a->o.undo ? " --undo" : "", a->dry_run ? " (dry run)" : "");
        for (size_t i = 0; i < plan->n_edits; i++) {
                const struct gj_edit *e = &plan->edits[i];
                if (e->action != GJ_EDIT_KEEP && !a->dry_run) {
                        int r = apply_edit(a->root, e);
                        if (r < 0)
                                return r;
                }
                changed = changed || e->action != GJ_EDIT_KEEP;
                print_edit(a, e);
        }
        if (!changed)
                printf("Nothing to change.\n");
        else if (plan->restart)
                printf("Then: %s%s\n", plan->restart, a->o.undo ? "" : " (gpujail restarts nothing itself)");
        if (!a->o.undo)
                printf("Undo: gpujail configure %s --undo%s%s\n", engine, a->root ? " --root " : "", a->root ? a->root : "");
        return 0;
}

static int configure_parse(int argc, char **argv, struct configure_args *a) {
        enum { ARG_DRY_RUN = 0x100, ARG_UNDO, ARG_ROOT, ARG_NO_CDI, ARG_ALWAYS, ARG_HOOK, ARG_RUNTIME, ARG_VERSION };
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "undo", no_argument, NULL, ARG_UNDO },
                { "root", required_argument, NULL, ARG_ROOT },
                { "no-cdi", no_argument, NULL, ARG_NO_CDI },
                { "always", no_argument, NULL, ARG_ALWAYS },
                { "hook", required_argument, NULL, ARG_HOOK },
                { "runtime", required_argument, NULL, ARG_RUNTIME },
                { "engine-version", required_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_DRY_RUN: a->dry_run = true; break;
                case ARG_UNDO: a->o.undo = true; break;
                case ARG_ROOT: a->root = optarg; break;
                case ARG_NO_CDI: a->o.no_cdi = true; break;
                case ARG_ALWAYS: a->o.always = true; break;
                case ARG_HOOK: a->o.hook_path = optarg; break;
                case ARG_RUNTIME: a->o.runtime_path = optarg; break;
                case ARG_VERSION: a->version = optarg; break;
                case 'h': configure_usage(stdout); return 1;
                default: configure_usage(stderr); return -EINVAL;
                }
        if (optind + 1 != argc || gj_engine_from_name(argv[optind]) < 0) {
                log_error("expected one ENGINE: podman, crio, containerd or docker");
                return -EINVAL;
        }
        a->o.engine = (enum gj_engine)gj_engine_from_name(argv[optind]);
        if (a->root && a->root[0] != '/') {
                log_error("--root %s: expected an absolute path", a->root);
                return -EINVAL;
        }
        if (a->root && streq(a->root, "/"))
                a->root = NULL;
        struct stat st;
        if (a->root && (stat(a->root, &st) < 0 || !S_ISDIR(st.st_mode))) {
                log_error("--root %s: no such directory", a->root);
                return -EINVAL;
        }
        if (a->o.hook_path[0] != '/' || a->o.runtime_path[0] != '/') {
                log_error("--hook and --runtime: the engine needs absolute paths");
                return -EINVAL;
        }
        return 0;
}

int cmd_configure(int argc, char **argv) {
        struct configure_args a = {
                .o.hook_path = GPUJAIL_BINDIR "/gpujail-hook",
                .o.runtime_path = GPUJAIL_BINDIR "/gpujail-runc",
        };
        _cleanup_(gj_config_plan_done) struct gj_config_plan plan = { 0 };
        int r = configure_parse(argc, argv, &a);
        if (r != 0)
                return r > 0 ? 0 : GJ_EXIT_FAILURE;
        if (!a.o.undo && find_engine_version(&a) < 0)
                return GJ_EXIT_FAILURE;
        r = gj_configure_plan(&a.o, read_under_root, (void *)a.root, &plan);
        if (r == -ENOMEM)
                log_error_errno(r, "cannot configure %s: %m", gj_engine_name(a.o.engine));
        if (r < 0)
                return GJ_EXIT_FAILURE; /* logged where it was known */
        return configure_apply(&a, &plan) < 0 ? GJ_EXIT_FAILURE : 0;
}
