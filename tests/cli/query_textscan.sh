#!/usr/bin/env bash
# query_textscan.sh: `instruction/response contains "..."` over many units
# is answered by scanning the stored texts block by block first (textscan.c)
# and then testing each unit's text by its place. Its answers must be those
# of the unit-by-unit check (AVIARY_QUERY_NO_TEXTSCAN=1), including texts
# stored first by a record of the other class (a response equal to an
# instruction is stored once, with the prompts' texts), texts only in a
# later version (--at), and under not / or / --limit.
. "$(dirname "$0")/lib/query_lib.bash"
"$A" init "$S" >/dev/null || exit 1
gen() { # from, to: Magpie rows with long texts; every 9th response has the needle
    awk -v from="$1" -v to="$2" 'BEGIN {
        pad = "and enough words after it to keep this text out of the record itself"
        for (i = from; i <= to; i++) {
            ins = sprintf("question %d asks about a topic %s", i, pad)
            if (i % 13 == 5) ins = ins " (zebra)"
            res = sprintf("answer %d explains the topic %s", i, pad)
            if (i % 9 == 4) res = res " with a needle in it"
            # row 7 (mod 250) asks what row 8 answers word for word: that text is
            # stored once, in a block of the prompt texts
            if (i % 250 == 7) ins = sprintf("question %d asks about a topic %s (zebra) needle", i, pad)
            if (i % 250 == 8) res = sprintf("question %d asks about a topic %s (zebra) needle", i - 1, pad)
            printf "{\"uuid\": \"u-%d\", \"instruction\": \"%s\", \"response\": \"%s\", \"task_category\": \"%s\"}\n", i, ins, res, (i % 2 ? "Math" : "Planning")
        }
    }'
}
gen 1 1500 >"$T/a.jsonl"
gen 1501 1800 >"$T/b.jsonl"
"$A" -C "$S" ingest "$T/a.jsonl" --format magpie --licence llama3 -q || exit 1
"$A" -C "$S" ingest "$T/b.jsonl" --format magpie --licence llama3 -q || exit 1
agree() { # name, then aviary query args: the text scan and the unit-by-unit check agree
    local name=$1
    shift
    AVIARY_QUERY_NO_TEXTSCAN=1 "$A" -C "$S" query "$@" >"$T/unit.out" 2>"$T/unit.err"
    local rc1=$?
    "$A" -C "$S" query "$@" >"$T/scan.out" 2>"$T/scan.err"
    rc=$?
    check "$name: exit code" test "$rc1" = "$rc"
    check "$name: stdout" cmp -s "$T/unit.out" "$T/scan.out"
    check "$name: stderr" cmp -s "$T/unit.err" "$T/scan.err"
}
agree "needle in responses" 'response contains "needle"' --format ids
n=$(wc -l <"$T/scan.out")
want=$(awk 'BEGIN { for (i = 1; i <= 1800; i++) if (i % 9 == 4 || i % 250 == 8) n++; print n }')
check "needle in responses: $want rows (got $n)" test "$n" = "$want"
agree "response equal to an instruction" 'response contains "(zebra) needle"' --format ids
check "response equal to an instruction: found through the other class" test "$(wc -l <"$T/scan.out")" = 8
agree "instructions" 'instruction contains "zebra"' --format count
agree "not" 'not response contains "needle"' --format count
agree "or" 'response contains "needle" or instruction contains "zebra"' --format ids
agree "and an index" 'tag.task_category = "Math" and response contains "needle"' --format jsonl --fields id,response
agree "at version 1" 'response contains "needle"' --at 1 --format ids
check "at version 1: only its rows" test "$(wc -l <"$T/scan.out")" -lt "$want"
agree "limit" 'response contains "needle"' --format ids --limit 5
check "limit: 5 rows" test "$(wc -l <"$T/scan.out")" = 5
agree "absent" 'response contains "no such words anywhere"' --format count
check "absent: 0" test "$(cat "$T/scan.out")" = 0
# a store where no text crossed classes: the scan notes matching texts only
S2=$T/apart
"$A" init "$S2" >/dev/null || exit 1
gen 1 1500 | grep -v '(zebra) needle' >"$T/c.jsonl"
"$A" -C "$S2" ingest "$T/c.jsonl" --format magpie --licence llama3 -q || exit 1
S=$S2
agree "apart: needles" 'response contains "needle"' --format ids
check "apart: needles found" test "$(wc -l <"$T/scan.out")" -ge 150
agree "apart: instructions" 'instruction contains "zebra"' --format count
agree "apart: not" 'not response contains "needle"' --format count
finish
