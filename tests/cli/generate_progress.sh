#!/usr/bin/env bash
# generate_progress.sh: the progress line counts every task that ended, so a
# run reaches N/N done also when its answers come from the request cache or
# its records were already stored (a rerun), and the summary still says how
# many tasks added records.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
start_fake
"$AV" init "$T/s" >/dev/null
G=(generate magpie --endpoint "$EP" --model m --template llama3 -n 5 --seed 1 --progress)
"$AV" -C "$T/s" "${G[@]}" 2>"$T/err1"
check "first run: 5/5 done" grep -q "generate magpie: 5/5 done" <(tr '\r' '\n' <"$T/err1")
check "first run: 5 tasks added records" grep -q "5 tasks done, 10 records added" "$T/err1"
"$AV" -C "$T/s" "${G[@]}" 2>"$T/err2"
check "rerun from the cache: 5/5 done" grep -q "generate magpie: 5/5 done" <(tr '\r' '\n' <"$T/err2")
check "rerun: no ETA left on the last line" test -z "$(tr '\r' '\n' <"$T/err2" | grep 'done' | tail -1 | grep ETA)"
check "rerun: nothing added, all from the cache" grep -q "0 tasks done, 0 records added, 0 requests, 10 answered from the cache" "$T/err2"
finish
