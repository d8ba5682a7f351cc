#!/usr/bin/env bash
# Starts moto's S3 server on loopback for the tests (installing it in a virtualenv of its
# own on first use), or stops it.
#
#   scripts/s3.sh start RUN_DIR   # prints the export lines for the endpoint and credentials
#   scripts/s3.sh stop RUN_DIR
set -euo pipefail

action=${1:?start or stop}
run=${2:?run directory}
port=${S3_PORT:-15000}
venv=${MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/coffee-radar/moto}

start() {
    mkdir -p "$run"
    if [ ! -x "$venv/bin/moto_server" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet 'moto[server]'
    fi
    # The interpreter's real path, so that the PID we keep is the server's own.
    "$venv/bin/python" "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$run/moto.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$run/moto.pid"
    # Python takes a while to import moto on a busy machine: wait while the server lives
    # (up to a minute), and give up at once if it has exited.
    local ready=
    for _ in $(seq 1 600); do
        curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && ready=1 && break
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        echo "moto's S3 server did not start (is port $port taken?):" >&2
        tail -5 "$run/moto.log" >&2
        exit 1
    fi
    echo "export S3_TEST_ENDPOINT=http://127.0.0.1:$port"
}

stop() {
    [ -f "$run/moto.pid" ] && kill "$(cat "$run/moto.pid")" 2>/dev/null || true
}

"$action"
