#!/usr/bin/env bash
# The main job end to end: builds the module and a real Asterisk 22, starts
# MariaDB with OTRS's customer table and the OTRS stand-in, places a call
# from 89161229624 to 4509, and prints the ticket OTRS received and
# `otrs show status`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

PORT=${OTRS_DEMO_PORT:-8089}
ROOT="${OTRS_SANDBOX:-/var/lib/app_otrsticket/sandbox}"
CALLER=${OTRS_DEMO_CALLER:-89161229624}

bash "$here/setup-host.sh"
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
if [ -z "${ASTERISK_INCLUDE_DIR:-}" ] && [ ! -f /usr/include/asterisk.h ]; then
    bash "$here/fetch-asterisk-headers.sh"
fi
say "Building the module (cargo build --release)"
cargo build --release --quiet
bash "$here/sandbox.sh" build
bash "$here/mariadb.sh" start
db="mysql://otrs:${OTRS_DB_PASS:-otrs-test-pw}@127.0.0.1:${OTRS_DB_PORT:-3307}/otrs"

work=$(mktemp -d)
standin_pid=""
cleanup() {
    bash "$here/sandbox.sh" stop >/dev/null 2>&1 || true
    [ -n "$standin_pid" ] && kill "$standin_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say "Starting the OTRS stand-in on 127.0.0.1:$PORT"
target/release/otrs-standin --listen "127.0.0.1:$PORT" --db "$db" \
    --user soapagent --password SoapAgent2024 >"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
for _ in $(seq 1 100); do
    grep -q '^listening on' "$work/standin.out" 2>/dev/null && break
    kill -0 "$standin_pid" 2>/dev/null || { cat "$work/standin.log" >&2; die "the stand-in did not start"; }
    sleep 0.05
done

mkdir -p "$work/conf"
sed "s/127.0.0.1:8089/127.0.0.1:$PORT/" "$top/tests/sandbox/otrs.conf" > "$work/conf/otrs.conf"
cat > "$work/conf/extensions.conf" <<EOT
[general]
static = yes
writeprotect = yes

[otrs]
; The helpdesk number: a ticket first, then the operator's phone.
exten => 4509,1,OTRSTicket(\${CALLERID(num)})
 same => n,Set(FILE(/tmp/otrs-demo-result,,,al,u)=status=\${OTRSSTATUS} ticket=\${OTRSTICKETNUMBER} id=\${OTRSTICKETID} customer=\${OTRSCUSTOMERUSER} (\${OTRSCUSTOMERID}) matches=\${OTRSMATCHES} error=\${OTRSERROR})
 same => n,Dial(Local/4507@operators,10)
 same => n,Hangup()

[operators]
; Stands in for the operator's phone: answers and notes the call.
exten => 4507,1,Answer()
 same => n,Set(FILE(/tmp/otrs-demo-result,,,al,u)=operator 4507 answered)
 same => n,Wait(1)
 same => n,Hangup()

[demo]
exten => s,1,Set(CALLERID(num)=$CALLER)
 same => n,Dial(Local/4509@otrs,20)
 same => n,Hangup()
EOT

bash "$here/sandbox.sh" stop >/dev/null
bash "$here/sandbox.sh" install-module target/release/libapp_otrsticket.so
OTRS_SANDBOX_CONF_DIR="$work/conf" bash "$here/sandbox.sh" start
rm -f "$ROOT/tmp/otrs-demo-result"

for _ in $(seq 1 100); do
    bash "$here/sandbox.sh" cli "otrs show status" | grep -q 'database up' && break
    sleep 0.1
done

say "Calling 4509 from $CALLER"
bash "$here/sandbox.sh" cli "channel originate Local/s@demo application Wait 3" >/dev/null
for _ in $(seq 1 150); do
    grep -q 'operator 4507 answered' "$ROOT/tmp/otrs-demo-result" 2>/dev/null && break
    sleep 0.1
done
[ -f "$ROOT/tmp/otrs-demo-result" ] || { bash "$here/sandbox.sh" log 40; die "the call did not reach the dialplan after OTRSTicket()"; }

echo
echo "=== What the dialplan saw after OTRSTicket()"
cat "$ROOT/tmp/otrs-demo-result"
echo
echo "=== The ticket OTRS (the stand-in) received"
curl -s "http://127.0.0.1:$PORT/control/tickets" | tr '\t' '\n' | grep -v '^article' | sed 's/^/  /; s/\\n/\n      /g'
echo
echo "=== otrs show status"
bash "$here/sandbox.sh" cli "otrs show status"
grep -q 'status=CREATED' "$ROOT/tmp/otrs-demo-result" || die "no ticket was created"
