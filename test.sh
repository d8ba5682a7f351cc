#!/usr/bin/env bash
# Runs every test of Coffee Radar: the Rust unit and integration tests on SQLite, MariaDB
# and PostgreSQL from one build (each test starts the real server with its own database,
# picture store and outbox; the payment tests talk to localstripe, a fake Stripe), then the
# browser journey in headless Chromium and the API contract check (schemathesis against the
# OpenAPI document). Installs and starts what the tests need (Chromium, MariaDB, PostgreSQL,
# moto, localstripe, Playwright's client library).
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n==> %s\n' "$*"; }

log "Installing test tools (skipped when present)"
scripts/install-test-tools.sh

log "Building the next release for the rolling-upgrade rehearsal (docs/upgrades.md)"
# This tree with the cargo feature next-release-rehearsal (one more migration, from
# deploy/rehearsal/), kept as target/debug/coffee-radar-next. Built first: the build below
# puts the released binary back in target/debug/coffee-radar. Same targets as that build, so
# that the dependencies resolve to the same features and are built once for both.
cargo build --locked --workspace --all-targets --features coffee-radar/next-release-rehearsal
ln -f target/debug/coffee-radar target/debug/coffee-radar-next

log "Building once (debug profile, all targets)"
cargo build --workspace --all-targets --locked
cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked

summary=()
failed=0
logs=()

# The same test binaries against each database: SQLite (a file per test), then a
# database per test on throwaway MariaDB and PostgreSQL servers.
# Tests that need a database server are marked ignored (SQLite cannot go away); the runs on
# MariaDB and PostgreSQL include them. The payment tests, ignored too (they need
# localstripe), run in those and in a run of their own on SQLite. Arguments after the
# first three go to nextest.
run_suite() {
    local name=$1 url=$2 s3=$3
    shift 3
    local selection=("$@")
    [ -n "$url" ] && selection=(--run-ignored all)
    log "Rust tests on $name"
    if TEST_DATABASE_URL=$url TEST_S3_ENDPOINT=$s3 FLASK_SOURCE_TEST_URL=$MYSQL_TEST_URL \
        TEST_STRIPE_API_BASE=$STRIPE_TEST_API_BASE \
        cargo nextest run --locked --no-fail-fast "${selection[@]}" 2>&1 | tee "target/nextest-$name.log"; then :; else failed=1; fi
    summary+=("$name: $(grep -E '^ +Summary' "target/nextest-$name.log" | tail -1 | sed 's/^ *//')")
    logs+=("target/nextest-$name.log")
}

db_run=$(mktemp -d)
cleanup() {
    scripts/databases.sh stop "$db_run" >/dev/null 2>&1 || true
    scripts/s3.sh stop "$db_run" >/dev/null 2>&1 || true
    scripts/localstripe.sh stop "$db_run" >/dev/null 2>&1 || true
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
}
trap cleanup EXIT
log "Starting MariaDB, PostgreSQL, moto's S3 server and localstripe"
# (Assigned first, so that a server that fails to start stops the run.)
servers=$(scripts/databases.sh start "$db_run")
eval "$servers"
servers=$(scripts/s3.sh start "$db_run")
eval "$servers"
servers=$(scripts/localstripe.sh start "$db_run")
eval "$servers"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1

run_suite sqlite "" ""
run_suite sqlite-cards "" "" --run-ignored all -E 'binary(shop) & test(/^(payments|card_checkout|card_pages)::/)'
run_suite mariadb "$MYSQL_TEST_URL" ""
run_suite postgres "$POSTGRES_TEST_URL" ""
run_suite s3 "" "$S3_TEST_ENDPOINT"

log "Browser journey (headless Chromium, at 375 and 1280 px, with axe-core), then Lighthouse"
e2e_dir=$(mktemp -d)
port=18080
./target/debug/coffee-radar --data-dir "$e2e_dir" serve --listen "127.0.0.1:$port" --instance-id e2e-a1 \
    > "$e2e_dir/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# A staff account for the journey's last step (the Insights page).
export E2E_STAFF_USER=e2e-staff E2E_STAFF_PASSWORD='espresso at dawn 42'
curl -fsS -o /dev/null -H 'content-type: application/json' "http://127.0.0.1:$port/api/v1/users" \
    -d "{\"username\":\"$E2E_STAFF_USER\",\"email\":\"staff@example.test\",\"password\":\"$E2E_STAFF_PASSWORD\",\"first_name\":\"Sam\"}"
./target/debug/coffee-radar --data-dir "$e2e_dir" admin grant "$E2E_STAFF_USER"
if node e2e/journey.mjs "http://127.0.0.1:$port" 2>&1 | tee target/e2e.log; then :; else failed=1; fi
# Accessibility, best practices and SEO at LIGHTHOUSE_MIN (95) or more on home, shop, a
# product and a cart; performance is reported (reports in e2e/lighthouse/).
if node e2e/lighthouse.mjs "http://127.0.0.1:$port" 2>&1 | tee target/lighthouse.log; then :; else failed=1; fi
kill $server 2>/dev/null || true
summary+=("browser: $(tail -1 target/e2e.log)")
summary+=("lighthouse: $(tail -1 target/lighthouse.log)")
logs+=(target/e2e.log target/lighthouse.log)

log "Browser journey paying by card (headless Chromium, Stripe.js from localstripe)"
card_dir=$(mktemp -d)
port=18081
./target/debug/coffee-radar --data-dir "$card_dir" serve --listen "127.0.0.1:$port" --instance-id e2e-card \
    --stripe-secret-key sk_test_e2e --stripe-publishable-key pk_test_e2e --stripe-webhook-secret whsec_e2e \
    --stripe-api-base "$STRIPE_TEST_API_BASE" --stripe-js-url "$STRIPE_TEST_API_BASE/js.stripe.com/v3/" \
    > "$card_dir/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
if node e2e/pay-by-card.mjs "http://127.0.0.1:$port" "$STRIPE_TEST_API_BASE" 2>&1 | tee target/e2e-card.log; then :; else failed=1; fi
kill $server 2>/dev/null || true
summary+=("browser, card: $(tail -1 target/e2e-card.log)")
logs+=(target/e2e-card.log)

log "API contract: schemathesis against /api/openapi.json, anonymous and signed in"
# Every check, a fixed number of cases per operation and a fixed seed (override with
# SCHEMATHESIS_EXAMPLES and SCHEMATHESIS_SEED); any failure fails the run.
# The server's flags: sign-in and registration limits loose enough for the fuzzer's calls.
SCHEMATHESIS_SERVER_FLAGS=(
    --rate-limit-registrations-per-hour 1000000 --rate-limit-signin-per-account-and-address 1000000
    --rate-limit-signin-per-address 1000000 --rate-limit-signin-per-account 1000000
    --rate-limit-reset-requests-per-address-per-hour 1000000
)
st_dir=$(mktemp -d)
st_port=18090
st_base="http://127.0.0.1:$st_port"
./target/debug/coffee-radar --data-dir "$st_dir" serve --listen "127.0.0.1:$st_port" --instance-id st-a1 \
    --drain-timeout-secs 0 "${SCHEMATHESIS_SERVER_FLAGS[@]}" > "$st_dir/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "$st_base/healthz" >/dev/null && break; sleep 0.1; done
# A shopper with an address, signed in before the anonymous run spends the sign-in limits.
st_user='{"username":"contract-tester","password":"fuzzing the coffee api 42"}'
curl -fsS -o /dev/null -H 'content-type: application/json' "$st_base/api/v1/users" \
    -d '{"username":"contract-tester","email":"contract@example.test","password":"fuzzing the coffee api 42","first_name":"Casey","address":"1 Contract Street, Madrid"}'
st_cookie=$(curl -fsS -o /dev/null -c - -H 'content-type: application/json' "$st_base/api/v1/sessions" -d "$st_user" \
    | awk '$6 == "cr_session" { print $7 }')
# The signed-in run's settings: the common ones and the session cookie for the document's
# `session` scheme (so that schemathesis also tries each operation without it).
cp tests/schemathesis.toml "$st_dir/anonymous.toml"
{ cat tests/schemathesis.toml; printf '\n[auth.openapi.session]\napi_key = "%s"\n' "$st_cookie"; } > "$st_dir/signed-in.toml"
run_schemathesis() {
    local name=$1; shift
    # `timeout` bounds the run: schemathesis's own --max-time is a budget it fills.
    if timeout 300 target/venv-schemathesis/bin/schemathesis --config-file "$st_dir/$name.toml" \
        run "$st_base/api/openapi.json" --url "$st_base" \
        --checks all --continue-on-failure --generation-database none --no-color \
        --max-examples "${SCHEMATHESIS_EXAMPLES:-150}" --seed "${SCHEMATHESIS_SEED:-20261201}" "$@" \
        > "target/schemathesis-$name.log" 2>&1; then
        st_passed+=("$name")
    else
        st_failed+=("$name")
    fi
    echo "$name: $(grep -A1 '^Test cases:' "target/schemathesis-$name.log" | tail -1 | sed 's/^ *//')"
}
st_passed=() st_failed=()
{
    # A guest's cart lives in the session cookie that its first write sets, and schemathesis
    # does not carry cookies from call to call: a cart line it just added is not found
    # without one. The signed-in run checks that lines can be found again.
    run_schemathesis anonymous --exclude-checks ensure_resource_availability
    # Signing out would end the session the run depends on (the anonymous run covers it).
    run_schemathesis signed-in --exclude-operation-id sign_out
    echo "${#st_passed[@]} passed, ${#st_failed[@]} failed (schemathesis runs; logs in target/schemathesis-*.log)"
} > target/api-contract.log
cat target/api-contract.log
((${#st_failed[@]} == 0)) || failed=1
kill $server 2>/dev/null || true
wait $server 2>/dev/null || true
summary+=("schemathesis: $(tail -1 target/api-contract.log)")
logs+=(target/api-contract.log)

# The same faults on each database the seed may run: a PostgreSQL primary and synchronous
# standby, then a MariaDB primary and semi-synchronous GTID replica (RDS MySQL Multi-AZ).
# The rolling upgrade replaces every instance by the next release built above.
for database in postgres mariadb; do
    log "Load and fault test on $database: HAProxy, three instances, primary and replica, moto"
    if deploy/local/ha-test.sh --database "$database" --next-binary target/debug/coffee-radar-next 2>&1 |
        tee "target/ha-$database.log"; then :; else failed=1; fi
    summary+=("ha-$database: $(tail -1 "target/ha-$database.log")")
    logs+=("target/ha-$database.log")
done

log "AWS deployment: templates, scripts and a deploy into moto's CloudFormation (offline)"
if deploy/aws/check.sh 2>&1 | tee target/aws-check.log; then :; else failed=1; fi
summary+=("aws: $(tail -1 target/aws-check.log)")
logs+=(target/aws-check.log)

log "Summary"
printf '  %s\n' "${summary[@]}"
# Totals from each runner's own summary line.
totals=$(grep -hE '^ +Summary|^[0-9]+ passed, [0-9]+ failed' "${logs[@]}")
passed=$(grep -oE '[0-9]+ passed' <<<"$totals" | awk '{s+=$1} END {print s+0}')
not_passed=$(grep -oE '[0-9]+ failed' <<<"$totals" | awk '{s+=$1} END {print s+0}')
echo "total: $passed passed, $not_passed failed"
exit $failed
