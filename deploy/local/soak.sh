#!/usr/bin/env bash
# The soak: brings the local cluster up, runs the mixed shopper load through HAProxy for
# some minutes with no fault (coffee-radar-bench soak), printing each minute every
# instance's resident memory and open files, the database connections and p99, and judges
# them flat from the second minute to the last; always takes the cluster down again. Not
# part of test.sh (it takes minutes); its figures are in docs/performance.md.
#
#   deploy/local/soak.sh [--binary PATH] [--database postgres|mariadb] \
#       [extra options of `coffee-radar-bench soak`, e.g. --minutes 10]
#
# PATH defaults to target/debug/coffee-radar, the load generator to
# target/debug/coffee-radar-bench (BENCH_BINARY overrides); CLUSTER_BASE_PORT and
# CLUSTER_DIR place the cluster as for cluster.sh. The report stays in the run dir.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cluster=$here/cluster.sh
run=$(realpath -m "${CLUSTER_DIR:-$repo/target/cluster}")
binary=$repo/target/debug/coffee-radar
database=${CLUSTER_DATABASE:-postgres}
while (($#)); do
    case $1 in
        --binary) binary=${2:?--binary PATH}; shift 2 ;;
        --database) database=${2:?--database postgres|mariadb}; shift 2 ;;
        *) break ;;
    esac
done
bench=${BENCH_BINARY:-$repo/target/debug/coffee-radar-bench}
[ -x "$bench" ] || { echo "soak: no load generator at $bench (cargo build -p coffee-radar-bench)"; exit 1; }
[ -x "$binary" ] || { echo "soak: no app binary at $binary (cargo build)"; exit 1; }

mkdir -p "$run"
trap '"$cluster" down >"$run/down.log" 2>&1' EXIT
trap "exit 130" INT TERM
"$cluster" down >/dev/null 2>&1 || true
url=$("$cluster" up --binary "$binary" --database "$database") || { echo "soak: the cluster did not come up (logs in $run)"; exit 1; }
echo "soak: $database cluster up at $url; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" soak --base "$url" --cluster "$cluster" --database-url "$("$cluster" database-url)" "$@" |
    tee "$run/soak-report.txt"
exit "${PIPESTATUS[0]}"
