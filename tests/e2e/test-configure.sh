#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# gpujail configure ENGINE against config files with settings of their own: every
# byte gpujail does not own survives, a second run changes nothing, --undo gives
# the files back byte for byte, --dry-run writes nothing, an engine too old is
# refused with what to do; and a real podman reads the hooks.d entry it wrote.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_cmd jq
require_built "$GPUJAIL"

root=$TEST_TMP/root
mkdir -p "$root/etc/containerd" "$root/etc/docker" "$root/etc/crio/crio.conf.d"
cat >"$root/etc/containerd/config.toml" <<'TOML'
# the site's containerd
version = 2
root = "/srv/containerd"
imports = ["/etc/containerd/site.toml"]

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.example/pause:3.9"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
TOML
printf '{\n\t"log-level": "warn",\n\t"runtimes": { "other": { "path": "/opt/other" } },\n\t"features": { "buildkit": true }\n}\n' \
        >"$root/etc/docker/daemon.json"
chmod 0640 "$root/etc/docker/daemon.json"
printf '[crio.runtime]\nlog_level = "debug"\n' >"$root/etc/crio/crio.conf.d/10-site.conf"
cp -a "$root" "$TEST_TMP/before"
tree() { (cd "$1" && find . -type f -printf '%p %m\n' | sort && find . -type f -exec md5sum {} + | sort); }

configure() { run "$GPUJAIL" configure "$@" --root "$root"; }
for e in podman:4.3.1 crio:1.28.1 containerd:1.7.13 docker:25.0.3; do
        configure "${e%%:*}" --engine-version "${e#*:}" --dry-run
        is "$status" 0 "${e%%:*} --dry-run" || show
done
is "$(tree "$root")" "$(tree "$TEST_TMP/before")" "--dry-run wrote nothing"

for e in podman:4.3.1 crio:1.28.1 containerd:1.7.13 docker:25.0.3; do
        configure "${e%%:*}" --engine-version "${e#*:}"
        is "$status" 0 "configure ${e%%:*}" || show
        like "$output" "Undo: gpujail configure ${e%%:*} --undo" "${e%%:*}: says how to undo it"
done
cp -a "$root" "$TEST_TMP/once"

# containerd: one line added, nothing else.
run diff "$TEST_TMP/before/etc/containerd/config.toml" "$root/etc/containerd/config.toml"
is "$(grep '^[<>]' <<<"$output")" \
   "< imports = [\"/etc/containerd/site.toml\"]
> imports = [\"/etc/containerd/site.toml\", \"/etc/containerd/conf.d/gpujail.toml\"]" \
   "containerd: config.toml differs by the imports line only"
ok grep -q '^  enable_cdi = true' "$root/etc/containerd/conf.d/gpujail.toml" "containerd: the drop-in enables CDI"
# docker: every key kept, two added, the mode kept, a backup of the original.
is "$(jq -S 'del(.runtimes.gpujail, .features.cdi)' "$root/etc/docker/daemon.json")" \
   "$(jq -S . "$TEST_TMP/before/etc/docker/daemon.json")" "docker: every other key of daemon.json kept"
is "$(jq -c '[.runtimes.gpujail.path, .features.cdi]' "$root/etc/docker/daemon.json")" \
   '["/usr/local/bin/gpujail-runc",true]' "docker: runtimes.gpujail and features.cdi"
is "$(stat -c %a "$root/etc/docker/daemon.json")" 640 "docker: daemon.json keeps its mode"
ok cmp -s "$root/etc/docker/daemon.json.gpujail-backup" "$TEST_TMP/before/etc/docker/daemon.json" \
   "docker: the backup is the file as it was"
ok cmp -s "$root/etc/crio/crio.conf.d/10-site.conf" "$TEST_TMP/before/etc/crio/crio.conf.d/10-site.conf" \
   "crio: the site's drop-in untouched"
ok jq -e '.hook.env == ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]' "$root/etc/containers/oci/hooks.d/gpujail.json" \
   "podman: the hooks.d entry has its own env"

for e in podman:4.3.1 crio:1.28.1 containerd:1.7.13 docker:25.0.3; do
        configure "${e%%:*}" --engine-version "${e#*:}"
        like "$output" "Nothing to change" "configure ${e%%:*} twice: nothing to change"
done
is "$(tree "$root")" "$(tree "$TEST_TMP/once")" "the second run changed no byte"

for e in podman crio containerd docker; do
        configure "$e" --undo
        is "$status" 0 "$e --undo" || show
done
is "$(tree "$root")" "$(tree "$TEST_TMP/before")" "--undo: every file as it was, byte for byte and mode"
configure docker --undo
like "$output" "Nothing to change" "--undo twice: nothing to change"

# Refusals name the version and the way out; nothing is written.
configure containerd --engine-version 1.6.20
is "$status" 125 "containerd 1.6: CDI refused"
like "$output" "containerd 1.6.20 .*needs containerd >= 1.7.*--no-cdi" "containerd 1.6: says why and what to do"
configure docker --engine-version 24.0.7
like "$output" "docker 24.0.7 .*needs docker >= 25" "docker 24: CDI refused"
configure docker --engine-version 24.0.7 --no-cdi --dry-run
is "$status" 0 "docker 24 --no-cdi: the runtime alone is fine"
# The version as the engine prints it.
mkdir -p "$TEST_TMP/bin"
printf '#!/bin/sh\necho "containerd github.com/containerd/containerd v1.6.20 2806fc1"\n' >"$TEST_TMP/bin/containerd"
chmod +x "$TEST_TMP/bin/containerd"
run env PATH="$TEST_TMP/bin:$PATH" "$GPUJAIL" configure containerd --root "$root"
like "$output" "containerd 1.6.20 cannot" "the version from \`containerd --version\`"
is "$(tree "$root")" "$(tree "$TEST_TMP/before")" "refusals wrote nothing"

# A config gpujail cannot edit safely is refused, not mangled.
printf 'version = 2\nimports = [\n  "/a.toml",\n]\n' >"$TEST_TMP/multi.toml"
cp "$TEST_TMP/multi.toml" "$root/etc/containerd/config.toml"
configure containerd --engine-version 1.7.13
like "$output" "spans several lines" "a multi-line imports is refused"
ok cmp -s "$TEST_TMP/multi.toml" "$root/etc/containerd/config.toml" "and left as it was"
echo '{ "log-level": ' >"$root/etc/docker/daemon.json"
configure docker --engine-version 25.0.3
is "$status" 125 "malformed daemon.json refused"

# No config at all: created, and --undo removes them again.
empty=$TEST_TMP/empty
mkdir -p "$empty"
run "$GPUJAIL" configure containerd --root "$empty" --engine-version 2.0.0
ok grep -q '^version = 3' "$empty/etc/containerd/conf.d/gpujail.toml" "containerd 2: a version 3 drop-in"
run "$GPUJAIL" configure docker --root "$empty" --engine-version 27.1.0
run "$GPUJAIL" configure containerd --root "$empty" --undo
run "$GPUJAIL" configure docker --root "$empty" --undo
is "$(find "$empty" -type f)" "" "created files removed by --undo"

# A real podman reads the hooks.d entry written under --root: a marker hook runs for a
# container annotated gpujail.io/gpus, and not for one without.
if [[ $(id -u) -ne 0 ]] || ! command -v podman >/dev/null || ! command -v runc >/dev/null ||
        ! command -v busybox >/dev/null || ! command -v cc >/dev/null; then
        skip "needs root, podman, runc, busybox and cc" "podman reads the hooks.d entry"
else
        proot=$TEST_TMP/proot
        mkdir -p "$proot"
        printf '#!/bin/sh\necho "$@" >>%s/hook-ran\ncat >/dev/null\n' "$TEST_TMP" >"$TEST_TMP/marker-hook"
        chmod +x "$TEST_TMP/marker-hook"
        run "$GPUJAIL" configure podman --root "$proot" --hook "$TEST_TMP/marker-hook"
        rootfs=$(hook_rootfs)
        p=$TEST_TMP/podman
        mkdir -p "$p"/{root,run,tmp}
        new_parent=1
        for d in /sys/fs/cgroup/*/libpod_parent; do [[ -d $d ]] && new_parent=0; done
        rmdir_parent() { local d; for d in /sys/fs/cgroup/*/libpod_parent; do [[ -d $d ]] && rmdir "$d"; done; return 0; }
        [[ $new_parent -eq 1 ]] && defer rmdir_parent
        podman_run() {
                podman --root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp" --storage-driver vfs \
                        --cgroup-manager cgroupfs --events-backend file --runtime "$(command -v runc)" \
                        --hooks-dir "$proot/etc/containers/oci/hooks.d" \
                        run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
                        "$@" --rootfs "$rootfs" /bin/true
        }
        run podman_run
        is "$status" 0 "podman: a container without the annotation" || show
        ok '[ ! -e "$TEST_TMP/hook-ran" ]' "podman: the hook did not run without the annotation"
        run podman_run --annotation gpujail.io/gpus=0
        is "$status" 0 "podman: a container annotated gpujail.io/gpus=0" || show
        is "$(cat "$TEST_TMP/hook-ran" 2>/dev/null)" "createRuntime" "podman ran the hook from the written hooks.d, at createRuntime"
fi
done_testing
