#!/usr/bin/env bash
# generate_rubric.sh: `judge rate --rubric FILE`: the file's text is the
# rubric the judge is sent, the aspect is named after the file, and the
# ratings carry it; an empty, missing or unreadable rubric is an error that
# asks nothing.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
start_fake --record "$T/requests"
"$AV" init "$T/s" >/dev/null
E=(--endpoint "$EP" -q --no-progress)
"$AV" -C "$T/s" generate magpie "${E[@]}" --model m --template qwen2 -n 2 --seed 1
: >"$T/requests"
printf '# Conciseness\n\nRate how concise the text is, from 1 (rambling) to 5 (tight).\n\n' >"$T/concise.md"
"$AV" -C "$T/s" judge rate "${E[@]}" --judge j --rubric "$T/concise.md"
check "rubric: exit 0" test $? -eq 0
check "rubric: its text is in every request" test "$(grep -c 'Rate how concise the text is, from 1 (rambling) to 5 (tight).' "$T/requests")" -eq 2
check "rubric: two ratings named after the file" test "$("$AV" -C "$T/s" dump | grep '"kind":"rating"' | grep -c '"name":"concise"')" -eq 2

: >"$T/requests"
: >"$T/empty.md"
"$AV" -C "$T/s" judge rate "${E[@]}" --judge j2 --rubric "$T/empty.md" 2>"$T/err"
check "empty rubric: exit 1" test $? -eq 1
check "empty rubric: says so" grep -qx "aviary: rubric '$T/empty.md' is empty: it should say what to rate and how (see docs/generate.md)" "$T/err"
"$AV" -C "$T/s" judge rate "${E[@]}" --judge j2 --rubric "$T/nonexistent.md" 2>"$T/err"
check "missing rubric: exit 1" test $? -eq 1
check "missing rubric: says so" grep -qx "aviary: cannot read rubric '$T/nonexistent.md': No such file or directory" "$T/err"
"$AV" -C "$T/s" judge rate "${E[@]}" --judge j2 --rubric "$T" 2>"$T/err"
check "a directory as rubric: exit 1" test $? -eq 1
check "a directory as rubric: named" grep -q "aviary: cannot read rubric '$T': " "$T/err"
check "nothing asked for the bad rubrics" test ! -s "$T/requests"
check "no rating by j2" test "$("$AV" -C "$T/s" dump | grep -c '"model":"j2"')" -eq 0
finish
