#!/usr/bin/env bash
# Unpacks the headers of Debian sid's asterisk-dev (Asterisk 22) into
# asterisk-headers/ (ignored by git) so the module builds on a machine
# without Asterisk installed. Uses a private apt state; the host's apt setup
# is not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

dest="${1:-$top/asterisk-headers}"
if [ -f "$dest/asterisk.h" ] && [ -f "$dest/asterisk/module.h" ]; then
    say "Asterisk headers already in $dest"
    exit 0
fi

mirror=$(debian_mirror)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/preferences.d" "$work/etc/sources.list.d"
echo "deb [trusted=yes] $mirror sid main" > "$work/etc/sources.list"
aptopts=(-o "Dir::Etc::sourcelist=$work/etc/sources.list" -o "Dir::Etc::sourceparts=$work/etc/sources.list.d"
         -o "Dir::Etc::preferencesparts=$work/etc/preferences.d"
         -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::status=/dev/null"
         -o "Acquire::Check-Valid-Until=false" -o "APT::Get::List-Cleanup=false" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
say "Reading sid's package index from the machine's mirror"
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
say "Headers from $(cat "$dest/.source") in $dest"
