#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, built from this tree as a user would (dpkg-buildpackage -us -uc -b,
# in a copy of the tracked files), checked by lintian, then installed into a fresh
# Debian 12 root filesystem (mmdebstrap, cached in /var/cache/gpujail-tests between runs)
# and, chrooted: gpujail --version, man -w, /etc/gpujail's mode, every hooks.d entry
# names an installed program, and a purge leaves none of the package's files behind.
. "$(dirname "$0")/../lib.sh"
require_root
require_cmd dpkg-buildpackage dh lintian mmdebstrap jq git

# Built once per suite run: in the plain build's turn, not again for the ASan build.
build_is_sanitized && skip_all "the package is built and tested in the plain build's run"

src=$TEST_TMP/src
mkdir -p "$src"
git -C "$GPUJAIL_SRC" ls-files -co --exclude-standard -z | (cd "$GPUJAIL_SRC" && tar --null -T - -cf -) |
        tar -xf - -C "$src"
start=$SECONDS
run bash -c "cd '$src' && dpkg-buildpackage -us -uc -b -j2"
is "$status" 0 "dpkg-buildpackage -us -uc -b" || { show; done_testing; exit; }
diag "package built in $((SECONDS - start)) s"
deb=$(ls "$TEST_TMP"/gpujail_*_*.deb)
changes=$(ls "$TEST_TMP"/gpujail_*.changes)

# Clean: every remaining tag is explained in debian/gpujail.lintian-overrides.
run lintian --pedantic --fail-on error,warning,info,pedantic "$changes"
is "$status" 0 "lintian --pedantic: no tag left unexplained" || show

# A fresh Debian 12 root with what the package depends on (no network in the chroot).
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep -v '^$' | sort -u | paste -sd,)
cache=/var/cache/gpujail-tests
tarball=$cache/bookworm-essential-$(echo "man-db,$deps" | md5sum | cut -c1-12).tar
if [[ ! -s $tarball ]]; then
        mkdir -p "$cache"
        run mmdebstrap --quiet --format=tar --variant=essential --include="man-db,$deps" bookworm "$tarball.tmp"
        if [[ $status -ne 0 ]]; then
                rm -f "$tarball.tmp"
                diag "$output"
                skip_all "mmdebstrap cannot fetch a Debian 12 root (no mirror reachable?)"
        fi
        mv "$tarball.tmp" "$tarball"
fi
root=$TEST_TMP/root
mkdir -p "$root"
tar -xf "$tarball" -C "$root"
cp "$deb" "$root/tmp/gpujail.deb"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

run in_root dpkg -i /tmp/gpujail.deb
is "$status" 0 "dpkg -i in a fresh Debian 12 root" || show
run in_root gpujail --version
like "$output" "^gpujail [0-9]+\.[0-9]+\.[0-9]+ \(.+\)$" "gpujail --version: version and build description"
run in_root man -w gpujail
is "$output" "/usr/share/man/man1/gpujail.1.gz" "man -w gpujail"
run in_root man -w 5 gpujail-policy.conf
is "$output" "/usr/share/man/man5/gpujail-policy.conf.5.gz" "man -w 5 gpujail-policy.conf"
is "$(stat -c '%U:%G %a' "$root/etc/gpujail")" "root:root 755" "postinst made /etc/gpujail root:root 0755"
for f in "$root"/usr/share/gpujail/hooks.d/*.json; do
        p=$(jq -r .hook.path "$f")
        ok '[ -x "$root$p" ]' "$(basename "$f") names an installed program ($p)"
done
ok '[ ! -e "$root/etc/systemd/system/multi-user.target.wants/gpujail-cdi.service" ]' \
        "gpujail-cdi.service is installed disabled (it loads modules: the admin's call)"
nok '[ -e "$root/etc/containers" ] || [ -e "$root/etc/docker" ] || [ -e "$root/etc/containerd" ]' \
        "installing touched no container engine's configuration"

mapfile -t files < <(in_root dpkg -L gpujail | while read -r p; do [[ -d $root$p ]] || echo "$p"; done)
run in_root dpkg --purge gpujail
is "$status" 0 "dpkg --purge" || show
left=()
for p in "${files[@]}" /etc/gpujail; do [[ -e $root$p || -L $root$p ]] && left+=("$p"); done
is "${left[*]}" "" "purge removed every file it installed (${#files[@]}) and /etc/gpujail"

done_testing
