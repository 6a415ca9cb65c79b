#!/usr/bin/env bash
# Issue 12's scale figures, run by scripts/bench.sh (after the criterion
# step): 1 000 000 customers in MariaDB (database otrs_bench_scale) and in
# PostgreSQL (table scale_customer_user in otrs), 100 000 users in slapd
# (ou=Bulk); with --quick 20 000 / 2 000. Measures each source's full load,
# incremental passes with nothing changed, the memory the index adds and
# the lookup's tail against the same kind of source with the 10 samples
# (otrs-core/benches/scale.rs), each source in a process of its own.
# Appends key=value lines to $OUT/micro.txt. The MariaDB table stays: the
# calls of scripts/bench.sh measure it through Asterisk (driver.py, scale).
# Environment as for the tests (OTRS_DB_PORT, OTRS_PG_*, OTRS_SLAPD_DIR,
# OTRS_LDAP_PORT); OUT is the results directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
scripts="$top/scripts"
. "$scripts/lib.sh"
cd "$top"

quick=0
[ "${1:-}" = --quick ] && quick=1
OUT=${OUT:-$top/target/bench}
mkdir -p "$OUT"
n_sql=$([ $quick = 1 ] && echo 20000 || echo 1000000)
n_ldap=$([ $quick = 1 ] && echo 2000 || echo 100000)
db_port=${OTRS_DB_PORT:-3307} db_pass=${OTRS_DB_PASS:-otrs-test-pw}
pg_port=${OTRS_PG_PORT:-5433} pg_pass=${OTRS_PG_PASS:-otrs-pg-test-pw}
ldap_port=${OTRS_LDAP_PORT:-3389}
say "scale: $n_sql customers in MariaDB and in PostgreSQL, $n_ldap in slapd"

bash "$scripts/mariadb.sh" start
t0=$EPOCHREALTIME
{
    echo "DROP DATABASE IF EXISTS otrs_bench_scale;"
    echo "CREATE DATABASE otrs_bench_scale CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
    echo "GRANT ALL PRIVILEGES ON otrs_bench_scale.* TO 'otrs'@'%';"
    echo "GRANT ALL PRIVILEGES ON otrs_bench_scale.* TO 'otrs'@'localhost';"
    echo "USE otrs_bench_scale;"
    cat tests/sql/otrs-schema.sql
    bash tests/sql/bulk-customers.sh "$n_sql"
} | bash "$scripts/mariadb.sh" sql
say "MariaDB: $n_sql customers in $(elapsed "$t0") s"

bash "$scripts/postgres.sh" start
t0=$EPOCHREALTIME
bash "$scripts/postgres.sh" sql >/dev/null <<SQL
DROP TABLE IF EXISTS scale_customer_user;
CREATE TABLE scale_customer_user (LIKE customer_user INCLUDING DEFAULTS);
INSERT INTO scale_customer_user (login, email, customer_id, first_name, last_name, phone, mobile, valid_id,
        create_time, create_by, change_time, change_by)
    SELECT 'pgbulk' || lpad(i::text, 7, '0'), 'pgbulk' || i || '@example.invalid', 'BULK', 'Bulk', 'Customer ' || i,
        '8 921 ' || lpad(i::text, 7, '0'), CASE WHEN i % 4 = 0 THEN '+7 931 ' || lpad(i::text, 7, '0') END, 1,
        now(), 1, now(), 1
    FROM generate_series(1, $n_sql) AS i;
CREATE INDEX ON scale_customer_user (change_time);
GRANT SELECT ON scale_customer_user TO otrs;
-- the first 10 of them: the 10-customer figure through Asterisk (driver.py)
DROP TABLE IF EXISTS scale_small_customer_user;
CREATE TABLE scale_small_customer_user AS SELECT * FROM scale_customer_user ORDER BY login LIMIT 10;
GRANT SELECT ON scale_small_customer_user TO otrs;
-- Settled as a production table is: the module's first read of fresh rows
-- would otherwise set their hint bits and leave ~200 MB for the server to
-- write back, and autovacuum to freeze them, while the calls are timed.
VACUUM (FREEZE, ANALYZE) scale_customer_user;
CHECKPOINT;
SQL
say "PostgreSQL: $n_sql customers in $(elapsed "$t0") s"

bash "$scripts/slapd.sh" bulk "$n_ldap"

sql_source() { # name type port dbname table pass [bench lines]
    printf '[%s]\ntype = %s\ndbhost = 127.0.0.1\ndbport = %s\ndbname = %s\ndbuser = otrs\ndbpass = %s\n' "$1" "$2" "$3" "$4" "$6"
    [ "$5" = - ] || printf 'table = %s\n' "$5"
    [ "$2" = postgresql ] && printf 'sslmode = disable\n'
    return 0
}
ldap_source() { # name base login phones page
    printf '[%s]\ntype = ldap\nldap_url = ldap://127.0.0.1:%s\n' "$1" "$ldap_port"
    printf 'bind_dn = cn=otrs-reader,ou=Service,dc=helpdesk,dc=example\nbind_password = reader-test-pw\n'
    printf 'base_dn = %s\nfilter = (objectClass=inetOrgPerson)\nlogin_attribute = %s\ncustomer_id = BULK\n' "$2" "$3"
    printf 'phone_attributes = %s\nchanged_attribute = modifyTimestamp\npage_size = %s\n' "$4" "$5"
}
# One process per source: its RSS growth is then that source's index alone
# (a process that loaded another one before reuses that one's freed heap).
run_scale() { # label: the sections on stdin
    local sections="$OUT/scale-$1.conf"
    cat >"$sections"
    chmod 600 "$sections"
    OTRS_SCALE_SECTIONS="$sections" OTRS_BENCH_OUT="$OUT/micro.txt" \
        cargo bench -q -p otrs-core --bench scale >"$OUT/scale-$1.log" 2>&1 \
        || { tail -n 40 "$OUT/scale-$1.log" >&2; die "scale bench failed (log: $OUT/scale-$1.log)"; }
    grep '^scale_' "$OUT/scale-$1.log" >&2 || true
}
{
    sql_source customers-mysql mysql "$db_port" otrs_bench_scale - "$db_pass"
    printf 'bench_callers = %s\nbench_prefix = 20\nbench_small = customers-mysql-small\n\n' "$n_sql"
    sql_source customers-mysql-small mysql "$db_port" otrs - "$db_pass"
} | run_scale mysql
{
    sql_source customers-postgresql postgresql "$pg_port" otrs scale_customer_user "$pg_pass"
    printf 'bench_callers = %s\nbench_prefix = 21\nbench_small = customers-postgresql-small\n\n' "$n_sql"
    sql_source customers-postgresql-small postgresql "$pg_port" otrs - "$pg_pass"
} | run_scale postgresql
{
    ldap_source customers-ldap ou=Bulk,dc=helpdesk,dc=example uid telephoneNumber 1000
    printf 'bench_callers = %s\nbench_prefix = 22\nbench_small = customers-ldap-small\n\n' "$n_ldap"
    ldap_source customers-ldap-small ou=People,dc=helpdesk,dc=example sAMAccountName "telephoneNumber, mobile" 10
} | run_scale ldap
# the tests' directory again, without the bulk users
bash "$scripts/slapd.sh" seed >/dev/null
