#!/bin/sh
# Fan-out benchmark: N simulated agents (mig-bench swarm) on the embedded shape (mig-server
# with its built-in relay and SQLite) and on the scale-out shape (mig-server api + scheduler,
# PostgreSQL, RabbitMQ); one action to all of them, measured. Results go to BENCHMARKS.md.
#
#   bench/swarm/run.sh [N ...]        default: 1000 10000
#
# MIG_BENCH_SHAPES="builtin" or "amqp" runs one shape; MIG_BENCH_JSON=file appends every
# measurement there as a JSON line; MIG_BENCH_LARGE_FLEET=0 keeps RabbitMQ's agent queues
# classic v1 (by default they are v2 where the broker's descriptor limit allows);
# MIG_BENCH_PER_CONNECTION sets how many simulated agents share an AMQP connection (100);
# MIG_BENCH_SCHEDULER_LOG=<RUST_LOG filter> logs the scheduler (e.g. mig_server=debug) and
# MIG_BENCH_KEEP_LOG=file keeps its log. Needs PostgreSQL and RabbitMQ as in .ci/run:
# MIG_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and a local
# rabbitmqctl (guest/guest on 5672).
set -eu
cd "$(dirname "$0")/../.."
sizes=${*:-1000 10000}
db=${MIG_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}

# MIG_BENCH_PROFILE=debug tries the script out on the debug build already there (figures
# meaningless).
profile=${MIG_BENCH_PROFILE:-release}
[ "$profile" != release ] || cargo build --release -q -p mig-server -p mig-bench
bin=target/$profile
work=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin/mig-bench" keygen --name "Bench <bench@example.com>" --dir "$work/inv" >/dev/null

# A data directory with the bench investigator as admin; prints its server.toml path.
platform() {
    data="$work/$1"
    "$bin/mig-server" init --data-dir "$data" --api-listen 127.0.0.1:18443 --relay-listen 127.0.0.1:14443 >/dev/null
    # The whole swarm registers at once: lift the new-agent rate limit.
    printf '\n[agents]\nnew_per_second = 1000000\nnew_burst = 1000000\n' >>"$data/server.toml"
    echo "$data/server.toml"
}

add_investigator() {
    "$bin/mig-server" --config "$1" investigator add --name Bench --key "$work/inv/investigator.pub.asc" --permission admin >/dev/null
}

wait_api() {
    i=0
    until curl -sk https://127.0.0.1:18443/api/v1/health >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 300 ] || { echo "the API did not start" >&2; exit 1; }
        sleep 0.1
    done
}

swarm() {
    data=$1; shift
    "$bin/mig-bench" swarm --agents "$n" --api https://127.0.0.1:18443 --api-ca "$data/pki/ca.pem" \
        --investigator-key "$work/inv/investigator.sec.asc" "$@"
}

echo "| shape | agents | launch → last result stored | the same, first action on new queues | results/s | server CPU during fan-out | server RSS after (peak) | heartbeats/s | all registered after |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
builtin() {
    conf=$(platform "builtin-$n")
    data=$(dirname "$conf")
    add_investigator "$conf"
    RUST_LOG=${MIG_BENCH_SCHEDULER_LOG:-warn} "$bin/mig-server" --config "$conf" run 2>"$data/server.log" &
    server=$!
    pids="$pids $server"
    wait_api
    swarm "$data" --relay wss://localhost:14443/ --ca "$data/pki/ca.pem" --cert "$data/pki/agent.pem" \
        --key "$data/pki/agent.key" --server-pid "$server" --label "built-in relay + SQLite" \
        2>&1 >"$work/builtin-$n.json" | tee "$work/swarm.err" | grep '^|' ||
        { cat "$work/swarm.err" "$data/server.log" >&2; exit 1; }
    grep '^swarm:' "$work/swarm.err" >&2 || true
    kill "$server"; wait "$server" 2>/dev/null || true
    [ -z "${MIG_BENCH_KEEP_LOG:-}" ] || cp "$data/server.log" "$MIG_BENCH_KEEP_LOG"
}

amqp() {
    conf=$(platform "amqp-$n")
    data=$(dirname "$conf")
    schema="mig_bench_$$_$n"
    # One vhost for every run, never deleted: deleting a vhost that held thousands of agent
    # queues can stall RabbitMQ 3.10's vhost supervisor for hours. The swarm deletes its
    # agents' queues itself; the schedulers' two queues are left empty.
    vhost="mig-bench"
    psql -q "$db" -c "CREATE SCHEMA $schema"
    timeout 30 rabbitmqctl -q list_vhosts | grep -qx "$vhost" || timeout 120 rabbitmqctl -q add_vhost "$vhost"
    timeout 120 rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*'
    # The broker tuned for a large fleet as docs/deploy.md says: classic queues v2 where its
    # file-descriptor limit allows them (large-fleet refuses otherwise, and says why).
    # MIG_BENCH_LARGE_FLEET=0 keeps v1 queues.
    queues="classic v1 queues"
    timeout 120 rabbitmqctl -q clear_policy -p "$vhost" mig-queues-v2 2>/dev/null || true
    if [ "${MIG_BENCH_LARGE_FLEET:-1}" = 1 ] &&
        timeout 120 sh deploy/rabbitmq-setup.sh --vhost "$vhost" large-fleet "$n" >/dev/null; then
        queues="classic v2 queues"
    fi
    # ('\&': a bare & in sed's replacement is the whole match.)
    sep='?'; case $db in *\?*) sep='\&' ;; esac
    sed -i "s|^\[database\]|[database]\nurl = \"$db${sep}options=-csearch_path%3D$schema\"|; s|^listen = \"127.0.0.1:14443\"|listen = \"\"\namqp_url = \"amqp://guest:guest@127.0.0.1:5672/$vhost\"|" "$conf"
    add_investigator "$conf"
    RUST_LOG=warn "$bin/mig-server" --config "$conf" api 2>"$data/api.log" &
    api=$!
    RUST_LOG=${MIG_BENCH_SCHEDULER_LOG:-warn} "$bin/mig-server" --config "$conf" scheduler 2>"$data/scheduler.log" &
    scheduler=$!
    pids="$pids $api $scheduler"
    wait_api
    swarm "$data" --relay "amqp://guest:guest@127.0.0.1:5672/$vhost" --server-pid "$api" \
        --per-connection "${MIG_BENCH_PER_CONNECTION:-100}" \
        --server-pid "$scheduler" --label "RabbitMQ ($queues) + PostgreSQL (api + scheduler)" \
        2>&1 >"$work/amqp-$n.json" | tee "$work/swarm.err" | grep '^|' ||
        { cat "$work/swarm.err" "$data/scheduler.log" >&2; exit 1; }
    grep '^swarm:' "$work/swarm.err" >&2 || true
    kill "$api" "$scheduler"; wait "$api" "$scheduler" 2>/dev/null || true
    [ -z "${MIG_BENCH_KEEP_LOG:-}" ] || cp "$data/scheduler.log" "$MIG_BENCH_KEEP_LOG"
    psql -q "$db" -c "DROP SCHEMA $schema CASCADE" 2>/dev/null
}

for n in $sizes; do
    for shape in ${MIG_BENCH_SHAPES:-builtin amqp}; do
        $shape
        # The full measurements, as JSON lines, where MIG_BENCH_JSON says.
        [ -z "${MIG_BENCH_JSON:-}" ] || cat "$work/$shape-$n.json" >>"$MIG_BENCH_JSON"
    done
done
