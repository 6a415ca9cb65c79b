#!/usr/bin/env bash
# Builds the module to install: target/dist/app_otrsticket.so, stripped
# (about 5 MB; cargo's release build is about 38 MB, nearly all of it debug
# info), and target/dist/app_otrsticket.so.debug, that debug info on its
# own, for reading a crash report (gdb finds it through the module's
# .gnu_debuglink when it lies beside the module, or by build ID under
# /usr/lib/debug/.build-id/). Keep the .debug file of every build you ship:
# it only fits the module of the same build.
# Usage: scripts/build-release.sh [extra cargo build arguments]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

command -v objcopy >/dev/null || die "objcopy not found: apt-get install binutils"
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"

say "cargo build --release (the module)"
cargo build --release --lib "$@"
built=target/release/libapp_otrsticket.so
[ -f "$built" ] || die "$built was not built"

dist=target/dist
mkdir -p "$dist"
so="$dist/app_otrsticket.so"
debug="$so.debug"
rm -f "$so" "$debug"
objcopy --only-keep-debug "$built" "$debug"
# --strip-unneeded keeps the dynamic symbols Asterisk loads the module by.
# The debug link is the file name only: gdb looks beside the module.
( cd "$dist" && objcopy --strip-debug --strip-unneeded --add-gnu-debuglink=app_otrsticket.so.debug "$top/$built" app_otrsticket.so )
chmod 644 "$so" "$debug"

size() { stat -c %s "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }
say "cargo's build: $(size "$built"); shipped: $so $(size "$so"), debug info: $debug $(size "$debug")"
id=$(readelf -n "$so" 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
if [ -n "$id" ]; then
    say "build ID $id; to keep its debug info where gdb looks for it by ID:"
    say "  install -D -m 644 $debug /usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
fi
