#!/usr/bin/env bash
# File module vs ripgrep (content search) and vs sha256sum (hash search), same tree, same run,
# warm cache. Usage: bench/file/run.sh [CONTENT_ROOT] [HASH_ROOT]
set -euo pipefail
cd "$(dirname "$0")/../.."
content_root=${1:-/usr/share}
hash_root=${2:-/usr/lib}
pattern='(?i)copyright.*free software'

for tool in rg hyperfine sha256sum; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install ripgrep hyperfine coreutils" >&2; exit 1; }
done
cargo build --release -q -p mig-agent
agent=$PWD/target/release/mig-agent
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# One file known to be there, so the sha2 search has something to find (and must still hash
# every other file to be sure).
target=$(find "$hash_root" -maxdepth 1 -type f | head -n 1)
hash=$(sha256sum "$target" | cut -d' ' -f1)
printf '{"class":"parameters","parameters":{"searches":{"s1":{"paths":["%s"],"contents":["%s"],"options":{"matchall":true}}}}}\n' \
  "$content_root" "${pattern//\\/\\\\}" > "$work/content.json"
printf '{"class":"parameters","parameters":{"searches":{"s1":{"paths":["%s"],"sha2":["%s"],"options":{"matchall":true}}}}}\n' \
  "$hash_root" "$hash" > "$work/sha2.json"

echo "== tree: $(find "$content_root" -type f | wc -l) files in $content_root, $(find "$hash_root" -type f | wc -l) files in $hash_root; $(nproc) cores"
echo "== content search: /$pattern/ over $content_root (files with a matching line)"
hyperfine -N --warmup 2 --runs 10 --export-markdown "$work/content.md" \
  -n "mig file module" "sh -c '$agent -m file < $work/content.json > /dev/null'" \
  -n "ripgrep -l -a" "rg -l -a --no-ignore --hidden --no-messages -j$(nproc) '$pattern' $content_root"
cat "$work/content.md"

echo "== sha2 search over $hash_root"
hyperfine -N --warmup 1 --runs 3 --export-markdown "$work/sha2.md" \
  -n "mig file module" "sh -c '$agent -m file < $work/sha2.json > /dev/null'" \
  -n "find | xargs -P$(nproc) sha256sum" "sh -c 'find $hash_root -type f -print0 | xargs -0 -P$(nproc) -n 500 sha256sum > /dev/null 2>&1 || true'" \
  -n "find -exec sha256sum" "sh -c 'find $hash_root -type f -exec sha256sum {} + > /dev/null 2>&1 || true'"
cat "$work/sha2.md"

echo "== result check"
"$agent" -m file < "$work/sha2.json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("sha2 hits:", r["statistics"]["totalhits"], "files:", r["statistics"]["filescount"])'
"$agent" -m file < "$work/content.json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("content hits:", r["statistics"]["totalhits"])'
echo "ripgrep files: $(rg -l -a --no-ignore --hidden --no-messages "$pattern" "$content_root" | wc -l) (ripgrep skips symlinked files; the module evaluates them under the link's path)"
