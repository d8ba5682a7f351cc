#!/usr/bin/env bash
# Runs every test of Coffee Radar: the Rust unit and integration tests (each test starts
# the real server on its own temporary SQLite database and file store) and the browser
# journey in headless Chromium. Installs what the tests need first (Debian's Chromium,
# Playwright's client library) when it is missing.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n==> %s\n' "$*"; }

log "Installing test tools (skipped when present)"
scripts/install-test-tools.sh

log "Building once (debug profile, all targets)"
cargo build --all-targets --locked
cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked

summary=()
failed=0

log "Rust tests on SQLite"
if cargo nextest run --locked --no-fail-fast 2>&1 | tee target/nextest-sqlite.log; then :; else failed=1; fi
summary+=("sqlite: $(grep -E '^ +Summary' target/nextest-sqlite.log | tail -1 | sed 's/^ *//')")

log "Browser journey (headless Chromium)"
e2e_dir=$(mktemp -d)
port=18080
./target/debug/coffee-radar --data-dir "$e2e_dir" serve --listen "127.0.0.1:$port" --instance-id e2e-a1 \
    > "$e2e_dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
if node e2e/journey.mjs "http://127.0.0.1:$port" 2>&1 | tee target/e2e.log; then :; else failed=1; fi
kill $server 2>/dev/null || true
summary+=("browser: $(tail -1 target/e2e.log)")

log "Summary"
printf '  %s\n' "${summary[@]}"
passed=$(grep -hoE '[0-9]+ passed' target/nextest-sqlite.log target/e2e.log | awk '{s+=$1} END {print s+0}')
not_passed=$(grep -hoE '[0-9]+ failed' target/nextest-sqlite.log target/e2e.log | awk '{s+=$1} END {print s+0}')
echo "total: $passed passed, $not_passed failed"
exit $failed
