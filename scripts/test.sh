#!/usr/bin/env bash
# Runs every test, both tiers: what a plain `cargo test` runs (unit tests of
# the pure logic, the OTRS stand-in's own tests, the recorded samples), and
# the tests marked #[ignore] there because they need root, MariaDB and the
# Asterisk sandbox: real calls through Asterisk 22 with the module loaded.
# Installs and starts what they need.
# Usage: scripts/test.sh [cargo test arguments] [-- test binary arguments]
#   e.g. scripts/test.sh --test asterisk_calls -- repeat_call
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

say "lint: no machine-specific paths"
bash "$here/check-paths.sh"
bash "$here/setup-host.sh"
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
if [ -z "${ASTERISK_INCLUDE_DIR:-}" ] && [ ! -f /usr/include/asterisk.h ]; then
    bash "$here/fetch-asterisk-headers.sh"
fi
bash "$here/sandbox.sh" build
bash "$here/mariadb.sh" start
export OTRS_TEST_DB="mysql://otrs:${OTRS_DB_PASS:-otrs-test-pw}@127.0.0.1:${OTRS_DB_PORT:-3307}/otrs"
# The LDAP and PostgreSQL customer sources' servers (their tests fail, not
# skip, without these).
bash "$here/slapd.sh" start
bash "$here/postgres.sh" start
export OTRS_TEST_LDAP="127.0.0.1:${OTRS_LDAP_PORT:-3389}" OTRS_TEST_LDAPS="127.0.0.1:${OTRS_LDAPS_PORT:-3636}"
export OTRS_TEST_LDAP_CA="${OTRS_SLAPD_DIR:-/var/lib/app_otrsticket/slapd}/tls/ca.pem"
export OTRS_TEST_PG="127.0.0.1:${OTRS_PG_PORT:-5433}" OTRS_TEST_PG_CA="${OTRS_PG_DIR:-/var/lib/app_otrsticket/postgres}/tls/ca.pem"

cleanup() {
    bash "$here/sandbox.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "cargo build (the module the Asterisk tests load)"
cargo build --workspace
say "cargo test (both tiers: --include-ignored)"
# One Asterisk is shared by the call tests; they take turns themselves.
# (no doc tests: there are none, and an empty run would close the output)
cargo_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    cargo_args+=("$1")
    shift
done
[ $# -gt 0 ] && shift
test_args=("$@")
mkdir -p target
set +e
cargo test --workspace --lib --bins --tests --no-fail-fast "${cargo_args[@]}" -- --include-ignored "${test_args[@]}" 2>&1 \
    | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary, kept for .ci/run to repeat.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.log | tee target/test-summary.txt
exit "$status"
