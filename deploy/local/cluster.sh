#!/usr/bin/env bash
# A production-shaped Coffee Radar on loopback, in one command:
#
#   HAProxy (the ALB)  ──>  a1 (zone a), b1, b2 (zone b)   three app instances
#        │                       │
#        └── db address ─────────┴──> PostgreSQL primary  ──streaming──>  standby
#                                      moto's S3 server (pictures)
#
#   deploy/local/cluster.sh up [--binary PATH]   # start everything, wait until ready
#   deploy/local/cluster.sh down                 # stop everything (logs stay in the run dir)
#   deploy/local/cluster.sh status               # processes, HAProxy's view, database roles
#   deploy/local/cluster.sh kill NAME            # SIGKILL an app instance (a1, b1, b2)
#   deploy/local/cluster.sh stop NAME            # SIGTERM an instance and wait while it drains
#   deploy/local/cluster.sh start NAME           # start an instance again, wait for /readyz
#   deploy/local/cluster.sh failover             # stop the primary, promote the standby, re-point
#   deploy/local/cluster.sh url                  # the load balancer's URL
#   deploy/local/cluster.sh database-url         # the database address the apps use
#
# Everything listens on 127.0.0.1 only, on ports CLUSTER_BASE_PORT (18100) + offsets, and
# keeps its state (PIDs, logs, data) under CLUSTER_DIR (default: target/cluster).
# deploy/local/README.md describes the ports and each command.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
run=$(realpath -m "${CLUSTER_DIR:-$repo/target/cluster}")
base=${CLUSTER_BASE_PORT:-18100}

lb_port=$((base + 0))      # HAProxy: the shop (the ALB's listener)
stats_port=$((base + 1))   # HAProxy: stats page
db_port=$((base + 10))     # HAProxy: the database address (RDS's endpoint name)
primary_port=$((base + 11))
standby_port=$((base + 12))
s3_port=$((base + 20))
instances=(a1 b1 b2)
declare -A instance_port=([a1]=$((base + 31)) [b1]=$((base + 32)) [b2]=$((base + 33)))
declare -A instance_zone=([a1]=a [b1]=b [b2]=b)

drain_secs=${CLUSTER_DRAIN_SECS:-3}
bucket=coffee-radar
db_url="postgres://shop:shoppw@127.0.0.1:$db_port/shop"
lb_url="http://127.0.0.1:$lb_port"

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
    [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# --- PostgreSQL primary + streaming standby -----------------------------------------------

start_databases() {
    local bin
    bin=$(pg_bin)
    id postgres >/dev/null 2>&1 || useradd --system --home "$run/pg" postgres
    mkdir -p "$run/pg" "$run/pgsock"
    chown postgres:postgres "$run/pg" "$run/pgsock"
    echo adminpw >"$run/pg/pw" && chown postgres "$run/pg/pw" && chmod 600 "$run/pg/pw"
    as_postgres "$bin/initdb -D $run/pg/primary -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile=$run/pg/pw -E UTF8 --locale=C.UTF-8" >"$run/pg/initdb.log" 2>&1 ||
        { tail -5 "$run/pg/initdb.log" >&2; die "initdb failed"; }
    # fsync=off: a throwaway test cluster (never in production).
    printf "%s\n" "listen_addresses='127.0.0.1'" "port=$primary_port" "unix_socket_directories='$run/pgsock'" \
        "wal_level=replica" "max_wal_senders=5" "max_replication_slots=5" "hot_standby=on" \
        "fsync=off" "max_connections=300" >>"$run/pg/primary/postgresql.conf"
    echo "host replication replicator 127.0.0.1/32 scram-sha-256" >>"$run/pg/primary/pg_hba.conf"
    as_postgres "$bin/pg_ctl -D $run/pg/primary -l $run/pg/primary.log -w start" >/dev/null ||
        { tail -5 "$run/pg/primary.log" >&2; die "the primary did not start (port $primary_port)"; }
    psql -h "$run/pgsock" -p "$primary_port" -U postgres -qX -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE shop LOGIN CREATEDB PASSWORD 'shoppw'" \
        -c "CREATE DATABASE shop OWNER shop" \
        -c "CREATE ROLE replicator REPLICATION LOGIN PASSWORD 'replpw'" >/dev/null
    log "PostgreSQL primary on 127.0.0.1:$primary_port"

    # The standby: a base backup with -R (standby.signal + primary_conninfo) and its own slot.
    as_postgres "PGPASSWORD=replpw $bin/pg_basebackup -h 127.0.0.1 -p $primary_port -U replicator \
        -D $run/pg/standby -R -X stream -c fast -C -S standby" >"$run/pg/basebackup.log" 2>&1 ||
        { tail -5 "$run/pg/basebackup.log" >&2; die "pg_basebackup failed"; }
    echo "port=$standby_port" >>"$run/pg/standby/postgresql.conf"
    as_postgres "$bin/pg_ctl -D $run/pg/standby -l $run/pg/standby.log -w start" >/dev/null ||
        { tail -5 "$run/pg/standby.log" >&2; die "the standby did not start (port $standby_port)"; }
    # Synchronous replication from now on, as RDS Multi-AZ: a commit returns once the standby
    # has it. (Set on the primary only: once promoted, the standby has nobody to wait for.)
    psql -h "$run/pgsock" -p "$primary_port" -U postgres -qX -v ON_ERROR_STOP=1 \
        -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
    local state=
    for _ in $(seq 1 100); do
        state=$(psql -h "$run/pgsock" -p "$primary_port" -U postgres -qtAX \
            -c "SELECT state || '/' || sync_state FROM pg_stat_replication" 2>/dev/null || true)
        [ "$state" = streaming/sync ] && break
        sleep 0.1
    done
    [ "$state" = streaming/sync ] || die "the standby is not streaming synchronously ($state; see $run/pg/standby.log)"
    log "PostgreSQL standby on 127.0.0.1:$standby_port, streaming synchronously from the primary"
}

stop_database() { # primary|standby [mode]
    local name=$1 mode=${2:-fast}
    if pg_pid "$name" >/dev/null; then
        as_postgres "$(pg_bin)/pg_ctl -D $run/pg/$name -m $mode -w -t 30 stop" >/dev/null 2>&1 || true
    fi
}

# Whether a database server answers and is a primary (f) or in recovery (t).
pg_role() {
    local port=$1 r
    r=$(psql -h "$run/pgsock" -p "$port" -U postgres -qtAX -c "SELECT pg_is_in_recovery()" 2>/dev/null) ||
        { echo down; return; }
    [ "$r" = f ] && echo primary || echo standby
}

# --- moto's S3 --------------------------------------------------------------------------

start_s3() {
    S3_PORT=$s3_port "$repo/scripts/s3.sh" start "$run/s3" >/dev/null
    curl -fsS -X PUT "http://127.0.0.1:$s3_port/$bucket" -o /dev/null || die "could not create the bucket"
    log "moto's S3 on 127.0.0.1:$s3_port, bucket $bucket"
}

# --- HAProxy ----------------------------------------------------------------------------

write_haproxy_config() {
    local servers=
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

# The database address the apps use (RDS's endpoint name): the primary, with the standby as
# a backup server that gets connections only when the primary is down. cluster.sh failover
# also puts the old primary in maintenance, as RDS's DNS stops naming it.
listen db
    mode tcp
    bind 127.0.0.1:$db_port
    option tcplog
    timeout client 30m
    timeout server 30m
    default-server check inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
    server primary 127.0.0.1:$primary_port
    server standby 127.0.0.1:$standby_port backup
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

start_instance() {
    local name=$1 bin
    [ -n "${instance_port[$name]:-}" ] || die "no instance $name (a1, b1, b2)"
    if instance_pid "$name" >/dev/null; then
        log "$name already runs"
        return
    fi
    bin=$(binary)
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

wait_lb_state() { # BACKEND SERVER STATE SECONDS
    local deadline=$((SECONDS + $4))
    until [[ "$(lb_state "$1" "$2")" == "$3"* ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# --- commands ---------------------------------------------------------------------------

cmd_up() {
    local bin=$repo/target/debug/coffee-radar
    while (($#)); do
        case $1 in
            --binary) bin=${2:?--binary PATH}; shift 2 ;;
            --binary=*) bin=${1#*=}; shift ;;
            *) die "unknown option for up: $1" ;;
        esac
    done
    bin=$(realpath "$bin" 2>/dev/null) && [ -x "$bin" ] ||
        die "no app binary at ${bin}: build it first (cargo build, or cargo build --release with --binary target/release/coffee-radar)"
    if anything_running; then
        die "a cluster already runs from $run: run '$0 down' first"
    fi
    for port in $lb_port $stats_port $db_port $primary_port $standby_port $s3_port "${instance_port[@]}"; do
        port_taken "$port" && die "port $port on 127.0.0.1 is taken (set CLUSTER_BASE_PORT to move the cluster)"
    done
    ensure_tools
    local started=$SECONDS
    rm -rf "$run/pg" "$run/pgsock" "$run/app" "$run/s3" "$run/haproxy."*
    mkdir -p "$run/app"
    chmod 755 "$run" # the postgres user must reach its folders inside
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
    haproxy_pid >/dev/null || moto_pid >/dev/null || pg_pid primary >/dev/null || pg_pid standby >/dev/null ||
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
    stop_database standby immediate
    stop_database primary immediate
    rm -f "$run/haproxy.sock"
    if anything_running; then
        die "something still runs: see '$0 status'"
    fi
    log "down (logs and data stay in $run)"
}

cmd_status() {
    [ -d "$run" ] || { echo "no cluster in $run"; return; }
    local pid state
    printf '%-11s %-18s %-8s %s\n' NAME ADDRESS PID STATE
    if pid=$(haproxy_pid); then state=running; else pid=-; state=stopped; fi
    printf '%-11s %-18s %-8s %s\n' haproxy "127.0.0.1:$lb_port" "$pid" "$state (stats http://127.0.0.1:$stats_port/, db 127.0.0.1:$db_port)"
    for name in "${instances[@]}"; do
        if pid=$(instance_pid "$name"); then
            state=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${instance_port[$name]}/healthz" 2>/dev/null || true)
            state="running, /healthz $state"
        else
            pid=-; state=stopped
        fi
        state+=", zone ${instance_zone[$name]}, load balancer: $(lb_state app "$name" || true)"
        printf '%-11s %-18s %-8s %s\n' "$name" "127.0.0.1:${instance_port[$name]}" "$pid" "$state"
    done
    for name in primary standby; do
        local port=$primary_port
        [ $name = standby ] && port=$standby_port
        if pid=$(pg_pid $name); then state="running as $(pg_role $port)"; else pid=-; state=stopped; fi
        state+=", database address: $(lb_state db $name || true)"
        printf '%-11s %-18s %-8s %s\n' "pg-$name" "127.0.0.1:$port" "$pid" "$state"
    done
    if pid=$(moto_pid); then state=running; else pid=-; state=stopped; fi
    printf '%-11s %-18s %-8s %s\n' s3 "127.0.0.1:$s3_port" "$pid" "$state (bucket $bucket)"
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

cmd_failover() {
    pg_pid primary >/dev/null || die "the primary does not run (failed over already?)"
    pg_pid standby >/dev/null || die "the standby does not run"
    local t0
    t0=$(date +%s.%N)
    # 1. The primary goes away (as an RDS primary's host would).
    stop_database primary fast
    log "primary stopped"
    # 2. The standby becomes the primary.
    as_postgres "$(pg_bin)/pg_ctl -D $run/pg/standby -w -t 30 promote" >/dev/null ||
        die "pg_ctl promote failed (see $run/pg/standby.log)"
    [ "$(pg_role "$standby_port")" = primary ] || die "the standby did not leave recovery"
    log "standby promoted"
    # 3. The database address names the new primary only: HAProxy's checks already send new
    # connections to the backup server; maintenance keeps them off the old primary for good,
    # as RDS's DNS record no longer names it.
    haproxy_cmd "set server db/primary state maint" >/dev/null
    wait_lb_state db standby UP 10 || die "HAProxy does not send database connections to the standby"
    log "database address 127.0.0.1:$db_port now leads to the promoted standby ($(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }') s)"
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
    failover) cmd_failover ;;
    url) echo "$lb_url" ;;
    database-url) echo "$db_url" ;;
    *)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        [ -z "$action" ] || [ "$action" = help ] || [ "$action" = -h ] || [ "$action" = --help ] || exit 2
        ;;
esac
