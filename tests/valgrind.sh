#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The end-to-end tests' main commands under valgrind, on a simulated 8-GPU host:
#   gpujail list --json, plan --gpu 0 --json, cdi generate, run --gpu 0 -- true,
#   and gpujail-hook on a real runc container (valgrind as the hook's program).
# valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1: any
# error or definite leak, in gpujail or a child it forks, is a failed check. Zero reports.
# Slow, so not part of CI by default: tests/run calls it when GPUJAIL_VALGRIND=1.
# TAP output; a command that does not work without valgrind yet is skipped, with why.
. "$(dirname "$0")/fault/fault-lib.sh"
f_require_root
f_require_cmd valgrind
f_require_cmd python3
[ -x "$GPUJAIL" ] || f_skip_all "gpujail not built ($GPUJAIL)"
HOST=$(f_fakehost nvidia8) || f_skip_all "cannot build the simulated host"

VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
        --show-leak-kinds=definite --track-fds=no --trace-children=yes
        "--trace-children-skip=/bin/*,/usr/bin/*,/sbin/*,/usr/sbin/*,*/busybox"
        --child-silent-after-fork=no --num-callers=30 "--suppressions=$FAULT_REPO/tests/valgrind.supp")
mkdir -p "$F_TMP/vg"
chmod 0777 "$F_TMP/vg"

vg_reports() { # the logs of one command: prints a summary of each with errors
        local f bad=0
        for f in "$1".*; do
                [ -f "$f" ] || continue
                if grep -qE 'ERROR SUMMARY: [1-9]' "$f" || grep -qE 'definitely lost: [1-9]' "$f"; then
                        bad=1
                        f_diag "$f:" "$(grep -E '^==[0-9]+== +(Invalid|Conditional|Syscall param|[0-9,]+ bytes in .* definitely|at 0x|by 0x|ERROR SUMMARY)' "$f" | head -40)"
                fi
        done
        return $bad
}

vg_check() { # vg_check NAME WANT_RC CMD...: CMD on the simulated host, plain, then under valgrind
        local name=$1 want=$2
        shift 2
        local log=$F_TMP/vg/$(tr -c 'a-zA-Z0-9_-' _ <<<"$name")
        F_TIMEOUT=60 f_on_host "$HOST" "$@" >/dev/null 2>"$log.plain"
        local rc=$?
        if [ $rc != "$want" ]; then
                f_skip "does not work without valgrind yet (rc $rc: $(head -1 "$log.plain"))" "$name"
                return
        fi
        F_TIMEOUT=300 f_on_host "$HOST" "${VG[@]}" --log-file="$log.%p" "$@" >/dev/null 2>"$log.err"
        rc=$?
        local unhandled
        unhandled=$(grep -ho 'unhandled [a-z0-9-]* syscall: [0-9]*' "$log".[0-9]* 2>/dev/null | sed 's/.*: /syscall /' | sort -u | tr '\n' ' ')
        if [ "$rc" != "$want" ] && [ -n "$unhandled" ]; then
                # valgrind answers ENOSYS for what it does not know (3.19: open_tree, move_mount,
                # mount_setattr...): a program with a fallback still runs, one without cannot
                f_diag "$(grep -v '^==' "$log.err" | head -3)"
                f_skip "valgrind $(valgrind --version | sed 's/valgrind-//') lacks ${unhandled}(ENOSYS there) and the command has no fallback for ENOSYS" "$name"
                return
        fi
        vg_reports "$log"
        local clean=$?
        f_ok "$name: valgrind clean (rc $rc, $(ls "$log".[0-9]* 2>/dev/null | wc -l) processes)" \
                [ "$rc" = "$want" -a "$clean" = 0 ]
}

vg_check "gpujail list --json" 0 "$GPUJAIL" list --json
vg_check "gpujail list" 0 "$GPUJAIL" list
vg_check "gpujail plan --gpu 0 --json" 0 "$GPUJAIL" plan --gpu 0 --json
vg_check "gpujail plan --gpu GPU-…,3 (UUID and index)" 0 "$GPUJAIL" plan --gpu "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["devices"][1]["uuid"])' "$HOST/hostinfo.json"),3"
vg_check "gpujail plan --gpu bogus (refused, 125)" 125 "$GPUJAIL" plan --gpu bogus
vg_check "gpujail cdi generate" 0 "$GPUJAIL" cdi generate
cd "$F_TMP/vg" # the job's working directory (bind-mounted into the jail)
vg_check "gpujail run --gpu 0 -- true" 0 "$GPUJAIL" run --gpu 0 -- true
vg_check "gpujail run --gpu 0,3 --dev-minimal -- true" 0 "$GPUJAIL" run --gpu 0,3 --dev-minimal -- true

# What valgrind can run of `gpujail run` when it lacks the mount API: everything up to the
# init's first open_tree (ENOSYS there), in both processes: options, the clone, discovery,
# the plan, the handoff, the failure path (the init exits, gpujail reaps it, 125). Partial,
# and said so; the whole run is checked by the checks above on a valgrind that has it.
vg_partial() { # NAME CMD...: under valgrind, 125 with ENOSYS from the mount API, no report
        local name=$1
        shift
        local log=$F_TMP/vg/partial-$(tr -c 'a-zA-Z0-9_-' _ <<<"$name")
        F_TIMEOUT=300 f_on_host "$HOST" "${VG[@]}" --log-file="$log.%p" "$@" >/dev/null 2>"$log.err"
        local rc=$?
        if ! grep -q 'Function not implemented' "$log.err"; then
                f_skip "this valgrind runs the mount API (rc $rc): the full checks above apply" "$name (partial)"
                return
        fi
        vg_reports "$log"
        local clean=$?
        f_ok "$name, up to the first mount API call: valgrind clean (rc $rc, $(ls "$log".[0-9]* 2>/dev/null | wc -l) processes)" \
                [ "$rc" = 125 -a "$clean" = 0 ]
}
vg_partial "gpujail run --gpu 0 -- true" "$GPUJAIL" run --gpu 0 -- true
vg_partial "gpujail run --gpu 0,3 --device /dev/null --dev-minimal -- true" \
        "$GPUJAIL" run --gpu 0,3 --device /dev/null --dev-minimal -- true
F_TIMEOUT=300 f_on_host "$HOST" "${VG[@]}" --log-file="$F_TMP/vg/bogus.%p" "$GPUJAIL" run --gpu bogus -- true \
        >/dev/null 2>"$F_TMP/vg/bogus.err"
rc=$?
vg_reports "$F_TMP/vg/bogus"
clean=$?
f_ok "gpujail run --gpu bogus (refused after the clone: the init is killed and reaped): valgrind clean (rc $rc)" \
        [ "$rc" = 125 -a "$clean" = 0 ]

# The hook, under runc: valgrind is the hook's program.
hook_check() {
        command -v runc >/dev/null || { f_skip "runc not installed" "gpujail-hook under valgrind"; return; }
        command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q static ||
                { f_skip "no busybox-static" "gpujail-hook under valgrind"; return; }
        [ -x "$GPUJAIL_HOOK" ] || { f_skip "gpujail-hook not built" "gpujail-hook under valgrind"; return; }
        local b=$F_TMP/bundle fakesysfs=
        mkdir -p "$b/rootfs/bin"
        cp "$(command -v busybox)" "$b/rootfs/bin/busybox"
        ln -sf busybox "$b/rootfs/bin/true"
        (cd "$b" && runc spec) || return
        for c in "${FAKESYSFS:-}" "$FAULT_BUILD/tests/fakehost/fakesysfs.so" "$HOST/.fakesysfs.so"; do
                [ -n "$c" ] && [ -f "$c" ] && { fakesysfs=$(realpath "$c"); break; }
        done
        local stage mode
        for stage in createRuntime prestart; do
                for mode in plain valgrind; do
                        python3 - "$b/config.json" "$stage" "$mode" "$GPUJAIL_HOOK" "$fakesysfs" \
                                "$F_TMP/vg/hook-$stage" "$(command -v valgrind)" "$FAULT_REPO/tests/valgrind.supp" <<'EOF'
import json, sys
p, stage, mode, hook, preload, log, valgrind, supp = sys.argv[1:]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["process"]["env"] = ["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=0"]
args = ["gpujail-hook", stage]
path = hook
if mode == "valgrind":
    path = valgrind
    args = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=1",
            "--show-leak-kinds=definite", "--trace-children=yes", "--suppressions=" + supp, "--log-file=" + log + ".%p", hook, stage]
c["hooks"] = {stage: [{"path": path, "args": args, "env": ["LD_PRELOAD=" + preload], "timeout": 120}]}
json.dump(c, open(p, "w"), indent=1)
EOF
                        timeout -k 5 180 "$FAULT_REPO/tests/fakehost/enter" "$HOST" -- \
                                runc run --bundle "$b" "gj-vg-$$" >/dev/null 2>"$F_TMP/vg/hook.err" </dev/null
                        local rc=$?
                        runc delete -f "gj-vg-$$" >/dev/null 2>&1
                        if [ "$mode" = plain ] && [ $rc != 0 ]; then
                                f_skip "the hook does not work at $stage yet (rc $rc: $(grep -o 'stderr: .*' "$F_TMP/vg/hook.err" | head -c 200))" \
                                        "gpujail-hook $stage under valgrind"
                                break
                        fi
                        if [ "$mode" = valgrind ]; then
                                vg_reports "$F_TMP/vg/hook-$stage"
                                local clean=$? n
                                n=$(ls "$F_TMP/vg/hook-$stage".[0-9]* 2>/dev/null | wc -l)
                                f_ok "gpujail-hook $stage under runc: valgrind clean (runc rc $rc, $n processes)" \
                                        [ $rc = 0 -a $clean = 0 -a "$n" -gt 0 ]
                        fi
                done
        done
}
hook_check
f_done
