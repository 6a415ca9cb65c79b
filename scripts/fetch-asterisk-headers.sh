#!/usr/bin/env bash
# Unpacks the headers of Debian's asterisk-dev into a folder ignored by git,
# so the module builds on a machine without Asterisk installed:
#   scripts/fetch-asterisk-headers.sh [--series 22|16] [DEST]
#   22 (default): Debian sid's (Asterisk 22) into asterisk-headers/
#   16:           Debian bullseye's (Asterisk 16.28) into asterisk-headers-16/
# Beside the headers it leaves DEST/.source (the package's file name),
# and DEST/.version (its Debian version, which build.rs reads the series
# from: the headers carry no usable version).
# Uses a private apt state; the host's apt setup is not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

series=22
if [ "${1:-}" = --series ]; then
    series=${2:?--series needs 22 or 16}
    shift 2
fi
case "$series" in
    22) suite=sid; default_dest="$top/asterisk-headers" ;;
    16) suite=bullseye; default_dest="$top/asterisk-headers-16" ;;
    *) die "--series must be 22 or 16, got '$series'" ;;
esac
dest="${1:-$default_dest}"
if [ -f "$dest/asterisk.h" ] && [ -f "$dest/asterisk/module.h" ] && [ -f "$dest/.version" ]; then
    say "Asterisk headers already in $dest"
    exit 0
fi

mirror=$(debian_mirror)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/preferences.d" "$work/etc/sources.list.d"
echo "deb [trusted=yes] $mirror $suite main" > "$work/etc/sources.list"
aptopts=(-o "Dir::Etc::sourcelist=$work/etc/sources.list" -o "Dir::Etc::sourceparts=$work/etc/sources.list.d"
         -o "Dir::Etc::preferencesparts=$work/etc/preferences.d"
         -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::status=/dev/null"
         -o "Acquire::Check-Valid-Until=false" -o "APT::Get::List-Cleanup=false" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
say "Reading $suite's package index from the machine's mirror"
apt-get "${aptopts[@]}" -qq update
(cd "$work" && apt-get "${aptopts[@]}" -qq download asterisk-dev)
deb=$(ls "$work"/asterisk-dev_*.deb)
say "Unpacking $(basename "$deb")"
dpkg-deb -x "$deb" "$work/x"
rm -rf "$dest"
mkdir -p "$dest"
cp -a "$work/x/usr/include/." "$dest/"
[ -f "$dest/asterisk.h" ] || die "asterisk-dev did not contain usr/include/asterisk.h"
basename "$deb" > "$dest/.source"
dpkg-deb -f "$deb" Version > "$dest/.version"
say "Headers from $(cat "$dest/.source") in $dest"
