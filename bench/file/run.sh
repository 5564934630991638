#!/usr/bin/env bash
# File module vs ripgrep (content search), vs sha256sum and md5sum (hash searches), vs find
# (name search), sha1sum and openssl (sha1, sha3), and vs MIG's own Go module when MIG_GO_AGENT names a MIG agent built from
# source (BENCHMARKS.md says how; MIG's code stays out of this repository): same trees, same
# run, warm cache. Usage: [MIG_GO_AGENT=/path/mig-agent] bench/file/run.sh [CONTENT_ROOT] [HASH_ROOT] [MD5_ROOT] [NAME_ROOT]
set -euo pipefail
cd "$(dirname "$0")/../.."
content_root=${1:-/usr/share}
hash_root=${2:-/usr/lib}
md5_root=${3:-/usr/bin}
name_root=${4:-/usr}
pattern='(?i)copyright.*free software'
name_pattern='^lib.*\.so\.[0-9]+$'
mig=${MIG_GO_AGENT:-}

for tool in rg hyperfine sha256sum openssl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install ripgrep hyperfine coreutils openssl" >&2; exit 1; }
done
cargo build --release -q -p mig-agent
agent=$PWD/target/release/mig-agent
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# One file known to be there, so the sha2 search has something to find (and must still hash
# every other file to be sure).
target=$(find "$hash_root" -maxdepth 1 -type f -print -quit)
hash=$(sha256sum "$target" | cut -d' ' -f1)
printf '{"class":"parameters","parameters":{"searches":{"s1":{"paths":["%s"],"contents":["%s"],"options":{"matchall":true}}}}}\n' \
  "$content_root" "${pattern//\\/\\\\}" > "$work/content.json"
printf '{"class":"parameters","parameters":{"searches":{"s1":{"paths":["%s"],"sha2":["%s"],"options":{"matchall":true}}}}}\n' \
  "$hash_root" "$hash" > "$work/sha2.json"
md5_target=$(find "$md5_root" -maxdepth 1 -type f -print -quit)
md5=$(md5sum "$md5_target" | cut -d' ' -f1)
printf '{"class":"parameters","parameters":{"searches":{"s1":{"paths":["%s"],"md5":["%s"],"options":{"matchall":true}}}}}\n' \
  "$md5_root" "$md5" > "$work/md5.json"
printf '{"class":"parameters","parameters":{"searches":{"s1":{"paths":["%s"],"names":["%s"],"options":{"matchall":true}}}}}\n' \
  "$name_root" "${name_pattern//\\/\\\\}" > "$work/name.json"
# MIG's agent, as a hyperfine command, when there is one.
mig_cmd() { [ -n "$mig" ] && printf '%s\0%s\0' -n "MIG (Go) module" && printf "sh -c '%s -m file < %s > /dev/null 2>&1'\0" "$mig" "$1"; }

echo "== tree: $(find "$content_root" -type f | wc -l) files in $content_root, $(find "$hash_root" -type f | wc -l) files in $hash_root; $(nproc) cores"
echo "== content search: /$pattern/ over $content_root (files with a matching line)"
mapfile -d '' mig_content < <(mig_cmd "$work/content.json" || true)
hyperfine -N --warmup 1 --runs 5 --export-markdown "$work/content.md" \
  -n "mig file module" "sh -c '$agent -m file < $work/content.json > /dev/null'" \
  -n "ripgrep -l -a" "rg -l -a --no-ignore --hidden --no-messages -j$(nproc) '$pattern' $content_root" \
  "${mig_content[@]}"
cat "$work/content.md"

echo "== sha2 search over $hash_root"
mapfile -d '' mig_sha2 < <(mig_cmd "$work/sha2.json" || true)
hyperfine -N --warmup 1 --runs 3 --export-markdown "$work/sha2.md" \
  -n "mig file module" "sh -c '$agent -m file < $work/sha2.json > /dev/null'" \
  -n "find | xargs -P$(nproc) sha256sum" "sh -c 'find $hash_root -type f -print0 | xargs -0 -P$(nproc) -n 500 sha256sum > /dev/null 2>&1 || true'" \
  -n "find -exec sha256sum" "sh -c 'find $hash_root -type f -exec sha256sum {} + > /dev/null 2>&1 || true'" \
  "${mig_sha2[@]}"
cat "$work/sha2.md"

# A hash search row: the module, MIG's, and the best single tool for the same hash, both over
# regular files only (`find -type f`, the usual pipeline) and over what the module evaluates
# (symlinked files too, their targets read under each link's name, as MIG does).
hash_row() { # name params-file root tool...
  local name=$1 params=$2 root=$3; shift 3
  local tool="$*"
  echo "== $name search over $root ($(du -sh "$root" | cut -f1))"
  mapfile -d '' mig_row < <(mig_cmd "$params" || true)
  hyperfine -N --warmup 1 --runs 5 --export-markdown "$work/$name.md" \
    -n "mig file module" "sh -c '$agent -m file < $params > /dev/null'" \
    -n "find -type f | xargs -P$(nproc) $tool" "sh -c 'find $root -type f -print0 | xargs -0 -P$(nproc) -n 500 $tool > /dev/null 2>&1 || true'" \
    -n "find -type f,l | xargs -P$(nproc) $tool" "sh -c 'find $root -type f,l -print0 | xargs -0 -P$(nproc) -n 500 $tool > /dev/null 2>&1 || true'" \
    "${mig_row[@]}"
  cat "$work/$name.md"
}
digest_params() { # key root hex
  printf '{"class":"parameters","parameters":{"searches":{"s1":{"paths":["%s"],"%s":["%s"],"options":{"matchall":true}}}}}\n' "$2" "$1" "$3"
}
digest_params sha1 "$md5_root" "$(sha1sum "$md5_target" | cut -d' ' -f1)" > "$work/sha1.json"
digest_params sha3 "$md5_root" "$(openssl dgst -sha3-256 -r "$md5_target" | cut -d' ' -f1)" > "$work/sha3.json"
hash_row md5 "$work/md5.json" "$md5_root" md5sum
hash_row sha1 "$work/sha1.json" "$md5_root" sha1sum
hash_row sha3-256 "$work/sha3.json" "$md5_root" openssl dgst -sha3-256 -r

echo "== name search /$name_pattern/ over $name_root"
mapfile -d '' mig_name < <(mig_cmd "$work/name.json" || true)
hyperfine -N --warmup 1 --runs 5 --export-markdown "$work/name.md" \
  -n "mig file module" "sh -c '$agent -m file < $work/name.json > /dev/null'" \
  -n "find -regextype posix-extended -regex" "sh -c 'find $name_root -regextype posix-extended -regex \".*/lib[^/]*\\.so\\.[0-9]+\" > /dev/null 2>&1 || true'" \
  "${mig_name[@]}"
cat "$work/name.md"

echo "== result check"
"$agent" -m file < "$work/sha2.json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("sha2 hits:", r["statistics"]["totalhits"], "files:", r["statistics"]["filescount"])'
"$agent" -m file < "$work/content.json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("content hits:", r["statistics"]["totalhits"])'
count() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["statistics"]["totalhits"], "hits,", r["statistics"]["filescount"], "files")'; }
for h in md5 sha1 sha3; do
  echo "$h: ours $("$agent" -m file < "$work/$h.json" | count)${mig:+; MIG $("$mig" -m file < "$work/$h.json" 2>/dev/null | count)}"
done
echo "name: ours $("$agent" -m file < "$work/name.json" | count)${mig:+; MIG $("$mig" -m file < "$work/name.json" 2>/dev/null | count)}; find $(find "$name_root" -regextype posix-extended -regex '.*/lib[^/]*\.so\.[0-9]+' 2>/dev/null | wc -l)"
echo "ripgrep files: $(rg -l -a --no-ignore --hidden --no-messages "$pattern" "$content_root" | wc -l) (ripgrep skips symlinked files; the module evaluates them under the link's path)"
