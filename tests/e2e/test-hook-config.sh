#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Who may ask gpujail-hook for GPUs: /etc/gpujail/hook.conf (`accept = ...`).
#
# Each request source (annotation gpujail.io/gpus, CDI annotations, the image's
# NVIDIA_VISIBLE_DEVICES) accepted and refused, with the built-in default (no
# file: annotation and CDI, not env), the hook run by hand and under the real
# runc. Accepted: the hook acts on it (a GPU given; an unknown GPU refused).
# Refused: read as if it were not there: the container starts without it, and
# the hook logs one "ignore" line naming it; a lower source that is accepted
# still counts. A file root cannot vouch for (owner, mode, type, its directory)
# or cannot parse: every container is refused, exit 125, the reason named.
#
# /etc/gpujail is a tmpfs in each run's private mount namespace (on_hook_etc):
# the host's own file, if any, never decides, and is never written.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_hook_runc

shape=nvidia8
fakehost $shape >/dev/null
node_of() { hostinfo $shape ".devices[$1].nodes[0].path"; }
other=$(node_of 1) # another GPU's node, put in linux.devices with no allow rule
with_other=$(intruder $shape 1)
ann() { ask_for "$1"; }
cdi() { echo ".annotations[\"cdi.k8s.io/test\"] = \"gpujail.io/gpu=$1\""; }
nvenv() { env_of "NVIDIA_VISIBLE_DEVICES=$1"; }

# ---- the hook run by hand ------------------------------------------------------

b=$TEST_TMP/bundle
mkdir -p "$b/rootfs/dev"
# direct_config FILTER...: config.json asking as the filters say (ann/cdi/env).
direct_config() {
        local f c='{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"], "env": ["PATH=/bin"]}}'
        for f in "$@"; do c=$(jq "$f" <<<"$c") || bail_out "jq filter failed: $f"; done
        echo "$c" >"$b/config.json"
}
state=$(printf '{"ociVersion":"1.0.2","id":"direct","status":"creating","pid":%s,"bundle":"%s"}' $$ "$b")
# hook_direct: the hook, prestart, on the simulated host with /etc/gpujail from $HOOK_ETC.
hook_direct() {
        run on_hook_etc $shape -- bash -c 'printf "%s" "$1" | timeout 10 "$2" prestart' _ "$state" "$GPUJAIL_HOOK"
}

# The default with no /etc/gpujail at all (only where the host has none: the
# runs below make the directory, as a mount point, until this test ends).
if [[ ! -e /etc/gpujail ]]; then
        direct_config "$(nvenv 0)"
        run on_fakehost $shape -- bash -c 'printf "%s" "$1" | timeout 10 "$2" prestart' _ "$state" "$GPUJAIL_HOOK"
        is "$status" 0 "no /etc/gpujail: NVIDIA_VISIBLE_DEVICES ignored, exit 0" || show
        like "$stderr" '^gpujail-hook: ignore id=direct stage=prestart request="env NVIDIA_VISIBLE_DEVICES" accept=annotation,cdi config=<built-in>$' \
                "no /etc/gpujail: the ignore line names the request, what is accepted and why"
        direct_config "$(ann 9)"
        run on_fakehost $shape -- bash -c 'printf "%s" "$1" | timeout 10 "$2" prestart' _ "$state" "$GPUJAIL_HOOK"
        is "$status" 125 "no /etc/gpujail: the annotation is acted on (GPU 9 refused)" || show
else
        skip "the host has /etc/gpujail" "no /etc/gpujail: the built-in default"
        skip "the host has /etc/gpujail" "no /etc/gpujail: the ignore line"
        skip "the host has /etc/gpujail" "no /etc/gpujail: the annotation is acted on"
fi

# acted_on NAME [also-ignored]: the request reached the selector (GPU 9 does
# not exist here); nothing else was ignored unless said.
acted_on() {
        is "$status" 125 "$1: acted on (exit 125)" || show
        like "$stderr" "gpujail-hook: unknown GPU '9'" "$1: acted on (GPU 9 refused)"
        [[ -n ${2:-} ]] || unlike "$stderr" "ignore id=" "$1: nothing ignored"
}
# ignored NAME ORIGIN: the request was read as absent.
ignored() {
        is "$status" 0 "$1: ignored, exit 0" || show
        like "$stderr" "^gpujail-hook: ignore id=direct stage=prestart request=\"$2\" " "$1: one ignore line naming it"
        unlike "$stderr" "unknown GPU" "$1: not acted on"
}

HOOK_ETC=$(hook_conf empty "# nothing but a comment")
direct_config "$(ann 9)"; hook_direct; acted_on "default: annotation gpujail.io/gpus"
direct_config "$(cdi 9)"; hook_direct; acted_on "default: CDI annotation"
direct_config "$(nvenv 9)"; hook_direct; ignored "default: NVIDIA_VISIBLE_DEVICES" "env NVIDIA_VISIBLE_DEVICES"
like "$stderr" " accept=annotation,cdi config=/etc/gpujail/hook.conf$" "default: says what is accepted, and where that was read"
direct_config "$(nvenv void)"; hook_direct
is "$status:$stderr" "0:" "default: NVIDIA_VISIBLE_DEVICES=void, refused: asks for nothing, nothing said"

HOOK_ETC=$(hook_conf env "accept = env")
direct_config "$(nvenv 9)"; hook_direct; acted_on "accept = env: NVIDIA_VISIBLE_DEVICES"
direct_config "$(ann 9)"; hook_direct; ignored "accept = env: annotation" "annotation gpujail.io/gpus"
like "$stderr" " accept=env config=/etc/gpujail/hook.conf$" "accept = env: says so"
direct_config "$(cdi 9)"; hook_direct; ignored "accept = env: CDI annotation" "annotation cdi.k8s.io/test"
direct_config "$(ann 0)" "$(cdi 0)" "$(nvenv 9)"; hook_direct
acted_on "accept = env: annotations refused, env below them taken" also-ignored
like "$stderr" 'ignore .* request="annotation gpujail.io/gpus, annotation cdi.k8s.io/test" ' \
        "accept = env: both refused annotations named, highest first"

HOOK_ETC=$(hook_conf none "accept = none")
for src in ann cdi nvenv; do
        direct_config "$($src 9)"; hook_direct
        is "$status" 0 "accept = none: $src ignored, exit 0" || show
done
HOOK_ETC=$(hook_conf all "$(printf '# every source\r\n\n  accept =  env ,annotation,  cdi  \r\n')")
for src in ann cdi nvenv; do
        direct_config "$($src 9)"; hook_direct; acted_on "accept = every source (comments, blanks, CRLF): $src"
done

# Files root cannot vouch for: refused, whatever the container asks (even nothing).
# bad NAME REGEX: the last run failed closed naming the reason.
bad() {
        is "$status" 125 "$1: exit 125" || show
        like "$stderr" "$2" "$1: says why"
        is "$(wc -l <<<"$stderr")" 1 "$1: one line"
}
for ask in "$(ann 0)" ".process.env = [\"PATH=/bin\"]"; do
        what=$([[ $ask == *gpus* ]] && echo "asking for GPU 0" || echo "asking for nothing")
        direct_config "$ask"
        d=$(hook_conf gw "accept = annotation"); chmod 0664 "$d/hook.conf"
        HOOK_ETC=$d hook_direct
        bad "hook.conf group-writable, $what" "refusing the hook configuration /etc/gpujail/hook.conf: it is writable by group or others \(mode 0664; chmod go-w /etc/gpujail/hook.conf\)"
        d=$(hook_conf uid "accept = annotation"); chown 1000 "$d/hook.conf"
        HOOK_ETC=$d hook_direct
        bad "hook.conf owned by uid 1000, $what" "hook.conf: it is owned by uid 1000, not root"
done
d=$(hook_conf ow "accept = annotation"); chmod 0646 "$d/hook.conf"
HOOK_ETC=$d hook_direct; bad "hook.conf writable by others" "writable by group or others \(mode 0646"
d=$(hook_conf dirmode "accept = annotation"); chmod 0775 "$d"
HOOK_ETC=$d hook_direct; bad "/etc/gpujail group-writable" "its directory /etc/gpujail is writable by group or others \(mode 0775; chmod go-w /etc/gpujail\)"
d=$(hook_conf dirown "accept = annotation"); chown 1000 "$d"
HOOK_ETC=$d hook_direct; bad "/etc/gpujail owned by uid 1000" "its directory /etc/gpujail is owned by uid 1000"
d=$(hook_conf link "accept = annotation"); mv "$d/hook.conf" "$d/real.conf"; ln -s real.conf "$d/hook.conf"
HOOK_ETC=$d hook_direct; bad "hook.conf a symlink (to a good file)" "it is a symlink; it must be a regular file"
d=$(hook_conf fifo "x"); rm "$d/hook.conf"; mkfifo -m 0644 "$d/hook.conf"
HOOK_ETC=$d hook_direct; bad "hook.conf a fifo: refused without blocking" "it is a fifo"
d=$(hook_conf dir "x"); rm "$d/hook.conf"; mkdir -m 0755 "$d/hook.conf"
HOOK_ETC=$d hook_direct; bad "hook.conf a directory" "it is a directory"
d=$(hook_conf big "accept = annotation"); head -c 70000 /dev/zero | tr '\0' '#' >>"$d/hook.conf"
HOOK_ETC=$d hook_direct; bad "hook.conf of 70 kB" "larger than 65536 bytes"
d=$(hook_conf nul "accept = annotation"); printf '#\0\n' >>"$d/hook.conf"
HOOK_ETC=$d hook_direct; bad "hook.conf with a NUL byte" "a NUL byte"

# Lines that do not mean one thing: refused, naming file and line.
direct_config "$(ann 0)"
while IFS='|' read -r text why; do
        HOOK_ETC=$(hook_conf syntax "$(printf '# line 1\n%s' "$text")") hook_direct
        bad "hook.conf '$text'" "^gpujail-hook: /etc/gpujail/hook.conf:2: .*$why"
done <<'EOF'
accept = annotation, docker|unknown word 'docker'
accept = none, env|'none' must stand alone
accept = cdi # and more|a comment must be on a line of its own
accept =|no value
accept = annotation,,cdi|an empty item
accept = annotation cdi|not one word
allow = env|unknown key 'allow'
accept|expected KEY = VALUE
EOF
HOOK_ETC=$(hook_conf twice "$(printf 'accept = cdi\naccept = env')") hook_direct
bad "hook.conf: accept twice" "hook.conf:2: accept again \(first at line 1\)"

# ---- under runc ------------------------------------------------------------------

# The hook's stderr (runc shows it only on failure): a wrapper keeps it.
audit=$TEST_TMP/audit.log
printf '#!/bin/sh\nexec "%s" "$@" 2>>"%s"\n' "$GPUJAIL_HOOK" "$audit" >"$TEST_TMP/hook-wrapper"
chmod +x "$TEST_TMP/hook-wrapper"
# runc_case NAME STAGE FILTER...: run a container asking as the filters say.
runc_case() {
        local name=$1 stage=$2 entry
        shift 2
        : >"$audit"
        b=$(hook_bundle "$name" "$with_other" "$@")
        entry=$(GPUJAIL_HOOK=$TEST_TMP/hook-wrapper hook_entry "$stage")
        jq --arg k "$stage" --argjson e "$entry" '.hooks[$k] = [$e]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
        runc_on_host $shape "gj-conf-$$" "$b"
}
# given NAME NODE: the container ran with that GPU node, allowed.
given() {
        is "$status" 0 "$1: container ran" || { show; return; }
        like "$output" "^$2 ENXIO" "$1: $2 given (ENXIO)"
        like "$output" "^$other EPERM" "$1: another GPU's node denied (EPERM)"
}
# not_given NAME ORIGIN: the container ran without any GPU, the hook said what it ignored.
not_given() {
        is "$status" 0 "$1: container ran" || { show; return; }
        unlike "$output" "nvidiactl" "$1: nothing injected (no control node)"
        like "$output" "^$other EPERM" "$1: device cgroup untouched (EPERM)"
        like "$(cat "$audit")" "^gpujail-hook: ignore id=gj-conf-$$ stage=.* request=\"$2\"" "$1: the ignore line"
}

unset HOOK_ETC # the default: an empty /etc/gpujail
runc_case r-ann createRuntime "$(ann 2)"; given "runc, default: annotation" "$(node_of 2)"
runc_case r-cdi prestart "$(cdi 3)"; given "runc, default: CDI annotation" "$(node_of 3)"
runc_case r-env createRuntime "$(nvenv all)"; not_given "runc, default: the image's NVIDIA_VISIBLE_DEVICES=all" "env NVIDIA_VISIBLE_DEVICES"
runc_case r-env-cc createContainer "$(nvenv 0)"; not_given "runc createContainer, default: NVIDIA_VISIBLE_DEVICES=0" "env NVIDIA_VISIBLE_DEVICES"

HOOK_ETC=$(hook_conf r-env "accept = env")
runc_case r-env2 createRuntime "$(nvenv 4)"; given "runc, accept = env: NVIDIA_VISIBLE_DEVICES" "$(node_of 4)"
runc_case r-ann2 createRuntime "$(ann 2)"; not_given "runc, accept = env: annotation" "annotation gpujail.io/gpus"
runc_case r-cdi2 createRuntime "$(cdi 3)"; not_given "runc, accept = env: CDI annotation" "annotation cdi.k8s.io/test"
runc_case r-both createContainer "$(ann 2)" "$(nvenv 5)"; given "runc, accept = env: annotation refused, env taken" "$(node_of 5)"
like "$(cat "$audit")" 'ignore id=.* request="annotation gpujail.io/gpus" accept=env' "runc, accept = env: the refused annotation named"
like "$(cat "$audit")" 'inject id=.* request="env NVIDIA_VISIBLE_DEVICES"' "runc, accept = env: the injection from env logged"

HOOK_ETC=$(hook_conf r-ann "accept = annotation")
runc_case r-ann3 prestart "$(ann 6)"; given "runc, accept = annotation: annotation" "$(node_of 6)"
runc_case r-cdi3 prestart "$(cdi 3)"; not_given "runc, accept = annotation: CDI annotation" "annotation cdi.k8s.io/test"

# A file root cannot vouch for: runc refuses the container, the hook's reason in its error.
d=$(hook_conf r-bad "accept = annotation, cdi"); chmod 0666 "$d/hook.conf"
HOOK_ETC=$d runc_case r-bad createRuntime "$(ann 0)"
isnt "$status" 0 "runc, hook.conf world-writable: the container is refused" || show
like "$output" "error running hook .*exit status 125" "runc, hook.conf world-writable: runc shows the hook's exit 125"
like "$(cat "$audit")" "^gpujail-hook: refusing the hook configuration /etc/gpujail/hook.conf: it is writable by group or others" \
        "runc, hook.conf world-writable: the hook said why"
unlike "$output" "ENXIO|EPERM" "runc, hook.conf world-writable: the container's process never ran"
unset HOOK_ETC

done_testing
