#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `gpujail policy check` end to end: the real binary on policy files in a scratch
# directory. A valid file shows who gets what and which line decided it; every
# malformed line is reported as FILE:LINE and fails the check (exit 125, nothing on
# stdout); a file or directory that anyone but root could have written is refused
# with what is wrong, as `gpujail run` refuses it. Nothing outside $TEST_TMP is touched.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd jq setpriv mkfifo
require_built "$GPUJAIL"

D=$TEST_TMP/etc # the policy's directory: root's, 0755
mkdir -m 0755 "$D"
chmod 0755 "$TEST_TMP" # so that a user who is not root can reach $D

check() { run "$GPUJAIL" policy check "$@"; }

write() { # NAME: stdin into $D/NAME, root's, 0644
        cat >"$D/$1"
        chmod 0644 "$D/$1"
}

# ---- the command line
run "$GPUJAIL" policy --help
is "$status" 0 "policy --help exits 0"
like "$stdout" "\[group ml-team\]" "policy --help shows an example file"
like "$stdout" "max-gpus +how many GPUs one job may hold" "policy --help explains the keys"
like "$stdout" "union" "policy --help explains how groups combine"
run "$GPUJAIL" help policy
like "$status:$stdout" "^0:Usage: gpujail policy check" "gpujail help policy = policy --help"
run "$GPUJAIL" --help
like "$stdout" "policy +check the shared-host policy" "gpujail --help lists policy"
run "$GPUJAIL" policy
is "$status" 125 "policy without a command: exit 125"
run "$GPUJAIL" policy enforce
like "$status:$stderr" "^125:.*unknown command 'policy enforce'" "an unknown policy command: named, exit 125"
check "$D/a" "$D/b"
is "$status" 125 "two files: exit 125"
check --bogus
is "$status" 125 "an unknown option: exit 125"

# ---- no file: the built-in defaults
check "$D/none.conf"
is "$status" 0 "a missing file is valid"
like "$stdout" "no such file; the built-in defaults apply" "a missing file: says so"
check "$D/none.conf" --json
is "$(jq -c '[.version, .path == "'"$D"'/none.conf", .found, (.grants | length)]' <<<"$stdout")" '[1,true,false,1]' \
        "a missing file, --json: not found, one grant"
is "$(jq -c '.grants[0] | [.scope, .name, .line, .gpus, .max_gpus, .allow, .from]' <<<"$stdout")" \
        '["default",null,null,null,null,[],{"gpus":null,"max_gpus":null,"allow":null}]' \
        "a missing file: every GPU, no limit, nothing privileged, all built-in"
if [[ ! -e /etc/gpujail/policy.conf ]]; then
        check
        like "$status:$stdout" "^0:/etc/gpujail/policy.conf: no such file" "no FILE: /etc/gpujail/policy.conf"
else
        skip "/etc/gpujail/policy.conf exists on this host" "no FILE: /etc/gpujail/policy.conf"
fi

# ---- a valid file: each section's grant and where each value came from
nobody_group=$(id -gn nobody)
write good.conf <<EOF
# every caller who is not root
[default]
gpus = all
max-gpus = 2

[group ml-team]
gpus = 0,1,2,3
max-gpus = 4

[user alice]
allow = device, cap-add

[group $nobody_group]
gpus = 1, nvidia:2
allow = none

[user nobody]
max-gpus = unlimited
allow = user
EOF
G=$D/good.conf
check "$G"
is "$status" 0 "the documented example: valid"
like "$stdout" "^$G: valid, 5 sections" "says valid, and how many sections"
like "$stdout" "gpus +0,1,2,3 +$G:7" "text: ml-team's gpus, from line 7"
like "$stdout" "\[user alice\] \(line 10\), not a user of this host, so without groups:" \
        "text: a user this host does not know is shown without groups"
check "$G" --json
is "$status" 0 "--json: exit 0"
is "$(jq -r '[.grants[] | "\(.scope):\(.name)"] | join(" ")' <<<"$stdout")" \
        "default:null group:ml-team user:alice group:$nobody_group user:nobody" "--json: [default], then the file's order"
is "$(jq -c '.grants[0] | [.line, .gpus, .max_gpus, .allow, .from.gpus, .from.max_gpus, .from.allow]' <<<"$stdout")" \
        "[2,[\"all\"],2,[],\"$G:3\",\"$G:4\",null]" "--json: [default]"
is "$(jq -c '.grants[1] | [.gpus, .max_gpus, .from.gpus, .from.max_gpus]' <<<"$stdout")" \
        "[[\"0\",\"1\",\"2\",\"3\"],4,\"$G:7\",\"$G:8\"]" "--json: a group replaces [default], key by key"
is "$(jq -c '.grants[2] | [.allow, .from.allow, .groups, .max_gpus]' <<<"$stdout")" \
        "[[\"cap-add\",\"device\"],\"$G:11\",null,2]" "--json: alice (unknown here): her allow, [default]'s max"

check "$G" --user nobody --json
is "$status" 0 "--user nobody: exit 0"
is "$(jq -c '.grants | length' <<<"$stdout")" 1 "--user: one grant"
is "$(jq -c '.grants[0] | [.scope, .name, .line, .gpus, .max_gpus, .allow]' <<<"$stdout")" \
        '["user","nobody",17,["1","nvidia:2"],null,["user"]]' \
        "--user nobody: gpus from the group $nobody_group, max-gpus and allow from [user nobody]"
is "$(jq -c '.grants[0].from | [.gpus, .max_gpus, .allow]' <<<"$stdout")" "[\"$G:14\",\"$G:18\",\"$G:19\"]" \
        "--user nobody: the deciding lines"
ok '[ "$(jq -c ".grants[0].groups | index(\"'"$nobody_group"'\") != null" <<<"$stdout")" = true ]' \
        "--user nobody: the host's groups of nobody"
check "$G" --user nobody
like "$stdout" "user nobody, with the groups .*$nobody_group" "--user, text: names the user's groups"
like "$stdout" "max-gpus +unlimited +$G:18" "--user, text: unlimited, from line 18"
check "$G" --user root
is "$status" 0 "--user root: exit 0"
like "$stdout" "root is never limited by the policy" "--user root: says the policy never limits root"
check "$G" --user no-such-user-gj
is "$status:$stdout" "125:" "an unknown --user: exit 125, nothing printed"
like "$stderr" "no user 'no-such-user-gj' on this host" "an unknown --user: says so"

# A user who is not root checks the file as it is installed.
run setpriv --reuid=65534 --regid=65534 --clear-groups "$GPUJAIL" policy check "$G" --user nobody
is "$status" 0 "a user who is not root can check the installed file"
like "$stdout" "^user nobody, with the groups" "a user who is not root: the same grant"

# ---- malformed lines: FILE:LINE, exit 125, nothing printed
bad() { # WANT-LINE WANT-REGEX NAME TEXT
        write bad.conf <<<"$4"
        check "$D/bad.conf"
        is "$status:$stdout" "125:" "$3: exit 125, nothing printed"
        like "$stderr" "^gpujail: $D/bad.conf:$1: (.*: )?$2" "$3: FILE:$1 and what is wrong"
}
bad 1 "'\[' without '\]'" "a header without ]" '[default'
bad 1 "unknown section \[host\]" "an unknown scope" '[host a]'
bad 1 "\[user\] without a name" "a section without a name" '[user]'
bad 2 "\[user a\] again \(first at line 1\)" "a repeated section" $'[user a]\n[user a]'
bad 3 "gpus again in this section" "a repeated key" $'[default]\ngpus = 0\ngpus = 1'
bad 2 "unknown key 'gpu'" "an unknown key" $'[default]\ngpu = 0'
bad 2 "unknown word 'root'" "an unknown allow word" $'[default]\nallow = root'
bad 2 "'2x' is not a number" "a bad number" $'[default]\nmax-gpus = 2x'
bad 1 "a key outside a section" "a key outside a section" 'gpus = 0'
bad 2 "unexpected '4' after '2'" "text after a value" $'[default]\nmax-gpus = 2 4'
bad 2 "'#' in a value; a comment must be on a line of its own" "a trailing comment" $'[default]\ngpus = 0,1 # two'
bad 2 "line longer than 4096 bytes" "a very long line" $'[default]\n# '"$(printf 'x%.0s' {1..5000})"
bad 2 "control character 0x1b" "an escape sequence" $'[default]\ngpus = 0\e]0;owned\a'
nok grep -q "$(printf '\033')" <<<"$stderr" "an escape sequence in the file never reaches the terminal"

write bad.conf <<'EOF'
[default]
gpus = 0,,1
[nope]
max-gpus = 1
[user b]
allow = everything
EOF
check "$D/bad.conf"
is "$(grep -c "^gpujail: $D/bad.conf:[0-9]*:" <<<"$stderr")" 3 "every bad line reported in one run, and only those"
is "$(grep -o 'bad.conf:[0-9]*' <<<"$stderr" | cut -d: -f2 | paste -sd,)" "2,3,6" \
        "lines 2, 3 and 6, in order; the key under the refused [nope] is not checked"
check "$D/bad.conf" --json
is "$status:$stdout" "125:" "--json: a bad file prints no JSON"

# ---- who may have written it: fail closed, say what is wrong
write p.conf <<<'[default]'
P=$D/p.conf
chmod 0666 "$P"
check "$P"
is "$status:$stdout" "125:" "a 0666 file: refused, nothing printed"
like "$stderr" "refusing the policy file $P: it is writable by group or others \(mode 0666; chmod go-w $P\)" \
        "a 0666 file: says what is wrong and what to do"
chmod 0620 "$P"
check "$P"
like "$status:$stderr" "^125:.*writable by group or others \(mode 0620" "a group-writable file: refused"
chmod 0644 "$P"
check "$P"
is "$status" 0 "0644: accepted"

chmod 0777 "$D"
check "$P"
like "$status:$stderr" "^125:.*its directory $D is writable by group or others \(mode 0777; chmod go-w $D\)" \
        "a 0777 directory: refused"
chmod 1777 "$D"
check "$P"
like "$status:$stderr" "^125:.*\(mode 1777" "a sticky 1777 directory, as /tmp: refused"
check "$D/none.conf"
like "$status:$stderr" "^125:.*its directory" "a missing file in a 0777 directory: refused, not built-in"
chmod 0755 "$D"

chown 65534 "$P"
check "$P"
like "$status:$stderr" "^125:.*it is owned by uid 65534, not root \(chown root $P\)" "a file owned by uid 65534: refused"
chown 0:65534 "$P"
check "$P"
is "$status" 0 "root's file with another group, not group-writable: accepted"
chown 0:0 "$P"
chown 65534 "$D"
check "$P"
like "$status:$stderr" "^125:.*its directory $D is owned by uid 65534, not root" "a directory owned by uid 65534: refused"
chown 0 "$D"

ln -s p.conf "$D/link.conf"
check "$D/link.conf"
like "$status:$stderr" "^125:.*$D/link.conf: it is a symlink" "a symlink to a good file: refused"
ln -s "$D" "$TEST_TMP/etc-link"
check "$TEST_TMP/etc-link/p.conf"
like "$status:$stderr" "^125:.*its directory $TEST_TMP/etc-link is a symlink" "a file in a symlinked directory: refused"
mkfifo -m 0644 "$D/fifo.conf"
run timeout 10 "$GPUJAIL" policy check "$D/fifo.conf"
like "$status:$stderr" "^125:.*it is a fifo" "a fifo: refused, without waiting for a writer"
mkdir -m 0755 "$D/dir.conf"
check "$D/dir.conf"
like "$status:$stderr" "^125:.*it is a directory" "a directory: refused"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '\n' | write big.conf
check "$D/big.conf"
like "$status:$stderr" "^125:.*larger than 1048576 bytes" "a file over 1 MiB: refused"

done_testing
