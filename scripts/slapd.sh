#!/usr/bin/env bash
# A private OpenLDAP server (Debian's slapd) holding an Active-Directory-like
# tree of helpdesk customers, for the LDAP customer-source tests. Not the
# system's slapd service: its own cn=config directory, database, pid file
# and ports, listening on 127.0.0.1 only, so it neither needs nor touches
# /etc/ldap or whatever the machine runs.
#
#   scripts/slapd.sh start    start it (no-op if running); a new directory is
#                             initialised (test CA, config, seed entries)
#   scripts/slapd.sh stop     shut it down and wait for the process to end
#   scripts/slapd.sh status   exit 0 if it answers, 3 if not
#   scripts/slapd.sh seed     start if needed, then reload the seed entries
#   scripts/slapd.sh modify   ldapmodify as the directory's admin; LDIF on stdin
#   scripts/slapd.sh bulk N   reseed, plus N users under ou=Bulk (uid bulk.N,
#                             telephoneNumber +7 922 NNNNNNN) for the benchmark
#
# Environment:
#   OTRS_SLAPD_DIR        its directory (default /var/lib/app_otrsticket/slapd):
#                         slapd.d/ (cn=config), data/, tls/ (ca.pem, the test CA),
#                         slapd.pid, slapd.log
#   OTRS_LDAP_PORT        ldap:// port on 127.0.0.1 (default 3389)
#   OTRS_LDAPS_PORT       ldaps:// port on 127.0.0.1 (default 3636)
#   OTRS_LDAP_READER_PW   password of the read-only bind account (default reader-test-pw)
# The tree: base dc=helpdesk,dc=example; users under ou=People; the bind
# account cn=otrs-reader,ou=Service,dc=helpdesk,dc=example. A size limit of
# 20 entries per search applies to it, below the number of users, so only a
# paged search (RFC 2696) reads them all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

DIR="${OTRS_SLAPD_DIR:-/var/lib/app_otrsticket/slapd}"
DIR="${DIR%/}"
PORT="${OTRS_LDAP_PORT:-3389}"
SPORT="${OTRS_LDAPS_PORT:-3636}"
READER_PW="${OTRS_LDAP_READER_PW:-reader-test-pw}"
# The admin (rootdn) password only ever serves this test directory.
ADMIN_PW="${OTRS_LDAP_ADMIN_PW:-slapd-admin-test-pw}"
BASE="dc=helpdesk,dc=example"
ADMIN_DN="cn=admin,$BASE"
CONF="$DIR/slapd.d"
DATA="$DIR/data"
TLS="$DIR/tls"
PIDFILE="$DIR/slapd.pid"
LOG="$DIR/slapd.log"
SIZE_LIMIT=20
START_WAIT=${OTRS_SLAPD_START_WAIT:-300}
STOP_WAIT=${OTRS_SLAPD_STOP_WAIT:-300}

need_root() { [ "$(id -u)" = 0 ] || die "$0 needs root (slapd is started as root and drops to the openldap user)"; }

check_setup() {
    [ -x /usr/sbin/slapd ] && command -v slapadd >/dev/null && command -v ldapsearch >/dev/null \
        && command -v openssl >/dev/null \
        || die "slapd / ldap-utils / openssl not installed: run scripts/setup-host.sh"
    id openldap >/dev/null 2>&1 || die "no 'openldap' user on this machine (the slapd package creates it)"
    for p in "$PORT" "$SPORT"; do
        [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "LDAP ports must be TCP port numbers, got '$p'"
    done
    case "$DIR" in /*) ;; *) die "OTRS_SLAPD_DIR must be an absolute path, got '$DIR'" ;; esac
}

answers() {
    ldapsearch -x -H "ldap://127.0.0.1:$PORT" -b "" -s base -o nettimeout=2 -LLL '(objectClass=*)' namingContexts \
        >/dev/null 2>&1
}

alive() { proc_alive slapd "$1"; }

server_pid() { pid_from_file "$PIDFILE" slapd; }

show_log() {
    [ -f "$LOG" ] && { say "last lines of $LOG:"; tail -n 25 "$LOG" >&2; }
    return 0
}

# The test CA and the server's certificate (127.0.0.1 and localhost), once.

# cn=config: back_mdb, the standard schemas and a small AD-like one
# (sAMAccountName, userAccountControl, ipPhone, otherTelephone, with the
# matching rules AD's filters use), one database, TLS, a size limit.
config_ldif() {
    local admin_hash reader_dn="cn=otrs-reader,ou=Service,$BASE"
    admin_hash=$(slappasswd -s "$ADMIN_PW")
    cat <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $PIDFILE
olcTLSCACertificateFile: $TLS/ca.pem
olcTLSCertificateFile: $TLS/server.pem
olcTLSCertificateKeyFile: $TLS/server.key
olcLogLevel: stats

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: cn=adlike,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: adlike
olcAttributeTypes: ( 1.3.6.1.4.1.4203.666.11.90.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.4203.666.11.90.2 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.4203.666.11.90.3 NAME 'ipPhone' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
olcAttributeTypes: ( 1.3.6.1.4.1.4203.666.11.90.4 NAME 'otherTelephone' EQUALITY telephoneNumberMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )
olcObjectClasses: ( 1.3.6.1.4.1.4203.666.11.90.10 NAME 'adLikeUser' AUXILIARY MAY ( sAMAccountName \$ userAccountControl \$ ipPhone \$ otherTelephone ) )

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: $SIZE_LIMIT

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $DATA
olcSuffix: $BASE
olcRootDN: $ADMIN_DN
olcRootPW: $admin_hash
olcDbMaxSize: 268435456
olcDbIndex: objectClass eq
olcDbIndex: uid,sAMAccountName eq
olcDbIndex: modifyTimestamp eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by dn.exact="$reader_dn" read by * none
olcLimits: {0}dn.exact="$reader_dn" size.soft=$SIZE_LIMIT size.hard=$SIZE_LIMIT size.prtotal=unlimited
LDIF
}

# The seed tree. Numbers written as people type them; what each entry is for:
#   ldap.ivanov      only in LDAP (national format, spaces)
#   ldap.both        also in the PostgreSQL samples (same number): LDAP is
#                    the earlier source in the tests
#   ldap.change      its number is changed by the tests (refresh_interval)
#   ldap.disabled    userAccountControl 514 (disabled): must never match
#   ldap.ten         ten numbers in telephoneNumber, mobile, ipPhone, otherTelephone
#   ldap.hostile     names with control characters, markup and bidi controls
#   filler.NN        40 more users, so a search returns more than the size limit
seed_ldif() {
    local reader_hash i
    reader_hash=$(slappasswd -s "$READER_PW")
    cat <<LDIF
dn: $BASE
objectClass: dcObject
objectClass: organization
dc: helpdesk
o: Helpdesk Example

dn: ou=People,$BASE
objectClass: organizationalUnit
ou: People

dn: ou=Service,$BASE
objectClass: organizationalUnit
ou: Service

dn: cn=otrs-reader,ou=Service,$BASE
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: otrs-reader
userPassword: $reader_hash

dn: uid=ldap.ivanov,ou=People,$BASE
objectClass: inetOrgPerson
objectClass: adLikeUser
uid: ldap.ivanov
sAMAccountName: ldap.ivanov
userAccountControl: 512
cn: Lev Ivanov
givenName: Lev
sn: Ivanov
mail: ldap.ivanov@helpdesk.example
telephoneNumber: 8 916 700 10 01

dn: uid=ldap.both,ou=People,$BASE
objectClass: inetOrgPerson
objectClass: adLikeUser
uid: ldap.both
sAMAccountName: ldap.both
userAccountControl: 512
cn: Boris Both
givenName: Boris
sn: Both
mail: ldap.both@helpdesk.example
mobile: +7 (916) 700-10-02

dn: uid=ldap.change,ou=People,$BASE
objectClass: inetOrgPerson
objectClass: adLikeUser
uid: ldap.change
sAMAccountName: ldap.change
userAccountControl: 512
cn: Chen Change
givenName: Chen
sn: Change
mail: ldap.change@helpdesk.example
telephoneNumber: +7 916 700-10-03

dn: uid=ldap.disabled,ou=People,$BASE
objectClass: inetOrgPerson
objectClass: adLikeUser
uid: ldap.disabled
sAMAccountName: ldap.disabled
userAccountControl: 514
cn: Dora Disabled
givenName: Dora
sn: Disabled
mail: ldap.disabled@helpdesk.example
telephoneNumber: 8 (916) 700 10 04

dn: uid=ldap.ten,ou=People,$BASE
objectClass: inetOrgPerson
objectClass: adLikeUser
uid: ldap.ten
sAMAccountName: ldap.ten
userAccountControl: 512
cn: Tanya Ten
givenName: Tanya
sn: Ten
mail: ldap.ten@helpdesk.example
telephoneNumber: 8 916 700 20 01
telephoneNumber: +7 916 700-20-02
telephoneNumber: 8(916)7002003
mobile: +79167002004
mobile: 8 916 700 20 05, 8 916 700 20 06
ipPhone: 4501
ipPhone: 8 916 700 20 07
otherTelephone: 007 916 700 20 08
otherTelephone: 8 916 700 20 09

dn: uid=ldap.hostile,ou=People,$BASE
objectClass: inetOrgPerson
objectClass: adLikeUser
uid: ldap.hostile
sAMAccountName: ldap.hostile
userAccountControl: 512
cn: Hostile Entry
givenName:: $(printf 'Eve\r\nSet(CALLERID(name)=x)\a' | base64 -w0)
sn:: $(printf '<b>Mallory</b> & "Co" \xe2\x80\xae\xd0\x9c\xd0\xb0\xd0\xbb' | base64 -w0)
mail: hostile@helpdesk.example
telephoneNumber: 8 916 700 30 01
LDIF
    for i in $(seq -w 1 40); do
        cat <<LDIF

dn: uid=filler.$i,ou=People,$BASE
objectClass: inetOrgPerson
objectClass: adLikeUser
uid: filler.$i
sAMAccountName: filler.$i
userAccountControl: 512
cn: Filler $i
sn: Filler$i
mail: filler.$i@helpdesk.example
telephoneNumber: +7 916 701 00 $i
LDIF
    done
}

init_dir() {
    say "initialising a new slapd directory in $DIR"
    rm -rf "$CONF" "$DATA" "$DIR/.installed"
    mkdir -p "$CONF" "$DATA"
    make_test_tls "$TLS" LDAP server.pem openldap 640
    config_ldif >"$DIR/config.ldif"
    slapadd -n 0 -F "$CONF" -l "$DIR/config.ldif" >"$DIR/slapadd.log" 2>&1 \
        || { tail -n 20 "$DIR/slapadd.log" >&2; die "slapadd of the configuration failed (log $DIR/slapadd.log)"; }
    load_seed_offline
    touch "$DIR/.installed"
}

# The seed entries into an empty database, with slapd stopped.
load_seed_offline() {
    rm -rf "$DATA"
    mkdir -p "$DATA"
    seed_ldif >"$DIR/seed.ldif"
    slapadd -n 1 -F "$CONF" -l "$DIR/seed.ldif" >>"$DIR/slapadd.log" 2>&1 \
        || { tail -n 20 "$DIR/slapadd.log" >&2; die "slapadd of the seed entries failed (log $DIR/slapadd.log)"; }
    chown -R openldap:openldap "$DIR"
    chmod 750 "$DIR"
}

launch() {
    if server_pid >/dev/null; then
        die "slapd (pid $(server_pid)) is running but does not answer on 127.0.0.1:$PORT; see $LOG, or stop it"
    fi
    for p in "$PORT" "$SPORT"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            die "something already listens on 127.0.0.1:$p; set OTRS_LDAP_PORT / OTRS_LDAPS_PORT to free ports"
        fi
    done
    mkdir -p "$DIR"
    if [ ! -f "$DIR/.installed" ] || [ ! -d "$CONF/cn=config" ]; then
        init_dir
    fi
    chown -R openldap:openldap "$DIR"
    rm -f "$PIDFILE"
    local t0=$EPOCHREALTIME
    # -F: our cn=config, never /etc/ldap; loopback only. -d stats keeps it
    # in the foreground logging to a file of its own, not to the machine's
    # syslog.
    spawn_server "$LOG" /usr/sbin/slapd -d stats -F "$CONF" -u openldap -g openldap \
        -h "ldap://127.0.0.1:$PORT/ ldaps://127.0.0.1:$SPORT/"
    local pid=$SPAWNED_PID
    still_up() { kill -0 "$pid" 2>/dev/null; }
    wait_answers slapd "ldap://127.0.0.1:$PORT, ldaps port $SPORT, dir $DIR" still_up show_log
    say "slapd running (pid $(server_pid || echo "$pid"), ldap://127.0.0.1:$PORT ldaps://127.0.0.1:$SPORT, CA $TLS/ca.pem), up in $(elapsed "$t0") s"
}


count_users() {
    ldapsearch -x -H "ldap://127.0.0.1:$PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" -b "ou=People,$BASE" -LLL \
        -o nettimeout=5 '(uid=*)' dn 2>/dev/null | grep -c '^dn:' || true
}

cmd_start() {
    need_root
    check_setup
    if answers; then
        say "slapd already running (pid $(server_pid || echo '?'), 127.0.0.1:$PORT); entries not reloaded (use seed)"
        return 0
    fi
    launch
    say "directory $BASE: $(count_users) users"
}

cmd_stop() {
    need_root
    local pid
    if ! pid=$(server_pid); then
        say "slapd is not running ($DIR)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit slapd "$pid" "$STOP_WAIT" || { show_log; die "slapd (pid $pid) still running $((STOP_WAIT / 10)) s after SIGTERM"; }
    say "slapd stopped (pid $pid)"
}

cmd_seed() {
    need_root
    check_setup
    [ -f "$DIR/.installed" ] || { launch; say "directory $BASE: $(count_users) users"; return 0; }
    cmd_stop
    load_seed_offline
    launch
    say "directory $BASE reseeded: $(count_users) users"
}

cmd_status() {
    if answers; then
        echo "running (pid $(server_pid || echo '?')), ldap://127.0.0.1:$PORT ldaps://127.0.0.1:$SPORT, $(count_users) users under ou=People,$BASE"
        return 0
    fi
    if server_pid >/dev/null; then
        echo "slapd pid $(server_pid) is alive but does not answer on 127.0.0.1:$PORT (see $LOG)"
    else
        echo "stopped ($DIR)"
    fi
    return 3
}

cmd_modify() {
    answers || die "slapd is not running: '$0 start' first"
    ldapmodify -x -H "ldap://127.0.0.1:$PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" -o nettimeout=5 >/dev/null
}

[ $# -ge 1 ] || usage
cmd=$1
shift
# The seed entries plus N generated users under ou=Bulk (loaded offline:
# slapadd takes 100 000 entries in seconds, ldapadd in minutes).
cmd_bulk() {
    local n=${1:-}
    [[ "$n" =~ ^[0-9]+$ ]] || die "usage: $0 bulk N"
    need_root
    check_setup
    [ -f "$DIR/.installed" ] || launch
    cmd_stop
    load_seed_offline
    local t0=$EPOCHREALTIME
    awk -v n="$n" -v base="$BASE" 'BEGIN {
        printf "dn: ou=Bulk,%s\nobjectClass: organizationalUnit\nou: Bulk\n\n", base
        for (i = 1; i <= n; i++)
            printf "dn: uid=bulk.%d,ou=Bulk,%s\nobjectClass: inetOrgPerson\nuid: bulk.%d\ncn: Bulk %d\nsn: Bulk%d\nmail: bulk.%d@helpdesk.example\ntelephoneNumber: +7 922 %07d\n\n", i, base, i, i, i, i, i
    }' >"$DIR/bulk.ldif"
    slapadd -q -n 1 -F "$CONF" -l "$DIR/bulk.ldif" >>"$DIR/slapadd.log" 2>&1 \
        || { tail -n 20 "$DIR/slapadd.log" >&2; die "slapadd of the bulk entries failed (log $DIR/slapadd.log)"; }
    chown -R openldap:openldap "$DIR"
    say "$n bulk entries added in $(elapsed "$t0") s"
    launch
}

case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    seed) cmd_seed ;;
    modify) cmd_modify ;;
    bulk) cmd_bulk "${1:-}" ;;
    -h|--help|help) usage ;;
    *) say "unknown command: $cmd"; usage ;;
esac
