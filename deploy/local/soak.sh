#!/usr/bin/env bash
# The soak: the local cluster up, the mixed shopper load through HAProxy for some minutes with
# no fault (coffee-radar-bench soak: each minute every instance's resident memory and open
# files, the database connections and p99, judged flat from the second minute to the last),
# the cluster down again. Not part of test.sh (it takes minutes); its figures are in
# docs/performance.md.
#
#   deploy/local/soak.sh [--binary PATH] [--database postgres|mariadb] [--minutes 10] \
#       [other options of `coffee-radar-bench soak`]
#
# As deploy/local/ha-test.sh, whose --scenario soak this is (same binaries, CLUSTER_DIR and
# CLUSTER_BASE_PORT); the report stays in the run dir as soak-report.txt.
exec "$(dirname "${BASH_SOURCE[0]}")/ha-test.sh" --scenario soak "$@"
