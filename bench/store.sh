#!/usr/bin/env bash
# store.sh: issue 2's store benchmark. On the store built from
# make_corpus.py --format magpie --rows ROWS (or any dump: BENCH_DUMP=file):
#   - `aviary add` of its dump into an empty store: records/s and MB/s
#   - text compression with the trained dictionaries (raw / stored text bytes)
#     next to whole-file `zstd -3` of the dump
#   - median time to fetch one record by content id in one process
#     (bench/fetch_bench)
#   - store size on disk / dump size (must be <= 0.3)
#   - the same after `aviary gc` (repacked), with gc's time
# usage: bench/store.sh [ROWS]    (env: AVIARY, FETCH_BENCH, BENCH_DUMP, BENCH_DIR)
# Build first, optimised: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
#   cmake --build build --target aviary fetch_bench
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-50000}
A=${AVIARY:-$here/build/aviary}
FB=${FETCH_BENCH:-$(dirname "$A")/bench/fetch_bench}
corpus=${AVIARY_SHARED:-$here/../shared}/bench/make_corpus.py
work=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
for x in "$A" "$FB"; do [ -x "$x" ] || { echo "store.sh: build '$x' first" >&2; exit 1; }; done

dump=${BENCH_DUMP:-}
if [ -z "$dump" ]; then
    [ -f "$corpus" ] || { echo "store.sh: no $corpus (set BENCH_DUMP to a dump instead)" >&2; exit 1; }
    echo "making the magpie corpus ($rows rows) and its store..." >&2
    [ -s "$work/magpie.jsonl" ] || python3 "$corpus" --format magpie --rows "$rows" >"$work/magpie.jsonl"
    rm -rf "$work/src" "$work/dst"
    "$A" init "$work/src" >/dev/null
    # the corpus has a few deliberately bad rows (e.g. \u0000): leave them out
    "$A" -C "$work/src" ingest -q --skip-bad --rejects "$work/rejects.jsonl" "$work/magpie.jsonl"
    "$A" -C "$work/src" dump -o "$work/dump.jsonl"
    dump=$work/dump.jsonl
fi
dump_bytes=$(stat -c %s "$dump")
records=$(grep -c '^{"kind"' "$dump" || true)

rm -rf "$work/dst"
"$A" init "$work/dst" >/dev/null
t0=$(date +%s.%N)
"$A" -C "$work/dst" add -q "$dump"
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

# fetch times: a first run warms the page cache (right after a write, and
# more so after gc's copy, the first faults cost ~2x), the second is kept
"$FB" "$work/dst" 10000 >/dev/null
"$FB" "$work/dst" 10000 >"$work/fetch.txt"
val() { sed -n "s/^$1=//p" "$work/fetch.txt"; }
zstd_bytes=$(zstd -3 -q -c "$dump" | wc -c)
# the peer for the text figure: whole-file zstd -3 of the distinct texts alone
python3 -c '
import json, sys
seen = set()
out = sys.stdout.buffer
for line in open(sys.argv[1], "rb"):
    if not line.startswith(b"{\"kind\""):
        continue
    for m in json.loads(line).get("msgs", []):
        t = m["text"].encode()
        if t not in seen:
            seen.add(t)
            out.write(t)
' "$dump" >"$work/texts.raw"
texts_bytes=$(stat -c %s "$work/texts.raw")
texts_zstd=$(zstd -3 -q -c "$work/texts.raw" | wc -c)
store_bytes=$(du -sb "$work/dst" | cut -f1)
"$A" -C "$work/dst" dump -o "$work/again.jsonl"
same=$(cmp -s "$dump" "$work/again.jsonl" && echo yes || echo no)

# then `aviary gc` (the store repacked, as one does once a dataset is grown):
# its time, the store's size, the texts' ratio and the fetch time after it
t0=$(date +%s.%N)
"$A" -C "$work/dst" gc -q
t1=$(date +%s.%N)
gc_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
gc_bytes=$(du -sb "$work/dst" | cut -f1)
"$FB" "$work/dst" 10000 >/dev/null
"$FB" "$work/dst" 10000 >"$work/fetch_gc.txt"
gval() { sed -n "s/^$1=//p" "$work/fetch_gc.txt"; }
"$A" -C "$work/dst" dump -o "$work/again_gc.jsonl"
gc_same=$(cmp -s "$dump" "$work/again_gc.jsonl" && echo yes || echo no)

awk -v secs="$secs" -v rec="$records" -v db="$dump_bytes" -v zb="$zstd_bytes" -v sb="$store_bytes" \
    -v raw="$(val text_raw_bytes)" -v stored="$(val text_stored_bytes)" -v texts="$(val text_count)" \
    -v dicts="$(val dict_count)" -v tb="$texts_bytes" -v tz="$texts_zstd" -v med="$(val fetch_median_us)" -v p99="$(val fetch_p99_us)" -v same="$same" \
    -v gs="$gc_secs" -v gb="$gc_bytes" -v graw="$(gval text_raw_bytes)" -v gstored="$(gval text_stored_bytes)" \
    -v gmed="$(gval fetch_median_us)" -v gp99="$(gval fetch_p99_us)" -v gsame="$gc_same" 'BEGIN {
    printf "dump:              %d records, %.1f MB\n", rec, db / 1e6
    printf "add:               %.2f s, %.0f records/s, %.1f MB/s\n", secs, rec / secs, db / 1e6 / secs
    printf "texts:             %d distinct, %.1f MB raw -> %.1f MB stored (%.2fx, %d dictionaries)\n", texts, raw / 1e6, stored / 1e6, raw / stored, dicts
    printf "zstd -3, texts:    %.1f MB of distinct msg texts -> %.1f MB (%.2fx, whole file)\n", tb / 1e6, tz / 1e6, tb / tz
    printf "zstd -3 of dump:   %.1f MB (%.2fx)\n", zb / 1e6, db / zb
    printf "store on disk:     %.1f MB = %.3fx the dump (limit 0.3x: %s)\n", sb / 1e6, sb / db, sb / db <= 0.3 ? "ok" : "OVER"
    printf "fetch by id:       median %.1f us, p99 %.1f us\n", med, p99
    printf "dump -> add -> dump identical: %s\n", same
    printf "after aviary gc:   %.1f s; store %.1f MB = %.3fx the dump (limit 0.3x: %s); texts %.2fx; fetch median %.1f us, p99 %.1f us; dump identical: %s\n", gs, gb / 1e6, gb / db, gb / db <= 0.3 ? "ok" : "OVER", graw / gstored, gmed, gp99, gsame
}'
