#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (otrs-core's SOAP reply parser, number
# normaliser, otrs.conf rules and spool job files), each for a set time, with
# corpora seeded from the OTRS samples in tests/fixtures/otrs, the sample configs and
# a few numbers. Installs cargo-fuzz if missing. Works on a stable toolchain:
# cargo-fuzz's nightly flags are allowed with RUSTC_BOOTSTRAP=1; if the
# address sanitizer cannot be built, the targets run without it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60, all)
#
# Environment:
#   OTRS_SAMPLES     the OTRS reply samples (default tests/fixtures/otrs)
#   FUZZ_SANITIZER   address (default) or none
#
# Exits 1 if a target crashed: the input is in fuzz/artifacts/TARGET/, and
# `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...`
# (from the top of the repository) replays it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || die "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(soap_reply number config spool_job)
samples="${OTRS_SAMPLES:-$top/tests/fixtures/otrs}"
export RUSTC_BOOTSTRAP=1

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

# Seed corpora, made at run time (the samples stay in tests/fixtures/).
corpus="$top/fuzz/corpus"
mkdir -p "$corpus"/{soap_reply,number,config,spool_job}
compgen -G "$samples/generic-interface/*-response.xml" >/dev/null \
    || die "no OTRS samples in $samples (OTRS_SAMPLES; the repository has them in tests/fixtures/otrs)"
cp "$samples"/generic-interface/*-response.xml "$samples"/rpc/*-response.xml "$corpus/soap_reply/"
i=0
for n in '+7 (916) 122-96-24' '89161229624' '8 916 122 9624' '0079161229624' '810 7 916 122 96 24' \
    '9161229624' '+44 20 7946 0958' '+49 (0)30 1234567' '8 800 123-45-67 доб. 12' 'fax: 8 916 ext. 5' \
    '100' '810' 'anonymous' 'Unknown' '' '+' '"Ivan" <sip:+79161229624@trunk>' $'\u202e42'; do
    printf '%s' "$n" >"$corpus/number/seed-$i"
    i=$((i + 1))
done
cp tests/sandbox/otrs.conf "$corpus/config/sandbox-otrs.conf"
cp configs/otrs.conf.sample "$corpus/config/otrs.conf.sample"
cat >"$corpus/spool_job/seed-customer" <<'EOF'
otrs-spool-job 1
key=1700000000.42
created_ms=1700000000123
attempts=2
maybe_delivered=1
last_error=OTRS timed out\nafter 5 s
call.caller=+7 (916) 122-96-24
call.channel=PJSIP/trunk-00000001
call.uniqueid=1700000000.42
call.linkedid=1700000000.42
call.exten=100
call.context=from-trunk
profile.name=default
profile.queue=Raw
profile.state=new
profile.priority=3 normal
profile.ticket_type=Incident
profile.title=Call from ${caller_name} (${caller})
profile.subject=Phone call from ${caller}
profile.body=Incoming call from ${caller}.\nCustomer: ${customer_name}.\t\\o/
customer=1
customer.login=ivanov
customer.customer_id=ACME
customer.first_name=Иван
customer.last_name=Иванов
customer.email=ivanov@example.com
matches=1
end
EOF
grep -v '^customer\.\|^matches=\|^profile.ticket_type=' "$corpus/spool_job/seed-customer" |
    sed 's/^customer=1$/customer=0/' >"$corpus/spool_job/seed-no-customer"

sanitizer="${FUZZ_SANITIZER:-address}"
say "building the fuzz targets (sanitizer: $sanitizer)"
if ! cargo fuzz build -a -s "$sanitizer"; then
    [ "$sanitizer" != none ] || die "cargo fuzz build failed"
    say "the $sanitizer sanitizer does not build here: fuzzing without a sanitizer"
    sanitizer=none
    cargo fuzz build -a -s none
fi

logs="$top/fuzz/target/logs"
spool_tmp="$top/fuzz/target/spool-tmp"
mkdir -p "$logs" "$spool_tmp"
export OTRS_FUZZ_SPOOL_DIR="$spool_tmp"
summary=()
failed=0
for t in "${targets[@]}"; do
    say "fuzzing $t for $seconds s"
    mkdir -p "$top/fuzz/artifacts/$t"
    before=$(find "$top/fuzz/artifacts/$t" -type f | wc -l)
    start=$(date +%s)
    rc=0
    cargo fuzz run -a -s "$sanitizer" "$t" -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$logs/$t.log" 2>&1 || rc=$?
    took=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$logs/$t.log" | tail -1 | cut -d' ' -f2)
    crashes=$(($(find "$top/fuzz/artifacts/$t" -type f | wc -l) - before))
    line="$t: ${took}s, ${runs:-?} runs (${speed:-?}/s), coverage ${cov:-?}, exit $rc, new artifacts $crashes"
    summary+=("$line")
    if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        failed=1
        grep -E 'panicked at|ERROR: AddressSanitizer|SUMMARY|Test unit written to' "$logs/$t.log" | head -5 >&2 || true
        say "$t failed: see $logs/$t.log"
    fi
    rm -rf "${spool_tmp:?}"/*
done

say "summary (sanitizer: $sanitizer, logs in $logs)"
printf '  %s\n' "${summary[@]}" >&2
exit "$failed"
