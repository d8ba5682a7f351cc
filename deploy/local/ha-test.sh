#!/usr/bin/env bash
# The load-and-fault test: brings the local cluster up with an app binary, drives the
# shopper journey through HAProxy while instances are killed, drained and restarted and the
# database fails over (coffee-radar-bench ha), and always takes the cluster down again.
# Exits with the test's status; the output ends with its "N passed, M failed" line.
#
#   deploy/local/ha-test.sh [--binary PATH] [--database postgres|mariadb] [--scenario ha|soak] \
#       [extra options of `coffee-radar-bench ha` (or soak)]
#
# --scenario soak runs `coffee-radar-bench soak` instead (deploy/local/soak.sh): the same load
# for minutes with no fault.
# PATH defaults to target/debug/coffee-radar, the database to CLUSTER_DATABASE or postgres
# (a PostgreSQL primary and synchronous standby, or a MariaDB primary and semi-synchronous
# GTID replica). With `--next-binary PATH` (an option of the load generator) the test rolls
# an upgrade to that binary through the fleet (docs/upgrades.md). The load generator is
# target/debug/coffee-radar-bench (built with cargo when missing; BENCH_BINARY overrides).
# The cluster's run dir (CLUSTER_DIR, default target/cluster) keeps every log and the report.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cluster=$here/cluster.sh
run=$(realpath -m "${CLUSTER_DIR:-$repo/target/cluster}")
binary=$repo/target/debug/coffee-radar
database=${CLUSTER_DATABASE:-postgres}
scenario=ha
while (($#)); do
    case $1 in
        --binary) binary=${2:?--binary PATH}; shift 2 ;;
        --database) database=${2:?--database postgres|mariadb}; shift 2 ;;
        --scenario) scenario=${2:?--scenario ha|soak}; shift 2 ;;
        *) break ;;
    esac
done
bench=${BENCH_BINARY:-$repo/target/debug/coffee-radar-bench}

mkdir -p "$run"
# Takes the cluster down; says so when something would not stop (before the summary line).
take_down() {
    "$cluster" down >"$run/down.log" 2>&1 || {
        echo "ha-test: the cluster did not go down cleanly:"
        cat "$run/down.log"
    }
}
trap take_down EXIT
trap "exit 130" INT TERM

fail() {
    echo "ha-test: $*"
    trap - EXIT
    take_down
    echo "0 passed, 1 failed"
    exit 1
}

if [ ! -x "$bench" ]; then
    (cd "$repo" && cargo build -p coffee-radar-bench) || fail "could not build the load generator"
fi
[ -x "$binary" ] || fail "no app binary at $binary (cargo build first)"

# Leftovers of an interrupted run would hold the ports.
"$cluster" down >/dev/null 2>&1 || true

started=$SECONDS
url=$("$cluster" up --binary "$binary" --database "$database") || fail "the cluster did not come up (logs in $run)"
echo "ha-test: $database cluster up in $((SECONDS - started)) s at $url; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

"$bench" "$scenario" --base "$url" --cluster "$cluster" --database-url "$("$cluster" database-url)" "$@" |
    tee "$run/$scenario-report.txt"
status=${PIPESTATUS[0]}
summary=$(tail -1 "$run/$scenario-report.txt" | grep -E '^[0-9]+ passed, [0-9]+ failed$') || {
    # A crash of the load generator still ends with a summary line.
    status=1
    summary="0 passed, 1 failed"
    echo "$summary"
}
trap - EXIT
if ! "$cluster" down >"$run/down.log" 2>&1; then
    echo "ha-test: the cluster did not go down cleanly:"
    cat "$run/down.log"
    echo "$summary"
fi
exit "$status"
