#!/usr/bin/env bash
# Runs every test, both tiers: what a plain `cargo test` runs (unit tests of
# the pure logic, the OTRS stand-in's own tests, the recorded samples), and
# the tests marked #[ignore] there because they need root, MariaDB and the
# Asterisk sandbox: real calls through Asterisk with the module loaded, on
# two real Asterisks: sid's 22.x and Debian 11's 16.28 (every real-Asterisk
# suite, the [[test]] programs of Cargo.toml, on both), each with the module built by
# scripts/build-release.sh (glibc floor) against its own headers. Then the
# .deb of each (scripts/package.sh) is installed, called through and purged
# in its sandbox (scripts/test-package.sh). Installs and starts what they need.
# Usage: scripts/test.sh [cargo test arguments] [-- test binary arguments]
#   e.g. scripts/test.sh --test asterisk_calls -- repeat_call
#   With arguments the same selection runs on both Asterisks and the
#   packages are not tested. OTRS_TEST_ASTERISK16=0 leaves Asterisk 16 out
#   (a quicker run while developing; CI runs everything).
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
with16=${OTRS_TEST_ASTERISK16:-1}
sandbox16="${OTRS_SANDBOX16:-/var/lib/app_otrsticket/sandbox16}"
if [ "$with16" != 0 ]; then
    bash "$here/fetch-asterisk-headers.sh" --series 16
    OTRS_SANDBOX_SERIES=16 OTRS_SANDBOX="$sandbox16" bash "$here/sandbox.sh" build
fi
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
    [ "$with16" = 0 ] || OTRS_SANDBOX_SERIES=16 OTRS_SANDBOX="$sandbox16" bash "$here/sandbox.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "cargo build (the test programs, the stand-in)"
cargo build --workspace
# The module the Asterisk tests load: built by the one build command, for
# the glibc floor (dev profile: quicker; the release build differs only in
# optimisation).
# CI's clone is new each run: its module builds are kept outside it.
[ "${CI:-}" = true ] && export OTRS_MODULE_TARGET_DIR="${OTRS_MODULE_TARGET_DIR:-/var/lib/app_otrsticket/ci-module-target}"
say "the module for Asterisk 22 (scripts/build-release.sh --dev)"
so22=$(bash "$here/build-release.sh" --dev | tail -n 1)
if [ "$with16" != 0 ]; then
    say "the module for Asterisk 16 (scripts/build-release.sh --series 16 --dev)"
    so16=$(bash "$here/build-release.sh" --series 16 --dev | tail -n 1)
fi
say "cargo test (both tiers: --include-ignored)"
# One Asterisk is shared by the call tests; they take turns themselves.
# (no doc tests: there are none, and an empty run would close the output)
# No arguments: the whole run, packages included.
full_run=0
[ $# -eq 0 ] && full_run=1
cargo_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    cargo_args+=("$1")
    shift
done
[ $# -gt 0 ] && shift
test_args=("$@")
mkdir -p target
rm -f target/test-output-16.log target/test-output-packages.log
set +e
# Both sandboxes' AMI listen on OTRS_AMI_PORT: never two Asterisks at once
# (one left running by an earlier run would answer the other's tests).
[ "$with16" = 0 ] || OTRS_SANDBOX_SERIES=16 OTRS_SANDBOX="$sandbox16" bash "$here/sandbox.sh" stop >/dev/null 2>&1 || true
say "Asterisk 22 ($(cat "${OTRS_SANDBOX:-/var/lib/app_otrsticket/sandbox}/.app_otrsticket-built"))"
OTRS_TEST_MODULE="$so22" cargo test --workspace --lib --bins --tests --no-fail-fast "${cargo_args[@]}" -- --include-ignored "${test_args[@]}" 2>&1 \
    | tee target/test-output.log
status=${PIPESTATUS[0]}
if [ "$with16" != 0 ]; then
    # The same test programs: only the module and the sandbox differ. The
    # sid Asterisk stops first: both listen on the same AMI port.
    bash "$here/sandbox.sh" stop >/dev/null 2>&1 || true
    # Without a selection: every real-Asterisk suite (the unit tests know
    # no Asterisk and ran above).
    if [ ${#cargo_args[@]} -eq 0 ]; then
        for t in $(awk '/^\[\[test\]\]/ { t = 1; next } t && /^name *=/ { gsub(/"/, "", $3); print $3; t = 0 }' Cargo.toml); do
            cargo_args+=(--test "$t")
        done
    fi
    say "Asterisk 16 ($(cat "$sandbox16/.app_otrsticket-built")): ${cargo_args[*]}"
    OTRS_SANDBOX_SERIES=16 OTRS_SANDBOX="$sandbox16" OTRS_TEST_MODULE="$so16" \
        cargo test --no-fail-fast "${cargo_args[@]}" -- --include-ignored "${test_args[@]}" 2>&1 | tee target/test-output-16.log
    s16=${PIPESTATUS[0]}
    [ "$s16" = 0 ] || status=$s16
fi
if [ "${OTRS_TEST_PACKAGES:-$full_run}" = 1 ]; then
    for series in 22 16; do
        [ "$series" = 16 ] && [ "$with16" = 0 ] && continue
        say "the package for Asterisk $series"
        if [ "$series" = 16 ]; then
            deb=$(bash "$here/package.sh" --series 16 --dev | tail -n 1) \
                && OTRS_SANDBOX_SERIES=16 OTRS_SANDBOX="$sandbox16" bash "$here/test-package.sh" "$deb"
        else
            deb=$(bash "$here/package.sh" --dev | tail -n 1) && bash "$here/test-package.sh" "$deb"
        fi 2>&1 | tee -a target/test-output-packages.log
        [ "${PIPESTATUS[0]}" = 0 ] || { echo "package: FAILED (Asterisk $series)" | tee -a target/test-output-packages.log; status=1; }
    done
fi
set -e
# One closing line over every test binary of both Asterisks and the
# packages, kept for .ci/run to repeat.
count() {
    [ -f "$1" ] || { echo "0 0"; return; }
    awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
         /^package: ok/ { p++ } /^package: FAILED/ { f++ }
         END { printf "%d %d\n", p, f }' "$1"
}
read -r p22 f22 < <(count target/test-output.log)
read -r p16 f16 < <(count target/test-output-16.log)
read -r pp fp < <(count target/test-output-packages.log)
printf 'tests: %d passed, %d failed (Asterisk 22: %d/%d, Asterisk 16: %d/%d, packages: %d/%d passed)\n' \
    $((p22 + p16 + pp)) $((f22 + f16 + fp)) "$p22" $((p22 + f22)) "$p16" $((p16 + f16)) "$pp" $((pp + fp)) | tee target/test-summary.txt
exit "$status"
