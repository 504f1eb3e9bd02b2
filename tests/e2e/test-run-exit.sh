#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail run as a process: exit codes as `docker run` gives them (0, N, 126,
# 127, 128+N, 125), signals forwarded to the job through its init (SIGINT
# from a `kill`, SIGTERM), the terminal's Ctrl-C reaching the job once, and
# orphans reaped by the init.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/run-common.sh"
require_root
require_built "$GPUJAIL"

HOST=$(fakehost nvidia1)
jrun() { run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run "$@"; }

jrun --gpu 0 -- true
is "$status" 0 "true: 0"
jrun --gpu 0 -- sh -c 'exit 42'
is "$status" 42 "exit 42: 42"
jrun --gpu 0 -- /no/such/command
is "$status" 127 "a command that does not exist: 127"
like "$stderr" 'cannot execute /no/such/command: No such file' "... with a message"
jrun --gpu 0 -- no-such-command-in-path
is "$status" 127 "a command not in PATH: 127"
jrun --gpu 0 -- /etc/passwd
is "$status" 126 "a file that is not executable: 126"
jrun --gpu 0 -- sh -c 'kill -TERM $$'
is "$status" 143 "killed by SIGTERM: 128+15"
jrun --gpu 0 -- sh -c 'kill -SEGV $$'
is "$status" 139 "killed by SIGSEGV: 128+11"
jrun --gpu 0 --bogus-option -- true
is "$status" 125 "an unknown option: 125"
jrun --gpu 0
is "$status" 125 "no command: 125"
jrun --help
is "$status" 0 "--help: 0"
like "$stdout" 'Exit status' "--help explains the exit status"

# The job runs as PID 2 under an init; an orphan it leaves is reaped, and
# gpujail returns when the job ends even if the orphan still runs.
jrun --gpu 0 -- sh -c '(sleep 30 &) ; exit 3'
is "$status" 3 "a job that leaves an orphan behind: its own status, without waiting for the orphan"

# Signals sent to gpujail go to the job (via the init).
start_bg() { # MARKER CMD: gpujail run -- CMD in the background; waits until the job runs
        # a non-interactive shell starts background commands with SIGINT ignored, and an
        # ignored signal stays ignored in the job (as with nohup): undo that here
        env --default-signal=INT "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 -- sh -c "$2" "$1" \
                >"$TEST_TMP/bg.out" 2>&1 &
        BG=$!
        for _ in $(seq 100); do
                GJ=$(pgrep -f "gpujail run --gpu 0 -- sh -c .* $1\$" | head -1)
                [[ -n $GJ ]] && [[ -n $(pgrep -f "^sleep $1\$") ]] && break
                sleep 0.05
        done
}

start_bg 303.3 'trap "echo got-INT; exit 7" INT; sleep $0 & wait'
kill -INT "$GJ"
wait "$BG"
is "$?" 7 "SIGINT to gpujail reaches the job (its trap exits 7)"
like "$(cat "$TEST_TMP/bg.out")" '^got-INT$' "... once"

start_bg 304.4 'sleep $0'
kill -TERM "$GJ"
wait "$BG"
is "$?" 143 "SIGTERM to gpujail: the job dies of it, gpujail exits 143"

start_bg 305.5 'trap "echo got-USR1; exit 9" USR1; sleep $0 & wait'
kill -USR1 "$GJ"
wait "$BG"
is "$?" 9 "SIGUSR1 is forwarded too"

# Ctrl-C: the terminal signals the whole foreground process group (gpujail,
# init and job); the job must see SIGINT once (gpujail and init do not pass on
# a signal the kernel sent, which already reached the job). script(1) gives the
# command a pty; a ^C byte written to it makes the tty driver send SIGINT.
if command -v script >/dev/null; then
        job='n=0; trap "n=\$((n+1))" INT; sleep 306.6 & wait; sleep 0.5; echo "ints=$n"; exit 5'
        run bash -c '(for _ in $(seq 100); do pgrep -f "^sleep 306.6\$" >/dev/null && break; sleep 0.05; done
                      sleep 0.2; printf "\003"; sleep 2) |
                     script -qec "$(printf "%q " "$@")" /dev/null' sh \
                "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 -- sh -c "$job"
        like "$output" 'ints=1' "Ctrl-C on a terminal reaches the job exactly once" || show
        pkill -f '^sleep 306.6$' 2>/dev/null
else
        skip "script(1) is not installed" "Ctrl-C on a terminal reaches the job exactly once"
fi

# GPUJAIL_DEBUG=1: a timeline on stderr, whose order is the launcher's contract:
# the cgroup is ready (gpujail) before the init pivots into the job's root, and the
# job is exec'd after that. Nothing of it without the variable.
run env GPUJAIL_DEBUG=1 "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 -- true
is "$status" 0 "GPUJAIL_DEBUG=1: the run succeeds"
timeline=$(grep -oE '\] (planned|job cgroup ready|in the job cgroup; pivot_root|exec true|init exited)' <<<"$stderr" |
        sed 's/^] //' | tr '\n' '|')
is "$timeline" "planned|job cgroup ready|in the job cgroup; pivot_root|exec true|init exited|" \
        "GPUJAIL_DEBUG=1: plan, cgroup ready, pivot_root, exec, exit, in that order" || show
like "$stderr" 'gpujail: \[\+[0-9]+\.[0-9]{3} ms, pid 1\] in the job cgroup' "... each line with its time and pid (the init is pid 1)"
run "$FAKEHOST/enter" "$HOST" -- "$GPUJAIL" run --gpu 0 -- true
is "$stderr" "" "without GPUJAIL_DEBUG: nothing on stderr"
done_testing
