#!/usr/bin/env bash
# The project's one build command for the module to install:
#   DIR/dist/app_otrsticket.so        stripped (about 8 MB)
#   DIR/dist/app_otrsticket.so.debug  its debug info, for reading a crash
#     report (gdb finds it through the module's .gnu_debuglink when it lies
#     beside the module, or by build ID under /usr/lib/debug/.build-id/).
#     Keep the .debug file of every build you ship: it fits only that build.
# DIR is target/ ($OTRS_MODULE_TARGET_DIR if set), or its ast16/ with --series 16.
#
# Built with cargo-zigbuild for glibc 2.17 (GLIBC_FLOOR in scripts/lib.sh),
# so the module loads on every Linux with that glibc or newer: Debian 8+,
# Ubuntu 14.04+, RHEL/CentOS 7+ (FreePBX's SNG7). The build fails if the
# result needs a newer glibc symbol (objdump -T).
#
# Usage: scripts/build-release.sh [--series 16] [--dev] [extra cargo build arguments]
#   Headers: $ASTERISK_INCLUDE_DIR, else as build.rs finds them; --series 16
#   takes asterisk-headers-16/ (scripts/fetch-asterisk-headers.sh --series 16).
#   --dev: cargo's dev profile (quicker to build; what scripts/test.sh loads
#   into the second Asterisk), unstripped.
# Prints the path of the built module on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

profile=release
# OTRS_MODULE_TARGET_DIR: cargo's folder for these builds (CI keeps it
# under /var/lib/app_otrsticket between runs: scripts/test.sh).
tdir="${OTRS_MODULE_TARGET_DIR:-$top/target}"
while [ $# -gt 0 ]; do
    case "$1" in
        --series)
            [ "${2:-}" = 16 ] || die "--series: only 16 has a folder of its own (for another Asterisk set ASTERISK_INCLUDE_DIR)"
            export ASTERISK_INCLUDE_DIR="${ASTERISK_INCLUDE_DIR_16:-$top/asterisk-headers-16}"
            tdir="$tdir/ast16"
            shift 2
            ;;
        --dev) profile=dev; shift ;;
        *) break ;;
    esac
done
export CARGO_TARGET_DIR="$tdir"

command -v objcopy >/dev/null || die "objcopy not found: apt-get install binutils"
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
ensure_zig_tools

arch=$(uname -m)
target="$arch-unknown-linux-gnu"
rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target" >&2
say "cargo zigbuild --profile $profile for $target, glibc $GLIBC_FLOOR (headers: ${ASTERISK_INCLUDE_DIR:-as build.rs finds them})"
cargo zigbuild --profile "$profile" --lib --target "$target.$GLIBC_FLOOR" "$@" >&2
dirname=$profile
[ "$profile" = dev ] && dirname=debug
built="$tdir/$target/$dirname/libapp_otrsticket.so"
[ -f "$built" ] || die "$built was not built"

above=$(glibc_above_floor "$built")
[ -z "$above" ] || die "$built needs glibc symbols above $GLIBC_FLOOR: $above"
say "glibc floor $GLIBC_FLOOR kept: no symbol version above it (objdump -T)"

if [ "$profile" = dev ]; then
    echo "$built"
    exit 0
fi

dist="$tdir/dist"
mkdir -p "$dist"
so="$dist/app_otrsticket.so"
debug="$so.debug"
rm -f "$so" "$debug"
objcopy --only-keep-debug "$built" "$debug"
# --strip-unneeded keeps the dynamic symbols Asterisk loads the module by.
# The debug link is the file name only: gdb looks beside the module.
( cd "$dist" && objcopy --strip-debug --strip-unneeded --add-gnu-debuglink=app_otrsticket.so.debug "$built" app_otrsticket.so )
chmod 644 "$so" "$debug"

size() { stat -c %s "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }
say "cargo's build: $(size "$built"); shipped: $so $(size "$so"), debug info: $debug $(size "$debug")"
id=$(readelf -n "$so" 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
if [ -n "$id" ]; then
    say "build ID $id; to keep its debug info where gdb looks for it by ID:"
    say "  install -D -m 644 $debug /usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
fi
echo "$so"
