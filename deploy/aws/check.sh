#!/usr/bin/env bash
# Offline checks of the AWS deployment (deploy/aws). Never talks to AWS: moto's server on a
# loopback port stands in for CloudFormation, EC2, ELB, Auto Scaling, RDS, S3 and Route 53.
#
#   - cfn-lint and checkov on every template (in virtualenvs of their own, installed from PyPI
#     on first use under ${XDG_CACHE_HOME:-~/.cache}/coffee-radar/);
#   - static facts of the template (tests/stack_test.py facts): the seed's network, the
#     security-group chain, drain timings, the app's keep-alive above the ALB's idle timeout,
#     IMDSv2, no SSH, settings the app really reads;
#   - the systemd units (systemd-analyze verify), the scripts (bash -n, shellcheck if present);
#   - fetch-secrets, lifecycle-watch and run-export against fake aws/curl/systemctl/systemd-run;
#   - build-release.sh with a stand-in binary (and its upload to moto's S3), deploy.sh --dry-run;
#   - the template deployed into moto's CloudFormation, then inspected (tests/stack_test.py moto).
#   - the export schedule's template: its role's one permission, statically and in moto
#     (tests/stack_test.py export).
#
# Ends with "N passed, M failed"; exits non-zero when anything failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/coffee-radar
work=$(mktemp -d)
moto_pid=
cleanup() {
    [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    [ -s "$work/out" ] && tail -n 30 "$work/out" | sed 's/^/       /'
    return 0
}
# expect NAME COMMAND...: passes when the command exits 0 (its output is shown on failure).
expect() {
    local name=$1
    shift
    if "$@" >"$work/out" 2>&1; then ok "$name"; else fail "$name"; fi
}
# program NAME COMMAND...: runs a test program that prints "ok   - " and "FAIL - " lines, and
# counts them; a program that dies without saying why is one more failure.
program() {
    local name=$1 line status fails=0
    shift
    "$@" >"$work/out" 2>&1
    status=$?
    while IFS= read -r line; do
        case $line in
            "ok   - "*) passed=$((passed + 1)) && echo "$line" ;;
            "FAIL - "*) failed=$((failed + 1)) && fails=$((fails + 1)) && echo "$line" ;;
            "#"*) echo "$line" ;;
        esac
    done <"$work/out"
    if [ "$status" -ne 0 ] && [ "$fails" -eq 0 ]; then fail "$name stopped (exit $status)"; fi
}
# venv NAME REQUIREMENT: a virtualenv of its own for one tool, created on first use.
venv() {
    local dir=$cache/$1
    if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/pip" show "${2%%[=<>\[]*}" >/dev/null 2>&1; then
        echo "#    installing $2 in $dir (first use)"
        mkdir -p "$cache"
        if ! { python3 -m venv "$dir" && "$dir/bin/pip" install --quiet --disable-pip-version-check "$2"; } >"$work/out" 2>&1; then
            fail "install $2"
            return 1
        fi
    fi
}

templates=("$here"/*.yaml)
scripts=("$here/check.sh" "$here/build-release.sh" "$here/deploy.sh" "$here/release/install.sh"
    "$here/release/fetch-secrets" "$here/release/lifecycle-watch" "$here/release/run-export")

echo "# Templates: cfn-lint, checkov"
if venv cfn-lint 'cfn-lint==1.58.0'; then
    for t in "${templates[@]}"; do
        expect "cfn-lint $(basename "$t")" "$cache/cfn-lint/bin/cfn-lint" "$t"
    done
    echo "# Template facts"
    program "tests/stack_test.py facts" "$cache/cfn-lint/bin/python" "$here/tests/stack_test.py" facts \
        "$here/coffee-radar.yaml" "$here/coffee-radar.service" "$root/src"
fi
if venv checkov 'checkov==3.3.30'; then
    for t in "${templates[@]}"; do
        expect "checkov $(basename "$t")" "$cache/checkov/bin/checkov" -f "$t" \
            --framework cloudformation --compact --quiet --skip-download
    done
fi

echo "# Scripts and units"
for s in "${scripts[@]}"; do
    expect "bash -n ${s#"$here"/}" bash -n "$s"
done
if command -v shellcheck >/dev/null; then
    expect "shellcheck (every script)" shellcheck -x "${scripts[@]}"
else
    echo "#    shellcheck not installed: skipped"
fi
if command -v systemd-analyze >/dev/null; then
    # A root with the units and stand-ins at the executables' paths, so that verify checks them too.
    sys=$work/sysroot
    mkdir -p "$sys/etc/systemd/system" "$sys/opt/coffee-radar/bin" "$sys/usr/lib/systemd"
    cp -r /usr/lib/systemd/system "$sys/usr/lib/systemd/" 2>/dev/null || cp -r /lib/systemd/system "$sys/usr/lib/systemd/"
    cp "$here/coffee-radar.service" "$here"/release/systemd/* "$sys/etc/systemd/system/"
    for b in coffee-radar fetch-secrets lifecycle-watch; do
        printf '#!/bin/sh\n' >"$sys/opt/coffee-radar/bin/$b"
        chmod +x "$sys/opt/coffee-radar/bin/$b"
    done
    units=(coffee-radar.service coffee-radar-lifecycle.service)
    # verify exits 0 on unknown keys and bad values: any output is a failure too.
    verify() {
        local out
        out=$(systemd-analyze verify --root="$sys" --man=no "${units[@]}" 2>&1) || { echo "$out"; return 1; }
        echo "$out"
        [ -z "$out" ]
    }
    expect "systemd-analyze verify (${units[*]})" verify
else
    echo "#    systemd-analyze not available: skipped"
fi

echo "# Instance scripts against fake aws, curl and systemctl"
fake=$work/fake-bin
mkdir -p "$fake" "$work/run"
cat >"$fake/curl" <<'EOF'
#!/bin/bash
# Fake metadata service: a token, the instance id, then the lifecycle state from $STATE_FILE.
url=${*: -1}
case $url in
    */api/token) echo fake-token ;;
    */meta-data/instance-id) echo i-0123456789abcdef0 ;;
    */meta-data/autoscaling/target-lifecycle-state)
        n=$(cat "$STATE_FILE.n" 2>/dev/null || echo 0); echo $((n + 1)) >"$STATE_FILE.n"
        if [ "$n" -ge 2 ]; then echo Terminated; else echo InService; fi ;;
    *) exit 22 ;;
esac
EOF
cat >"$fake/aws" <<'EOF'
#!/bin/bash
echo "aws $*" >>"$CALLS"
case "$*" in
    *"get-secret-value --secret-id arn:smtp"*) echo '{"username": "AKIA$EXAMPLE", "password": "sm\"tp\\pw"}' ;;
    *"sts assume-role --role-arn arn:export-role "*) printf 'ASIAEXPORT\texport-secret\texport-token\n' ;;
esac
EOF
cat >"$fake/systemctl" <<'EOF'
#!/bin/bash
echo "systemctl $*" >>"$CALLS"
EOF
cat >"$fake/systemd-run" <<'EOF'
#!/bin/bash
# Records the command and the environment files it was given (read while they exist).
echo "systemd-run $*" >>"$CALLS"
for arg in "$@"; do
    case $arg in EnvironmentFile=*) [ -f "${arg#EnvironmentFile=}" ] && cat "${arg#EnvironmentFile=}" >>"$CALLS" ;; esac
done
EOF
chmod +x "$fake"/*
cat >"$work/aws.env" <<'EOF'
REGION=us-east-1
DB_HOST=db.example.internal
DB_PORT=3306
DB_NAME=shop
DB_SECRET_ARN=arn:db
SMTP_SECRET_ARN=arn:smtp
ASG_NAME=test-app
LIFECYCLE_HOOK=drain-before-terminate
EOF
COFFEE_RADAR_USER=$(id -un)
export CALLS=$work/calls STATE_FILE=$work/state COFFEE_RADAR_AWS_ENV=$work/aws.env \
    COFFEE_RADAR_RUNTIME_DIR=$work/run COFFEE_RADAR_USER POLL_SECONDS=0
fetch_secrets() {
    PATH=$fake:$PATH "$here/release/fetch-secrets" || return 1
    local file=$work/run/secrets.env
    [ "$(stat -c %a "$file")" = 400 ] || { echo "mode $(stat -c %a "$file")"; return 1; }
    ! grep -q DATABASE "$file" || { echo "the database password is the app's to read"; return 1; }
    # systemd reads double-quoted values like a POSIX shell does: read it back that way.
    (
        set -a
        # shellcheck source=/dev/null
        . "$file"
        python3 - <<'PY'
import os
assert os.environ["SMTP_USERNAME"] == "AKIA$EXAMPLE" and os.environ["SMTP_PASSWORD"] == 'sm"tp\\pw'
PY
    )
}
expect "fetch-secrets writes a 0400 secrets.env with the SMTP credentials (and no database password)" fetch_secrets
lifecycle() {
    : >"$CALLS"
    PATH=$fake:$PATH timeout 20 "$here/release/lifecycle-watch" || return 1
    cat "$CALLS"
    grep -n . "$CALLS" | grep -q '^1:systemctl stop coffee-radar.service$' &&
        grep -n . "$CALLS" | grep -q '^2:aws autoscaling complete-lifecycle-action --auto-scaling-group-name test-app --lifecycle-hook-name drain-before-terminate --instance-id i-0123456789abcdef0 --lifecycle-action-result CONTINUE$'
}
expect "lifecycle-watch: on Terminated, stops the app (drain) and only then completes the hook" lifecycle
run_export() {
    : >"$CALLS"
    PATH=$fake:$PATH "$here/release/run-export" arn:export-role shop-bucket || return 1
    cat "$CALLS"
    grep -q '^aws sts assume-role --role-arn arn:export-role ' "$CALLS" &&
        grep -q '^systemd-run .*-p User=coffee-radar .*EnvironmentFile=/etc/coffee-radar/coffee-radar.env .*/opt/coffee-radar/bin/coffee-radar export --to s3://shop-bucket$' "$CALLS" &&
        grep -qx 'AWS_ACCESS_KEY_ID=ASIAEXPORT' "$CALLS" && grep -qx 'AWS_SESSION_TOKEN=export-token' "$CALLS" &&
        ! compgen -G "$work/run/.export*" >/dev/null # the credentials file is gone
}
expect "run-export: coffee-radar export to the bucket's exports/ under the assumed export role" run_export

echo "# Release artifact and deploy.sh"
printf '#!/bin/sh\necho coffee-radar stand-in\n' >"$work/coffee-radar"
chmod +x "$work/coffee-radar"
release() {
    key=$("$here/build-release.sh" --binary "$work/coffee-radar" --out "$work/dist") || return 1
    [[ $key =~ ^releases/coffee-radar-[0-9][^/]*\.tar\.gz$ ]] || { echo "key: $key"; return 1; }
    mkdir -p "$work/unpacked"
    tar -xzf "$work/dist/${key#releases/}" -C "$work/unpacked" --strip-components=1 || return 1
    (cd "$work/unpacked" && sha256sum --quiet -c SHA256SUMS) || return 1
    for f in install.sh VERSION bin/coffee-radar bin/fetch-secrets bin/lifecycle-watch bin/run-export \
        systemd/coffee-radar.service systemd/coffee-radar-lifecycle.service config/cloudwatch-agent.json; do
        [ -e "$work/unpacked/$f" ] || { echo "missing $f"; return 1; }
    done
    [ -x "$work/unpacked/install.sh" ] && [ -x "$work/unpacked/bin/fetch-secrets" ]
}
expect "build-release.sh packs binary, units, scripts and installer with checksums" release
dry_run() {
    COFFEE_RADAR_RELEASE_DIR=$work/dist3 "$here/deploy.sh" --dry-run --stack shop --region us-east-1 --binary "$work/coffee-radar" \
        --certificate-arn arn:aws:acm:us-east-1:123456789012:certificate/x --domain shop.example.com || return 1
}
deploy_plan() {
    dry_run >"$work/plan" 2>&1 || { cat "$work/plan"; return 1; }
    cat "$work/plan"
    grep -q 'aws cloudformation deploy --stack-name shop .*CAPABILITY_NAMED_IAM .*ReleaseKey=$' "$work/plan" &&
        grep -q 'assets publish --to s3://' "$work/plan" &&
        grep -q 'aws cloudformation deploy --stack-name shop .*DomainName=shop.example.com .*ReleaseKey=releases/coffee-radar-' "$work/plan" &&
        grep -q 'aws autoscaling start-instance-refresh .*MinHealthyPercentage.*100.*MaxHealthyPercentage.*150.*SkipMatching.*true.*AutoRollback.*true.*AlarmSpecification' "$work/plan" &&
        grep -q 'aws cloudformation deploy --stack-name shop-export --template-file .*export.yaml .*InstanceRoleArn=' "$work/plan"
}
expect "deploy.sh --dry-run: stack without servers, release upload, assets publish, the release, an instance refresh of one at a time (100 % healthy, rollback on alarm), the export stack" deploy_plan

echo "# moto: the template deployed into moto's CloudFormation"
if venv moto 'moto[server]==5.2.5'; then
    port=$("$cache/moto/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$cache/moto/bin/python" "$cache/moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
    moto_pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    program "tests/stack_test.py moto" "$cache/moto/bin/python" "$here/tests/stack_test.py" moto \
        "$here/coffee-radar.yaml" "http://127.0.0.1:$port" "$work/user-data.sh"
    program "tests/stack_test.py export" "$cache/moto/bin/python" "$here/tests/stack_test.py" export \
        "$here/export.yaml" "$here/coffee-radar.yaml" "http://127.0.0.1:$port"
    if [ -s "$work/user-data.sh" ]; then
        expect "moto: rendered user data passes bash -n" bash -n "$work/user-data.sh"
        if command -v shellcheck >/dev/null; then
            expect "moto: rendered user data passes shellcheck" shellcheck -s bash "$work/user-data.sh"
        fi
    fi
    if command -v aws >/dev/null; then
        upload() {
            AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
                AWS_ENDPOINT_URL=http://127.0.0.1:$port bash -c '
                aws s3 mb s3://release-test >/dev/null &&
                key=$("$1" --binary "$2" --out "$3" --upload s3://release-test/releases/) &&
                aws s3 ls "s3://release-test/$key"' _ "$here/build-release.sh" "$work/coffee-radar" "$work/dist2"
        }
        expect "build-release.sh --upload puts the artifact under releases/ (moto's S3)" upload
    else
        echo "#    aws CLI not installed: upload test skipped"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
