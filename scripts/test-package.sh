#!/usr/bin/env bash
# The package as an admin uses it, in a sandbox Asterisk: dpkg -i the .deb
# (its dependencies on the Asterisk series and ABI must be met by the
# chroot's own asterisk package), start Asterisk, check the module is
# running and documented, place a call that must get a ticket from the
# OTRS stand-in, then dpkg --purge it and check nothing is left but the
# admin's otrs.conf. Ends with a line `package: ok` or fails.
# Usage: scripts/test-package.sh DEB   (OTRS_SANDBOX_SERIES / OTRS_SANDBOX
#   name the sandbox, as for scripts/sandbox.sh; the stand-in must be built:
#   target/debug/otrs-standin)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

deb=${1:?usage: $0 DEB}
[ -f "$deb" ] || die "no such package: $deb"
series=${OTRS_SANDBOX_SERIES:-22}
case "$series" in
    16) ROOT="${OTRS_SANDBOX:-/var/lib/app_otrsticket/sandbox16}" ;;
    *) ROOT="${OTRS_SANDBOX:-/var/lib/app_otrsticket/sandbox}" ;;
esac
export OTRS_SANDBOX="$ROOT"
standin=${OTRS_STANDIN:-target/debug/otrs-standin}
[ -x "$standin" ] || die "$standin not built (cargo build -p otrs-standin)"
db="mysql://otrs:${OTRS_DB_PASS:-otrs-test-pw}@127.0.0.1:${OTRS_DB_PORT:-3307}/otrs"
in_chroot() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$ROOT" "$@"; }
pkg=app-otrsticket

work=$(mktemp -d)
standin_pid=""
cleanup() {
    bash "$here/sandbox.sh" stop >/dev/null 2>&1 || true
    [ -n "$standin_pid" ] && kill "$standin_pid" 2>/dev/null || true
    # never leave the package behind in the shared sandbox
    in_chroot dpkg --purge "$pkg" >/dev/null 2>&1 || true
    rm -f "$ROOT/tmp/$(basename "$deb")"
    rm -rf "$work"
}
trap cleanup EXIT

bash "$here/sandbox.sh" stop >/dev/null
# The file install-module put there is no package's: remove it, so what
# loads is the package's.
moddir=$(dpkg-deb -c "$deb" | awk '$NF ~ /app_otrsticket\.so$/ { sub(/^\./, "", $NF); print $NF }')
[ -n "$moddir" ] || die "$deb holds no app_otrsticket.so"
rm -f "$ROOT$moddir" "$ROOT/usr/share/asterisk/documentation/thirdparty/app_otrsticket-en_US.xml"

cp "$deb" "$ROOT/tmp/"
say "dpkg -i $(basename "$deb") in $ROOT"
in_chroot dpkg -i "/tmp/$(basename "$deb")" || die "dpkg -i failed (unmet Asterisk series or ABI dependency?)"
[ -f "$ROOT$moddir" ] || die "the package did not install $moddir"
[ "$(in_chroot stat -c %U /var/spool/asterisk/otrs)" = asterisk ] || die "the spool folder is not the asterisk user's"

"$standin" --listen 127.0.0.1:0 --db "$db" --user soapagent --password SoapAgent2024 >"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/^listening on .*:\([0-9]\+\)$/\1/p' "$work/standin.out" 2>/dev/null | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$standin_pid" 2>/dev/null || { cat "$work/standin.log" >&2; die "the stand-in did not start"; }
    sleep 0.05
done
[ -n "$port" ] || die "the stand-in did not say its port"

mkdir -p "$work/conf"
sed -e "s/127.0.0.1:8089/127.0.0.1:$port/" -e "s/^dbport = .*/dbport = ${OTRS_DB_PORT:-3307}/" \
    "$top/tests/sandbox/otrs.conf" > "$work/conf/otrs.conf"
cat > "$work/conf/extensions.conf" <<'EOT'
[general]
static = yes
writeprotect = yes

[otrs]
exten => 4509,1,OTRSTicket(${CALLERID(num)})
 same => n,Set(FILE(/tmp/otrs-package-result,,,al,u)=status=${OTRSSTATUS} ticket=${OTRSTICKETNUMBER} error=${OTRSERROR})
 same => n,Hangup()

[call]
exten => s,1,Set(CALLERID(num)=89161229624)
 same => n,Dial(Local/4509@otrs,20)
 same => n,Hangup()
EOT
rm -f "$ROOT/tmp/otrs-package-result"
OTRS_SANDBOX_CONF_DIR="$work/conf" bash "$here/sandbox.sh" start
out=$(bash "$here/sandbox.sh" cli "module show like otrsticket")
grep -q 'app_otrsticket.so.*Running' <<<"$out" || { bash "$here/sandbox.sh" log 30; die "the packaged module is not running: $out"; }
doc=$(bash "$here/sandbox.sh" cli "core show application OTRSTicket")
grep -q '^\[Syntax\]' <<<"$doc" && ! grep -qi 'not available' <<<"$doc" || die "OTRSTicket() is not documented from the package's XML:
$doc"
for _ in $(seq 1 100); do
    bash "$here/sandbox.sh" cli "otrs show status" | grep -q 'database up' && break
    sleep 0.1
done
bash "$here/sandbox.sh" cli "channel originate Local/s@call application Wait 2" >/dev/null
for _ in $(seq 1 150); do
    grep -q 'status=' "$ROOT/tmp/otrs-package-result" 2>/dev/null && break
    sleep 0.1
done
result=$(cat "$ROOT/tmp/otrs-package-result" 2>/dev/null || true)
grep -q 'status=CREATED ticket=[0-9]' <<<"$result" || { bash "$here/sandbox.sh" log 30; die "the call got no ticket: '$result'"; }
say "call through the packaged module: $result"
bash "$here/sandbox.sh" stop >/dev/null

# The admin's otrs.conf must survive the purge (the package has no conffile).
echo '; the admin' > "$ROOT/etc/asterisk/otrs.conf.admin-test"
in_chroot dpkg --purge "$pkg" || die "dpkg --purge failed"
[ ! -e "$ROOT$moddir" ] || die "the purge left $moddir"
[ ! -e "$ROOT/var/spool/asterisk/otrs" ] || die "the purge left the (empty) spool folder"
[ ! -e "$ROOT/usr/share/doc/$pkg" ] || die "the purge left /usr/share/doc/$pkg"
[ -f "$ROOT/etc/asterisk/otrs.conf.admin-test" ] || die "the purge removed a file of the admin's"
rm -f "$ROOT/etc/asterisk/otrs.conf.admin-test"
echo "package: ok ($(basename "$deb") in Asterisk $series: installed, loaded, documented, ticket created, purged)"
