#!/usr/bin/env bash
# export.sh: `aviary export` against DuckDB on the make_corpus.py Magpie
# store, in one run: the full export to Magpie JSON Lines and to Parquet,
# and the filtered export (task_category Math, input_quality good or
# excellent), with wall time, output size and peak memory for each.
# usage: bench/export.sh [ROWS]   (default 50000; needs a Release build in
#        build-release/ or $AVIARY, and scripts/bootstrap's Node readers)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-50000}
aviary=${AVIARY:-$here/build-release/aviary}
work=${BENCH_DIR:-$here/bench/out/export}
input=${BENCH_INPUT:-$work/magpie$rows.jsonl}
[ -x "$aviary" ] || { echo "export.sh: no aviary binary at $aviary (cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release && cmake --build build-release)" >&2; exit 1; }
[ -d "$here/tests/node/node_modules/@duckdb" ] || { echo "export.sh: run scripts/bootstrap first (DuckDB for Node)" >&2; exit 1; }
mkdir -p "$work"
if [ ! -s "$input" ]; then
  python3 "$here/../shared/bench/make_corpus.py" --format magpie --rows "$rows" > "$input"
fi
store="$work/store"
if [ ! -d "$store" ]; then
  "$aviary" -C "$store" init >/dev/null
  "$aviary" -C "$store" ingest "$input" --skip-bad --rejects "$work/rejects.jsonl" -q
fi
filter='tag.task_category = "Math" and tag.input_quality in ("good","excellent")'
rm -f "$work"/av.* "$work"/duck*
runs=${BENCH_RUNS:-3}
measure() { # name output command...: the median of $runs runs (the machine is shared)
  local name=$1 outf=$2; shift 2
  : >"$work/times.txt"
  for _ in $(seq "$runs"); do
    rm -rf "$outf"
    /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$@"
    cat "$work/time.txt" >>"$work/times.txt"
  done
  read -r secs kb user sys < <(sort -n "$work/times.txt" | sed -n "$(((runs + 1) / 2))p")
  printf '%-18s %8.2f s %12s bytes %8s MB peak  (cpu %.2f s; runs: %s)\n' "$name" "$secs" "$(stat -c %s "$outf")" "$((kb / 1024))" \
    "$(echo "$user + $sys" | bc)" "$(cut -d' ' -f1 "$work/times.txt" | tr '\n' ' ')"
}
echo "rows: $(wc -l < "$input") input lines; store $(du -sh "$store" | cut -f1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
measure aviary_jsonl "$work/av.jsonl" "$aviary" -C "$store" export --format magpie --out "$work/av.jsonl" -q
measure aviary_parquet "$work/av.parquet" "$aviary" -C "$store" export --format magpie --out "$work/av.parquet" -q
measure aviary_filtered "$work/av.f.jsonl" "$aviary" -C "$store" export --format magpie --where "$filter" --out "$work/av.f.jsonl" -q
echo "filtered rows: aviary $(wc -l < "$work/av.f.jsonl")"
node "$here/bench/duckdb_export.mjs" "$input" "$work" "$runs" | while read -r name secs bytes all; do
  printf '%-18s %8.2f s %12s bytes  (runs: %s)\n' "$name" "$secs" "$bytes" "$all"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "filtered rows: duckdb $(wc -l < "$work/duck_f.jsonl")"
