#!/usr/bin/env bash
# dedup.sh: benchmark of `aviary dedup` (near + exact, default options) on
# make_corpus.py data: time, peak memory, and recall/precision against brute
# force on a random sample (bench/dedup_bench.c).
#
#   50K: the 50,000-row Magpie corpus (--dup-rate 0.05; $MAGPIE50K, default
#        /tmp/magpie50k.jsonl, made if missing) ingested whole with
#        `aviary ingest` (prompts, responses and tags), then deduplicated.
#   500K: 500,000 prompts only. The full 500K-row corpus would be ~3 GB of
#        JSON, mostly responses that dedup never reads, so this script
#        generates just the instructions with make_corpus.py's own Writer and
#        duplicate logic (same text pool, 5000-instruction duplicate pool,
#        --dup-rate 0.05, half exact copies, half " the "->" a " + " Thanks.");
#        the random stream differs from a full run with the same seed because
#        no responses are drawn. They are loaded as prompt records
#        (dedup_bench load), then deduplicated with the same `aviary dedup`.
# Then each store is deduplicated a second time (every signature reused).
#
# Usage: bench/dedup.sh [--quick]   (--quick: 50K only)
# Recall/precision: every pair with 5-gram Jaccard >= 0.7 is found exactly by
# an all-pairs similarity join (dedup_bench check ... 0), and SAMPLE random
# prompts are also compared with every other prompt by brute force.
# Env: AVIARY_SHARED (../shared), BUILD (build-bench), WORK (/tmp/aviary-dedup-bench),
#      SAMPLE (1000 prompts for the brute-force check).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
shared=${AVIARY_SHARED:-$src/../shared}
build=${BUILD:-$src/build-bench}
work=${WORK:-/tmp/aviary-dedup-bench}
sample=${SAMPLE:-1000}
magpie50k=${MAGPIE50K:-/tmp/magpie50k.jsonl}
mkdir -p "$work"

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target aviary dedup_bench >/dev/null
av=$build/aviary
db=$build/bench/dedup_bench

# prompts-only generator: make_corpus.py's Writer and duplicate logic
gen_prompts() { # rows seed dup-rate > file
    python3 - "$shared/bench/make_corpus.py" "$@" <<'PY'
import sys, random, importlib.util
spec = importlib.util.spec_from_file_location("make_corpus", sys.argv[1])
mc = importlib.util.module_from_spec(spec); spec.loader.exec_module(mc)
rows, seed, dup = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rng = random.Random(seed)
prose, code = mc.text_pool()
w = mc.Writer(rng, prose, code)
seen = []
for _ in range(rows):
    lang = rng.choice(mc.LANGS)
    if seen and rng.random() < dup:
        instr = rng.choice(seen)
        if rng.random() < 0.5:
            instr = instr.replace(" the ", " a ", 1) + " Thanks."
    else:
        instr = w.instruction(lang)
        if len(seen) < 5000:
            seen.append(instr)
    sys.stdout.write(instr.replace("\\", "\\\\").replace("\n", "\\n") + "\n")
PY
}

run() { # name store
    local name=$1 store=$2
    echo "== $name: aviary dedup (first run)"
    uptime
    /usr/bin/time -f "time\t%e s wall, %U s user, %S s sys\nmax_rss\t%M KB" \
        "$av" -C "$store" dedup 2>&1
    echo "== $name: aviary dedup (second run, signatures reused)"
    /usr/bin/time -f "time\t%e s wall, %U s user, %S s sys\nmax_rss\t%M KB" \
        "$av" -C "$store" dedup 2>&1 | grep -E 'signatures|time|max_rss' || true
    echo "== $name: every pair with J >= 0.7 (exact join)"
    "$db" check "$store" 0 1
    echo "== $name: brute force, $sample sampled prompts against all"
    "$db" check "$store" "$sample" 7
}

if [ ! -s "$magpie50k" ]; then
    python3 "$shared/bench/make_corpus.py" --format magpie --rows 50000 --dup-rate 0.05 > "$magpie50k"
fi
rm -rf "$work/s50k"
"$av" init "$work/s50k" >/dev/null
echo "== 50K: ingest (--skip-bad: make_corpus rows whose text holds \\u0000 are refused)"
/usr/bin/time -f "ingest\t%e s" "$av" -C "$work/s50k" ingest --skip-bad "$magpie50k" 2>&1 | tail -3
run 50K "$work/s50k"

[ "${1:-}" = "--quick" ] && exit 0
[ -s "$work/p500k.txt" ] || gen_prompts 500000 1 0.05 > "$work/p500k.txt"
rm -rf "$work/s500k"
"$av" init "$work/s500k" >/dev/null
"$db" load "$work/s500k" "$work/p500k.txt"
run 500K "$work/s500k"
