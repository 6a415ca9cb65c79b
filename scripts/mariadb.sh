#!/usr/bin/env bash
# A private MariaDB holding an OTRS-like `otrs` database (customer_company,
# customer_user) for the tests and the demo. Not the system's mariadb
# service: its own data dir, socket and port, so it neither needs nor
# disturbs whatever the machine runs.
#
#   scripts/mariadb.sh start    start it (no-op if running); on a fresh start the
#                               `otrs` database is recreated and the samples loaded
#   scripts/mariadb.sh stop     shut it down and wait for the process to end
#   scripts/mariadb.sh status   exit 0 if it answers, 3 if not
#   scripts/mariadb.sh reset    start if needed, then drop and reload the data
#   scripts/mariadb.sh sql [ARGS...]   mariadb client on `otrs` (as root, over
#                               the socket); SQL from ARGS (-e ...) or stdin
#
# Environment:
#   OTRS_DB_DIR   its directory (default /var/tmp/app_otrsticket-mariadb):
#                 data/, mariadb.sock, mariadb.pid, mariadb.err
#   OTRS_DB_PORT  TCP port on 127.0.0.1 (default 3307)
#   OTRS_DB_PASS  password of the `otrs` user (default otrs-test-pw)
# The module connects as otrs/$OTRS_DB_PASS to 127.0.0.1:$OTRS_DB_PORT, db otrs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

DIR="${OTRS_DB_DIR:-/var/tmp/app_otrsticket-mariadb}"
DIR="${DIR%/}"
PORT="${OTRS_DB_PORT:-3307}"
PASS="${OTRS_DB_PASS:-otrs-test-pw}"
DATA="$DIR/data"
SOCK="$DIR/mariadb.sock"
PIDFILE="$DIR/mariadb.pid"
ERRLOG="$DIR/mariadb.err"
SCHEMA="$top/tests/sql/otrs-schema.sql"
CUSTOMERS="$top/tests/sql/customers.sql"
# Bounded waits, in tenths of a second.
START_WAIT=${OTRS_DB_START_WAIT:-600}
STOP_WAIT=${OTRS_DB_STOP_WAIT:-600}

need_root() { [ "$(id -u)" = 0 ] || die "$0 needs root (mariadbd is started as root and drops to the mysql user)"; }

check_setup() {
    [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null && command -v mariadb >/dev/null \
        || die "MariaDB server/client not installed: run scripts/setup-host.sh"
    id mysql >/dev/null 2>&1 || die "no 'mysql' user on this machine: run scripts/setup-host.sh (it creates it)"
    [[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] \
        || die "OTRS_DB_PORT must be a TCP port number, got '$PORT'"
    case "$DIR" in /*) ;; *) die "OTRS_DB_DIR must be an absolute path, got '$DIR'" ;; esac
    # A unix socket path longer than sun_path (108 bytes) cannot be bound.
    [ ${#SOCK} -lt 108 ] || die "socket path too long for a unix socket (${#SOCK} bytes): $SOCK; use a shorter OTRS_DB_DIR"
}

# Client as the server's root over the private socket: root@localhost
# authenticates by unix_socket, i.e. as the OS user root. No my.cnf is read
# (--no-defaults), so the system's client settings cannot redirect it.
client() { mariadb --no-defaults --socket="$SOCK" --user=root --default-character-set=utf8mb4 "$@"; }

answers() { mariadb-admin --no-defaults --socket="$SOCK" --user=root --connect-timeout=2 ping >/dev/null 2>&1; }

server_pid() { pid_from_file "$PIDFILE" mariadbd; }

alive() { proc_alive mariadbd "$1"; }

show_errlog() {
    [ -f "$ERRLOG" ] && { say "last lines of $ERRLOG:"; tail -n 25 "$ERRLOG" >&2; }
    return 0
}

# SQL string literal for a value (the password may hold quotes).
sql_quote() { local s=${1//\\/\\\\}; s=${s//\'/\'\'}; printf "'%s'" "$s"; }

launch() {
    if server_pid >/dev/null; then
        die "mariadbd (pid $(server_pid)) is running but does not answer on $SOCK; see $ERRLOG, or stop it"
    fi
    # Someone else on the port would make our server fail with a terse
    # "Can't start server: Bind on TCP/IP port": say so up front.
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        die "something already listens on 127.0.0.1:$PORT; set OTRS_DB_PORT to a free port"
    fi
    mkdir -p "$DIR"
    chown mysql:mysql "$DIR"
    chmod 755 "$DIR"
    runuser -u mysql -- test -w "$DIR" 2>/dev/null \
        || die "the mysql user cannot write $DIR (is a parent directory closed to it?); set OTRS_DB_DIR elsewhere"

    # First start: a system database. A data dir without our marker is what
    # an interrupted install leaves: start it over.
    if [ ! -f "$DIR/.installed" ] || [ ! -d "$DATA/mysql" ]; then
        rm -rf "$DATA" "$DIR/.installed"
        say "initialising a new MariaDB data dir in $DATA"
        # --force: skip its host name lookup, which fails where /etc/hosts
        # lacks the machine's name (containers, chroots); we only use
        # localhost and '%' accounts anyway.
        if ! mariadb-install-db --no-defaults --datadir="$DATA" --user=mysql \
                --auth-root-authentication-method=socket --skip-test-db --force \
                >"$DIR/install-db.log" 2>&1; then
            tail -n 25 "$DIR/install-db.log" >&2
            die "mariadb-install-db failed (output above, full log $DIR/install-db.log)"
        fi
        touch "$DIR/.installed"
    fi
    chown -R mysql:mysql "$DIR"
    rm -f "$SOCK" "$PIDFILE"

    local t0=$EPOCHREALTIME
    # --no-defaults: the system's /etc/mysql settings (datadir, socket, port
    # 3306) do not apply. flush_log_at_trx_commit=2: test data, speed over
    # durability.
    spawn_server "$DIR/mariadbd.out" /usr/sbin/mariadbd --no-defaults --user=mysql \
        --datadir="$DATA" --socket="$SOCK" --pid-file="$PIDFILE" --log-error="$ERRLOG" \
        --port="$PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --innodb-flush-log-at-trx-commit=2
    local pid=$SPAWNED_PID
    # Right after the fork the process may still be `setsid` (not yet
    # mariadbd) and there is no pid file: look for our data dir too.
    still_up() { alive "$pid" || server_pid >/dev/null || pgrep -f -- "--datadir=$DATA " >/dev/null; }
    wait_answers mariadbd "port $PORT, dir $DIR, socket $SOCK" still_up show_errlog
    say "MariaDB running (pid $(server_pid || echo "$pid"), 127.0.0.1:$PORT, $SOCK), up in $(elapsed "$t0") s"
}


# Drop and recreate database `otrs`, its user, and the sample data.
load_data() {
    [ -f "$SCHEMA" ] && [ -f "$CUSTOMERS" ] || die "missing $SCHEMA or $CUSTOMERS"
    local pw t0=$EPOCHREALTIME
    pw=$(sql_quote "$PASS")
    # Both hosts: 'otrs'@'%' for TCP (127.0.0.1, with skip-name-resolve) and
    # 'otrs'@'localhost' for the socket. ALTER USER so a changed OTRS_DB_PASS
    # takes effect on an existing data dir.
    client <<SQL || die "could not create database otrs / user otrs"
DROP DATABASE IF EXISTS otrs;
CREATE DATABASE otrs CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'otrs'@'%' IDENTIFIED BY $pw;
CREATE USER IF NOT EXISTS 'otrs'@'localhost' IDENTIFIED BY $pw;
ALTER USER 'otrs'@'%' IDENTIFIED BY $pw;
ALTER USER 'otrs'@'localhost' IDENTIFIED BY $pw;
GRANT ALL PRIVILEGES ON otrs.* TO 'otrs'@'%';
GRANT ALL PRIVILEGES ON otrs.* TO 'otrs'@'localhost';
SQL
    client otrs <"$SCHEMA" || die "loading $SCHEMA failed"
    client otrs <"$CUSTOMERS" || die "loading $CUSTOMERS failed"
    # Check the way the module connects: user otrs over TCP.
    local n
    n=$(MYSQL_PWD="$PASS" mariadb --no-defaults --host=127.0.0.1 --port="$PORT" --user=otrs \
            --batch --skip-column-names otrs -e 'SELECT COUNT(*) FROM customer_user') \
        || die "user otrs cannot log in over TCP on 127.0.0.1:$PORT"
    say "database otrs loaded: $n customer users ($(elapsed "$t0") s)"
}

cmd_start() {
    need_root
    check_setup
    if answers; then
        say "MariaDB already running (pid $(server_pid || echo '?'), 127.0.0.1:$PORT); data not reloaded (use reset)"
        return 0
    fi
    launch
    load_data
}

cmd_reset() {
    need_root
    check_setup
    if answers; then
        load_data
    else
        launch
        load_data
    fi
}

cmd_stop() {
    need_root
    local pid
    if ! pid=$(server_pid); then
        say "MariaDB is not running ($DIR)"
        return 0
    fi
    mariadb-admin --no-defaults --socket="$SOCK" --user=root shutdown >/dev/null 2>&1 \
        || kill -TERM "$pid" 2>/dev/null || true
    wait_exit mariadbd "$pid" "$STOP_WAIT" || { show_errlog; die "mariadbd (pid $pid) still running $((STOP_WAIT / 10)) s after shutdown"; }
    say "MariaDB stopped (pid $pid)"
}

cmd_status() {
    local pid n
    if answers; then
        pid=$(server_pid || echo '?')
        n=$(client --batch --skip-column-names otrs -e 'SELECT COUNT(*) FROM customer_user' 2>/dev/null || echo '?')
        echo "running (pid $pid), 127.0.0.1:$PORT, socket $SOCK, $n customer users in otrs"
        return 0
    fi
    if pid=$(server_pid); then
        echo "mariadbd pid $pid is alive but does not answer on $SOCK (see $ERRLOG)"
    else
        echo "stopped ($DIR)"
    fi
    return 3
}

cmd_sql() {
    need_root
    answers || die "MariaDB is not running: '$0 start' first"
    client otrs "$@"
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
