#!/usr/bin/env bash
# store_badinput.sh: bad input to add, show and retract gives a clear error
# and changes nothing: a corrupted record, a truncated line, an unknown kind,
# bad hex, a dangling ref, a non-dump file, and an id prefix that matches two
# records (two prompts whose content ids share their first 8 hex digits).
. "$(dirname "$0")/lib/store_lib.bash"
SAMPLE=$SRC/tests/data/native_sample.jsonl
S=$T/s
"$A" init "$S" >/dev/null
printf '%s\n' '{"aviary":"dump","format":1,"version":1}' \
    '{"commit":1,"time":"2026-01-01T00:00:00Z","message":"two prompts","command":"aviary test","added":{"prompt":2},"retracted":0,"restored":0,"linked":0}' \
    '{"kind":"prompt","id":"ad6593e8cb3092e38a9f63e89f44e2b3","version":1,"msgs":[{"role":"user","text":"Which prompt am I? Number 9698."}]}' \
    '{"kind":"prompt","id":"ad6593e83f5785256b26c7eea47c20d2","version":1,"msgs":[{"role":"user","text":"Which prompt am I? Number 85323."}]}' \
    >"$T/pair.jsonl"
run "$A" -C "$S" add "$T/pair.jsonl"
check "add the pair" test "$rc" = 0
log_before=$("$A" -C "$S" log --format json)
dump_before=$("$A" -C "$S" dump)

# bad_add NAME FILE EXPECTED-STDERR: add fails with that message, store unchanged
bad_add() {
    run "$A" -C "$S" add "$2"
    golden "$1" 1 "" "$3"
    check "$1: log unchanged" test "$("$A" -C "$S" log --format json)" = "$log_before"
    check "$1: records unchanged" test "$("$A" -C "$S" dump)" = "$dump_before"
    # and into an empty store (a replay of several versions) too
    rm -rf "$T/e"
    "$A" init "$T/e" >/dev/null
    run "$A" -C "$T/e" add "$2"
    check "$1 (empty store): exit 1" test "$rc" = 1
    check "$1 (empty store): no versions" test -z "$("$A" -C "$T/e" log)"
}

sed 's/so the answer is four/so the answer is five/' "$SAMPLE" >"$T/corrupt.jsonl"
bad_add "corrupted record" "$T/corrupt.jsonl" \
    "aviary: $T/corrupt.jsonl:16: corrupted record: the line says id 'cffc21707754e9aea1001445c77f588c' but its content hashes to '95e9ec4efbb52bee36051eec3febda2a'"

head -c -40 "$SAMPLE" >"$T/trunc.jsonl"
bad_add "truncated line" "$T/trunc.jsonl" "aviary: $T/trunc.jsonl:19: truncated line (the JSON ends early)"

sed 's/"kind":"rating"/"kind":"grade"/' "$SAMPLE" >"$T/kind.jsonl"
bad_add "unknown kind" "$T/kind.jsonl" "aviary: $T/kind.jsonl:15: unknown record kind 'grade'"

sed 's/"refs":\["606ae82768a926b67e3095f77a70d961"\]/"refs":["606ae82768a926b67e3095f77a70d96"]/' "$SAMPLE" >"$T/hex.jsonl"
bad_add "bad hex" "$T/hex.jsonl" \
    "aviary: $T/hex.jsonl:15: 'refs': bad content id '606ae82768a926b67e3095f77a70d96' (32 hex digits expected)"

sed 's/"refs":\["606ae82768a926b67e3095f77a70d961"\]/"refs":["606ae82768a926b67e3095f77a70d960"]/' "$SAMPLE" >"$T/ref.jsonl"
bad_add "dangling ref" "$T/ref.jsonl" \
    "aviary: $T/ref.jsonl:15: it refers to '606ae82768a926b67e3095f77a70d960', which is neither in the store nor earlier in the file"

printf '{"instruction":"hi","response":"hello"}\n' >"$T/magpie.jsonl"
bad_add "not a dump" "$T/magpie.jsonl" \
    "aviary: $T/magpie.jsonl:1: not an aviary dump (the first line must be its header)"

printf '{"aviary":"dump","format":1,"version":0}\n{"kind":"prompt","id":"ad6593e8cb3092e38a9f63e89f44e2b3","version":1,"msgs":[{"role":"user","text":"a\\u0000b"}]}\n' >"$T/nul.jsonl"
bad_add "embedded NUL" "$T/nul.jsonl" \
    "aviary: $T/nul.jsonl:2: \\u0000 (NUL) in a string at byte 102 is not supported"

printf '{"aviary":"dump","format":1,"version":0}\n{"kind":"prompt","id":"ad6593e8cb3092e38a9f63e89f44e2b3","version":1,"msgs":[{"role":"user","text":"\xff"}]}\n' >"$T/utf8.jsonl"
bad_add "invalid UTF-8" "$T/utf8.jsonl" "aviary: $T/utf8.jsonl:2: invalid UTF-8 at byte 101"

run "$A" -C "$S" add "$T/missing.jsonl"
golden "missing file" 1 "" "aviary: cannot open '$T/missing.jsonl': No such file or directory"

# an id prefix that matches two records
run "$A" -C "$S" show ad6593e8
check "ambiguous prefix: exit 1" test "$rc" = 1
check "ambiguous prefix: says so" has "$err" "aviary: "
check "ambiguous prefix: names both" has "$err" "ad6593e8cb3092e3"
check "ambiguous prefix: names both" has "$err" "ad6593e83f578525"
run "$A" -C "$S" retract ad6593e8
check "retract by an ambiguous prefix: exit 1" test "$rc" = 1
check "retract by an ambiguous prefix: log unchanged" test "$("$A" -C "$S" log --format json)" = "$log_before"
run "$A" -C "$S" show ad6593e8c
check "one more digit is unique" test "$rc" = 0
check "... and shows the right one" has "$out" "Number 9698."
run "$A" -C "$S" show ad6593e
check "7 digits is too short" test "$rc" = 1
run "$A" -C "$S" show xyz12345
check "not hex" test "$rc" = 1
finish
