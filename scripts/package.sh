#!/usr/bin/env bash
# Builds the Debian package of the module for the Asterisk whose headers it
# is built with (scripts/build-release.sh, the same options):
#   target/package/app-otrsticket_<version>+ast<series>_<arch>.deb
# The version's +ast<series> names the Asterisk series. The package holds
#   <moddir>/app_otrsticket.so                      stripped
#   /usr/share/asterisk/documentation/thirdparty/app_otrsticket-en_US.xml
#   /usr/share/doc/app-otrsticket/{otrs.conf.sample,README.md}
#   /var/spool/asterisk/otrs                        owned by asterisk (postinst)
# and no conffile: /etc/asterisk/otrs.conf is the admin's own, never
# written by the package. Depends on the exact Asterisk ABI the way
# Debian's own out-of-tree modules do: asterisk-abi-<buildopt_sum> (sid's
# asterisk provides that; bullseye's provides asterisk-<buildopt_sum>), the
# checksum read from the headers' buildopts.h as Debian's dh_asterisk
# (asterisk-dev) reads it; and on the series: asterisk (>= 1:N~, << 1:N+1~).
# Built with dpkg-deb alone (no debhelper).
#
# Usage: scripts/package.sh [--series 16] [--dev] [--moddir DIR]
#   --dev: package the dev-profile build (what scripts/test.sh tests)
#   --moddir: Asterisk's module folder on the target (default: Debian's for
#   the series: /usr/lib/asterisk/modules for 16, else
#   /usr/lib/<multiarch>/asterisk/modules)
# Prints the path of the .deb on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

build_args=()
moddir=""
profile_dir=release
while [ $# -gt 0 ]; do
    case "$1" in
        --series) build_args+=("$1" "${2:-}"); shift 2 ;;
        # the tests' quicker build (stripped here all the same)
        --dev) build_args+=("$1"); profile_dir=debug; shift ;;
        --moddir) moddir=${2:?--moddir needs a folder}; shift 2 ;;
        *) die "unknown option $1 (usage: $0 [--series 16] [--moddir DIR])" ;;
    esac
done
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

so=$(bash "$here/build-release.sh" "${build_args[@]}" | tail -n 1)
[ -f "$so" ] || die "build-release.sh built no module"
# What build.rs found, the headers and the series: in the newest output of
# its build script for this build.
tdir="${OTRS_MODULE_TARGET_DIR:-$top/target}"
[[ " ${build_args[*]} " == *" --series 16 "* ]] && tdir="$tdir/ast16"
output=$(ls -t "$tdir"/*-linux-gnu/"$profile_dir"/build/app_otrsticket-*/output 2>/dev/null | head -n 1)
[ -n "$output" ] || die "no build script output of app_otrsticket under $tdir"
headers=$(sed -n 's/^cargo:rustc-env=OTRS_ASTERISK_INCLUDE=//p' "$output")
series=$(sed -n 's/^cargo:rustc-env=OTRS_ASTERISK_SERIES=//p' "$output")
[ -n "$headers" ] && [ -n "$series" ] || die "cannot tell from the build which headers and series it used"
abi=$(sed -n 's/^#define[[:space:]]\+AST_BUILDOPT_SUM[[:space:]]\+"\([0-9a-f]\+\)".*/\1/p' "$headers/asterisk/buildopts.h")
[ -n "$abi" ] || die "no AST_BUILDOPT_SUM in $headers/asterisk/buildopts.h: cannot name the ABI to depend on"

arch=$(dpkg --print-architecture)
if [ -z "$moddir" ]; then
    if [ "$series" -le 16 ]; then
        moddir=/usr/lib/asterisk/modules
    else
        moddir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")/asterisk/modules
    fi
fi
crate_version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
version="$crate_version+ast$series"
name=app-otrsticket
out="$top/target/package"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"

mkdir -p "$root$moddir"
objcopy --strip-debug --strip-unneeded "$so" "$root$moddir/app_otrsticket.so"
chmod 644 "$root$moddir/app_otrsticket.so"
install -D -m 644 docs/app_otrsticket-en_US.xml "$root/usr/share/asterisk/documentation/thirdparty/app_otrsticket-en_US.xml"
install -D -m 644 configs/otrs.conf.sample "$root/usr/share/doc/$name/otrs.conf.sample"
install -D -m 644 README.md "$root/usr/share/doc/$name/README.md"
mkdir -p "$root/var/spool/asterisk/otrs"
mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
next=$((series + 1))
cat > "$root/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: app_otrsticket <root@localhost>
Installed-Size: $size
Depends: libc6 (>= $GLIBC_FLOOR), libgcc-s1 | libgcc1, zlib1g, asterisk (>= 1:$series~), asterisk (<< 1:$next~), asterisk-abi-$abi | asterisk-$abi
Section: comm
Priority: optional
Description: OTRS/Znuny ticket for each helpdesk call (Asterisk $series module)
 OTRSTicket() finds the caller in the OTRS customer database and creates a
 ticket before the operator's phone rings. Built for Asterisk $series
 (ABI $abi). Configure /etc/asterisk/otrs.conf from
 /usr/share/doc/$name/otrs.conf.sample, then restart Asterisk.
EOF
cat > "$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
# The spool of queued tickets belongs to the user Asterisk runs as.
if [ "$1" = configure ] && getent passwd asterisk >/dev/null; then
    chown asterisk:asterisk /var/spool/asterisk/otrs
    chmod 750 /var/spool/asterisk/otrs
fi
exit 0
EOF
cat > "$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
# Purge: the spool folder goes if it is empty; queued tickets are kept.
if [ "$1" = purge ] && [ -d /var/spool/asterisk/otrs ]; then
    rmdir /var/spool/asterisk/otrs/bad 2>/dev/null || true
    rmdir /var/spool/asterisk/otrs 2>/dev/null \
        || echo "app-otrsticket: /var/spool/asterisk/otrs still holds queued tickets; left in place" >&2
fi
exit 0
EOF
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
mkdir -p "$out"
deb="$out/${name}_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
say "built $deb (Asterisk $series, ABI $abi, module in $moddir)"
echo "$deb"
