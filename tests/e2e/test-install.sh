#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# meson install into a DESTDIR installs exactly the files docs/install.md lists, with
# the prefix's paths in them, and the installed hooks.d entry is the one
# `gpujail configure podman` writes.
. "$(dirname "$0")/../lib.sh"
require_cmd meson jq scdoc
require_built "$GPUJAIL"

build=$TEST_TMP/build
prefix=/opt/gj
run meson setup "$build" "$GPUJAIL_SRC" --prefix "$prefix" -Dman=enabled -Dsystemd=enabled -Dudev=enabled \
        -Dslurm=disabled # the list below; the plugin is tested where Slurm runs (test-slurm-spank.sh)
is "$status" 0 "meson setup --prefix $prefix" || { show; done_testing; exit; }
run ninja -C "$build" -j2
is "$status" 0 "ninja" || show
run env DESTDIR="$TEST_TMP/dest" meson install -C "$build" --no-rebuild
is "$status" 0 "meson install with DESTDIR" || show

want=$(sed -n '/install-list: begin/,/install-list: end/p' "$GPUJAIL_SRC/docs/install.md" | grep -v '^<!--\|^```' | sort)
got=$(cd "$TEST_TMP/dest$prefix" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
is "$got" "$want" "the installed files are docs/install.md's list"
nok '[ -n "$(find "$TEST_TMP/dest" -path "$TEST_TMP/dest$prefix" -prune -o -type f -print)" ]' \
        "nothing installed outside the prefix"

d=$TEST_TMP/dest$prefix
is "$(stat -c %a "$d/bin/gpujail-runc")" 755 "gpujail-runc is executable"
ok grep -q "^exec $prefix/bin/gpujail runtime" "$d/bin/gpujail-runc" "gpujail-runc runs the installed gpujail"
for f in "$d"/share/gpujail/hooks.d/*.json; do
        is "$(jq -r .hook.path "$f")" "$prefix/bin/gpujail-hook" "$(basename "$f"): the installed hook"
        ok jq -e '.hook.env | length > 0' "$f" "$(basename "$f"): an env of its own"
done
ok grep -q "^ExecStart=$prefix/bin/gpujail cdi generate" "$d/lib/systemd/system/gpujail-cdi.service" \
        "the unit runs the installed gpujail"
ok grep -q "^ExecStartPre=-$prefix/bin/gpujail setup" "$d/lib/systemd/system/gpujail-cdi.service" \
        "the unit runs the installed gpujail setup first (nodes and their /dev/char links)"
nok grep -rq /usr/local "$d" "no /usr/local path left in what was installed under $prefix"
if command -v systemd-analyze >/dev/null; then
        run systemd-analyze verify --man=no "$d/lib/systemd/system/gpujail-cdi.service"
        unlike "$output" "gpujail-cdi.service:[0-9]+:" "systemd-analyze verify: no complaint about the unit's lines"
fi
run "$d/bin/gpujail" --version
like "$output" "^gpujail [0-9.]+ \(.+\)$" "installed gpujail --version: version and git description"
ok '[ "$(MANWIDTH=80 man -l "$d/share/man/man5/gpujail-policy.conf.5" 2>&1 | grep -c "max-gpus")" -gt 2 ]' \
        "gpujail-policy.conf(5) renders"

# The same hooks.d entry two ways: installed, and written by `gpujail configure podman`.
mkdir -p "$TEST_TMP/conf"
run "$d/bin/gpujail" configure podman --root "$TEST_TMP/conf" --engine-version 4.3.1
is "$status" 0 "installed gpujail configure podman --root" || show
ok '[ "$(jq -S . "$d/share/gpujail/hooks.d/gpujail-annotations.json")" = "$(jq -S . "$TEST_TMP/conf/etc/containers/oci/hooks.d/gpujail.json")" ]' \
        "configure podman writes the installed gpujail-annotations.json"
run "$d/bin/gpujail" configure podman --always --root "$TEST_TMP/conf" --engine-version 4.3.1
ok '[ "$(jq -S . "$d/share/gpujail/hooks.d/gpujail-nvidia-env.json")" = "$(jq -S . "$TEST_TMP/conf/etc/containers/oci/hooks.d/gpujail.json")" ]' \
        "configure podman --always writes the installed gpujail-nvidia-env.json"

done_testing
