#!/usr/bin/env bash
# bench/ingest.sh: `aviary ingest` against sqlite3 (a table with json_extract
# columns) and DuckDB (CREATE TABLE t AS SELECT * FROM read_json(...)) on the
# same make_corpus.py files, in one run: wall time, MB/s, peak RSS
# (/usr/bin/time -v) and size on disk, with zstd -3 of the file for scale.
#
# usage: bench/ingest.sh [AVIARY-BINARY]
# env:   BENCH_DIR (default /tmp/aviary-bench; corpora and DuckDB's npm
#        package are kept there between runs), MAGPIE_ROWS (50000),
#        UF_ROWS (5000), NO_DUCKDB=1 to leave DuckDB out.
# The magpie corpus holds a few rows with an embedded \u0000, which aviary
# treats as bad input; the benchmark ingests with --skip-bad and says how many.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
AV=${1:-${AVIARY:-$here/build/aviary}}
[ -x "$AV" ] || { echo "bench/ingest.sh: no aviary binary at '$AV' (build it, or pass its path)" >&2; exit 2; }
W=${BENCH_DIR:-/tmp/aviary-bench}
SHARED=${AVIARY_SHARED:-$here/../shared}
mkdir -p "$W"

corpus() { # NAME FORMAT ROWS EXTRA...
    local f=$W/$1.jsonl
    if [ ! -s "$f" ]; then
        echo "generating $f ..." >&2
        python3 "$SHARED/bench/make_corpus.py" --format "$2" --rows "$3" "${@:4}" >"$f.tmp" && mv "$f.tmp" "$f"
    fi
    echo "$f"
}

duck_ok=0
if [ -z "${NO_DUCKDB:-}" ]; then
    if [ ! -d "$W/duckdb/node_modules/@duckdb/node-api" ]; then
        echo "installing @duckdb/node-api into $W/duckdb ..." >&2
        mkdir -p "$W/duckdb"
        (cd "$W/duckdb" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent @duckdb/node-api >/dev/null 2>&1) || true
    fi
    [ -d "$W/duckdb/node_modules/@duckdb/node-api" ] && duck_ok=1
    cat >"$W/duckdb/load.mjs" <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const [db, file] = process.argv.slice(2);
const inst = await DuckDBInstance.create(db);
const con = await inst.connect();
await con.run(`CREATE TABLE t AS SELECT * FROM read_json('${file}', format='newline_delimited')`);
await con.run('CHECKPOINT');
JS
fi

# measure LABEL INPUT-BYTES OUTPUT-PATH CMD...: one line of the table
measure() {
    local label=$1 inb=$2 out=$3
    shift 3
    local tv=$W/time.txt
    if ! /usr/bin/time -v "$@" >"$W/cmd.out" 2>"$tv"; then
        echo "$label: failed:" >&2
        tail -5 "$tv" >&2
        return 0
    fi
    local el rss secs size
    el=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tv")
    secs=$(awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }' <<<"$el")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tv")
    size=$(du -sb "$out" | cut -f1)
    awk -v l="$label" -v s="$secs" -v r="$rss" -v z="$size" -v i="$inb" \
        'BEGIN { printf "%-22s %8.2f s %8.1f MB/s %8.1f MB RSS %10.1f MB %6.2fx\n", l, s, i / 1e6 / s, r / 1024, z / 1e6, z / i }'
}

run_corpus() { # FILE FORMAT SQLITE-COLUMNS
    local f=$1 fmt=$2 cols=$3 inb
    inb=$(stat -L -c %s "$f")
    echo
    echo "== $(basename "$f") ($fmt, $(wc -l <"$f") rows, $((inb / 1000000)) MB); $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
    printf '%-22s %10s %13s %15s %13s %7s\n' tool time speed "peak RSS" "on disk" ratio
    rm -rf "$W/store"
    "$AV" init "$W/store" >/dev/null
    measure "aviary ingest" "$inb" "$W/store" "$AV" -C "$W/store" ingest "$f" --skip-bad --rejects "$W/rejects.jsonl" -q
    [ -s "$W/rejects.jsonl" ] && echo "  (aviary: $(wc -l <"$W/rejects.jsonl") rows rejected as bad input: embedded \\u0000)"
    measure "aviary ingest (again)" "$inb" "$W/store" "$AV" -C "$W/store" ingest "$f" --skip-bad -q
    # the store repacked once grown (git gc, SQLite's VACUUM): its own time, and the size after it
    measure "aviary gc (after)" "$inb" "$W/store" "$AV" -C "$W/store" gc -q
    rm -f "$W/t.db"
    local sel
    sel=$(tr ',' '\n' <<<"$cols" | awk '{ printf "%sjson_extract(j, '"'"'$.%s'"'"') AS \"%s\"", (NR > 1 ? ", " : ""), $1, $1 }')
    cat >"$W/load.sql" <<SQL
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
CREATE TEMP TABLE raw(j TEXT);
.mode tabs
.import $f raw
CREATE TABLE t AS SELECT $sel FROM raw;
SQL
    measure "sqlite3 json_extract" "$inb" "$W/t.db" sqlite3 "$W/t.db" ".read $W/load.sql"
    if [ "$duck_ok" = 1 ]; then
        rm -f "$W/t.duckdb" "$W/t.duckdb.wal"
        measure "duckdb read_json" "$inb" "$W/t.duckdb" node "$W/duckdb/load.mjs" "$W/t.duckdb" "$f"
    fi
    if command -v zstd >/dev/null; then
        measure "zstd -3 (file)" "$inb" "$W/f.zst" zstd -q -3 -f -o "$W/f.zst" "$f"
    fi
}

MAG=$(corpus magpie50k magpie "${MAGPIE_ROWS:-50000}" --dup-rate 0.05)
UF=$(corpus uf5k ultrafeedback "${UF_ROWS:-5000}")
run_corpus "$MAG" magpie "uuid,model,gen_input_configs,instruction,response,conversations,task_category,other_task_category,task_category_generator,difficulty,intent,knowledge,difficulty_generator,input_quality,quality_explanation,quality_generator,llama_guard_2,reward_model,instruct_reward,min_neighbor_distance,repeat_count,min_similar_uuid,instruction_length,response_length,language"
run_corpus "$UF" ultrafeedback "source,instruction,models,completions,correct_answers,incorrect_answers"
rm -rf "$W/store" "$W/t.db" "$W/t.duckdb" "$W/f.zst"
