#!/usr/bin/env bash
# generate_judges.sh: the judges end to end against the fake server, whose
# log-probabilities are known: RLAIF soft labels with position-swap
# averaging ("1"/"2" and "(A)"/"(B)"), the text fallback without
# log-probabilities, judge agreement, d-RLAIF scores, UltraFeedback ratings
# with re-asking (and giving up), Magpie tags, and revise.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
start_fake
"$AV" init "$T/s" >/dev/null
E=(--endpoint "$EP" -q --no-progress)
"$AV" -C "$T/s" generate magpie "${E[@]}" --model m --template qwen2 -n 3 --seed 1
"$AV" -C "$T/s" generate responses "${E[@]}" --model m-verbose
"$AV" -C "$T/s" dump > "$T/d0"
check "setup: 3 prompts, 6 responses" test "$(grep -c '"kind":"prompt"' "$T/d0")$(grep -c '"kind":"response"' "$T/d0")" = 36

# jq-free checks on the dump: a python helper over the records of a kind and model
q() { "$AV" -C "$T/s" dump | python3 -c "
import json, sys
recs = [json.loads(l) for l in sys.stdin if '\"kind\"' in l]
sel = [r for r in recs if r['kind'] == '$1' and r.get('model') == '$2']
ok = len(sel) == int(sys.argv[1]) and all($3 for r in sel)
if not ok: print(len(sel), sel[:1], file=sys.stderr)
sys.exit(0 if ok else 1)" "$4"; }

# the verbose response (B) is longer: A first P(first)=0.3, B first P(first)=0.9 -> P(A)=(0.3+0.1)/2
"$AV" -C "$T/s" judge pair "${E[@]}" --judge j1
check "pair: soft labels averaged over both orders" q preference j1 \
    "abs(r['num'] - 0.2) < 1e-9 and r['name'] == 'logprob' and r['attrs']['orders_agree'] is True and abs(r['attrs']['p_a_first'] - 0.3) < 1e-9 and abs(r['attrs']['p_a_second'] - 0.1) < 1e-9" 3
"$AV" -C "$T/s" judge pair "${E[@]}" --judge j2 --principle "Please choose the response that is the most helpful, honest, and harmless."
check "pair with a principle: (A)/(B) soft labels" q preference j2 \
    "abs(r['num'] - 0.2) < 1e-9 and r['name'] == 'logprob' and r['attrs']['principle'].startswith('Please choose')" 3

start_fake --no-logprobs
E=(--endpoint "$EP" -q --no-progress)
"$AV" -C "$T/s" judge pair "${E[@]}" --judge j3
check "pair without log-probabilities: text answers" q preference j3 "r['num'] == 0.0 and r['name'] == 'text'" 3
"$AV" -C "$T/s" judge agreement --judge j1 --against j3 --json > "$T/agree"
check "agreement: all pairs agree" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["pairs"] == 3 and r["agreed"] == 3 and r["agreement"] == 1.0 and r["position_consistency"] == 1.0 and abs(r["mean_confidence"] - 0.8) < 1e-9 else 1)' "$T/agree"
"$AV" -C "$T/s" judge agreement --judge j1 --against nobody 2> "$T/err"
check "agreement: unknown reference named" grep -q "no judge or source named 'nobody'" "$T/err"

start_fake
E=(--endpoint "$EP" -q --no-progress)
# d-RLAIF: P(6)=0.2, P(7)=0.5, P(8)=0.3 -> s = 7.1 -> (7.1 - 5.5) / 4.5
"$AV" -C "$T/s" judge score "${E[@]}" --judge j1
check "score: d-RLAIF expectation mapped to [-1, 1]" q rating j1 \
    "r['name'] == 'd-rlaif' and abs(r['num'] - 1.6 / 4.5) < 1e-9 and abs(r['attrs']['expected_score'] - 7.1) < 1e-9" 6

# UltraFeedback: the judge garbles twice per request, then answers; ratings = 1 + len(text) % 5
"$AV" -C "$T/s" judge rate --endpoint "$EP" --no-progress --judge j-garble2 --aspects honesty 2> "$T/err"
check "rate: re-asked after unparsable answers (3 requests per prompt)" grep -q "3 tasks done, 6 records added, 9 requests" "$T/err"
check "rate: ratings with rationales" q rating j-garble2 "r['name'] == 'honesty' and 1 <= r['num'] <= 5 and r['msgs'][0]['role'] == 'rationale' and 'characters' in r['msgs'][0]['text']" 6
"$AV" -C "$T/s" judge rate --endpoint "$EP" --no-progress --judge j-garble5 --aspects helpfulness --max-reask 2 2> "$T/err"
check "rate: gives up after the re-ask limit (exit 1)" test $? -eq 1
check "rate: says why" grep -q "helpfulness rating of prompt row [0-9]*: no parsable answer after 3 tries" "$T/err"

"$AV" -C "$T/s" judge tag "${E[@]}" --tagger t
check "tag: Magpie's three tag kinds per prompt" bash -c "test \$('$AV' -C '$T/s' dump | grep '\"kind\":\"tag\"' | grep -c '\"model\":\"t\"') -eq 9"
check "tag: category" q tag t "'task_category' not in r['attrs'] or (r['attrs']['task_category'] == 'Math' and r['attrs']['other_task_category'] == ['Reasoning', 'Information seeking'])" 9
check "tag: difficulty" q tag t "'difficulty' not in r['attrs'] or r['attrs']['difficulty'] == 'easy'" 9

# agreement with human labels: an ingested preference dataset as the reference.
# The fake judge prefers the longer response, so the expected agreement is the
# share of human verdicts whose chosen response is the longer one.
"$AV" init "$T/h" >/dev/null
if "$AV" -C "$T/h" ingest "$SRC/tests/data/ingest/corpus_binarized.jsonl" 2>/dev/null; then
    "$AV" -C "$T/h" judge pair "${E[@]}" --judge j
    "$AV" -C "$T/h" judge agreement --judge j --against corpus_binarized --json > "$T/agree"
    "$AV" -C "$T/h" dump > "$T/hd"
    check "agreement with a source's human labels" python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if "\"kind\"" in l]
text = {r["id"]: r["msgs"][0]["text"] for r in recs if r["kind"] == "response"}
n = agreed = 0
for r in recs:
    if r["kind"] != "preference" or r.get("model") or r["refs"][1] == r["refs"][2] or r["num"] == 0.5:
        continue
    a, b = text[r["refs"][1]], text[r["refs"][2]]
    if len(a) == len(b):
        continue
    n += 1
    agreed += (r["num"] > 0.5) == (len(a) > len(b))
got = json.load(open(sys.argv[2]))
ok = n > 0 and got["pairs"] == n and got["agreed"] == agreed and abs(got["agreement"] - agreed / n) < 1e-12
print(n, agreed, got, file=sys.stderr) if not ok else None
sys.exit(0 if ok else 1)' "$T/hd" "$T/agree"
fi

printf '%s\n' '{"critique": "Identify specific ways in which the last response is harmful.", "revision": "Please rewrite the response to remove any harmful content."}' > "$T/cons.jsonl"
"$AV" -C "$T/s" revise "${E[@]}" --critic c --constitution "$T/cons.jsonl" --rounds 2
check "revise: revisions refer to the original and keep the critiques" q response c \
    "len(r['refs']) == 2 and [m['role'] for m in r['msgs']] == ['assistant', 'critique', 'revision', 'critique']" 6
"$AV" -C "$T/s" revise --endpoint "$EP" --no-progress --critic c --constitution "$T/cons.jsonl" --rounds 2 2> "$T/err"
check "revise again: revisions are not revised, nothing new" grep -q "0 records added, 0 requests, 24 answered from the cache" "$T/err"
printf 'not json\n{"principle": 3}\n' > "$T/bad.jsonl"
"$AV" -C "$T/s" revise "${E[@]}" --critic c --constitution "$T/bad.jsonl" 2> "$T/err"
check "revise: a bad constitution line is reported" grep -q "bad.jsonl:1: needs\|bad.jsonl:2: needs" "$T/err"
finish
