#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# gpujail setup on simulated hosts: missing NVIDIA nodes are created with the
# driver's numbers and params' mode/owner; wrong ones are reported and left alone
# unless --fix; a symlink planted at a node's name is never followed; modules that
# this kernel does not know are reported as such. Each run gets a fresh copy of
# the host's /dev (enter mounts a tmpfs copy), so the machine's /dev is not touched.
. "$(dirname "$0")/../lib.sh"
require_root
require_cmd jq setpriv
require_built "$GPUJAIL"

# What setup could damage is the host's own /dev (every run here must touch only the
# simulated one). Cgroups/BPF are not compared: other tests may run in parallel.
host_dev() { find /dev -maxdepth 2 \( -type c -o -type b -o -type l \) -printf '%p %y %m %U:%G %l\n' 2>/dev/null |
        grep -v -e '^/dev/pts/' -e '^/dev/shm/' -e '^/dev/mqueue/' | sort; }
host_dev >"$TEST_TMP/dev.before"

# on HOSTDIR SCRIPT: run a bash script on a simulated host; "$GPUJAIL" is in $G there.
on() { "$FAKEHOST/enter" "$1" -- env G="$GPUJAIL" bash -c "$2"; }
node_is() { echo "stat -c '%F %t:%T %a %u:%g' $1 2>&1 | sed 's/character special file/c/'"; }

# ---- a correct host: nothing to do
run on "$(fakehost nvidia8)" '$G setup --no-modules'
is "$status" 0 "nvidia8: setup exits 0"
is "$(grep -c ': ok (' <<<"$stdout")" 12 "nvidia8: 8 GPU nodes and 4 control nodes reported ok"

# ---- /dev/char links: udev never makes them for these nodes, setup does where none is
run on "$(fakehost nvidia8)" '$G setup --no-modules --dry-run; ls -d /dev/char/195:0 2>&1'
like "$stdout" "would link /dev/char/195:0 -> ../nvidia0" "dry run: says it would link /dev/char/195:0"
like "$stdout" "No such file" "dry run: no link made"
run on "$(fakehost nvidia8)" 'mkdir -p /dev/char; ln -s ../kept /dev/char/195:3; $G setup --no-modules; echo rc=$?
        readlink /dev/char/195:0 /dev/char/195:255 /dev/char/195:3; $G setup --no-modules | grep -c "^linked"'
like "$stdout" "linked /dev/char/195:7 -> ../nvidia7" "setup: says which links it made"
is "$(grep -A4 '^rc=' <<<"$stdout" | tr '\n' ' ')" "rc=0 ../nvidia0 ../nvidiactl ../kept 0 " \
        "setup: /dev/char/195:0 -> ../nvidia0, 195:255 -> ../nvidiactl, an existing entry kept; a second run links nothing"
run on "$(fakehost nvidia8)" 'mkdir -p /tmp/elsewhere; rm -rf /dev/char; ln -s /tmp/elsewhere /dev/char
        $G setup --no-modules >/dev/null; echo rc=$?; ls /tmp/elsewhere | wc -l'
is "$stdout" "rc=125
0" "a symlinked /dev/char: setup fails (125) and makes nothing through it" || show
like "$stderr" "/dev/char" "and names /dev/char" || show

# ---- wrongnode: /dev/nvidia3 is 195:9, /dev/nvidia4 missing
h=$(fakehost wrongnode)
run on "$h" "\$G setup --no-modules --dry-run; echo rc=\$?; $(node_is /dev/nvidia4)"
like "$stdout" "would create /dev/nvidia4 \(c 195:4, 0666, 0:0\)" "dry run: says it would create /dev/nvidia4"
like "$stdout" "rc=125" "dry run: exits 125 (a wrong node is left)"
like "$stdout" "No such file" "dry run: /dev/nvidia4 still missing afterwards"
like "$stderr" "/dev/nvidia3 is wrong: found c 195:9.*the driver says c 195:3" "dry run: names the wrong node, both numbers"

run on "$h" "\$G setup --no-modules; echo rc=\$?; $(node_is /dev/nvidia4); $(node_is /dev/nvidia3)"
like "$stdout" "created /dev/nvidia4 \(c 195:4, 0666, 0:0\)" "setup: created /dev/nvidia4"
like "$stdout" "c c3:4 666 0:0" "setup: /dev/nvidia4 is c 195:4 0666 root:root"
like "$stdout" "c c3:9 666 0:0" "setup: /dev/nvidia3 (wrong) left alone without --fix"
like "$stdout" "rc=125" "setup: exits 125 while a wrong node remains"
like "$stderr" "gpujail setup --fix" "setup: says how to fix it"

run on "$h" "\$G setup --no-modules --fix; echo rc=\$?; $(node_is /dev/nvidia3); \$G list --json"
like "$stdout" "replaced /dev/nvidia3 \(c 195:3" "--fix: replaced /dev/nvidia3"
like "$stdout" "c c3:3 666 0:0" "--fix: /dev/nvidia3 now c 195:3"
like "$stdout" "rc=0" "--fix: exits 0"
is "$(sed -n '/^{/,$p' <<<"$stdout" | jq -r '[.devices[].nodes[].state, .controls[].state] | unique | join(",")')" \
        "ok" "--fix: list then finds every node ok"

# ---- params: mode and group from /proc/driver/nvidia/params
p=$TEST_TMP/params
cp -a "$(fakehost nvidia1)" "$p"
sed -i 's/^DeviceFileMode: .*/DeviceFileMode: 432/; s/^DeviceFileGID: .*/DeviceFileGID: 44/' \
        "$p/proc/driver/nvidia/params"
rm -f "$p/dev/nvidia0" "$p/dev/nvidia-uvm-tools"
run on "$p" "\$G setup --no-modules; echo rc=\$?; $(node_is /dev/nvidia0); $(node_is /dev/nvidia-uvm-tools); $(node_is /dev/nvidiactl)"
like "$stdout" "c c3:0 660 0:44" "params: /dev/nvidia0 made 0660 root:44 as params says"
like "$stdout" "c 1fe:1 660 0:44" "params: /dev/nvidia-uvm-tools made 510:1 0660 root:44"
like "$stdout" "c c3:ff 666 0:0" "params: an existing node with other perms is not changed without --fix"
like "$stdout" "rc=125" "params: exits 125 while perms differ"
run on "$p" "\$G setup --no-modules --fix; echo rc=\$?; $(node_is /dev/nvidiactl)"
like "$stdout" "c c3:ff 660 0:44" "params --fix: /dev/nvidiactl gets 0660 root:44"
like "$stdout" "rc=0" "params --fix: exits 0"

# ---- attacks: a symlink or a directory where a node should be
a=$TEST_TMP/attack
cp -a "$(fakehost nvidia1)" "$a"
victim=$TEST_TMP/victim
echo precious >"$victim"
chmod 0600 "$victim"
rm -f "$a/dev/nvidia0"
ln -s "$victim" "$a/dev/nvidia0"
run on "$a" "\$G setup --no-modules; echo rc=\$?"
like "$stdout" "rc=125" "symlink at /dev/nvidia0: reported (exit 125)"
is "$(stat -c '%F %a %s' "$victim"):$(cat "$victim")" "regular file 600 9:precious" \
        "symlink at /dev/nvidia0: its target untouched"
run on "$a" "\$G setup --no-modules --fix; echo rc=\$?; $(node_is /dev/nvidia0)"
like "$stdout" "c c3:0 666 0:0" "symlink --fix: the link is replaced by the node"
is "$(stat -c '%F %a %s' "$victim"):$(cat "$victim")" "regular file 600 9:precious" \
        "symlink --fix: the target is still untouched (replaced, not followed)"

rm -f "$a/dev/nvidia0"
mkdir "$a/dev/nvidia0"
run on "$a" "\$G setup --no-modules --fix; echo rc=\$?; stat -c %F /dev/nvidia0"
like "$stdout" "rc=125" "directory at /dev/nvidia0: exit 125 even with --fix"
like "$stdout" "directory" "directory at /dev/nvidia0: left as it is"
like "$stderr" "/dev/nvidia0 is a directory" "directory at /dev/nvidia0: says so"

# ---- unknown minor (broken host): no node invented
run on "$(fakehost broken)" '$G setup --no-modules --dry-run'
is "$status" 125 "broken: exit 125"
like "$stderr" "GPU 1 \(0000:2a:00.0\): its minor is unknown" "broken: names the GPU without a minor"
unlike "$stdout" "nvidia-uvm" "broken: no uvm node invented without the nvidia-uvm major"

# ---- modules: none of NVIDIA's is installed on this machine
run on "$(fakehost empty)" '$G setup --dry-run'
is "$status" 125 "empty host: setup exits 125"
like "$stderr" "module nvidia: not known to this kernel" "empty host: says the nvidia module is not known"
run on "$(fakehost nvidia1)" '$G setup --dry-run'
is "$status" 0 "nvidia1 (driver present, not as a module): exit 0"
like "$stdout" "module nvidia: not a module of this kernel, but the driver is there" \
        "nvidia1: the built-in/present driver is recognised, nothing loaded"

# ---- command line and privileges
run setpriv --reuid 65534 --regid 65534 --clear-groups "$GPUJAIL" setup
is "$status" 125 "not root: exit 125"
like "$stderr" "run it as root" "not root: says so"
run "$GPUJAIL" setup --help
is "$status" 0 "setup --help exits 0"
like "$stdout" "--dry-run" "setup --help explains --dry-run"
run "$GPUJAIL" setup --bogus
is "$status" 125 "setup --bogus exits 125"

host_dev >"$TEST_TMP/dev.after"
if cmp -s "$TEST_TMP/dev.before" "$TEST_TMP/dev.after"; then
        ok true "the host's own /dev is unchanged"
else
        nok true "the host's own /dev is unchanged"
        diag "$(diff "$TEST_TMP/dev.before" "$TEST_TMP/dev.after")"
fi
done_testing
