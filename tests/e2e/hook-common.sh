# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared by tests/e2e/test-hook-*.sh (sourced after tests/lib.sh): a busybox
# rootfs with a static open-probe, OCI bundles made by `runc spec` and edited
# with jq, and running runc on a simulated host.
#
#   require_hook_runc                 skip unless runc, a built gpujail-hook and the rest are here
#   hook_rootfs                       -> prints the shared rootfs dir (built once)
#   hook_bundle NAME [JQ-FILTER...]   -> prints a new bundle dir; filters edit config.json
#   env_of VAR=VALUE                  -> a hook_bundle filter adding VAR=VALUE to process.env
#   ask_for SEL                       -> a hook_bundle filter: the annotation gpujail.io/gpus=SEL
#   intruder SHAPE INDEX              -> a hook_bundle filter: GPU INDEX's node, no allow rule
#   hook_entry STAGE                  -> the JSON of a hooks[] entry for gpujail-hook
#   hook_conf NAME TEXT               -> prints a dir holding hook.conf = TEXT, for $HOOK_ETC
#   runc_on_host SHAPE ID BUNDLE      -> runc run on the simulated host; sets $status/$output
#                                        (/etc/gpujail there: a copy of $HOOK_ETC, or empty)

# The container's script: what /dev holds, then the cgroup oracle on every
# nvidia* node there (ENXIO = allowed, EPERM = denied).
HOOK_PROBE_SCRIPT='ls /dev | tr "\n" " "; echo; for n in /dev/nvidia*; do /bin/open-probe $n; done; grep -c " /dev/nvidia" /proc/self/mountinfo; true'

# require_hook_runc: what running gpujail-hook under runc needs: root, runc and
# jq, busybox and cc (hook_rootfs: the rootfs and its static open-probe), a built
# gpujail-hook and the v1 devices controller (the cgroup oracle).
require_hook_runc() {
        require_root
        require_cmd runc jq busybox cc
        require_built "$GPUJAIL_HOOK"
        require_cgroup_v1_devices
}

hook_rootfs() {
        local r=$TEST_TMP/rootfs
        if [[ ! -x $r/bin/open-probe ]]; then
                mkdir -p "$r/bin" "$r/proc" "$r/dev" "$r/sys" "$r/tmp" "$r/etc"
                cp /bin/busybox "$r/bin/busybox"
                local c
                for c in sh ls cat tr grep echo sleep true mount; do ln -sf busybox "$r/bin/$c"; done
                # Static: the rootfs has no libc.
                cc -D_GNU_SOURCE -static -O2 -o "$r/bin/open-probe" "$GPUJAIL_SRC/tests/helpers/open-probe.c" >&2 ||
                        bail_out "cannot build a static open-probe"
        fi
        echo "$r"
}

# hook_entry STAGE [ENV-JSON-ARRAY]: what examples/ ships: the hook with its
# own env, never the runtime's or the image's. ENV "null" = no env key at all
# (the runtime's environment is inherited: see test-hook-env.sh).
hook_entry() {
        local stage=$1 env=${2:-'["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]'}
        jq -cn --arg path "$GPUJAIL_HOOK" --arg stage "$stage" --argjson env "$env" \
                '{path: $path, args: (["gpujail-hook"] + (if $stage == "" then [] else [$stage] end))}
                 + (if $env == null then {} else {env: $env} end)'
}

# env_of VAR=VALUE: a hook_bundle filter that adds VAR=VALUE to process.env.
env_of() { echo ".process.env += [\"$1\"]"; }

# intruder SHAPE INDEX: a hook_bundle filter that puts GPU INDEX's node into
# linux.devices with no allow rule: the runtime makes the node, the device
# cgroup must deny it (EPERM) whatever the hook gives.
intruder() {
        local dev
        dev=$(jq -cn --arg p "$(hostinfo "$1" ".devices[$2].nodes[0].path")" \
                --argjson m "$(hostinfo "$1" ".devices[$2].minor")" \
                '[{path: $p, type: "c", major: 195, minor: $m, fileMode: 438, uid: 0, gid: 0}]')
        echo ".linux.devices += $dev"
}

# ask_for SEL: a hook_bundle filter asking for SEL the way the hook accepts by
# default (the annotation gpujail.io/gpus; process.env is the image's).
ask_for() { echo ".annotations[\"gpujail.io/gpus\"] = \"$1\""; }

# The hook reads /etc/gpujail/hook.conf. runc_on_host and on_hook_etc put a
# tmpfs on /etc/gpujail in their private mount namespace, holding a copy of
# the directory $HOOK_ETC (owners and modes kept; hook_conf makes one), or
# nothing: the host's own file never decides a test, and the host's /etc is
# never written (the mount point itself is made, and removed, only where the
# host lacks it).
_hook_etc_mountpoint() {
        [[ -d /etc/gpujail ]] && return 0
        mkdir -m 0755 /etc/gpujail && defer rmdir /etc/gpujail
}

# The bash code that does it, first thing in the namespace ($HOOK_ETC in its env).
_HOOK_ETC_SETUP='mount -t tmpfs -o mode=0755,size=256k gpujail-test-hookconf /etc/gpujail || exit 99
if [ -n "${HOOK_ETC:-}" ]; then
        cp -a "$HOOK_ETC"/. /etc/gpujail/ && chmod --reference="$HOOK_ETC" /etc/gpujail &&
                chown --reference="$HOOK_ETC" /etc/gpujail || exit 99
fi'

# hook_conf NAME TEXT: a directory (root-owned, 0755) holding hook.conf = TEXT
# (root-owned, 0644), for HOOK_ETC; the caller may chmod/chown either to taste.
hook_conf() {
        local d=$TEST_TMP/etc/$1
        mkdir -p "$d"
        chmod 0755 "$d"
        printf '%s\n' "$2" >"$d/hook.conf"
        chmod 0644 "$d/hook.conf"
        echo "$d"
}

# on_hook_etc SHAPE -- CMD...: CMD on the simulated host, with /etc/gpujail as above.
on_hook_etc() {
        local shape=$1
        shift
        [[ ${1:-} == -- ]] && shift
        _hook_etc_mountpoint
        HOOK_ETC=${HOOK_ETC:-} on_fakehost "$shape" -- bash -c "$_HOOK_ETC_SETUP"'
                exec "$@"' _ "$@"
}

# hook_bundle NAME [JQ-FILTER...]: a bundle whose rootfs is the shared busybox
# one (absolute root.path), running HOOK_PROBE_SCRIPT; each filter then edits
# config.json in turn.
hook_bundle() {
        local name=$1 b=$TEST_TMP/bundles/$1 f
        shift
        mkdir -p "$b"
        runc spec --bundle "$b"
        jq --arg root "$(hook_rootfs)" --arg script "$HOOK_PROBE_SCRIPT" \
                '.root.path = $root | .root.readonly = true | .process.terminal = false
                 | .process.args = ["/bin/sh", "-c", $script]' "$b/config.json" >"$b/config.json.new"
        mv "$b/config.json.new" "$b/config.json"
        for f in "$@"; do
                jq "$f" "$b/config.json" >"$b/config.json.new" || bail_out "jq filter failed: $f"
                mv "$b/config.json.new" "$b/config.json"
        done
        echo "$b"
}

# hook_register BUNDLE STAGE [ENV-JSON]: append gpujail-hook to hooks.STAGE
# (STAGE "" = prestart registered without a stage argument).
hook_register() {
        local b=$1 stage=$2 key=${2:-prestart} entry
        entry=$(hook_entry "$stage" "${3:-}")
        jq --arg k "$key" --argjson e "$entry" '.hooks[$k] += [$e]' "$b/config.json" >"$b/config.json.new"
        mv "$b/config.json.new" "$b/config.json"
}

# runc_on_host SHAPE ID BUNDLE: runc run, inside the simulated host (runc must
# see its /dev), with /etc/gpujail from $HOOK_ETC (on_hook_etc). There, hooks
# that have their own env get the fakesysfs preload added (the simulated host
# needs it; a real registration has none); hooks without env are left alone.
# Always deletes the container afterwards.
# RUNC_WRAP=CMD: runc runs (and is deleted) under CMD there, e.g. a script that
# makes the namespace look like a pure cgroup v2 host.
# RUNC_CMD="CMD ARG...": what runs the container instead of runc, e.g.
# "gpujail runtime --runtime runc" (words split on blanks).
runc_on_host() {
        local shape=$1 id=$2 b=$3 wrap=${RUNC_WRAP:-} runtime_argv
        read -ra runtime_argv <<<"${RUNC_CMD:-runc}"
        run on_hook_etc "$shape" -- ${wrap:+"$wrap"} bash -c '
                set -e
                b=$1; id=$2
                jq --arg p "$GPUJAIL_TEST_PRELOAD" --arg a "${ASAN_OPTIONS:-}" "
                        .hooks |= (if . == null then null else with_entries(.value |= map(
                          if .env != null and (.env | map(startswith(\"LD_PRELOAD=\")) | any | not)
                          then .env += [\"LD_PRELOAD=\" + \$p] + (if \$a != \"\" then [\"ASAN_OPTIONS=\" + \$a] else [] end)
                          else . end)) end)" "$b/config.json" >"$b/config.json.new"
                mv "$b/config.json.new" "$b/config.json"
                exec "${@:3}" run --bundle "$b" "$id"' _ "$b" "$id" "${runtime_argv[@]}"
        if [[ -n $wrap ]]; then
                on_fakehost "$shape" -- "$wrap" runc delete -f "$id" >/dev/null 2>&1 || true
        else
                runc delete -f "$id" >/dev/null 2>&1 || true
        fi
}
