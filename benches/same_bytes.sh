#!/usr/bin/env bash
# Do two portsim builds give the same bytes? Runs every scenarios/*.toml with each binary
# (`--no-charts --threads 1`) and compares the outputs: summary.json without its timings (every
# `run` block and `wall_s` key removed, with jq), every CSV byte for byte. Issue 16's "same bytes"
# check for a speed change:
#
#   git worktree add /tmp/base main && (cd /tmp/base && cargo build --release)
#   cargo build --release
#   benches/same_bytes.sh /tmp/base/target/release/portsim target/release/portsim /tmp/same
#
# Prints "SAME: N files identical" and exits 0, or lists the files that differ and exits 1.
set -u
[ $# -eq 3 ] || { echo "usage: $0 BASE_BINARY NEW_BINARY OUTDIR" >&2; exit 2; }
BASE=$1; NEW=$2; OUT=$3
command -v jq >/dev/null || { echo "$0: needs jq" >&2; exit 2; }
cd "$(dirname "$0")/.."
rm -rf "$OUT"; mkdir -p "$OUT/base" "$OUT/new"
for side in base new; do
  bin=$BASE; [ $side = new ] && bin=$NEW
  for s in scenarios/*.toml; do
    n=$(basename "$s" .toml)
    "$bin" run "$s" --no-charts --threads 1 --out "$OUT/$side/$n" >/dev/null 2>"$OUT/$side/$n.stderr"
    echo "$n rc=$?" >>"$OUT/$side/rc.txt"
  done
done
fail=0
cmp -s "$OUT/base/rc.txt" "$OUT/new/rc.txt" || { echo "exit codes differ"; fail=1; }
strip='def s: if type=="object" then (del(.run) | del(.wall_s) | map_values(s)) elif type=="array" then map(s) else . end; s'
n=0
for f in $(cd "$OUT/base" && find . -type f \( -name '*.csv' -o -name 'summary.json' \) | sort); do
  n=$((n + 1))
  if [ ! -f "$OUT/new/$f" ]; then echo "missing: $f"; fail=1; continue; fi
  case "$f" in
    *summary.json) cmp -s <(jq -S "$strip" "$OUT/base/$f") <(jq -S "$strip" "$OUT/new/$f") ;;
    *) cmp -s "$OUT/base/$f" "$OUT/new/$f" ;;
  esac || { echo "differs: $f"; fail=1; }
done
[ $fail = 0 ] && { echo "SAME: $n files identical"; exit 0; }
echo "NOT SAME"; exit 1
