#!/usr/bin/env bash
# A private PostgreSQL server (Debian's) holding Znuny's customer_user on
# PostgreSQL and a table of another application, for the PostgreSQL
# customer-source tests. Not the system's postgresql service or clusters:
# its own data dir, socket dir and port, listening on 127.0.0.1 only, so it
# neither needs nor touches /etc/postgresql or whatever the machine runs.
#
#   scripts/postgres.sh start    start it (no-op if running); on a fresh start the
#                                `otrs` database is recreated and the samples loaded
#   scripts/postgres.sh stop     shut it down and wait for the process to end
#   scripts/postgres.sh status   exit 0 if it answers, 3 if not
#   scripts/postgres.sh reset    start if needed, then drop and reload the data
#   scripts/postgres.sh sql [ARGS...]   psql on `otrs` as the server's superuser;
#                                SQL from ARGS (-c ...) or stdin
#
# Environment:
#   OTRS_PG_DIR    its directory (default /var/lib/app_otrsticket/postgres):
#                  data/, the socket, tls/ (ca.pem, the test CA), postgres.log
#   OTRS_PG_PORT   TCP port on 127.0.0.1 (default 5433)
#   OTRS_PG_PASS   password of the `otrs` user (default otrs-pg-test-pw)
# The module connects as otrs/$OTRS_PG_PASS to 127.0.0.1:$OTRS_PG_PORT, db otrs;
# TLS is on (sslmode prefer/require work), with a certificate of a test CA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

DIR="${OTRS_PG_DIR:-/var/lib/app_otrsticket/postgres}"
DIR="${DIR%/}"
PORT="${OTRS_PG_PORT:-5433}"
PASS="${OTRS_PG_PASS:-otrs-pg-test-pw}"
DATA="$DIR/data"
TLS="$DIR/tls"
LOG="$DIR/postgres.log"
SCHEMA="$top/tests/sql/otrs-schema.postgresql.sql"
CUSTOMERS="$top/tests/sql/customers.postgresql.sql"
START_WAIT=${OTRS_PG_START_WAIT:-600}

need_root() { [ "$(id -u)" = 0 ] || die "$0 needs root (the server runs as the postgres user)"; }

# The newest PostgreSQL of Debian's packages installed here.
bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] || return 1
    echo "$d"
}

check_setup() {
    bindir >/dev/null || die "PostgreSQL server not installed: run scripts/setup-host.sh"
    command -v psql >/dev/null && command -v openssl >/dev/null || die "psql / openssl not installed: run scripts/setup-host.sh"
    id postgres >/dev/null 2>&1 || die "no 'postgres' user on this machine (the postgresql package creates it)"
    [[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] \
        || die "OTRS_PG_PORT must be a TCP port number, got '$PORT'"
    case "$DIR" in /*) ;; *) die "OTRS_PG_DIR must be an absolute path, got '$DIR'" ;; esac
    # The socket is $DIR/.s.PGSQL.$PORT: sun_path holds 108 bytes.
    [ $((${#DIR} + 20)) -lt 108 ] || die "OTRS_PG_DIR too long for a unix socket path: $DIR"
}

as_pg() { runuser -u postgres -- "$@"; }

# psql as the server's superuser over our own socket (peer authentication);
# no ~/.psqlrc, no PG* environment of the caller.
client() { env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE PGOPTIONS="-c client_min_messages=warning" runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" "$@"; }

answers() { as_pg "$(bindir)/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && client -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; }

show_log() {
    [ -f "$LOG" ] && { say "last lines of $LOG:"; tail -n 25 "$LOG" >&2; }
    return 0
}

launch() {
    local bin
    bin=$(bindir)
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        die "something already listens on 127.0.0.1:$PORT; set OTRS_PG_PORT to a free port"
    fi
    mkdir -p "$DIR"
    chown postgres:postgres "$DIR"
    chmod 755 "$DIR"
    make_test_tls "$TLS" PostgreSQL server.crt postgres 600
    # A data dir without our marker is what an interrupted initdb leaves.
    if [ ! -f "$DIR/.installed" ] || [ ! -f "$DATA/PG_VERSION" ]; then
        rm -rf "$DATA" "$DIR/.installed"
        say "initialising a new PostgreSQL data dir in $DATA"
        as_pg "$bin/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
            || { tail -n 25 "$DIR/initdb.log" >&2; die "initdb failed (log $DIR/initdb.log)"; }
        touch "$DIR/.installed"
    fi
    chown -R postgres:postgres "$DIR"
    local t0=$EPOCHREALTIME
    # Every setting on the command line: the data dir's postgresql.conf is
    # initdb's, /etc/postgresql is never read.
    if ! as_pg "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t $((START_WAIT / 10)) start -o \
        "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DIR -c ssl=on \
         -c ssl_cert_file=$TLS/server.crt -c ssl_key_file=$TLS/server.key -c fsync=off \
         -c synchronous_commit=off -c password_encryption=scram-sha-256" >/dev/null; then
        show_log
        die "PostgreSQL did not start (port $PORT, dir $DIR)"
    fi
    say "PostgreSQL running (127.0.0.1:$PORT, socket dir $DIR, CA $TLS/ca.pem), up in $(elapsed "$t0") s"
}


sql_quote() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }

# Drop and recreate database `otrs`, its user, the tables and the samples.
# The user may only read the two tables: what the README asks of a site.
load_data() {
    [ -f "$SCHEMA" ] && [ -f "$CUSTOMERS" ] || die "missing $SCHEMA or $CUSTOMERS"
    local pw t0=$EPOCHREALTIME n
    pw=$(sql_quote "$PASS")
    client -d postgres <<SQL || die "could not create database otrs / role otrs"
DROP DATABASE IF EXISTS otrs;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'otrs') THEN CREATE ROLE otrs LOGIN; END IF;
END \$\$;
ALTER ROLE otrs LOGIN PASSWORD $pw;
CREATE DATABASE otrs ENCODING 'UTF8' TEMPLATE template0;
SQL
    client -d otrs -f "$SCHEMA" >/dev/null || die "loading $SCHEMA failed"
    client -d otrs -f "$CUSTOMERS" >/dev/null || die "loading $CUSTOMERS failed"
    client -d otrs -c 'GRANT SELECT ON customer_user, crm_contacts TO otrs' >/dev/null || die "GRANT failed"
    # Check the way the module connects: user otrs over TCP, with TLS.
    n=$(PGPASSWORD="$PASS" PGSSLMODE=require psql -X -h 127.0.0.1 -p "$PORT" -U otrs -d otrs -tAc \
            'SELECT COUNT(*) FROM customer_user') \
        || die "user otrs cannot log in over TCP (TLS) on 127.0.0.1:$PORT"
    say "database otrs loaded: $n customer users ($(elapsed "$t0") s)"
}

cmd_start() {
    need_root
    check_setup
    if answers; then
        say "PostgreSQL already running (127.0.0.1:$PORT); data not reloaded (use reset)"
        return 0
    fi
    launch
    load_data
}

cmd_reset() {
    need_root
    check_setup
    answers || launch
    load_data
}

cmd_stop() {
    need_root
    check_setup
    if ! as_pg "$(bindir)/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        say "PostgreSQL is not running ($DIR)"
        return 0
    fi
    as_pg "$(bindir)/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null || { show_log; die "PostgreSQL did not stop within 60 s"; }
    say "PostgreSQL stopped ($DIR)"
}

cmd_status() {
    if answers; then
        echo "running, 127.0.0.1:$PORT, socket dir $DIR, $(client -d otrs -tAc 'SELECT COUNT(*) FROM customer_user' 2>/dev/null || echo '?') customer users in otrs"
        return 0
    fi
    echo "stopped ($DIR)"
    return 3
}

cmd_sql() {
    need_root
    answers || die "PostgreSQL is not running: '$0 start' first"
    client -d otrs "$@"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    sql) cmd_sql "$@" ;;
    -h|--help|help) usage ;;
    *) say "unknown command: $cmd"; usage ;;
esac
