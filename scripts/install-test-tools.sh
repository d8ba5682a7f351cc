#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (run as root, as CI does):
# Debian's Chromium for the browser journey and the Playwright client library for it.
# Never downloads a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d e2e/node_modules/playwright-core ]; then
    (cd e2e && npm ci --no-audit --no-fund --silent)
fi
