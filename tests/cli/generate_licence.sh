#!/usr/bin/env bash
# generate_licence.sh: every model a generate, judge or revise run creates
# gets the licence tag ingest would give it (from the built-in model
# registry, "unknown" when not known), so audits of generated and judged rows
# show the models' licences; a model that already has a licence (set with
# `aviary model set`) keeps it, and reruns add no second tag.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
start_fake
"$AV" init "$T/s" >/dev/null
E=(--endpoint "$EP" -q --no-progress)
"$AV" -C "$T/s" model set house-model --licence mit >/dev/null
"$AV" -C "$T/s" generate magpie "${E[@]}" --model meta-llama/Meta-Llama-3-8B-Instruct --template llama3 -n 2 --seed 1 \
    --response-model Qwen/Qwen2-7B-Instruct
"$AV" -C "$T/s" generate responses "${E[@]}" --model house-model
"$AV" -C "$T/s" generate responses "${E[@]}" --model mystery-9b
"$AV" -C "$T/s" judge rate "${E[@]}" --judge gpt-4-0613 --aspects honesty
"$AV" -C "$T/s" judge tag "${E[@]}" --tagger google/gemma-2-9b-it
printf '{"critique": "Name any harm in the response.", "revision": "Rewrite it without the harm."}\n' > "$T/constitution"
"$AV" -C "$T/s" revise "${E[@]}" --critic claude-3-opus --constitution "$T/constitution" --where 'model = "house-model"'

"$AV" -C "$T/s" model list > "$T/models"
cat > "$T/want" <<'EOF'
house-model	mit
meta-llama/Meta-Llama-3-8B-Instruct	llama3
Qwen/Qwen2-7B-Instruct	apache-2.0
mystery-9b	unknown
gpt-4-0613	openai-terms
google/gemma-2-9b-it	gemma
claude-3-opus	anthropic-terms
EOF
check "every model made by a run has its licence" diff <(sort "$T/want") <(sort "$T/models")

licence_tags() { "$AV" -C "$T/s" dump | grep -c '"attrs":{"licence":' || true; }
check "one licence tag per model" test "$(licence_tags)" = 7
"$AV" -C "$T/s" judge rate "${E[@]}" --judge gpt-4-0613 --aspects honesty
"$AV" -C "$T/s" generate responses "${E[@]}" --model mystery-9b
check "a rerun adds no second tag" test "$(licence_tags)" = 7

# the generated prompts come from Llama 3, their first responses from Qwen2-7B
"$AV" -C "$T/s" audit --kind prompt --format json > "$T/prompts.json"
check "audited prompts: Llama 3 wrote them, Gemma tagged them" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["combinations"] == [{"licences": ["gemma", "llama3"], "rows": 2}] else 1)' "$T/prompts.json"
"$AV" -C "$T/s" audit --rows --where 'model = "Qwen/Qwen2-7B-Instruct"' > "$T/qwen"
check "a Magpie response: llama3 prompt, apache-2.0 response, gpt-4 judge, gemma tagger" \
    test "$(cut -f2 "$T/qwen" | sort -u)" = "apache-2.0 + gemma + llama3 + openai-terms"
"$AV" -C "$T/s" audit --rows --where 'model = "mystery-9b"' > "$T/mystery"
check "an unknown model still shows as unknown" grep -q "model 'mystery-9b' has no licence" "$T/mystery"
"$AV" -C "$T/s" audit --rows --where 'model = "house-model"' > "$T/house"
check "a user-set licence is kept" grep -q "mit" "$T/house"
finish
