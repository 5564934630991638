#!/usr/bin/env bash
# The query module on the four queries of its issue, in-process (`mig query -t local`) and as
# the agent runs it (`mig-agent -m query --sandbox`, MIG's module protocol), warm cache.
# Usage: bench/query/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
command -v hyperfine >/dev/null || { echo "missing hyperfine: apt-get install hyperfine" >&2; exit 1; }
cargo build --release -q -p mig-agent -p mig-client
agent=$PWD/target/release/mig-agent
mig=$PWD/target/release/mig
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

names=(processes join file-recursive hash-directory)
queries=(
  "SELECT * FROM processes"
  "SELECT p.pid, p.name, u.username FROM processes p JOIN users u USING (uid)"
  "SELECT * FROM file WHERE path LIKE '/usr/lib/%%'"
  "SELECT * FROM hash WHERE directory = '/usr/bin'"
)

echo "== $(nproc) cores; $(ls /proc | grep -c '^[0-9]') processes; $(find /usr/lib | wc -l) entries below /usr/lib; $(find /usr/bin -maxdepth 1 -type f | wc -l) files ($(du -sh /usr/bin | cut -f1)) in /usr/bin"
for n in 0 1 2 3; do
  q=${queries[$n]}
  # Every row is kept (maxrows at its maximum) so that each run does the whole work.
  printf '{"class":"parameters","parameters":{"sql":"%s","maxrows":100000,"timeout":"5m"}}\n' "$q" > "$work/${names[$n]}.json"
  rows=$("$agent" -m query < "$work/${names[$n]}.json" | sed -n 's/.*"rowcount":\([0-9]*\).*/\1/p')
  echo "== ${names[$n]}: $q ($rows rows)"
  hyperfine -N --warmup 1 --runs "$runs" --export-markdown "$work/${names[$n]}.md" \
    -n "mig query -t local" "$mig query -t local -o json -maxrows 100000 -timeout 5m \"$q\"" \
    -n "mig-agent -m query --sandbox" "sh -c '$agent -m query --sandbox < $work/${names[$n]}.json > /dev/null'"
  cat "$work/${names[$n]}.md"
done
