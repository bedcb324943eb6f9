#!/usr/bin/env bash
# ingest_bad.sh: every kind of bad input `aviary ingest` must meet with
# "file:line: reason": malformed JSON, a wrong type, a missing required
# field, invalid UTF-8, an embedded \u0000, a truncated .gz / .zst, a broken
# JSON array. By default nothing is committed; --skip-bad commits exactly the
# good rows, writes the bad ones verbatim to --rejects and counts both.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
D=$SRC/tests/data/ingest
"$A" init "$S" >/dev/null
good='{"instruction": "Say hi.", "input": "", "output": "Hi!"}'
good2='{"instruction": "Say bye.", "input": "", "output": "Bye!"}'

# bad_case NAME LINE2 EXPECTED-STDERR-PART: a 3-line file whose 2nd line is bad
bad_case() {
    local name=$1 line=$2 want=$3 f=$T/$1.jsonl
    printf '%s\n%s\n%s\n' "$good" "$line" "$good2" >"$f"
    run "$A" -C "$S" ingest "$f"
    check "$name: exit 1" test "$rc" = 1
    check "$name: file:line: reason" has "$err" "aviary: $f:2: $want"
    check "$name: says nothing was committed" has "$err" "nothing was committed"
    run "$A" -C "$S" log
    check "$name: no version made" test -z "$out"
}
bad_case malformed '{"instruction": "x", "input": "", "output": "y"' "malformed JSON: unterminated object (column 48)"
bad_case trailing '{"instruction": "x", "output": "y"} x' "malformed JSON: unexpected data after the value (column 37)"
bad_case wrongtype '{"instruction": 5, "input": "", "output": "y"}' "'instruction' must be a string, not a number"
bad_case missing '{"instruction": "x", "input": ""}' "missing required field 'output'"
bad_case nul '{"instruction": "a\u0000b", "input": "", "output": "y"}' 'string contains \u0000 (NUL) (column 19)'
bad_case notobject '[1, 2]' "a row must be a JSON object, not an array"
bad_case surrogate '{"instruction": "\ud800", "input": "", "output": "y"}' "lone UTF-16 surrogate in a \\u escape"
printf '%s\n{"instruction": "caf\xe9", "input": "", "output": "y"}\n%s\n' "$good" "$good2" >"$T/utf8.jsonl"
run "$A" -C "$S" ingest "$T/utf8.jsonl"
golden "invalid UTF-8" 1 "" "aviary: $T/utf8.jsonl:2: invalid UTF-8 in a string (column 21)
aviary: nothing was committed (use --skip-bad to commit the good rows)"
printf '%s\n{"instruction": "x\xc0\xaf", "input": "", "output": "y"}\n' "$good" >"$T/overlong.jsonl"
run "$A" -C "$S" ingest "$T/overlong.jsonl"
check "overlong UTF-8 is invalid" has "$err" "overlong.jsonl:2: invalid UTF-8 in a string"

# nesting beyond the parser's limit
deep=$(printf '%.0s[' $(seq 70))
printf '%s\n{"instruction": "x", "input": "", "output": "y", "extra": %s}\n' "$good" "$deep" >"$T/deep.jsonl"
run "$A" -C "$S" ingest "$T/deep.jsonl"
check "deep nesting: clear error" has "$err" "deep.jsonl:2: nesting deeper than 64 levels"

# truncated compressed files
for i in $(seq 2000); do printf '{"instruction": "Count to %d.", "input": "", "output": "%d"}\n' "$i" "$i"; done >"$T/many.jsonl"
gzip -c "$T/many.jsonl" >"$T/many.jsonl.gz"
head -c $(($(wc -c <"$T/many.jsonl.gz") / 2)) "$T/many.jsonl.gz" >"$T/cut.jsonl.gz"
run "$A" -C "$S" ingest "$T/cut.jsonl.gz"
check "truncated gzip: exit 1" test "$rc" = 1
check "truncated gzip: reason" has "$err" "cut.jsonl.gz:"
check "truncated gzip: says truncated" has "$err" "truncated gzip data"
if command -v zstd >/dev/null; then
    zstd -q -c "$T/many.jsonl" >"$T/many.jsonl.zst"
    head -c $(($(wc -c <"$T/many.jsonl.zst") / 2)) "$T/many.jsonl.zst" >"$T/cut.jsonl.zst"
    run "$A" -C "$S" ingest "$T/cut.jsonl.zst"
    check "truncated zstd: exit 1" test "$rc" = 1
    check "truncated zstd: says truncated" has "$err" "truncated zstd data"
fi
run "$A" -C "$S" log
check "still nothing committed" test -z "$out"

# broken JSON arrays
printf '[\n  %s,\n  %s\n' "$good" "$good2" >"$T/open.json"
run "$A" -C "$S" ingest "$T/open.json"
check "unterminated array: exit 1" test "$rc" = 1
check "unterminated array: reason" has "$err" "open.json:4: unterminated JSON array"
printf '[\n  %s,\n  {"instruction": 1, "output": "x"}\n]\n' "$good" >"$T/badel.json"
run "$A" -C "$S" ingest "$T/badel.json"
check "bad element: its line" has "$err" "badel.json:3: 'instruction' must be a string, not a number"

# --skip-bad: exactly the good rows, the bad ones verbatim in --rejects
S=$T/s2
"$A" init "$S" >/dev/null
{
    printf '%s\n' "$good"
    printf '%s\n' '{"instruction": 5, "input": "", "output": "y"}'
    printf '%s\n' "$good2"
    printf '%s\n' '{"instruction": "x", "input": "",'
    printf '{"instruction": "bad \xff", "input": "", "output": "y"}\n'
} >"$T/mixed.jsonl"
{
    printf '%s\n' '{"instruction": 5, "input": "", "output": "y"}'
    printf '%s\n' '{"instruction": "x", "input": "",'
    printf '{"instruction": "bad \xff", "input": "", "output": "y"}\n'
} >"$T/want_rejects.jsonl"
run "$A" -C "$S" ingest "$T/mixed.jsonl" --skip-bad --rejects "$T/rej.jsonl"
check "--skip-bad: exit 0" test "$rc" = 0
check "--skip-bad: counts" has "$err" "mixed.jsonl: 5 rows as alpaca: 2 new, 0 already present, 3 bad (skipped)"
check "--skip-bad: each bad row named" has "$err" "mixed.jsonl:4: malformed JSON"
check "--rejects holds the bad rows verbatim" cmp -s "$T/rej.jsonl" "$T/want_rejects.jsonl"
run "$A" -C "$S" log
check "--skip-bad: commit message counts both" has "$out" "2 new, 0 already present, 3 bad"
run "$A" -C "$S" export --format alpaca --out - -q
golden "--skip-bad: exactly the good rows are in the store" 0 '{"instruction":"Say hi.","input":"","output":"Hi!"}
{"instruction":"Say bye.","input":"","output":"Bye!"}' ""
run "$A" -C "$S" ingest "$T/mixed.jsonl" --rejects "$T/rej2.jsonl"
check "--rejects without --skip-bad: exit 2" test "$rc" = 2

finish
