#!/usr/bin/env bash
# The agent at rest: resident memory and CPU over a minute while connected to a relay and
# sending heartbeats, and the binary's size. Usage: bench/agent/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
cargo build --release -q -p mig-server -p mig-agent
work=$(mktemp -d)
api=$((20000 + RANDOM % 10000)); relay=$((api + 1))
./target/release/mig-server dev --data-dir "$work" --agents 1 --api-listen 127.0.0.1:$api --relay-listen 127.0.0.1:$relay > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "connected to" "$work/agent-0/agent.log" 2>/dev/null && break; sleep 0.2; done
pid=$(pgrep -f "$work/agent-0/agent.toml")
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
sleep 2
start_cpu=$(cpu); max_rss=0; sum_rss=0; n=0
for _ in $(seq "$seconds"); do
  r=$(rss); sum_rss=$((sum_rss + r)); n=$((n + 1)); [ "$r" -gt "$max_rss" ] && max_rss=$r
  sleep 1
done
end_cpu=$(cpu)
size=$(stat -c %s target/release/mig-agent)
echo "agent pid $pid, ${seconds}s idle, connected, heartbeat every 30s"
echo "RSS: average $((sum_rss / n)) KiB, max $max_rss KiB"
awk -v t=$((end_cpu - start_cpu)) -v hz="$hz" -v s="$seconds" 'BEGIN { printf "CPU: %.2f s over %d s (%.3f%%)\n", t / hz, s, 100 * t / hz / s }'
echo "binary: target/release/mig-agent $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }') MiB)"
