# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared by tests/e2e/test-driver-*.sh (sourced after tests/lib.sh): a fake NVIDIA
# driver userspace on the simulated host, and a real glibc root filesystem.
#
#   require_driver_env               skip unless mmdebstrap (or the cached root), cc, busybox
#   fakedrv                          -> prints the fake driver's dir (tests/helpers/mkfakedrv, built once)
#   glibc_rootfs NAME                -> prints a fresh copy of a Debian 12 glibc root (mmdebstrap
#                                       --variant=extract, cached in /var/cache/gpujail-tests),
#                                       with its own ld.so.cache, busybox at /bin and the probe at /probe
#   with_fakedrv                     -> prints a wrapper (for RUNC_WRAP or before a command on the
#                                       simulated host) that binds the fake driver's ld.so.cache over
#                                       /etc/ld.so.cache in that private mount namespace, then execs

DRIVER_VERSION=550.54.15 # what tests/fakehost/mkhost's nvidia shapes load

require_driver_env() {
        require_root
        require_cmd cc busybox tar
        [[ -x /sbin/ldconfig ]] || skip_all "no /sbin/ldconfig to build the fake driver's cache"
        _glibc_tarball >/dev/null || skip_all "no Debian 12 root: mmdebstrap cannot fetch one (no mirror reachable?)"
}

fakedrv() {
        local d=$TEST_TMP/fakedrv
        if [[ ! -f $d/ld.so.cache ]]; then
                "$GPUJAIL_SRC/tests/helpers/mkfakedrv" "$d" "$DRIVER_VERSION" >&2 || bail_out "mkfakedrv failed"
        fi
        echo "$d"
}

# The extract variant only unpacks (2.7 s, 16 MB): no maintainer script runs.
_glibc_tarball() {
        local cache=/var/cache/gpujail-tests
        local t=$cache/bookworm-extract-libc6-libc-bin.tar
        if [[ ! -s $t ]]; then
                command -v mmdebstrap >/dev/null || return 1
                mkdir -p "$cache"
                mmdebstrap --quiet --format=tar --variant=extract \
                        --include=libc6,libc-bin,gcc-12-base,libgcc-s1 bookworm "$t.tmp" >&2 || {
                        rm -f "$t.tmp"
                        return 1
                }
                mv "$t.tmp" "$t"
        fi
        echo "$t"
}

glibc_rootfs() {
        local r=$TEST_TMP/roots/$1 tmpl=$TEST_TMP/roots/.template
        if [[ ! -d $tmpl ]]; then
                mkdir -p "$tmpl"
                tar -xf "$(_glibc_tarball)" -C "$tmpl" || bail_out "cannot unpack the Debian root"
                # a real image has a cache: what its ldconfig made (the test's doing, not gpujail's)
                chroot "$tmpl" /sbin/ldconfig || bail_out "ldconfig in the Debian root failed"
                mkdir -p "$tmpl/bin" "$tmpl/proc" "$tmpl/dev" "$tmpl/sys" "$tmpl/tmp"
                cp /bin/busybox "$tmpl/bin/busybox"
                local c
                for c in sh ls cat grep echo true stat readlink; do ln -sf busybox "$tmpl/bin/$c"; done
                cp "$(fakedrv)/probe" "$tmpl/probe"
        fi
        mkdir -p "$TEST_TMP/roots"
        rm -rf "$r"
        cp -a "$tmpl" "$r"
        echo "$r"
}

with_fakedrv() {
        local w=$TEST_TMP/with-fakedrv
        if [[ ! -x $w ]]; then
                cat >"$w" <<EOF
#!/bin/bash
# in the simulated host's private mount namespace: the fake driver looks installed
mount --bind '$(fakedrv)/ld.so.cache' /etc/ld.so.cache || exit 99
exec "\$@"
EOF
                chmod +x "$w"
        fi
        echo "$w"
}
