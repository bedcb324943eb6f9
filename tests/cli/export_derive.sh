#!/usr/bin/env bash
# export_derive.sh: the formats aviary derives from records, on the shipped
# ingest samples: preference pairs from ratings (--pairs, --score,
# --min-margin, --keep-ties) with the H4 schema and sha256 prompt_id, KTO
# rows from labels and from pairs, stepwise rows from PRM800K step ratings,
# sft and sharegpt conversations. Expected values are worked out by hand from
# tests/data/ingest/ultrafeedback_raw.jsonl (mean of aspects: gpt-4 14/3,
# llama-2-13b-chat 13/3, vicuna-33b 10/3, falcon-40b-instruct 9/2; every
# overall_score 7.5).
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
D=$SRC/tests/data/ingest
"$A" init "$S" >/dev/null && "$A" -C "$S" ingest "$D/ultrafeedback_raw.jsonl" "$D/prm800k.jsonl" -q
check "samples load" test $? = 0
py() { python3 -c "$1"; }

run "$A" -C "$S" export --format preference --out -
check "best-worst: exit 0" test "$rc" = 0
check "best-worst: one pair" test "$(printf '%s\n' "$out" | wc -l)" = 1
check "best-worst: H4 columns in order" test "$(printf '%s' "$out" | py 'import json,sys; print(list(json.loads(sys.stdin.readline())))')" = "['prompt', 'prompt_id', 'chosen', 'rejected', 'messages', 'score_chosen', 'score_rejected']"
check "best-worst: scores are the aspect means" test "$(printf '%s' "$out" | py 'import json,sys; r=json.loads(sys.stdin.readline()); print(round(r["score_chosen"],4), round(r["score_rejected"],4))')" = "4.6667 3.3333"
check "best-worst: prompt_id is sha256 of prompt" test "$(printf '%s' "$out" | py 'import json,sys,hashlib; r=json.loads(sys.stdin.readline()); print(hashlib.sha256(r["prompt"].encode()).hexdigest()==r["prompt_id"])')" = True
check "best-worst: chosen ends with the assistant turn, messages = chosen" test "$(printf '%s' "$out" | py 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["chosen"][-1]["role"], r["rejected"][-1]["role"], r["messages"]==r["chosen"], r["chosen"][0]=={"content": r["prompt"], "role": "user"})')" = "assistant assistant True True"

run "$A" -C "$S" export --format preference --pairs all-pairs --out -
check "all-pairs: 6 pairs of 4 distinct scores" test "$(printf '%s\n' "$out" | wc -l)" = 6
check "all-pairs: chosen always scores higher" test "$(printf '%s\n' "$out" | py 'import json,sys; print(all(json.loads(l)["score_chosen"] > json.loads(l)["score_rejected"] for l in sys.stdin))')" = True
run "$A" -C "$S" export --format preference --pairs all-pairs --min-margin 1 --out -
check "min-margin 1: 3 pairs (13/3 - 10/3 counts)" test "$(printf '%s\n' "$out" | wc -l)" = 3
run "$A" -C "$S" export --format preference --score overall --out -
check "overall: every score ties, no pairs" test -z "$out"
run "$A" -C "$S" export --format preference --score overall --keep-ties --out -
check "overall --keep-ties: one tied pair" test "$(printf '%s' "$out" | py 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["score_chosen"], r["score_rejected"])')" = "7.5 7.5"
run "$A" -C "$S" export --format preference --score helpfulness --out -
check "one aspect: N/A skipped, 5 vs 1" test "$(printf '%s' "$out" | py 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["score_chosen"], r["score_rejected"])')" = "5.0 1.0"
run "$A" -C "$S" export --format preference --pairs best-random --seed 7 --out -
a=$out
run "$A" -C "$S" export --format preference --pairs best-random --seed 7 --out -
check "best-random: same seed, same pair" test "$a" = "$out"
run "$A" -C "$S" export --format preference --pairs nearest --out -
check "unknown pairing: usage error" test "$rc" = 2
check "unknown pairing: says which" has "$err" "aviary: unknown pairing 'nearest' (best-worst, best-random, all-pairs)"

run "$A" -C "$S" export --format kto --out -
check "kto from pairs: chosen true, rejected false" test "$(printf '%s\n' "$out" | py 'import json,sys; print([json.loads(l)["label"] for l in sys.stdin])')" = "[True, False]"
check "kto: conversational prompt and completion" test "$(printf '%s\n' "$out" | py 'import json,sys; r=json.loads(sys.stdin.readline()); print(list(r), r["completion"][0]["role"])')" = "['prompt', 'completion', 'label'] assistant"

run "$A" -C "$S" export --format stepwise --out -
check "stepwise: TRL columns, steps in order, ratings > 0 are true" test "$out" = '{"prompt": "What is 2 + 3 * 4?", "completions": ["Multiplication comes first: 3 * 4 = 12.", "Then 2 + 12 = 14.", "# Answer\n\n14"], "labels": [true, true, false]}'

run "$A" -C "$S" export --format sft --where 'model = "gpt-4"' --out -
check "sft: one row for gpt-4" test "$(printf '%s\n' "$out" | wc -l)" = 1
check "sft: messages user then assistant" test "$(printf '%s' "$out" | py 'import json,sys; r=json.loads(sys.stdin.readline()); print([m["role"] for m in r["messages"]], list(r["messages"][0]))')" = "['user', 'assistant'] ['role', 'content']"
run "$A" -C "$S" export --format sharegpt --where 'model = "gpt-4"' --out -
check "sharegpt: human then gpt" test "$(printf '%s' "$out" | py 'import json,sys; r=json.loads(sys.stdin.readline()); print([m["from"] for m in r["conversations"]])')" = "['human', 'gpt']"

"$A" init "$T/k" >/dev/null && "$A" -C "$T/k" ingest "$D/openai_kto.json" -q
run "$A" -C "$T/k" export --format kto --out -
check "kto from labels: one row per labelled response" test "$(printf '%s\n' "$out" | py 'import json,sys; print(sorted(json.loads(l)["label"] for l in sys.stdin))')" = "$(py 'import json; print(sorted(r["label"] for r in json.load(open("'"$D"'/openai_kto.json")) if "label" in r))')"
finish
