#!/usr/bin/env bash
# Continuous monitoring's cost on a busy host (issue: continuous monitoring): one agent holding
# a signed schedule of 5 queries plus process_events every 10 s, while a loop starts about 100
# processes a second; the agent's CPU (its own and its module processes') and resident memory
# over SECONDS, then a burst of 10,000 execs and what the buffers caught and lost.
#
#   bench/monitoring/run.sh [SECONDS]        (default 120; run as root: the process connector)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-120}
cargo build --release -q -p mig-server -p mig-agent -p mig-client
work=$(mktemp -d)
api=$((20000 + RANDOM % 10000)); relay=$((api + 1))
./target/release/mig-server dev --data-dir "$work" --agents 1 --api-listen 127.0.0.1:$api --relay-listen 127.0.0.1:$relay > "$work/server.log" 2>&1 &
server=$!
busy=
trap 'kill $server $busy 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 150); do grep -q "connected to" "$work/agent-0/agent.log" 2>/dev/null && break; sleep 0.2; done
export MIG_CONFIG=$work/client.toml
mig=./target/release/mig
pid=$(pgrep -f "$work/agent-0/agent.toml")
hz=$(getconf CLK_TCK)

# The schedule: five queries a fleet would run, and the programs started.
$mig schedule -p -t all -e 30m -interval 10s -n "monitoring bench" query "SELECT 1" > "$work/template.json"
jq '.operations[0].parameters.operations = [
  {"module": "query", "parameters": {"sql": "SELECT pid, name, path, uid FROM processes"}},
  {"module": "query", "parameters": {"sql": "SELECT pid, port, protocol, address FROM listening_ports"}},
  {"module": "query", "parameters": {"sql": "SELECT username, uid, shell FROM users"}},
  {"module": "query", "parameters": {"sql": "SELECT name, version FROM deb_packages"}},
  {"module": "query", "parameters": {"sql": "SELECT device, path, type FROM mounts"}},
  {"module": "query", "parameters": {"sql": "SELECT pid, parent, path, cmdline, uid, time FROM process_events"}}
]' "$work/template.json" > "$work/schedule.json"
$mig schedule -i "$work/schedule.json" -y > "$work/launch.log" 2>&1
id=$(sed -n "s/^action \([0-9]*\) .*/\1/p" "$work/launch.log" | head -1)

# The busy host: batches of 10 programs, 10 batches a second.
( while true; do for _ in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; sleep 0.1; done ) &
busy=$!
cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
execs() { awk '/^processes/ {print $2}' /proc/stat; }
sleep 12
start_cpu=$(cpu); start_execs=$(execs); max_rss=0; sum_rss=0; n=0
for _ in $(seq "$seconds"); do
  r=$(rss); sum_rss=$((sum_rss + r)); n=$((n + 1)); [ "$r" -gt "$max_rss" ] && max_rss=$r
  sleep 1
done
end_cpu=$(cpu); end_execs=$(execs)
kill $busy; wait $busy 2>/dev/null || true; busy=
runs=$($mig schedule runs "$id" --json | wc -l)
echo "agent pid $pid, ${seconds}s, schedule $id: 5 queries + process_events every 10s, $runs runs stored"
echo "host: $(( (end_execs - start_execs) / seconds )) processes started per second"
echo "agent RSS: average $((sum_rss / n)) KiB, max $max_rss KiB"
awk -v t=$((end_cpu - start_cpu)) -v hz="$hz" -v s="$seconds" 'BEGIN { printf "agent CPU (with its module processes): %.2f s over %d s = %.2f%% of a core\n", t / hz, s, 100 * t / hz / s }'

# A burst of 10,000 programs, as fast as the machine starts them, then the buffer's count.
before=$($mig query -t all -o ndjson "SELECT events, dropped FROM mig_event_buffers WHERE name = 'process_events'" | jq -c '.results[0].elements.rows[0]')
start=$(date +%s.%N)
seq 10000 | xargs -P 4 -n 100 sh -c 'for _ in "$@"; do /bin/true; done' _
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
sleep 1
after=$($mig query -t all -o ndjson "SELECT events, dropped, buffered, capacity FROM mig_event_buffers WHERE name = 'process_events'" | jq -c '.results[0].elements.rows[0]')
echo "burst: 10,000 execs (+ 100 shells running them) in ${took}s; process_events [events, dropped] before $before, [events, dropped, buffered, capacity] after $after"
