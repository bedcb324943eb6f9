#!/usr/bin/env bash
# export_roundtrip.sh: a file ingested in format F and exported in F gives
# back every row with the same JSON values, keys in the source's order, on
# the shipped samples (tests/data/ingest), every real fixture
# (../shared/fixtures/real, when present) and make_corpus.py output (Magpie,
# UltraFeedback, binarized: the committed corpus_*.jsonl). When the Node
# readers are installed, the same rows exported as Parquet read back equal
# with DuckDB and hyparquet.
. "$(dirname "$0")/lib/store_lib.bash"
SHARED=${AVIARY_SHARED:-}
NODE=$SRC/tests/node
pq=0
[ -d "$NODE/node_modules/@duckdb/node-api" ] && [ -d "$NODE/node_modules/hyparquet" ] && command -v node >/dev/null && pq=1
files=("$SRC"/tests/data/ingest/*.json "$SRC"/tests/data/ingest/*.jsonl)
if [ -n "$SHARED" ] && [ -d "$SHARED/fixtures/real" ]; then
    files+=("$SHARED"/fixtures/real/*.json "$SHARED"/fixtures/real/*.jsonl)
else
    echo "note: ../shared/fixtures absent, real fixtures not checked"
fi
# make_corpus.py output: tests/data/ingest/corpus_*.jsonl (kept small and
# committed, since generating takes Python seconds per format); set
# AVIARY_TEST_CORPUS_ROWS to also generate fresh corpora of that size.
if [ -n "${AVIARY_TEST_CORPUS_ROWS:-}" ] && [ -n "$SHARED" ] && [ -f "$SHARED/bench/make_corpus.py" ]; then
    for f in magpie ultrafeedback binarized; do
        python3 "$SHARED/bench/make_corpus.py" --format $f --rows "$AVIARY_TEST_CORPUS_ROWS" --seed 5 >"$T/gen_$f.jsonl"
        files+=("$T/gen_$f.jsonl")
    done
fi
pairs=()
same() { # source export: 0 when the rows are equal as JSON, keys in order
    python3 - "$1" "$2" <<'PY'
import json, sys
src, out = sys.argv[1:]
t = open(src, encoding="utf-8").read()
a = json.loads(t) if t.lstrip().startswith("[") else [json.loads(l) for l in t.splitlines() if l.strip()]
b = [json.loads(l) for l in open(out, encoding="utf-8")]
def keys(x, y):
    if isinstance(x, dict):
        return isinstance(y, dict) and list(x) == list(y) and all(keys(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(keys(p, q) for p, q in zip(x, y))
    return True
if a != b or not keys(a, b):
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y or not keys(x, y)), min(len(a), len(b)))
    print(f"{src}: row {n + 1} differs ({len(a)} rows in, {len(b)} out)")
    sys.exit(1)
PY
}
for f in "${files[@]}"; do
    name=$(basename "$f")
    S=$T/s_$name
    "$A" init "$S" >/dev/null
    run "$A" -C "$S" ingest "$f"
    fmt=$(printf '%s\n' "$err" | sed -n 's/.* rows as \([a-z0-9-]*\):.*/\1/p' | head -1)
    if [ "$rc" != 0 ] || [ -z "$fmt" ]; then
        # Samples of bad input belong to the ingest tests.
        echo "note: $name does not ingest on its own (${err%%$'\n'*}); not a round-trip sample"
        continue
    fi
    run "$A" -C "$S" export --format "$fmt" --out "$T/$name.out.jsonl"
    check "$name: exports as $fmt" test "$rc" = 0
    run same "$f" "$T/$name.out.jsonl"
    check "$name: same rows, same values, same key order" test "$rc" = 0
    # Large selections are produced in two halves on two threads; forced
    # here, the rows must come out the same.
    run env AVIARY_EXPORT_PARALLEL_MIN=2 "$A" -C "$S" export --format "$fmt" --out "$T/$name.halves" --container jsonl
    check "$name: two halves: exit 0" test "$rc" = 0
    check "$name: two halves give the same rows" cmp -s "$T/$name.out.jsonl" "$T/$name.halves/data/train-00000-of-00001.jsonl"
    run env AVIARY_EXPORT_PARALLEL_MIN=2 "$A" -C "$S" export --format "$fmt" --out "$T/$name.halves.jsonl"
    check "$name: two halves straight to a file" cmp -s "$T/$name.out.jsonl" "$T/$name.halves.jsonl"
    # Past a bound, rows to rebuild are sorted in runs on disk and merged:
    # forced here with runs of two rows, the same rows in the same order.
    run env AVIARY_EXPORT_SORT_RUN=2 "$A" -C "$S" export --format "$fmt" --out "$T/$name.runs.jsonl"
    check "$name: sorted in runs on disk: the same rows" cmp -s "$T/$name.out.jsonl" "$T/$name.runs.jsonl"
    if [ $pq = 1 ]; then
        run "$A" -C "$S" export --format "$fmt" --out "$T/$name.parquet"
        if [ "$rc" = 0 ]; then
            pairs+=("$T/$name.out.jsonl" "$T/$name.parquet")
        else
            # Rows whose values change type cannot share a Parquet column:
            # that must be a clear error, never a crash.
            check "$name: Parquet refusal is a clear error" has "$err" "which Parquet cannot store in one column"
        fi
    fi
done
if [ ${#pairs[@]} -gt 0 ]; then
    # One Node process reads every file with both readers.
    run node "$NODE/pq_check.mjs" --pairs "${pairs[@]}"
    for ((i = 1; i < ${#pairs[@]}; i += 2)); do
        p=${pairs[$i]}
        check "$(basename "$p"): DuckDB reads back the JSONL values" has "$out" "ok duckdb $p:"
        check "$(basename "$p"): hyparquet reads back the JSONL values" has "$out" "ok hyparquet $p:"
    done
    check "no reader disagrees" test "$rc" = 0
fi
finish
