#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The NVIDIA driver's userspace through gpujail-hook under the real runc, on a
# simulated host whose fake driver (tests/helpers/mkfakedrv) looks installed,
# into a real Debian 12 glibc root: inside, `ldconfig -p` lists libcuda and a
# dlopen probe calls cuInit in the fake; the libraries are read-only, nosuid,
# nodev binds; a later ldconfig in the container keeps them; capabilities
# choose what comes; a library of another driver version stops the container,
# naming both versions. Then hostile images: the library directory,
# ld.so.cache and ld.so.conf.d as symlinks (absolute, relative, /proc/self),
# fifos and directories; an image /sbin/ldconfig that records being run. The
# host stays untouched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
. "$(dirname "$0")/driver-common.sh"
require_hook_runc
require_driver_env

shape=nvidia8
fakehost $shape >/dev/null
drv=$(fakedrv)
export RUNC_WRAP
RUNC_WRAP=$(with_fakedrv)
lib=/usr/lib/x86_64-linux-gnu
[[ $(uname -m) == x86_64 ]] || skip_all "the test's paths are x86-64's"

snapshot_host before

# A host sentinel that hostile images aim at: it must stay as it is.
sentinel=/tmp/gpujail-sentinel-$$
mkdir -p "$sentinel/dir"
echo "host data" >"$sentinel/file"
defer rm -rf "$sentinel"
sentinel_state() { (cd "$sentinel" && find . -printf '%p %y %s %T@\n' | sort && md5sum file); }
sentinel_before=$(sentinel_state)

# bundle NAME ROOT SCRIPT [JQ-FILTER...]: asks for GPU 0, hook at createContainer.
bundle() {
        local name=$1 root=$2 script=$3 b
        shift 3
        b=$(hook_bundle "$name" "$(ask_for 0)" ".root.path = \"$root\" | .root.readonly = false" \
                ".process.args = [\"/bin/sh\", \"-c\", $(jq -n --arg s "$script" '$s')]" "$@")
        hook_register "$b" createContainer
        echo "$b"
}

INSIDE='/sbin/ldconfig -p | grep "libcuda\|libnvidia-ml"; /probe libcuda.so.1; /probe libnvidia-ml.so.1 >/dev/null && echo nvml-ok
grep " '$lib'/libcuda" /proc/self/mountinfo; readlink '$lib'/libcuda.so.1; readlink '$lib'/libcuda.so; cat /etc/ld.so.conf.d/00-gpujail.conf'

# ---- the real thing
root=$(glibc_rootfs plain)
runc_on_host $shape "gj-drv-$$" "$(bundle plain "$root" "$INSIDE")"
if is "$status" 0 "plain Debian root: the container ran"; then
        like "$output" "libcuda.so.1 \(libc6,x86-64\) => $lib/libcuda.so.1" "ldconfig -p in the container lists libcuda.so.1 (Triton's check)"
        like "$output" "libnvidia-ml.so.1 \(libc6,x86-64\) => $lib/libnvidia-ml.so.1" "and libnvidia-ml.so.1"
        like "$output" "libcuda.so.1 -> $lib/libcuda.so.1 cuInit=100 version=12040" \
                "dlopen(libcuda.so.1) loads the host's fake, and cuInit runs in it"
        like "$output" "nvml-ok" "dlopen(libnvidia-ml.so.1) works"
        like "$output" " $lib/libcuda.so.$DRIVER_VERSION ro,nosuid,nodev" "libcuda is a read-only, nosuid, nodev bind"
        like "$output" "^libcuda.so.$DRIVER_VERSION$" "libcuda.so.1 -> libcuda.so.$DRIVER_VERSION"
        like "$output" "^libcuda.so.1$" "libcuda.so -> libcuda.so.1 (what -lcuda links)"
        like "$output" "^$lib$" "/etc/ld.so.conf.d/00-gpujail.conf names the library directory"
else
        show
fi
ok '[ ! -e "$root/usr/lib/x86_64-linux-gnu/libcuda.so.'$DRIVER_VERSION'" ] || [ ! -s "$root/usr/lib/x86_64-linux-gnu/libcuda.so.'$DRIVER_VERSION'" ]' \
        "the library was bound, not copied: the image holds at most an empty mount point"

# ---- the audit line counts the driver's files that went in (a wrapper keeps the hook's stderr)
audit=$TEST_TMP/driver-audit.log
printf '#!/bin/sh\nexec "%s" "$@" 2>>"%s"\n' "$GPUJAIL_HOOK" "$audit" >"$TEST_TMP/driver-hook-wrapper"
chmod +x "$TEST_TMP/driver-hook-wrapper"
run on_fakehost $shape -- "$RUNC_WRAP" "$GPUJAIL" plan --gpu 0 --caps utility,compute --json
n_files=$(jq '.driver.files | length' <<<"$stdout")
root=$(glibc_rootfs audit)
runc_on_host $shape "gj-drv-audit-$$" "$(GPUJAIL_HOOK=$TEST_TMP/driver-hook-wrapper bundle audit "$root" true)"
is "$status" 0 "audit: the container ran" || show
like "$(cat "$audit")" "^gpujail-hook: inject id=gj-drv-audit-$$ .* cgroup=v1 driver=$n_files\$" \
        "audit: driver=$n_files, as many files as plan --caps utility,compute lists"
ok "[ '$n_files' -gt 0 ]" "audit: ... and that is more than none"

# ---- a later ldconfig in the container keeps the libraries (the drop-in)
root=$(glibc_rootfs later)
runc_on_host $shape "gj-drv-later-$$" "$(bundle later "$root" '/sbin/ldconfig && /sbin/ldconfig -p | grep libcuda.so.1; /probe libcuda.so.1')"
is "$status" 0 "ldconfig run again in the container: the container ran" || show
like "$output" "libcuda.so.1 \(libc6,x86-64\) => $lib/libcuda.so.1" "libcuda.so.1 still in the rebuilt cache"
like "$output" "cuInit=100" "and still loads"

# ---- capabilities
root=$(glibc_rootfs utility)
runc_on_host $shape "gj-drv-util-$$" "$(bundle utility "$root" '/sbin/ldconfig -p | grep -c "libcuda\|libnvidia" ; /probe libnvidia-ml.so.1 >/dev/null && echo nvml-ok; /probe libcuda.so.1' \
        "$(env_of NVIDIA_DRIVER_CAPABILITIES=utility)")"
like "$output" "nvml-ok" "NVIDIA_DRIVER_CAPABILITIES=utility: libnvidia-ml"
like "$output" "dlopen libcuda.so.1: " "NVIDIA_DRIVER_CAPABILITIES=utility: no libcuda"
root=$(glibc_rootfs none)
runc_on_host $shape "gj-drv-none-$$" "$(bundle none "$root" '/probe libcuda.so.1; ls /etc/ld.so.conf.d' \
        '.annotations["gpujail.io/capabilities"] = "none"' "$(env_of NVIDIA_DRIVER_CAPABILITIES=all)")"
like "$output" "dlopen libcuda.so.1: " "annotation gpujail.io/capabilities=none wins over the env: nothing injected"
unlike "$output" "00-gpujail" "and no drop-in"
root=$(glibc_rootfs badcaps)
runc_on_host $shape "gj-drv-badcaps-$$" "$(bundle badcaps "$root" 'true' "$(env_of NVIDIA_DRIVER_CAPABILITIES=compute,warp)")"
isnt "$status" 0 "an unknown capability: the container does not start"
like "$output" "unknown driver capability 'warp'" "and the error names it"

# ---- a library of another driver version on the host: an error naming both
stale=$TEST_TMP/stale
mkdir -p "$stale"
cp -a "$drv/." "$stale/"
cc -shared -Wl,-soname,libnvidia-nvvm.so.4 -o "$stale/lib/libnvidia-nvvm.so.525.105.17" "$GPUJAIL_SRC/tests/helpers/fakedrv/nvml.c"
ln -sfn libnvidia-nvvm.so.525.105.17 "$stale/lib/libnvidia-nvvm.so.4"
sed -i "s|$drv/lib|$stale/lib|" "$stale/ld.so.conf"
/sbin/ldconfig -X -i -f "$stale/ld.so.conf" -C "$stale/ld.so.cache"
cat >"$TEST_TMP/with-stale" <<EOF
#!/bin/bash
mount --bind '$stale/ld.so.cache' /etc/ld.so.cache || exit 99
exec "\$@"
EOF
chmod +x "$TEST_TMP/with-stale"
root=$(glibc_rootfs stale)
RUNC_WRAP=$TEST_TMP/with-stale runc_on_host $shape "gj-drv-stale-$$" "$(bundle stale "$root" 'true')"
isnt "$status" 0 "libnvidia-nvvm of driver 525 on a 550 module: the container does not start"
like "$output" "libnvidia-nvvm.so.4 .*525.105.17.* module is version $DRIVER_VERSION" "the error names both versions"

# ---- hostile images
# hostile NAME SETUP-IN-ROOT: a fresh root, SETUP run in it (cd'ed there), the container run.
hostile() {
        local name=$1 setup=$2 r
        r=$(glibc_rootfs "hostile-$name")
        (cd "$r" && eval "$setup")
        runc_on_host $shape "gj-drv-h-$name-$$" "$(bundle "hostile-$name" "$r" "${3:-true}")"
        HROOT=$r
}

hostile libdir-abs "rm -rf usr/lib/x86_64-linux-gnu && ln -s $sentinel/dir usr/lib/x86_64-linux-gnu" \
        'ls /usr/lib64/libcuda.so.1'
is "$status" 0 "library dir -> $sentinel/dir (absolute, dangling inside): handled inside the root" || show
like "$output" "/usr/lib64/libcuda.so.1" "libraries went to the image's /usr/lib64"
hostile libdir-rel "rm -rf usr/lib/x86_64-linux-gnu && ln -s ../../../../../../..$sentinel/dir usr/lib/x86_64-linux-gnu" \
        'ls /usr/lib64/libcuda.so.1'
is "$status" 0 "library dir -> ../../..$sentinel/dir (relative): handled inside the root" || show
hostile libdir-root "rm -rf usr/lib/x86_64-linux-gnu && ln -s / usr/lib/x86_64-linux-gnu" 'ls /libcuda.so.1'
is "$status" 0 "library dir -> / : the image's own root" || show
like "$output" "^/libcuda.so.1$" "the libraries land in the image's /, not the host's"
ok "[ ! -e /libcuda.so.1 ] && [ ! -e /libcuda.so.$DRIVER_VERSION ]" "nothing in the host's /"
hostile libdir-proc "rm -rf usr/lib/x86_64-linux-gnu && ln -s /proc/self/cwd usr/lib/x86_64-linux-gnu"
isnt "$status" 0 "library dir -> /proc/self/cwd (a magic link): refused"
like "$output" "cannot use .*usr/lib/x86_64-linux-gnu" "with an error naming the directory"

hostile cache-abs "rm -f etc/ld.so.cache && ln -s $sentinel/file etc/ld.so.cache" \
        '/sbin/ldconfig -p | grep -c libcuda.so.1; stat -c %F /etc/ld.so.cache'
is "$status" 0 "ld.so.cache -> $sentinel/file: handled inside the root" || show
like "$output" "regular file" "the image's link was replaced by a cache, the host file left alone"
hostile cache-proc "rm -f etc/ld.so.cache && ln -s /proc/self/root/etc/passwd etc/ld.so.cache"
isnt "$status" 0 "ld.so.cache -> /proc/self/root/etc/passwd: refused"
hostile cache-fifo "rm -f etc/ld.so.cache && mkfifo etc/ld.so.cache"
isnt "$status" 0 "ld.so.cache is a fifo: refused (and nothing waits on it)"
like "$output" "refusing .*etc/ld.so.cache: it is a fifo" "with a clear error"
hostile cache-dir "rm -f etc/ld.so.cache && mkdir etc/ld.so.cache"
isnt "$status" 0 "ld.so.cache is a directory: refused"
like "$output" "refusing .*etc/ld.so.cache: it is a directory" "with a clear error"
hostile cache-dev "rm -f etc/ld.so.cache && mknod etc/ld.so.cache c 1 5"
isnt "$status" 0 "ld.so.cache is a device node: refused, never opened"
like "$output" "refusing .*etc/ld.so.cache: it is a device node" "with a clear error"
hostile confd-abs "rm -rf etc/ld.so.conf.d && ln -s $sentinel/dir etc/ld.so.conf.d"
isnt "$status" 0 "ld.so.conf.d -> $sentinel/dir: refused"
like "$output" "cannot use .*etc/ld.so.conf.d" "naming it"
hostile confd-fifo "rm -rf etc/ld.so.conf.d && mkfifo etc/ld.so.conf.d"
isnt "$status" 0 "ld.so.conf.d is a fifo: refused"
hostile mountpoint-link "ln -s $sentinel/file usr/lib/x86_64-linux-gnu/libcuda.so.$DRIVER_VERSION"
isnt "$status" 0 "the library's mount point is a symlink to a host file: refused, not followed"

# An image ldconfig that records being run: gpujail executes nothing of the image's.
hostile ldconfig-trap "rm -f sbin/ldconfig && printf '#!/bin/sh\necho ran >/ldconfig-ran\n' >sbin/ldconfig && chmod 755 sbin/ldconfig && cp sbin/ldconfig sbin/ldconfig.real" \
        '/probe libcuda.so.1'
is "$status" 0 "an image whose /sbin/ldconfig is a trap: the container ran" || show
like "$output" "cuInit=100" "libcuda loads (the cache was written without ldconfig)"
ok "[ ! -e '$HROOT/ldconfig-ran' ]" "the image's ldconfig never ran"

is "$(sentinel_state)" "$sentinel_before" "the host sentinel the images aimed at is untouched"
assert_host_unchanged before "the host is as before (mounts, cgroups, BPF programs)"
done_testing
