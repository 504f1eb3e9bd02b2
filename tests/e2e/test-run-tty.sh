#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run and the caller's terminal (design.md invariant 9), in a real one:
# an interactive shell in tmux, as the caller's shell is. A job that pushes a
# command into its terminal with TIOCSTI (CVE-2017-5226; also with a high bit in
# the request, and with CAP_SYS_ADMIN kept) gets EPERM, and the caller's shell
# never runs the command; TIOCLINUX gets EPERM too. The control, outside gpujail:
# the same probe does inject, and the shell runs it, so the check can see an
# injection. An interactive job still works: it reads what is typed, a Python
# REPL answers, Ctrl-C reaches it (130). The same for a sudo caller
# (SUDO_UID=65534), whose job runs as nobody.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL" "$HELPERS/tty-inject"
require_cmd tmux

HOST=$(fakehost nvidia1)
run_snapshot tty
# The pane's shell, and so the job, works in $WORK, which a sudo caller
# (nobody) must reach; what the probes write stays root's, in $TEST_TMP.
WORK=$TEST_TMP/work
mkdir -p "$WORK"
chmod 0711 "$TEST_TMP"
chmod 0777 "$WORK"

# The pane's shell inherits these (tmux keeps our environment): short lines to type.
export J="$FAKEHOST/enter $HOST -- $GPUJAIL run"
# The probe runs from $WORK, which the job sees (its cwd is bound in): the build
# dir may be below /tmp (a clone there), which the job's private /tmp hides.
cp "$HELPERS/tty-inject" "$WORK/tty-inject"
export INJECT=$WORK/tty-inject T=$TEST_TMP
tm() { tmux -S "$TEST_TMP/tmux.sock" -f /dev/null "$@"; }
defer tm kill-server
tm new-session -d -s t -x 250 -y 50 "cd $WORK && exec sh -i" ||
        bail_out "cannot start a tmux session"

pane() { tm capture-pane -p -J -S -300 -t t 2>/dev/null; }
type_line() { tm send-keys -t t -l -- "$1" && tm send-keys -t t Enter; }
# wait_for REGEX [SECONDS]: until a line of the pane matches
wait_for() {
        local i
        for i in $(seq $((${2:-15} * 20))); do
                pane | grep -Eq -- "$1" && return 0
                sleep 0.05
        done
        return 1
}
SYNC=0
# sync_shell: every line typed so far, and every line injected before it, has
# been read and run by the pane's shell (a terminal's input is one queue).
sync_shell() {
        SYNC=$((SYNC + 1))
        type_line "echo sync-$SYNC-done"
        wait_for "^sync-$SYNC-done\$" || diag "the pane's shell did not answer sync $SYNC: $(pane | tail -5)"
}
wait_for '^[#$] ' 10 || bail_out "no shell prompt in tmux: $(pane)"

# inject NAME [env...]: a job (or, for NAME control*, the probe itself) pushes
# "touch $T/NAME.ran" into the terminal; its output goes to $T/NAME.out.
# $GJ_OPTS: more gpujail run options; $HIGH: tty-inject's --high.
inject() {
        local name=$1 cmd
        shift
        if [[ $name == control* ]]; then cmd='$INJECT'
        else cmd="$* \$J ${GJ_OPTS:-}-- \$INJECT ${HIGH:-}"; fi
        type_line "$cmd 'touch $T/$name.ran' >$T/$name.out 2>&1; echo $name-exit=\$?"
        wait_for "^$name-exit=" 30 || diag "$name: no exit status: $(pane | tail -5)"
        sync_shell
}

# ctrl_c WHAT: once a process whose command line is exactly WHAT runs, Ctrl-C.
ctrl_c() {
        for _ in $(seq 200); do pgrep -fx "$1" >/dev/null && break; sleep 0.05; done
        sleep 0.2
        tm send-keys -t t C-c
}

# ---- the control: without gpujail the probe injects, and the shell runs it ----
inject control
like "$(cat "$T/control.out")" '^TIOCSTI OK' "control: outside gpujail, TIOCSTI works on this terminal" ||
        diag "$(cat "$T/control.out")"
ok '[ -e "$T/control.ran" ]' "control: the shell ran the injected command (the test sees an injection)"

# ---- jobs ----
check_blocked() { # NAME "who"
        like "$(cat "$T/$1.out")" '^TIOCSTI EPERM$' "$2: TIOCSTI fails with EPERM" || diag "$(cat "$T/$1.out")"
        like "$(cat "$T/$1.out")" '^TIOCLINUX EPERM$' "$2: TIOCLINUX fails with EPERM"
        nok "[ -e $T/$1.ran ]" "$2: the caller's shell did not run the injected command"
        like "$(pane)" "^$1-exit=1\$" "$2: the job's own status comes back (1)"
}
inject root
check_blocked root "root caller"
HIGH="--high " inject high
check_blocked high "TIOCSTI | 1<<32"
GJ_OPTS="--cap-add CAP_SYS_ADMIN " inject capadmin
check_blocked capadmin "--cap-add CAP_SYS_ADMIN (which TIOCSTI would let through)"
inject sudo SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody
check_blocked sudo "sudo caller (the job runs as nobody)"

# ---- an interactive job keeps its terminal ----
# interact NAME [env...]: sh -i in the job reads what is typed, Ctrl-C stops its
# sleep. Typed ahead: the terminal queues it until the job's shell reads. A job
# that did not start leaves the rest to the pane's own shell: not one more line.
interact() {
        local name=$1 env=${*:2} nap=$((RANDOM % 100 + 100)).5
        type_line "$env \$J -- env GJ_IN=job sh -i; echo $name-exit=\$?"
        type_line "echo $name-\$((6*7))-\$(id -u)-\${GJ_IN:-outside}"
        wait_for "$name-42-[0-9]+-job\$" 20
        _tap_result $? "$name: sh -i in the job reads typed input and answers" ||
                { diag "$(pane | tail -5)"; return 1; }
        type_line "sleep $nap"
        ctrl_c "sleep $nap"
        type_line "echo $name-after-sleep-\$?"
        wait_for "$name-after-sleep-130\$" 10
        _tap_result $? "$name: Ctrl-C reaches the job's sleep (130)" || diag "$(pane | tail -5)"
        type_line "exit 7"
        wait_for "^$name-exit=[0-9]+\$" 20
        _tap_result $? "$name: the interactive job ends, the caller's shell reads again" || diag "$(pane | tail -5)"
}
interact sh-root
like "$(pane)" 'sh-root-42-0-job$' "root caller: the job's shell runs as uid 0"
interact sh-sudo SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody
like "$(pane)" 'sh-sudo-42-65534-job$' "sudo caller: the job's shell runs as nobody"

# A REPL: readline puts the terminal in raw mode (termios) and back; Ctrl-C is
# a KeyboardInterrupt there.
if [[ -x /usr/bin/python3 ]]; then
        type_line '$J -- /usr/bin/python3 -q -i; echo py-exit=$?'
        type_line 'print("py", 6 * 7)'
        wait_for '^py 42$' 20
        _tap_result $? "python3 -i in the job answers typed input" || diag "$(pane | tail -5)"
        type_line 'import time; print("napping"); time.sleep(100)'
        wait_for '^napping$' 10 && sleep 0.3
        tm send-keys -t t C-c
        wait_for 'KeyboardInterrupt$' 10
        _tap_result $? "python3: Ctrl-C raises KeyboardInterrupt in the REPL" || diag "$(pane | tail -5)"
        type_line 'exit(3)'
        wait_for '^py-exit=3$' 10
        _tap_result $? "python3: exit(3) comes back as 3" || diag "$(pane | tail -5)"
else
        skip "/usr/bin/python3 is not installed" "python3 -i in the job answers typed input"
fi
nap=$((RANDOM % 100 + 300)).5
type_line "\$J -- sleep $nap; echo sleep-exit=\$?"
ctrl_c "sleep $nap"
wait_for 'sleep-exit=130$' 10
_tap_result $? "gpujail run -- sleep: Ctrl-C ends it, status 130" || diag "$(pane | tail -5)"

tm kill-server
run_assert_host_unchanged tty "host mounts, cgroups and BPF programs as before"
done_testing
