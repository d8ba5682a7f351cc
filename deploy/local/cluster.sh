#!/usr/bin/env bash
# A production-shaped Coffee Radar on loopback, in one command:
#
#   HAProxy (the ALB)  ──>  a1 (zone a), b1, b2 (zone b)   three app instances
#        │                       │
#        └── db address ─────────┴──> primary db1  ──replication──>  replica db2
#                                      (PostgreSQL streaming, or MariaDB GTID semi-sync)
#                                      moto's S3 server (pictures)
#
#   deploy/local/cluster.sh up [--binary PATH] [--database postgres|mariadb]
#                                                # start everything, wait until ready
#   deploy/local/cluster.sh down                 # stop everything (logs stay in the run dir)
#   deploy/local/cluster.sh status               # processes, HAProxy's view, database roles
#   deploy/local/cluster.sh kill NAME            # SIGKILL an app instance (a1, b1, b2)
#   deploy/local/cluster.sh stop NAME            # SIGTERM an instance and wait while it drains
#   deploy/local/cluster.sh start NAME           # start an instance again, wait for /readyz
#   deploy/local/cluster.sh failover [--crash] [--away SECS]
#                                                # stop (or SIGKILL) the primary, promote the
#                                                # replica after SECS, re-point the address
#   deploy/local/cluster.sh rejoin               # the old primary comes back as the replica
#   deploy/local/cluster.sh upgrade NAME --binary PATH
#                                                # one step of a rolling upgrade: HAProxy
#                                                # drains NAME, it stops, PATH starts on its
#                                                # port, and takes requests once ready
#   deploy/local/cluster.sh zone-loss [--away SECS]
#                                                # SIGKILL zone a at once: a1 and the primary
#                                                # database; then the failover as above
#   deploy/local/cluster.sh s3-stop              # the object store goes away (moto stopped)
#   deploy/local/cluster.sh s3-start             # it comes back (an empty bucket: moto keeps
#                                                # objects in memory only)
#   deploy/local/cluster.sh primary-address      # HOST:PORT of the primary database itself
#   deploy/local/cluster.sh database-through HOST:PORT
#                                                # the database address leads through a proxy
#                                                # at HOST:PORT (e.g. one that delays)
#   deploy/local/cluster.sh database-direct      # ... and straight to the primary again
#   deploy/local/cluster.sh instances            # NAME HOST:PORT PID (- when stopped), a line each
#   deploy/local/cluster.sh url                  # the load balancer's URL
#   deploy/local/cluster.sh database-url         # the database address the apps use
#
# Everything listens on 127.0.0.1 only, on ports CLUSTER_BASE_PORT (18100) + offsets, and
# keeps its state (PIDs, logs, data) under CLUSTER_DIR (default: target/cluster).
# CLUSTER_DATABASE (postgres or mariadb) is the default for up's --database.
# deploy/local/README.md describes the ports and each command.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
run=$(realpath -m "${CLUSTER_DIR:-$repo/target/cluster}")
base=${CLUSTER_BASE_PORT:-18100}

lb_port=$((base + 0))      # HAProxy: the shop (the ALB's listener)
stats_port=$((base + 1))   # HAProxy: stats page
db_port=$((base + 10))     # HAProxy: the database address (RDS's endpoint name)
databases=(db1 db2)        # the primary at first, and its replica; they swap on failover
declare -A database_port=([db1]=$((base + 11)) [db2]=$((base + 12)))
s3_port=$((base + 20))
instances=(a1 b1 b2)
declare -A instance_port=([a1]=$((base + 31)) [b1]=$((base + 32)) [b2]=$((base + 33)))
declare -A instance_zone=([a1]=a [b1]=b [b2]=b)

drain_secs=${CLUSTER_DRAIN_SECS:-3}
bucket=coffee-radar
lb_url="http://127.0.0.1:$lb_port"

# The database engine of the cluster in the run dir (chosen by up), else the default.
engine() {
    if [ -f "$run/database" ]; then cat "$run/database"; else echo "${CLUSTER_DATABASE:-postgres}"; fi
}
db_url() {
    case $(engine) in
        mariadb) echo "mysql://shop:shoppw@127.0.0.1:$db_port/shop" ;;
        *) echo "postgres://shop:shoppw@127.0.0.1:$db_port/shop" ;;
    esac
}

log() { printf '[cluster %s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    echo "${dir:-/usr/bin}"
}
as_postgres() { su postgres -s /bin/bash -c "$*"; }

# --- processes --------------------------------------------------------------------------

# The PID in FILE when that process is alive and its command line contains PATTERN: a PID
# file left by an earlier run never leads to signalling an unrelated process.
live_pid() {
    local file=$1 pattern=$2 pid
    [ -f "$file" ] || return 1
    pid=$(head -1 "$file" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
    echo "$pid"
}

instance_pid() { live_pid "$run/app/$1.pid" "--instance-id $1"; }
haproxy_pid() { live_pid "$run/haproxy.pid" "$run/haproxy.cfg"; }
moto_pid() { live_pid "$run/s3/moto.pid" "moto_server"; }
pg_pid() { live_pid "$run/pg/$1/postmaster.pid" "$run/pg/$1"; }
maria_pid() { live_pid "$run/maria/$1.pid" "$run/maria/$1"; }
database_pid() { if [ "$(engine)" = mariadb ]; then maria_pid "$1"; else pg_pid "$1"; fi; }

wait_gone() { # PID SECONDS
    local pid=$1 deadline=$((SECONDS + $2))
    while [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

port_taken() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

haproxy_cmd() { echo "$*" | socat stdio "unix-connect:$run/haproxy.sock"; }

# --- tools ------------------------------------------------------------------------------

ensure_tools() {
    local missing=()
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v socat >/dev/null || missing+=(socat)
    command -v curl >/dev/null || missing+=(curl)
    if [ "$(engine)" = mariadb ]; then
        command -v mariadbd >/dev/null || missing+=(mariadb-server)
    else
        [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
    fi
    if ((${#missing[@]})); then
        log "installing ${missing[*]} from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# --- the databases: a primary and its replica ---------------------------------------------
#
# db1 starts as the primary and db2 as its replica; "$run/primary" names the primary of the
# moment. Each engine has the same five steps: start a primary, start a replica of it (and
# make commits wait for it), tell a role, promote a replica, stop one.

primary() { cat "$run/primary"; }
other_database() { [ "$1" = db1 ] && echo db2 || echo db1; }
server_id() { echo "${1#db}"; }

# PostgreSQL: initdb for the primary, pg_basebackup -R for a standby; synchronous streaming.
pg_psql() { # NAME ARGS...: as postgres over the unix socket
    local port=${database_port[$1]}
    shift
    psql -h "$run/pgsock" -p "$port" -U postgres -qX "$@"
}

pg_start_primary() {
    local name=$1 bin
    bin=$(pg_bin)
    id postgres >/dev/null 2>&1 || useradd --system --home "$run/pg" postgres
    mkdir -p "$run/pg" "$run/pgsock"
    chown postgres:postgres "$run/pg" "$run/pgsock"
    echo adminpw >"$run/pg/pw" && chown postgres "$run/pg/pw" && chmod 600 "$run/pg/pw"
    as_postgres "$bin/initdb -D $run/pg/$name -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile=$run/pg/pw -E UTF8 --locale=C.UTF-8" >"$run/pg/initdb.log" 2>&1 ||
        { tail -5 "$run/pg/initdb.log" >&2; die "initdb failed"; }
    # fsync=off: a throwaway test cluster (never in production).
    printf "%s\n" "listen_addresses='127.0.0.1'" "port=${database_port[$name]}" "unix_socket_directories='$run/pgsock'" \
        "wal_level=replica" "max_wal_senders=5" "max_replication_slots=5" "hot_standby=on" \
        "fsync=off" "max_connections=300" >>"$run/pg/$name/postgresql.conf"
    echo "host replication replicator 127.0.0.1/32 scram-sha-256" >>"$run/pg/$name/pg_hba.conf"
    as_postgres "$bin/pg_ctl -D $run/pg/$name -l $run/pg/$name.log -w start" >/dev/null ||
        { tail -5 "$run/pg/$name.log" >&2; die "the primary did not start (port ${database_port[$name]})"; }
    pg_psql "$name" -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE shop LOGIN CREATEDB PASSWORD 'shoppw'" \
        -c "CREATE DATABASE shop OWNER shop" \
        -c "CREATE ROLE replicator REPLICATION LOGIN PASSWORD 'replpw'" >/dev/null
}

pg_start_replica() { # NAME PRIMARY: a fresh base backup with -R (standby.signal) and a slot
    local name=$1 from=$2 bin
    bin=$(pg_bin)
    rm -rf "${run:?}/pg/$name"
    pg_psql "$from" -c "SELECT pg_drop_replication_slot('$name') FROM pg_replication_slots WHERE slot_name = '$name'" >/dev/null
    as_postgres "PGPASSWORD=replpw $bin/pg_basebackup -h 127.0.0.1 -p ${database_port[$from]} -U replicator \
        -D $run/pg/$name -R -X stream -c fast -C -S $name" >"$run/pg/basebackup.log" 2>&1 ||
        { tail -5 "$run/pg/basebackup.log" >&2; die "pg_basebackup failed"; }
    echo "port=${database_port[$name]}" >>"$run/pg/$name/postgresql.conf"
    as_postgres "$bin/pg_ctl -D $run/pg/$name -l $run/pg/$name.log -w start" >/dev/null ||
        { tail -5 "$run/pg/$name.log" >&2; die "the standby did not start (port ${database_port[$name]})"; }
    # Synchronous replication from now on, as RDS Multi-AZ: a commit returns once the standby
    # has it. (Set on the primary only: once promoted, the standby has nobody to wait for.)
    pg_psql "$from" -v ON_ERROR_STOP=1 \
        -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
    local state=
    for _ in $(seq 1 100); do
        state=$(pg_psql "$from" -tA -c "SELECT state || '/' || sync_state FROM pg_stat_replication" 2>/dev/null || true)
        [ "$state" = streaming/sync ] && break
        sleep 0.1
    done
    [ "$state" = streaming/sync ] || die "the standby is not streaming synchronously ($state; see $run/pg/$name.log)"
}

pg_role() {
    local r
    r=$(pg_psql "$1" -tA -c "SELECT pg_is_in_recovery()" 2>/dev/null) || { echo down; return; }
    [ "$r" = f ] && echo primary || echo replica
}

pg_promote() {
    as_postgres "$(pg_bin)/pg_ctl -D $run/pg/$1 -w -t 30 promote" >/dev/null ||
        die "pg_ctl promote failed (see $run/pg/$1.log)"
}

# MariaDB: binary logs with GTIDs on both, the replica read-only and replicating from the
# primary's GTID position; semi-synchronous (AFTER_SYNC): a commit returns once the replica
# has it in its relay log, so an acknowledged order survives the primary's crash.
maria() { # NAME ARGS...: as root over the unix socket
    local sock=$run/maria/$1.sock
    shift
    mariadb --socket="$sock" -uroot -N -B "$@"
}

maria_start() { # NAME read_only(ON|OFF)
    local name=$1 read_only=$2
    mkdir -p "$run/maria"
    if [ ! -d "$run/maria/$name" ]; then
        mariadb-install-db --user=root --datadir="$run/maria/$name" --auth-root-authentication-method=socket \
            --skip-test-db >"$run/maria/$name-install.log" 2>&1 ||
            { tail -5 "$run/maria/$name-install.log" >&2; die "mariadb-install-db failed"; }
    fi
    # innodb_flush_log_at_trx_commit=2 and sync_binlog=0: a throwaway test cluster (never in
    # production). skip-name-resolve and the high max_connect_errors: HAProxy's health checks.
    mariadbd --no-defaults --user=root --datadir="$run/maria/$name" --socket="$run/maria/$name.sock" \
        --pid-file="$run/maria/$name.pid" --bind-address=127.0.0.1 --port="${database_port[$name]}" \
        --log-error="$run/maria/$name.log" --server-id="$(server_id "$name")" --log-bin="$name-bin" \
        --log-slave-updates --binlog-format=ROW --gtid-strict-mode=ON --read-only="$read_only" \
        --rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-timeout=5000 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci --max-connections=300 \
        --max-connect-errors=1000000 --skip-name-resolve --innodb-flush-log-at-trx-commit=2 \
        --sync-binlog=0 --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
    for _ in $(seq 1 100); do
        mariadb-admin --socket="$run/maria/$name.sock" ping >/dev/null 2>&1 && maria_pid "$name" >/dev/null && return
        sleep 0.1
    done
    tail -5 "$run/maria/$name.log" >&2
    die "MariaDB $name did not start (port ${database_port[$name]})"
}

maria_start_primary() {
    maria_start "$1" OFF
    # Written to the binary log, so the replica makes the same accounts.
    maria "$1" -e "CREATE DATABASE shop CHARACTER SET utf8mb4;
        CREATE USER 'shop'@'%' IDENTIFIED BY 'shoppw'; GRANT ALL ON shop.* TO 'shop'@'%';
        CREATE USER 'replicator'@'127.0.0.1' IDENTIFIED BY 'replpw';
        GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN ON *.* TO 'replicator'@'127.0.0.1';
        CREATE USER 'haproxy'@'127.0.0.1';" || die "could not create the accounts on $1"
}

# A replica of PRIMARY from its GTID position: a fresh server replays the primary's whole
# binary log; a former primary (stopped cleanly, all it committed already on the replica
# that replaced it) continues from its own last transaction (current_pos).
maria_start_replica() { # NAME PRIMARY
    local name=$1 from=$2
    maria_pid "$name" >/dev/null || maria_start "$name" ON
    maria "$name" -e "SET GLOBAL read_only = ON; SET GLOBAL rpl_semi_sync_master_enabled = OFF;
        SET GLOBAL rpl_semi_sync_slave_enabled = ON; STOP SLAVE; RESET SLAVE ALL;
        CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${database_port[$from]},
            MASTER_USER = 'replicator', MASTER_PASSWORD = 'replpw', MASTER_USE_GTID = current_pos;
        START SLAVE;" || die "could not make $name a replica of $from"
    maria "$from" -e "SET GLOBAL rpl_semi_sync_master_enabled = ON" || die "semi-sync on $from"
    local state=
    for _ in $(seq 1 100); do
        state=$(maria "$from" -e "SHOW GLOBAL STATUS WHERE Variable_name IN
            ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients')" 2>/dev/null | awk '{print $2}' | paste -sd/)
        [ "$state" = 1/ON ] && break
        sleep 0.1
    done
    [ "$state" = 1/ON ] || die "$name is not a semi-synchronous replica of $from (clients/status: $state; see $run/maria/$name.log)"
}

maria_role() {
    local r
    r=$(maria "$1" -e "SELECT @@read_only" 2>/dev/null) || { echo down; return; }
    [ "$r" = 0 ] && echo primary || echo replica
}

# Applies every transaction the replica received, then stops replicating and takes writes.
maria_promote() {
    local name=$1 received
    maria "$name" -e "STOP SLAVE IO_THREAD" || die "STOP SLAVE IO_THREAD on $name failed"
    received=$(maria "$name" -e "SHOW SLAVE STATUS\G" | awk -F': ' '$1 ~ /Gtid_IO_Pos$/ {print $2}')
    [ "$(maria "$name" -e "SELECT MASTER_GTID_WAIT('$received', 30)")" = 0 ] ||
        die "$name did not apply what it received ($received)"
    maria "$name" -e "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL rpl_semi_sync_slave_enabled = OFF;
        SET GLOBAL read_only = OFF" || die "could not promote $name"
}

maria_stop() { # NAME fast|crash
    local pid
    pid=$(maria_pid "$1") || return 0
    if [ "$2" = crash ]; then
        kill -KILL "$pid"
    else
        kill -TERM "$pid"
    fi
    wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
}

# The same steps for either engine.
start_databases() {
    echo db1 >"$run/primary"
    if [ "$(engine)" = mariadb ]; then
        maria_start_primary db1
        log "MariaDB primary db1 on 127.0.0.1:${database_port[db1]}"
        maria_start_replica db2 db1
        log "MariaDB replica db2 on 127.0.0.1:${database_port[db2]}, semi-synchronous, GTID"
    else
        pg_start_primary db1
        log "PostgreSQL primary db1 on 127.0.0.1:${database_port[db1]}"
        pg_start_replica db2 db1
        log "PostgreSQL standby db2 on 127.0.0.1:${database_port[db2]}, streaming synchronously from db1"
    fi
}

database_role() { if [ "$(engine)" = mariadb ]; then maria_role "$1"; else pg_role "$1"; fi; }

stop_database() { # NAME fast|immediate|crash
    local name=$1 mode=$2 pid
    if [ "$(engine)" = mariadb ]; then
        maria_stop "$name" "$mode"
    elif pid=$(pg_pid "$name"); then
        if [ "$mode" = crash ]; then
            kill -KILL "$pid"
            wait_gone "$pid" 10 || true
        else
            as_postgres "$(pg_bin)/pg_ctl -D $run/pg/$name -m $mode -w -t 30 stop" >/dev/null 2>&1 || true
        fi
    fi
}

promote_database() { if [ "$(engine)" = mariadb ]; then maria_promote "$1"; else pg_promote "$1"; fi; }

start_replica_of() { # NAME PRIMARY
    if [ "$(engine)" = mariadb ]; then maria_start_replica "$1" "$2"; else pg_start_replica "$1" "$2"; fi
}

# --- moto's S3 --------------------------------------------------------------------------

start_s3() {
    S3_PORT=$s3_port "$repo/scripts/s3.sh" start "$run/s3" >/dev/null
    curl -fsS -X PUT "http://127.0.0.1:$s3_port/$bucket" -o /dev/null || die "could not create the bucket"
    log "moto's S3 on 127.0.0.1:$s3_port, bucket $bucket"
}

# --- HAProxy ----------------------------------------------------------------------------

write_haproxy_config() {
    local servers= db_check=
    # A MariaDB server counts a connection that closes before its handshake as an error
    # (and blocks the address after max_connect_errors): check it with a login instead.
    [ "$(engine)" = mariadb ] && db_check="    option mysql-check user haproxy post-41"
    for name in "${instances[@]}"; do
        # The zone is only a label here: a1 stands for zone a, b1 and b2 for zone b.
        servers+="    server $name 127.0.0.1:${instance_port[$name]}  # zone ${instance_zone[$name]}"$'\n'
    done
    cat >"$run/haproxy.cfg" <<EOF
# Generated by deploy/local/cluster.sh: the ALB and RDS endpoint of the AWS deployment,
# played by HAProxy on loopback.
global
    log stdout format raw local0 info
    stats socket $run/haproxy.sock mode 600 level admin
    maxconn 4096

defaults
    log global
    timeout connect 1s
    timeout client 30s
    # Longer than the app's REQUEST_TIMEOUT_SECS (15), so the app answers first.
    timeout server 20s
    timeout check 1s
    timeout queue 2s
    # A request whose connection to a server failed is tried twice more, each time on
    # another server ("redispatch 1"; plain "option redispatch" moves only the last retry).
    retries 2
    option redispatch 1

frontend shop
    mode http
    bind 127.0.0.1:$lb_port
    option httplog
    # X-Forwarded-For (the client) and X-Forwarded-Proto, as the ALB sets them.
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    default_backend app

backend app
    mode http
    balance roundrobin
    # The ALB target group's health check: the shallow /healthz, which turns 503 as soon
    # as an instance is told to drain. Checked every 500 ms: down after 2 failures (~1 s),
    # up again after 1 success.
    option httpchk GET /healthz
    http-check expect status 200
    option log-health-checks
    default-server check inter 500ms fall 2 rise 1
    # Layer-7 retries (beyond a failed connection): a server that closed without an answer
    # (killed) or did not answer in time. HAProxy applies retry-on to every method, POST
    # included, so the next line keeps them to GET and HEAD (METH_GET matches both).
    # A POST still gets the conn-failure retry: its request was never sent.
    retry-on conn-failure empty-response response-timeout
    http-request disable-l7-retry unless METH_GET
$servers
listen stats
    mode http
    bind 127.0.0.1:$stats_port
    stats enable
    stats uri /
    stats refresh 2s
    stats show-legends

# The database address the apps use (RDS's endpoint name): the primary only. The replica
# is in maintenance ("disabled") until cluster.sh failover has promoted it; the failover puts
# the old primary in maintenance at once, as RDS's DNS stops naming it, so in between
# the address leads nowhere and connections fail at once.
listen db
    mode tcp
    bind 127.0.0.1:$db_port
    option tcplog
$db_check
    timeout client 30m
    timeout server 30m
    default-server check inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
    server db1 127.0.0.1:${database_port[db1]}
    server db2 127.0.0.1:${database_port[db2]} disabled
EOF
}

start_haproxy() {
    write_haproxy_config
    haproxy -c -q -f "$run/haproxy.cfg" || die "haproxy -c rejected $run/haproxy.cfg"
    haproxy -db -f "$run/haproxy.cfg" >>"$run/haproxy.log" 2>&1 &
    echo $! >"$run/haproxy.pid"
    for _ in $(seq 1 50); do
        [ -S "$run/haproxy.sock" ] && curl -fs "http://127.0.0.1:$stats_port/;csv" >/dev/null && break
        sleep 0.1
    done
    haproxy_pid >/dev/null || { tail -5 "$run/haproxy.log" >&2; die "HAProxy did not start"; }
    log "HAProxy: shop on 127.0.0.1:$lb_port, stats on 127.0.0.1:$stats_port, database address 127.0.0.1:$db_port"
}

# --- app instances ----------------------------------------------------------------------

binary() {
    [ -f "$run/binary" ] || die "no cluster here ($run): run up first"
    cat "$run/binary"
}

# The binary an instance runs: the one `upgrade` gave it, else the cluster's.
instance_binary() {
    if [ -f "$run/app/$1.binary" ]; then cat "$run/app/$1.binary"; else binary; fi
}

start_instance() {
    local name=$1 bin db_url
    [ -n "${instance_port[$name]:-}" ] || die "no instance $name (a1, b1, b2)"
    if instance_pid "$name" >/dev/null; then
        log "$name already runs"
        return
    fi
    bin=$(instance_binary "$name")
    db_url=$(db_url)
    mkdir -p "$run/app/$name"
    echo "---- start $(date -u +%FT%TZ)" >>"$run/app/$name.log"
    # Load tests register every shopper from this one address: registrations are not
    # throttled here unless the caller says otherwise.
    env INSTANCE_ID="$name" DATABASE_URL="$db_url" STORAGE_URL="s3://$bucket/pictures" \
        S3_ENDPOINT="http://127.0.0.1:$s3_port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        AWS_REGION=us-east-1 BEHIND_PROXY=true NO_COLOR=1 DRAIN_TIMEOUT_SECS="$drain_secs" \
        RATE_LIMIT_REGISTRATIONS_PER_HOUR="${RATE_LIMIT_REGISTRATIONS_PER_HOUR:-100000}" \
        "$bin" --data-dir "$run/app/$name" --database-url "$db_url" --s3-endpoint "http://127.0.0.1:$s3_port" \
        serve --listen "127.0.0.1:${instance_port[$name]}" --instance-id "$name" \
        --storage-url "s3://$bucket/pictures" --public-url "$lb_url" --behind-proxy \
        --drain-timeout-secs "$drain_secs" >>"$run/app/$name.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$run/app/$name.pid"
    # Until the forked shell has exec'd the binary, the PID's command line is this script's:
    # wait for the exec, so that instance_pid recognises the instance from now on.
    for _ in $(seq 1 100); do
        instance_pid "$name" >/dev/null && return
        [ -d "/proc/$pid" ] || break
        sleep 0.05
    done
    instance_pid "$name" >/dev/null || { tail -5 "$run/app/$name.log" >&2; die "$name did not start"; }
}

wait_ready() { # NAME SECONDS
    local name=$1 deadline=$((SECONDS + $2))
    until curl -fs "http://127.0.0.1:${instance_port[$name]}/readyz" >/dev/null 2>&1; do
        if ! instance_pid "$name" >/dev/null; then
            tail -5 "$run/app/$name.log" >&2
            die "$name exited (log: $run/app/$name.log)"
        fi
        ((SECONDS < deadline)) || die "$name not ready after $2 s (log: $run/app/$name.log)"
        sleep 0.2
    done
}

# HAProxy's view of a server: UP, DOWN, MAINT, ... (the stats page's CSV).
lb_state() { # BACKEND SERVER
    local csv
    csv=$(curl -fs "http://127.0.0.1:$stats_port/;csv" 2>/dev/null) || { echo -; return 0; }
    awk -F, -v px="$1" -v sv="$2" '$1 == px && $2 == sv { print $18 }' <<<"$csv"
}

# The requests HAProxy has open on a server (the stats CSV's scur).
lb_sessions() { # BACKEND SERVER
    local csv
    csv=$(curl -fs "http://127.0.0.1:$stats_port/;csv" 2>/dev/null) || { echo -; return 0; }
    awk -F, -v px="$1" -v sv="$2" '$1 == px && $2 == sv { print $5 }' <<<"$csv"
}

wait_lb_state() { # BACKEND SERVER STATE SECONDS
    local deadline=$((SECONDS + $4))
    until [[ "$(lb_state "$1" "$2")" == "$3"* ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# --- commands ---------------------------------------------------------------------------

cmd_up() {
    local bin=$repo/target/debug/coffee-radar database=${CLUSTER_DATABASE:-postgres}
    while (($#)); do
        case $1 in
            --binary) bin=${2:?--binary PATH}; shift 2 ;;
            --binary=*) bin=${1#*=}; shift ;;
            --database) database=${2:?--database postgres|mariadb}; shift 2 ;;
            --database=*) database=${1#*=}; shift ;;
            *) die "unknown option for up: $1" ;;
        esac
    done
    case $database in
        postgres | mariadb) ;;
        *) die "--database is postgres or mariadb, not $database" ;;
    esac
    bin=$(realpath "$bin" 2>/dev/null) && [ -x "$bin" ] ||
        die "no app binary at ${bin}: build it first (cargo build, or cargo build --release with --binary target/release/coffee-radar)"
    if anything_running; then
        die "a cluster already runs from $run: run '$0 down' first"
    fi
    for port in $lb_port $stats_port $db_port "${database_port[@]}" $s3_port "${instance_port[@]}"; do
        port_taken "$port" && die "port $port on 127.0.0.1 is taken (set CLUSTER_BASE_PORT to move the cluster)"
    done
    local started=$SECONDS
    rm -rf "$run/pg" "$run/pgsock" "$run/maria" "$run/app" "$run/s3" "$run/haproxy."* "$run/primary"
    mkdir -p "$run/app"
    chmod 755 "$run" # the postgres user must reach its folders inside
    echo "$database" >"$run/database"
    ensure_tools
    echo "$bin" >"$run/binary"

    start_databases
    start_s3
    start_haproxy
    for name in "${instances[@]}"; do start_instance "$name"; done
    for name in "${instances[@]}"; do wait_ready "$name" 90; done
    for name in "${instances[@]}"; do
        wait_lb_state app "$name" UP 10 || die "HAProxy does not see $name up"
    done
    log "instances a1 (zone a), b1, b2 (zone b) ready: $(binary)"
    log "up in $((SECONDS - started)) s; run dir $run"
    echo "$lb_url"
}

anything_running() {
    haproxy_pid >/dev/null || moto_pid >/dev/null || database_pid db1 >/dev/null || database_pid db2 >/dev/null ||
        { for name in "${instances[@]}"; do instance_pid "$name" >/dev/null && return 0; done; return 1; }
}

cmd_down() {
    local pids=() pid
    for name in "${instances[@]}"; do
        if pid=$(instance_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for pid in "${pids[@]}"; do
        wait_gone "$pid" $((drain_secs + 10)) || kill -KILL "$pid" 2>/dev/null || true
    done
    if pid=$(haproxy_pid); then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
    fi
    if pid=$(moto_pid); then
        "$repo/scripts/s3.sh" stop "$run/s3" >/dev/null 2>&1 || true
        wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
    fi
    stop_database db1 immediate
    stop_database db2 immediate
    rm -f "$run/haproxy.sock"
    if anything_running; then
        die "something still runs: see '$0 status'"
    fi
    log "down (logs and data stay in $run)"
}

cmd_status() {
    [ -d "$run" ] || { echo "no cluster in $run"; return; }
    local pid state
    printf '%-13s %-18s %-8s %s\n' NAME ADDRESS PID STATE
    if pid=$(haproxy_pid); then state=running; else pid=-; state=stopped; fi
    printf '%-13s %-18s %-8s %s\n' haproxy "127.0.0.1:$lb_port" "$pid" "$state (stats http://127.0.0.1:$stats_port/, db 127.0.0.1:$db_port)"
    for name in "${instances[@]}"; do
        if pid=$(instance_pid "$name"); then
            state=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${instance_port[$name]}/healthz" 2>/dev/null || true)
            state="running, /healthz $state"
        else
            pid=-; state=stopped
        fi
        state+=", zone ${instance_zone[$name]}, load balancer: $(lb_state app "$name" || true)"
        printf '%-13s %-18s %-8s %s\n' "$name" "127.0.0.1:${instance_port[$name]}" "$pid" "$state"
    done
    for name in "${databases[@]}"; do
        if pid=$(database_pid "$name"); then state="running as $(database_role "$name")"; else pid=-; state=stopped; fi
        state+=", database address: $(lb_state db "$name" || true)"
        printf '%-13s %-18s %-8s %s\n' "$(engine)-$name" "127.0.0.1:${database_port[$name]}" "$pid" "$state"
    done
    if pid=$(moto_pid); then state=running; else pid=-; state=stopped; fi
    printf '%-13s %-18s %-8s %s\n' s3 "127.0.0.1:$s3_port" "$pid" "$state (bucket $bucket)"
    echo "load balancer: $lb_url"
}

cmd_kill() {
    local name=${1:?kill NAME (a1, b1, b2)} pid
    pid=$(instance_pid "$name") || die "$name does not run"
    kill -KILL "$pid"
    wait_gone "$pid" 5 || true
    log "$name (pid $pid) killed with SIGKILL"
}

cmd_stop() {
    local name=${1:?stop NAME (a1, b1, b2)} pid t0=$SECONDS
    pid=$(instance_pid "$name") || die "$name does not run"
    kill -TERM "$pid"
    log "$name (pid $pid) sent SIGTERM: draining for ${drain_secs} s"
    if ! wait_gone "$pid" $((drain_secs + 30)); then
        die "$name did not exit within $((drain_secs + 30)) s of SIGTERM"
    fi
    log "$name exited after $((SECONDS - t0)) s; load balancer: $(lb_state app "$name")"
}

cmd_start() {
    local name=${1:?start NAME (a1, b1, b2)} t0=$SECONDS
    haproxy_pid >/dev/null || die "the cluster is not up"
    start_instance "$name"
    wait_ready "$name" 60
    wait_lb_state app "$name" UP 10 || log "warning: HAProxy does not see $name up yet"
    log "$name ready after $((SECONDS - t0)) s; load balancer: $(lb_state app "$name")"
}

# One step of a rolling upgrade, as the Auto Scaling group's instance refresh takes it with
# the target group's deregistration delay: HAProxy sends NAME no new request (drain) and its
# open ones finish, the instance stops (SIGTERM, its own drain), the binary at PATH starts
# on the same port and migrates the database if it brings migrations, and once ready
# HAProxy sends it requests again. The instance keeps PATH from now on (start, kill).
cmd_upgrade() {
    local name=${1:?upgrade NAME --binary PATH} bin= pid t0=$SECONDS deadline
    shift
    while (($#)); do
        case $1 in
            --binary) bin=${2:?--binary PATH}; shift 2 ;;
            *) die "unknown option for upgrade: $1" ;;
        esac
    done
    bin=$(realpath "${bin:?upgrade needs --binary PATH}" 2>/dev/null) && [ -x "$bin" ] || die "no app binary at $bin"
    haproxy_pid >/dev/null || die "the cluster is not up"
    pid=$(instance_pid "$name") || die "$name does not run"
    haproxy_cmd "set server app/$name state drain" >/dev/null
    deadline=$((SECONDS + drain_secs + 10))
    until [ "$(lb_sessions app "$name")" = 0 ]; do
        ((SECONDS < deadline)) || die "$name still has requests open $((drain_secs + 10)) s after the drain began"
        sleep 0.1
    done
    log "$name drained by the load balancer; stopping it (pid $pid)"
    kill -TERM "$pid"
    wait_gone "$pid" $((drain_secs + 30)) || die "$name did not exit within $((drain_secs + 30)) s of SIGTERM"
    echo "$bin" >"$run/app/$name.binary"
    start_instance "$name"
    wait_ready "$name" 60
    haproxy_cmd "set server app/$name state ready" >/dev/null
    wait_lb_state app "$name" UP 10 || die "HAProxy does not see $name up after its upgrade"
    log "$name upgraded to $bin in $((SECONDS - t0)) s; load balancer: $(lb_state app "$name")"
}

# The RDS Multi-AZ failover: the primary goes away (stopped, or with --crash SIGKILLed, as
# its host would be lost), the address leads nowhere for --away seconds (RDS takes a minute
# or two), then the replica is promoted and the address names it.
cmd_failover() {
    local mode=fast away=0
    while (($#)); do
        case $1 in
            --crash) mode=crash; shift ;;
            --away) away=${2:?--away SECS}; shift 2 ;;
            *) die "unknown option for failover: $1" ;;
        esac
    done
    fail_over "$mode" "$away"
}

fail_over() { # fast|crash AWAY_SECS [INSTANCE...]: the instances are SIGKILLed with the primary
    local mode=$1 away=$2 old new t0 pids=() pid
    shift 2
    old=$(primary) new=$(other_database "$(primary)")
    database_pid "$old" >/dev/null || die "the primary $old does not run"
    database_pid "$new" >/dev/null || die "the replica $new does not run (run rejoin first)"
    t0=$(date +%s.%N)
    # 1. The primary goes away (as an RDS primary's host would), with the given instances.
    for name in "$@"; do
        pid=$(instance_pid "$name") || die "$name does not run"
        pids+=("$pid")
    done
    if [ "$mode" = crash ]; then
        kill -KILL "${pids[@]}" "$(database_pid "$old")"
        for pid in "${pids[@]}"; do wait_gone "$pid" 5 || true; done
        log "SIGKILL at once to ${*:+$* and }the primary $old"
    fi
    stop_database "$old" "$mode"
    # 2. RDS's DNS name stops naming it: new connections to the address fail at once.
    haproxy_cmd "set server db/$old state maint" >/dev/null
    haproxy_cmd "shutdown sessions server db/$old" >/dev/null
    log "primary $old stopped ($mode); the database address leads nowhere for $away s"
    sleep "$away"
    # 3. The replica becomes the primary, and the address names it.
    promote_database "$new"
    [ "$(database_role "$new")" = primary ] || die "$new did not become a primary"
    echo "$new" >"$run/primary"
    haproxy_cmd "set server db/$new state ready" >/dev/null
    wait_lb_state db "$new" UP 10 || die "HAProxy does not send database connections to $new"
    log "replica $new promoted; database address 127.0.0.1:$db_port leads to it ($(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }') s after the failover began)"
}

# The old primary, stopped by a failover, comes back as the replica of the new one (it stays
# out of the database address), so that the cluster can fail over again.
cmd_rejoin() {
    local new old t0=$SECONDS
    new=$(primary) old=$(other_database "$(primary)")
    database_pid "$new" >/dev/null || die "the primary $new does not run"
    database_pid "$old" >/dev/null && die "$old runs already"
    start_replica_of "$old" "$new"
    log "$old is the replica of $new again ($(engine), $((SECONDS - t0)) s)"
}

# A whole availability zone goes dark: its instances (a1) and the primary database (the
# seed puts the master in us-east-1a) get SIGKILL at once; the replica in zone b takes over.
cmd_zone_loss() {
    local away=0 zone_a=()
    while (($#)); do
        case $1 in
            --away) away=${2:?--away SECS}; shift 2 ;;
            *) die "unknown option for zone-loss: $1" ;;
        esac
    done
    for name in "${instances[@]}"; do
        [ "${instance_zone[$name]}" = a ] && zone_a+=("$name")
    done
    fail_over crash "$away" "${zone_a[@]}"
}

# --- the dependencies misbehaving: the object store away, the database slow ---------------

# The object store goes away: moto's server is stopped, so connections to it are refused.
cmd_s3_stop() {
    local pid
    pid=$(moto_pid) || die "the object store does not run"
    kill -TERM "$pid"
    wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    log "object store (moto, pid $pid) stopped"
}

# It comes back, with the bucket made again (moto keeps objects in memory: earlier ones are
# gone, as after a bucket restored empty).
cmd_s3_start() {
    moto_pid >/dev/null && die "the object store runs already"
    start_s3
}

cmd_primary_address() { echo "127.0.0.1:${database_port[$(primary)]}"; }

# The database address leads through a proxy (HOST:PORT, which forwards to the primary
# itself; see primary-address), as a slow network between the instances and RDS would sit
# there. The health checks keep going to the primary directly, so a slow proxy does not take
# the address down; connections open before are cut, so every new one goes through.
cmd_database_through() {
    local to=${1:?database-through HOST:PORT} name
    [[ "$to" =~ ^(127\.[0-9.]+):([0-9]+)$ ]] || die "database-through wants a loopback HOST:PORT, not $to"
    name=$(primary)
    haproxy_cmd "set server db/$name check-port ${database_port[$name]}" >/dev/null
    haproxy_cmd "set server db/$name addr ${BASH_REMATCH[1]} port ${BASH_REMATCH[2]}" >/dev/null
    haproxy_cmd "shutdown sessions server db/$name" >/dev/null
    log "database address 127.0.0.1:$db_port leads to $name through $to"
}

cmd_database_direct() {
    local name
    name=$(primary)
    haproxy_cmd "set server db/$name addr 127.0.0.1 port ${database_port[$name]}" >/dev/null
    haproxy_cmd "shutdown sessions server db/$name" >/dev/null
    log "database address 127.0.0.1:$db_port leads straight to $name again"
}

cmd_instances() {
    local name pid
    for name in "${instances[@]}"; do
        pid=$(instance_pid "$name") || pid=-
        echo "$name 127.0.0.1:${instance_port[$name]} $pid"
    done
}

action=${1:-}
[ $# -gt 0 ] && shift
case $action in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kill) cmd_kill "$@" ;;
    stop) cmd_stop "$@" ;;
    start) cmd_start "$@" ;;
    failover) cmd_failover "$@" ;;
    rejoin) cmd_rejoin ;;
    upgrade) cmd_upgrade "$@" ;;
    zone-loss) cmd_zone_loss "$@" ;;
    s3-stop) cmd_s3_stop ;;
    s3-start) cmd_s3_start ;;
    primary-address) cmd_primary_address ;;
    database-through) cmd_database_through "$@" ;;
    database-direct) cmd_database_direct ;;
    instances) cmd_instances ;;
    url) echo "$lb_url" ;;
    database-url) db_url ;;
    *)
        sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'
        [ -z "$action" ] || [ "$action" = help ] || [ "$action" = -h ] || [ "$action" = --help ] || exit 2
        ;;
esac
