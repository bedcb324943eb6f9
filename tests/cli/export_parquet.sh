#!/usr/bin/env bash
# export_parquet.sh: Parquet exports read back by two independent readers
# (DuckDB and hyparquet, tests/node/pq_check.mjs), every value equal to the
# JSON Lines export of the same rows and split: derived formats (preference,
# sft, kto, stepwise) and source-shaped ones (binarized, magpie,
# ultrafeedback) from the shipped samples, tiny row groups included; the
# files carry the `huggingface` features. Skips (77) without the Node readers
# (scripts/bootstrap installs them).
. "$(dirname "$0")/lib/store_lib.bash"
NODE=$SRC/tests/node
if [ ! -d "$NODE/node_modules/@duckdb/node-api" ] || [ ! -d "$NODE/node_modules/hyparquet" ] || ! command -v node >/dev/null; then
    echo "skip: the Parquet readers are not installed (run scripts/bootstrap)"
    exit 77
fi
S=$T/s
D=$SRC/tests/data/ingest
"$A" init "$S" >/dev/null &&
    "$A" -C "$S" ingest "$D/h4_binarized.jsonl" "$D/ultrafeedback_raw.jsonl" "$D/prm800k.jsonl" "$D/magpie_tagged.jsonl" \
        "$SRC/tests/data/query_magpie.jsonl" -q
check "samples load" test $? = 0
pairs=()

for f in preference sft kto stepwise sharegpt binarized magpie ultrafeedback; do
    run "$A" -C "$S" export --format "$f" --out "$T/$f.pq" --split train=0.5,test=0.5 --seed 9 -q
    check "$f: parquet folder" test "$rc" = 0
    run "$A" -C "$S" export --format "$f" --out "$T/$f.js" --split train=0.5,test=0.5 --seed 9 --container jsonl -q
    check "$f: jsonl folder" test "$rc" = 0
    for s in train test; do
        j=$T/$f.js/data/$s-00000-of-00001.jsonl
        p=$T/$f.pq/data/$s-00000-of-00001.parquet
        [ -s "$j" ] || continue
        run node "$NODE/pq_check.mjs" "$j" "$p"
        check "$f/$s: DuckDB and hyparquet read the JSONL values" test "$rc" = 0
    done
done

# One Parquet file is written while rows are produced, with the schema of
# the first rows; a later row that needs more (here: the second row already)
# makes the export fall back to the schema of every row. Both give the rows.
for f in magpie ultrafeedback preference stepwise; do
    "$A" -C "$S" export --format "$f" --out "$T/$f.one.jsonl" -q
    run env AVIARY_EXPORT_PROBE_ROWS=1 "$A" -C "$S" export --format "$f" --out "$T/$f.one.parquet" -q
    check "$f: one file with a one-row probe" test "$rc" = 0
    pairs+=("$T/$f.one.jsonl" "$T/$f.one.parquet")
    run "$A" -C "$S" export --format "$f" --out "$T/$f.two.parquet" -q
    check "$f: one file, the probe sees every row" test "$rc" = 0
    pairs+=("$T/$f.one.jsonl" "$T/$f.two.parquet")
    # a row a pipe chunk: the producer waits on a full pipe again and again,
    # and with a one-row probe the stream may give up while it waits
    run env AVIARY_EXPORT_PIPE_CHUNK=1 timeout 60 "$A" -C "$S" export --format "$f" --out "$T/$f.small.parquet" -q
    check "$f: one file through a pipe of one-row chunks, the same bytes" cmp -s "$T/$f.two.parquet" "$T/$f.small.parquet"
    run env AVIARY_EXPORT_PIPE_CHUNK=1 AVIARY_EXPORT_PROBE_ROWS=1 timeout 60 "$A" -C "$S" export --format "$f" --out "$T/$f.small1.parquet" -q
    check "$f: the same with a one-row probe" cmp -s "$T/$f.one.parquet" "$T/$f.small1.parquet"
done
# More rows than the pipe holds chunks (16): with a row a chunk the
# producer waits on a full pipe again and again; with a one-row probe and a
# row that outgrows the first one's schema late, the stream gives up while
# the producer may be waiting. Either way the same bytes as without.
python3 - "$SRC/tests/data/query_magpie.jsonl" >"$T/many_magpie.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for i in range(120):
    r = dict(rows[i % len(rows)])
    r["uuid"] = "00000000-0000-4000-8000-%012d" % (1000 + i)
    r["instruction"] = "%s (variant %d)" % (r["instruction"], i)
    r["conversations"] = [{"from": "human", "value": r["instruction"]}, {"from": "gpt", "value": r["response"]}]
    if i == 100:
        r["note"] = "a column only this row has"
    print(json.dumps(r))
PY
"$A" init "$T/many" >/dev/null && "$A" -C "$T/many" ingest "$T/many_magpie.jsonl" -q
check "120 magpie rows load" test $? = 0
"$A" -C "$T/many" export --format magpie --out "$T/many.jsonl" -q
check "120 magpie rows export" test "$(wc -l <"$T/many.jsonl")" = 120
for probe in 8192 1; do
    run env AVIARY_EXPORT_PROBE_ROWS=$probe "$A" -C "$T/many" export --format magpie --out "$T/many.$probe.parquet" -q
    check "probe $probe: exit 0" test "$rc" = 0
    run env AVIARY_EXPORT_PROBE_ROWS=$probe AVIARY_EXPORT_PIPE_CHUNK=1 timeout 60 "$A" -C "$T/many" export --format magpie --out "$T/many.$probe.small.parquet" -q
    check "probe $probe, a row a pipe chunk: exit 0" test "$rc" = 0
    check "probe $probe, a row a pipe chunk: the same bytes" cmp -s "$T/many.$probe.parquet" "$T/many.$probe.small.parquet"
    pairs+=("$T/many.jsonl" "$T/many.$probe.small.parquet")
done

run node "$NODE/pq_check.mjs" --pairs "${pairs[@]}"
check "single files read back equal (DuckDB, hyparquet)" test "$rc" = 0
check "single files: 20 checks" test "$(printf '%s\n' "$out" | grep -c '^ok ')" = 20

# A folder with one split: its data file is written while rows are
# produced; with --shard-size too small for one file it is written again in
# shards, and no stray file is left.
"$A" -C "$S" export --format magpie --out "$T/one.js" --container jsonl -q
run "$A" -C "$S" export --format magpie --out "$T/one.pq"
check "one-split folder: exit 0" test "$rc" = 0
check "one-split folder: files" test "$(cd "$T/one.pq" && find . -type f | sort | tr '\n' ' ')" = "./README.md ./data/train-00000-of-00001.parquet ./provenance.json "
check "one-split folder: card features" has "$(cat "$T/one.pq/README.md")" "  - name: uuid"
check "one-split folder: card rows" has "$(cat "$T/one.pq/README.md")" "num_examples: $(wc -l <"$T/one.js/data/train-00000-of-00001.jsonl")"
check "one-split folder: provenance rows" test "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["rows"]))' "$T/one.pq/provenance.json")" = "$(wc -l <"$T/one.js/data/train-00000-of-00001.jsonl")"
run "$A" -C "$S" export --format magpie --out "$T/one.pq2" -q
check "one-split folder: rerun is byte-identical" cmp -s "$T/one.pq/data/train-00000-of-00001.parquet" "$T/one.pq2/data/train-00000-of-00001.parquet"
run "$A" -C "$S" export --format magpie --out "$T/many.pq" --shard-size 2K
check "sharded folder: exit 0" test "$rc" = 0
nsh=$(ls "$T/many.pq/data" | wc -l)
check "sharded folder: several files, none stray" test "$nsh" -gt 1 -a ! -e "$T/many.pq/data/train-00000-of-00001.parquet"
run node "$NODE/pq_check.mjs" "$T/one.js/data/train-00000-of-00001.jsonl" "$T/one.pq/data/train-00000-of-00001.parquet"
check "one-split folder: both readers agree with JSONL" test "$rc" = 0
run node "$NODE/pq_check.mjs" "$T/one.js/data/train-00000-of-00001.jsonl" "$T"/many.pq/data/*.parquet
check "sharded folder: the shards hold the rows in order" test "$rc" = 0

# A column that mixes strings and numbers cannot be Parquet: a clear error,
# and nothing left behind (folder or file). JSON Lines takes it.
"$A" init "$T/mx" >/dev/null
python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:3]
rows[2]["instruct_reward"] = "high"
print("".join(json.dumps(r) + "\n" for r in rows), end="")' "$SRC/tests/data/query_magpie.jsonl" >"$T/mixed.jsonl"
"$A" -C "$T/mx" ingest "$T/mixed.jsonl" -q
for out in "$T/mixed_out" "$T/mixed_out.parquet"; do
    run "$A" -C "$T/mx" export --format magpie --out "$out"
    check "mixed column: exit 1 ($(basename "$out"))" test "$rc" = 1
    check "mixed column: says which" has "$err" "aviary: column 'instruct_reward' holds both number and string values, which Parquet cannot store in one column"
    check "mixed column: nothing left" test -z "$(ls -A "$T" | grep mixed_out)"
done
run "$A" -C "$T/mx" export --format magpie --out "$T/mixed_ok" --container jsonl
check "mixed column: JSON Lines is fine" test "$rc" = 0

# Tiny row groups: many row groups in one file.
run "$A" -C "$S" export --format sft --out "$T/rg.parquet" --row-group-size 1K
check "row groups: exit 0" test "$rc" = 0
"$A" -C "$S" export --format sft --out "$T/rg.jsonl" -q
run node "$NODE/pq_check.mjs" "$T/rg.jsonl" "$T/rg.parquet"
check "row groups: both readers agree" test "$rc" = 0
run node "$NODE/pq_rows.mjs" duckdb "$T/rg.parquet" --meta
check "huggingface metadata: features" has "$out" '\"messages\": [{\"role\": {\"dtype\": \"string\", \"_type\": \"Value\"}'
finish
