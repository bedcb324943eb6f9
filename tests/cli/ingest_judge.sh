#!/usr/bin/env bash
# ingest_judge.sh: UltraFeedback's verdicts are GPT-4's (so its terms enter
# their lineage); --judge names the judge of formats that do not say; round
# trips are unchanged by it.
. "$AVIARY_SRC/tests/cli/lib/store_lib.bash"
ok() { check "$*" "$@"; }
D="$AVIARY_SRC/tests/data"
"$A" init "$T/s" >/dev/null
"$A" -C "$T/s" ingest -q "$D/demo/ultrafeedback_sample.jsonl" --source uf --licence mit
n=$("$A" -C "$T/s" query --kind rating 'model = "gpt-4"' --format count)
all=$("$A" -C "$T/s" query --kind rating --format count)
ok test "$n" -gt 0
ok test "$n" -eq "$all"
audit=$("$A" -C "$T/s" audit --where 'source = "uf"' --format json)
ok grep -q '"openai-terms"' <<< "$audit"
# binarized data names no judge: none is guessed, --judge sets one
"$A" -C "$T/s" ingest -q "$D/ingest/h4_binarized.jsonl" --source h4 --licence mit
ok test "$("$A" -C "$T/s" query --kind rating 'source = "h4" and exists model' --format count)" -eq 0
"$A" init "$T/s2" >/dev/null
"$A" -C "$T/s2" ingest -q "$D/ingest/h4_binarized.jsonl" --source h4 --licence mit --judge gpt-4-0613
r=$("$A" -C "$T/s2" query --kind rating --format count)
ok test "$r" -gt 0
ok test "$("$A" -C "$T/s2" query --kind rating 'model = "gpt-4-0613"' --format count)" -eq "$r"
# the round trip still gives the rows back
"$A" -C "$T/s" export --format ultrafeedback --where 'source = "uf"' --out "$T/uf.jsonl" >/dev/null 2>&1
ok python3 -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
sys.exit(0 if a == b else 1)' "$D/demo/ultrafeedback_sample.jsonl" "$T/uf.jsonl"
"$A" -C "$T/s" ingest --judge 2>/dev/null; ok test $? -eq 2
run "$A" -C "$T/s" ingest "$D/ingest/h4_binarized.jsonl" --judge ""
check "--judge with an empty name is a usage error" test "$rc" -eq 2
check "... that says so" has "$err" "--judge needs a model name"
finish
