#!/usr/bin/env bash
# Starts localstripe (a stateful fake of Stripe's API) on loopback for the payment tests,
# with its state in memory, or stops it. scripts/install-test-tools.sh installs it.
#
#   scripts/localstripe.sh start RUN_DIR   # prints the export line for its URL
#   scripts/localstripe.sh stop RUN_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

action=${1:?start or stop}
run=${2:?run directory}
port=${LOCALSTRIPE_PORT:-18420}
venv=${LOCALSTRIPE_VENV:-$root/target/venv-localstripe}

start() {
    mkdir -p "$run"
    if [ ! -x "$venv/bin/python" ]; then
        echo "localstripe is not installed in $venv: run scripts/install-test-tools.sh" >&2
        exit 1
    fi
    "$venv/bin/python" "$root/scripts/localstripe-server.py" "$port" >"$run/localstripe.log" 2>&1 &
    echo $! >"$run/localstripe.pid"
    local ready=
    for _ in $(seq 1 150); do
        # The Stripe.js stand-in is the one page that needs no API key.
        curl -fs "http://127.0.0.1:$port/js.stripe.com/v3/" >/dev/null 2>&1 && ready=1 && break
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        echo "localstripe did not start (is port $port taken?):" >&2
        tail -5 "$run/localstripe.log" >&2
        exit 1
    fi
    echo "export STRIPE_TEST_API_BASE=http://127.0.0.1:$port"
}

stop() {
    [ -f "$run/localstripe.pid" ] && kill "$(cat "$run/localstripe.pid")" 2>/dev/null || true
}

"$action"
