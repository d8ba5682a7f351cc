#!/usr/bin/env bash
# Runs every test of Coffee Radar: the Rust unit and integration tests on SQLite, MariaDB
# and PostgreSQL from one build (each test starts the real server with its own database,
# picture store and outbox), then the browser journey in headless Chromium. Installs and
# starts what the tests need (Chromium, MariaDB, PostgreSQL, Playwright's client library).
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n==> %s\n' "$*"; }

log "Installing test tools (skipped when present)"
scripts/install-test-tools.sh

log "Building once (debug profile, all targets)"
cargo build --workspace --all-targets --locked
cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked

summary=()
failed=0
logs=()

# The same test binaries against each database: SQLite (a file per test), then a
# database per test on throwaway MariaDB and PostgreSQL servers.
# Tests that need a database server are marked ignored (SQLite cannot go away); the runs on
# MariaDB and PostgreSQL include them.
run_suite() {
    local name=$1 url=$2 s3=${3:-}
    local ignored=()
    [ -n "$url" ] && ignored=(--run-ignored all)
    log "Rust tests on $name"
    if TEST_DATABASE_URL=$url TEST_S3_ENDPOINT=$s3 FLASK_SOURCE_TEST_URL=$MYSQL_TEST_URL \
        cargo nextest run --locked --no-fail-fast "${ignored[@]}" 2>&1 | tee "target/nextest-$name.log"; then :; else failed=1; fi
    summary+=("$name: $(grep -E '^ +Summary' "target/nextest-$name.log" | tail -1 | sed 's/^ *//')")
    logs+=("target/nextest-$name.log")
}

db_run=$(mktemp -d)
cleanup() {
    scripts/databases.sh stop "$db_run" >/dev/null 2>&1 || true
    scripts/s3.sh stop "$db_run" >/dev/null 2>&1 || true
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
}
trap cleanup EXIT
log "Starting MariaDB, PostgreSQL and moto's S3 server"
# (Assigned first, so that a server that fails to start stops the run.)
servers=$(scripts/databases.sh start "$db_run")
eval "$servers"
servers=$(scripts/s3.sh start "$db_run")
eval "$servers"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1

run_suite sqlite ""
run_suite mariadb "$MYSQL_TEST_URL"
run_suite postgres "$POSTGRES_TEST_URL"
run_suite s3 "" "$S3_TEST_ENDPOINT"

log "Browser journey (headless Chromium)"
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
kill $server 2>/dev/null || true
summary+=("browser: $(tail -1 target/e2e.log)")
logs+=(target/e2e.log)

log "Load and fault test: HAProxy, three instances, PostgreSQL primary and standby, moto"
if deploy/local/ha-test.sh 2>&1 | tee target/ha.log; then :; else failed=1; fi
summary+=("ha: $(tail -1 target/ha.log)")
logs+=(target/ha.log)

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
