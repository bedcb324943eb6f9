#!/usr/bin/env bash
# query.sh: times `aviary query` against sqlite3 (a table of json_extract
# columns) and DuckDB (a table from read_json, through @duckdb/node-api) on
# the same Magpie corpus, in one run, and jq for the text search.
#
#   bench/query.sh [--rows N] [--input FILE] [--build DIR] [--work DIR] [--runs N]
#
# The corpus is make_corpus.py --format magpie --rows 50000 --dup-rate 0.05
# (or --input FILE). Every engine is timed in-process after loading, as the
# issue's reference figures are: sqlite3 with .timer, DuckDB in node with
# performance.now(), aviary with bench/query_bench (the code of `aviary query`
# run in-process on an open store); the best of --runs is reported, plus the
# wall time of the aviary command line itself. The aviary binaries come from
# a Release build (--build, default build-release: configured if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rows=50000 input="" build="$here/build-release" work="${TMPDIR:-/tmp}/aviary-bench-query" runs=5
while [ $# -gt 0 ]; do
    case $1 in
    --rows) rows=$2; shift 2 ;;
    --input) input=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "query.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
mkdir -p "$work"
if [ -z "$input" ]; then
    input=$work/magpie_$rows.jsonl
    [ -s "$input" ] || python3 "$here/../shared/bench/make_corpus.py" --format magpie --rows "$rows" --dup-rate 0.05 >"$input"
fi
if [ ! -x "$build/aviary" ] || [ ! -x "$build/bench/query_bench" ]; then
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target aviary query_bench >/dev/null
fi
A=$build/aviary QB=$build/bench/query_bench
for tool in sqlite3 node jq; do command -v $tool >/dev/null || { echo "query.sh: needs $tool" >&2; exit 1; }; done
nodedir=$work/node
if [ ! -d "$nodedir/node_modules/@duckdb/node-api" ]; then
    mkdir -p "$nodedir" && (cd "$nodedir" && npm install --no-audit --no-fund @duckdb/node-api >/dev/null 2>&1)
fi

QCOUNT='tag.task_category = "Math" and tag.input_quality in ("good","excellent")'
QRANGE='tag.instruct_reward > 0'
QTEXT='response contains "asyncio"'
SQLW="task_category = 'Math' AND input_quality IN ('good','excellent')"

echo "corpus: $input ($(wc -l <"$input") rows, $(du -h "$input" | cut -f1))"

# ---- aviary: build the store (not timed against the peers' loading)
store=$work/store
if [ ! -f "$store/.aviary-bench-done" ]; then
    rm -rf "$store"
    "$A" init "$store" >/dev/null
    t0=$(date +%s.%N)
    "$A" -C "$store" ingest "$input" --licence llama3 --skip-bad --rejects "$work/rejects.jsonl" -q
    t1=$(date +%s.%N)
    echo "aviary ingest: $(echo "$t1 - $t0" | bc) s" && touch "$store/.aviary-bench-done"
fi

# ---- sqlite3: a table of json_extract columns (and the raw line)
db=$work/bench.sqlite
if [ ! -s "$db" ]; then
    us=$(printf '\037')
    sqlite3 "$db" <<EOF
CREATE TABLE raw(line TEXT);
.mode ascii
.separator "$us" "\n"
.import '$input' raw
CREATE TABLE m AS SELECT json_extract(line, '\$.uuid') AS uuid, json_extract(line, '\$.task_category') AS task_category,
  json_extract(line, '\$.input_quality') AS input_quality, json_extract(line, '\$.instruct_reward') AS instruct_reward,
  json_extract(line, '\$.response') AS response, line FROM raw;
DROP TABLE raw;
VACUUM;
EOF
fi
sqlite_time() { # best "Run Time: real" of $runs runs of the SQL in $1 (ms)
    local sql=$1 best=""
    for _ in $(seq "$runs"); do
        t=$(printf '.timer on\n.output %s\n%s\n' "$work/sqlite.out" "$sql" | sqlite3 "$db" 2>&1 | grep -o 'real [0-9.]*' | tail -1 | cut -d' ' -f2)
        best=$(echo "$t" | awk -v b="$best" '{ms = $1 * 1000; if (b == "" || ms < b) print ms; else print b}')
    done
    echo "$best"
}
s_count=$(sqlite_time "SELECT count(*) FROM m WHERE $SQLW;")
s_count_n=$(sqlite3 "$db" "SELECT count(*) FROM m WHERE $SQLW;")
s_jsonl=$(sqlite_time "SELECT line FROM m WHERE $SQLW;")
s_range=$(sqlite_time "SELECT count(*) FROM m WHERE instruct_reward > 0;")
s_range_n=$(sqlite3 "$db" "SELECT count(*) FROM m WHERE instruct_reward > 0;")
s_text=$(sqlite_time "SELECT count(*) FROM m WHERE instr(response, 'asyncio') > 0;")
s_text_n=$(sqlite3 "$db" "SELECT count(*) FROM m WHERE instr(response, 'asyncio') > 0;")

# ---- DuckDB: a table from read_json, queries timed in one node process
cat >"$work/duck.js" <<EOF
const { DuckDBInstance } = require('$nodedir/node_modules/@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run("CREATE TABLE m AS SELECT * FROM read_json('$input', format = 'newline_delimited')");
  const W = "task_category = 'Math' AND input_quality IN ('good', 'excellent')";
  const qs = [["count", "SELECT count(*) FROM m WHERE " + W],
              ["jsonl", "COPY (SELECT * FROM m WHERE " + W + ") TO '$work/duck.jsonl' (FORMAT JSON)"],
              ["range", "SELECT count(*) FROM m WHERE instruct_reward > 0"],
              ["text", "SELECT count(*) FROM m WHERE contains(response, 'asyncio')"]];
  for (const [name, sql] of qs) {
    let best = Infinity, n = "";
    for (let i = 0; i < $runs; i++) {
      const t0 = performance.now();
      const r = await c.runAndReadAll(sql);
      const t = performance.now() - t0;
      if (t < best) best = t;
      if (name !== "jsonl") n = String(r.getRows()[0][0]);
    }
    console.log(name + " " + best.toFixed(2) + " " + n);
  }
})();
EOF
duck=$(node "$work/duck.js")
d_get() { echo "$duck" | awk -v k="$1" -v f="$2" '$1 == k {print $f}'; }

# ---- jq over the raw file (text search)
t0=$(date +%s.%N)
j_text_n=$(jq -c 'select(.response | contains("asyncio")) | .uuid' "$input" | wc -l)
t1=$(date +%s.%N)
j_text=$(echo "($t1 - $t0) * 1000" | bc)

# ---- aviary, in-process (query_bench) and as a command
a_time() { "$QB" "$store" "$runs" "$work/aviary.out" query "$@" | cut -d' ' -f1; }
wall() { local t0 t1; t0=$(date +%s.%N); "$A" -C "$store" query "$@" >"$work/aviary.out"; t1=$(date +%s.%N); echo "($t1 - $t0) * 1000" | bc; }
a_count=$(a_time "$QCOUNT" --format count); a_count_n=$("$A" -C "$store" query "$QCOUNT" --format count)
a_jsonl=$(a_time "$QCOUNT" --format jsonl); a_jsonl_n=$(wc -l <"$work/aviary.out")
a_range=$(a_time "$QRANGE" --format count); a_range_n=$("$A" -C "$store" query "$QRANGE" --format count)
a_text=$(a_time "$QTEXT" --format count); a_text_n=$("$A" -C "$store" query "$QTEXT" --format count)
w_count=$(wall "$QCOUNT" --format count); w_jsonl=$(wall "$QCOUNT" --format jsonl)
w_range=$(wall "$QRANGE" --format count); w_text=$(wall "$QTEXT" --format count)

verdict() { # aviary_ms faster_peer_ms
    awk -v a="$1" -v p="$2" 'BEGIN { r = a / p; printf "%.2fx of the faster peer: %s", r, (r <= 2 ? "within 2x" : "NOT within 2x") }'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
printf '\n%-34s %10s %10s %10s %10s %12s   %s\n' query sqlite3 duckdb jq aviary "aviary(cli)" "rows (sqlite/duckdb/jq/aviary)"
printf '%-34s %10s %10s %10s %10s %12.1f   %s\n' "count Math & good|excellent" "$s_count" "$(d_get count 2)" - "$a_count" "$w_count" \
    "$s_count_n/$(d_get count 3)/-/$a_count_n"
printf '%-34s %10s %10s %10s %10s %12.1f   %s\n' "same selection as JSON Lines" "$s_jsonl" "$(d_get jsonl 2)" - "$a_jsonl" "$w_jsonl" \
    "$s_count_n/$(wc -l <"$work/duck.jsonl")/-/$a_jsonl_n"
printf '%-34s %10s %10s %10s %10s %12.1f   %s\n' "count instruct_reward > 0" "$s_range" "$(d_get range 2)" - "$a_range" "$w_range" \
    "$s_range_n/$(d_get range 3)/-/$a_range_n"
printf '%-34s %10s %10s %10.1f %10s %12.1f   %s\n' "count response contains asyncio" "$s_text" "$(d_get text 2)" "$j_text" "$a_text" \
    "$w_text" "$s_text_n/$(d_get text 3)/$j_text_n/$a_text_n"
echo
echo "times in ms (best of $runs; jq and aviary(cli) are one process run, startup included)"
echo "count: $(verdict "$a_count" "$(min "$s_count" "$(d_get count 2)")")"
echo "jsonl: $(verdict "$a_jsonl" "$(min "$s_jsonl" "$(d_get jsonl 2)")")"
echo "range: $(verdict "$a_range" "$(min "$s_range" "$(d_get range 2)")")"
echo "text:  $(verdict "$a_text" "$(min "$s_text" "$(d_get text 2)")"); vs jq: $(awk -v a="$a_text" -v j="$j_text" 'BEGIN { printf "%.1fx faster", j / a }')"
echo "(aviary counts distinct responses: rows repeating an earlier row exactly are stored once; rows with a NUL are rejected)"
