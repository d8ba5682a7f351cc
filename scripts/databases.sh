#!/usr/bin/env bash
# Starts throwaway MariaDB and PostgreSQL servers on loopback for the test suite, or stops
# them. Installs MariaDB from Debian when it is missing (PostgreSQL 15 ships with the
# machine; it is installed too when absent). Servers run as children of this machine's
# session, not as system services, and keep their data under RUN_DIR.
#
#   scripts/databases.sh start RUN_DIR   # prints the export lines for the URLs
#   scripts/databases.sh stop RUN_DIR
set -euo pipefail

action=${1:?start or stop}
run=${2:?run directory}
# The shop user may create users (with GRANT OPTION on MariaDB, CREATEROLE on PostgreSQL): the
# password-rotation tests make users of their own.
# Not the usual ports, so that a developer's own servers are left alone.
mysql_port=${MYSQL_PORT:-13306}
pg_port=${PG_PORT:-15432}

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    echo "${dir:-/usr/bin}"
}

start() {
    mkdir -p "$run"
    run=$(cd "$run" && pwd)
    chmod 755 "$run" # the postgres user must reach its folders inside
    local missing=()
    command -v mariadbd >/dev/null || missing+=(mariadb-server)
    [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
    if ((${#missing[@]})); then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi

    # MariaDB: the MySQL protocol, our stand-in for RDS MySQL.
    mkdir -p "$run/mariadb/data" "$run/mariadb/run"
    mariadb-install-db --user=root --datadir="$run/mariadb/data" --auth-root-authentication-method=socket \
        --skip-test-db >"$run/mariadb/install.log" 2>&1
    mariadbd --no-defaults --user=root --datadir="$run/mariadb/data" --socket="$run/mariadb/run/mysqld.sock" \
        --pid-file="$run/mariadb/run/mysqld.pid" --bind-address=127.0.0.1 --port="$mysql_port" \
        --innodb-flush-log-at-trx-commit=2 --max-connections=500 --log-error="$run/mariadb/error.log" &
    local ready=
    for _ in $(seq 1 150); do
        mariadb-admin --socket="$run/mariadb/run/mysqld.sock" ping >/dev/null 2>&1 && ready=1 && break
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        echo "MariaDB did not start (is port $mysql_port taken?):" >&2
        tail -5 "$run/mariadb/error.log" >&2
        exit 1
    fi
    mariadb --socket="$run/mariadb/run/mysqld.sock" -uroot -e "
        CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4;
        CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY 'shoppw';
        GRANT ALL ON *.* TO 'shop'@'%' WITH GRANT OPTION;"

    # PostgreSQL refuses to run as root: it runs as the postgres user.
    id postgres >/dev/null 2>&1 || useradd --system --home "$run/pg" postgres
    mkdir -p "$run/pg" "$run/pgsock"
    chown postgres:postgres "$run/pg" "$run/pgsock"
    echo adminpw >"$run/pg/pw" && chown postgres "$run/pg/pw"
    su postgres -c "$(pg_bin)/initdb -D $run/pg/primary -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile=$run/pg/pw -E UTF8 --locale=C.UTF-8" >"$run/pg/initdb.log" 2>&1
    printf "listen_addresses='127.0.0.1'\nport=%s\nunix_socket_directories='%s'\nfsync=off\nmax_connections=300\n" \
        "$pg_port" "$run/pgsock" >>"$run/pg/primary/postgresql.conf"
    su postgres -c "$(pg_bin)/pg_ctl -D $run/pg/primary -l $run/pg/primary.log -w start" >/dev/null
    psql -h "$run/pgsock" -p "$pg_port" -U postgres -q -c "CREATE ROLE shop LOGIN CREATEDB CREATEROLE PASSWORD 'shoppw'" \
        -c "CREATE DATABASE shop OWNER shop"

    echo "export MYSQL_TEST_URL=mysql://shop:shoppw@127.0.0.1:$mysql_port/shop"
    echo "export POSTGRES_TEST_URL=postgres://shop:shoppw@127.0.0.1:$pg_port/shop"
}

stop() {
    [ -f "$run/mariadb/run/mysqld.pid" ] && kill "$(cat "$run/mariadb/run/mysqld.pid")" 2>/dev/null || true
    [ -f "$run/pg/primary/postmaster.pid" ] && kill -INT "$(head -1 "$run/pg/primary/postmaster.pid")" 2>/dev/null || true
    sleep 1
}

"$action"
