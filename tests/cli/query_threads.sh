#!/usr/bin/env bash
# query_threads.sh: `aviary query` checks text conditions and writes JSON
# Lines on several threads when there are many rows; the output (its order
# included), --limit, and where an error stops must be byte for byte those
# of one thread (AVIARY_QUERY_THREADS=1). The store: 1200 generated
# Magpie-like rows (enough for the batches to be cut), one of which has a
# string where the others have a number.
. "$(dirname "$0")/lib/query_lib.bash"
"$A" init "$S" >/dev/null || exit 1
awk 'BEGIN {
    for (i = 1; i <= 1200; i++) {
        n = (i == 1004) ? "\"five\"" : i % 10
        needle = (i % 7 == 3) ? " with a needle in it" : ""
        printf "{\"uuid\": \"u-%d\", \"instruction\": \"question %d\", \"response\": \"answer %d%s\", ", i, i, i, needle
        printf "\"task_category\": \"%s\", \"n\": %s}\n", (i % 2 ? "Math" : "Planning"), n
    }
}' >"$T/rows.jsonl"
"$A" -C "$S" ingest "$T/rows.jsonl" --format magpie --licence llama3 -q 2>"$T/ingest.err" || {
    echo "cannot ingest the generated rows: $(cat "$T/ingest.err")"
    exit 1
}
same() { # name, then aviary query args: one thread and the default agree
    local name=$1
    shift
    AVIARY_QUERY_THREADS=1 "$A" -C "$S" query "$@" >"$T/one.out" 2>"$T/one.err"
    local rc1=$?
    AVIARY_QUERY_THREADS=4 "$A" -C "$S" query "$@" >"$T/four.out" 2>"$T/four.err"
    local rc4=$?
    rc=$rc4 out=$(head -c 300 "$T/four.out") err=$(cat "$T/four.err")
    check "$name: exit code" test "$rc1" = "$rc4"
    check "$name: stdout" cmp -s "$T/one.out" "$T/four.out"
    check "$name: stderr" cmp -s "$T/one.err" "$T/four.err"
}
same "all as jsonl" --format jsonl
check "all as jsonl: 1200 lines" test "$(wc -l <"$T/four.out")" = 1200
same "math as jsonl" 'tag.task_category = "Math"' --format jsonl --fields id,instruction,response,tags
same "needles (text scan)" 'response contains "needle"' --format jsonl
check "needles: 172 lines" test "$(wc -l <"$T/four.out")" = 172
same "needles behind an index" 'tag.task_category = "Planning" and response matches "needle in"' --format ids
same "limit" 'response contains "answer"' --format jsonl --limit 333
check "limit: 333 lines" test "$(wc -l <"$T/four.out")" = 333
same "count" 'response contains "needle" and tag.task_category = "Math"' --format count
# row 1004 (a needle row) holds a string: the rows before it come out, then the error
same "error mid-run" 'response contains "needle" and tag.n > 1' --format jsonl
check "error mid-run: exit 1" test "$rc" = 1
check "error mid-run: names the comparison" has "$err" "cannot compare tag.n with 1"
check "error mid-run: rows before it" test "$(wc -l <"$T/four.out")" -gt 50
finish
