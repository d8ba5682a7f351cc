#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (run as root, as CI does):
# Debian's Chromium for the browser journey and the Playwright client library for it,
# schemathesis (pinned) in a virtualenv of its own for the API contract check, and
# localstripe (pinned, a fake Stripe API) in another for the payment tests. Never downloads
# a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV=target/venv-schemathesis
LOCALSTRIPE_VERSION=1.15.10
LOCALSTRIPE_VENV=target/venv-localstripe

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d e2e/node_modules/playwright-core ] || [ ! -d e2e/node_modules/axe-core ] || [ ! -d e2e/node_modules/lighthouse ]; then
    (cd e2e && npm ci --no-audit --no-fund --silent)
fi

if ! "$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$SCHEMATHESIS_VENV"
    "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
fi

if ! "$LOCALSTRIPE_VENV/bin/pip" show localstripe 2>/dev/null | grep -qxF "Version: $LOCALSTRIPE_VERSION"; then
    python3 -m venv "$LOCALSTRIPE_VENV"
    "$LOCALSTRIPE_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "localstripe==$LOCALSTRIPE_VERSION"
fi
