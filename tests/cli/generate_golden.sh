#!/usr/bin/env bash
# generate_golden.sh: the exact request bodies aviary sends, against golden
# files in tests/data/generate/: Magpie per template (two turns: the raw
# pre-query prompt, the chat request for the response, then the history
# with the next user header), the server kinds' raw-completion differences
# (vLLM add_special_tokens, llama.cpp without the literal BOS and n=1, Ollama
# /api/generate raw), and every judge (pair, pair with a principle and CoT,
# rate, score, tag) and revise. GOLDEN_UPDATE=1 rewrites the golden files.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
G="$SRC/tests/data/generate"

# compare NAME: the recorded requests (path and body, in order) against the golden file
compare() {
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(json.dumps({"path": r["path"], "body": json.loads(r["body"])}, ensure_ascii=False))
' "$T/rec" > "$T/got"
    : > "$T/rec"
    if [ "${GOLDEN_UPDATE:-}" = 1 ]; then cp "$T/got" "$G/$1.jsonl"; fi
    diff -u "$G/$1.jsonl" "$T/got" | head -c 3000 >&2
    cmp -s "$G/$1.jsonl" "$T/got"
}

start_fake --record "$T/rec"
for t in llama3 llama3-system qwen2 qwen2.5 phi3 gemma2 mistral; do
    rm -rf "$T/s"; "$AV" init "$T/s" >/dev/null
    "$AV" -C "$T/s" generate magpie -q --endpoint "$EP" --model m-inst --template "$t" -n 1 --turns 2 --seed 7 \
        --concurrency 1 --no-progress
    check "magpie $t request bodies" compare "magpie_$t"
done
for srv in llamacpp ollama; do
    rm -rf "$T/s"; "$AV" init "$T/s" >/dev/null
    "$AV" -C "$T/s" generate magpie -q --endpoint "$EP" --server $srv --model m-inst --template llama3 -n 1 \
        --seed 7 --concurrency 1 --temperature 0.8 --top-p 0.9 --max-tokens 64 --system "Be brief." --no-progress
    check "magpie over $srv request bodies" compare "magpie_server_$srv"
done

# a family without a system role: the system text opens the first user turn
rm -rf "$T/s"; "$AV" init "$T/s" >/dev/null
"$AV" -C "$T/s" generate magpie -q --endpoint "$EP" --model m-inst --template gemma2 -n 1 --seed 7 --system "Be brief." \
    --concurrency 1 --no-progress
check "magpie gemma2 with a system prompt" compare "magpie_gemma2_system"

# a store with two prompts and two responses each
rm -rf "$T/s"; "$AV" init "$T/s" >/dev/null
"$AV" -C "$T/s" generate magpie -q --endpoint "$EP" --model m-inst --template qwen2 -n 2 --seed 1 --concurrency 1
"$AV" -C "$T/s" generate responses -q --endpoint "$EP" --model m-other --seed 3 --max-tokens 256 --concurrency 1
: > "$T/rec"
"$AV" -C "$T/s" judge pair -q --endpoint "$EP" --judge j --concurrency 1
check "judge pair request bodies" compare judge_pair
"$AV" -C "$T/s" judge pair -q --endpoint "$EP" --judge j --principle "Please choose the response that is the most helpful, honest, and harmless." --cot --concurrency 1
check "judge pair --principle --cot request bodies" compare judge_pair_principle_cot
"$AV" -C "$T/s" judge rate -q --endpoint "$EP" --judge j --aspects helpfulness,honesty --concurrency 1
check "judge rate request bodies" compare judge_rate
"$AV" -C "$T/s" judge score -q --endpoint "$EP" --judge j --completions --concurrency 1
check "judge score --completions request bodies" compare judge_score
"$AV" -C "$T/s" judge tag -q --endpoint "$EP" --tagger t --tags difficulty,category --concurrency 1
check "judge tag request bodies" compare judge_tag
printf '%s\n' '{"critique": "Identify specific ways in which the last response is harmful.", "revision": "Please rewrite the response to remove any harmful content."}' > "$T/cons.jsonl"
"$AV" -C "$T/s" revise -q --endpoint "$EP" --critic c --constitution "$T/cons.jsonl" --where 'model = "m-other"' --concurrency 1
check "revise request bodies" compare revise
finish
