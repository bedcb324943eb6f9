#!/usr/bin/env bash
# query_agreement.sh: index/scan agreement through the CLI: every expression
# gives the same ids with the indexes and with --no-index (and with
# AVIARY_QUERY_NO_INDEX=1), at head and at version 1, for several --kind.
. "$(dirname "$0")/lib/query_lib.bash"
build_store
exprs=(
    'tag.task_category = "Math"'
    'tag.task_category = "Math" and tag.input_quality in ("good", "excellent")'
    'tag.task_category in ("Math", "Planning") or tag.language = "FR"'
    'not tag.task_category = "Math" and tag.difficulty != "easy"'
    'tag.instruct_reward > 0 and tag.language = "EN"'
    'tag.instruct_reward > 0'
    'tag.instruct_reward <= -1 or tag.instruct_reward >= 2.5'
    'tag.language = "ZH" or response contains "🍂"'
    'model = "gpt-4" or model = "llama-2-13b-chat"'
    'source = "query_ultrafeedback" and rating.helpfulness >= 4'
    'source = "query_magpie" and len(response) < 20'
    'tag.source = "evol_instruct"'
    'tag.min_similar_uuid = null and tag.repeat_count = 0'
    'tag.llama_guard_2 = "safe" and exists tag.other_task_category'
    'licence = "mit" and model = "gpt-4"'
    'version = 2 and tag.source = "false_qa"'
    'kind = "response" and tag.task_category = "Editing"'
)
n=0
for kind in response prompt rating tag all; do
    for at in 1 2; do
        for e in "${exprs[@]}"; do
            a=$("$A" -C "$S" query "$e" --kind $kind --at $at --format ids 2>&1)
            b=$("$A" -C "$S" query "$e" --kind $kind --at $at --format ids --no-index 2>&1)
            c=$(AVIARY_QUERY_NO_INDEX=1 "$A" -C "$S" query "$e" --kind $kind --at $at --format ids 2>&1)
            out="index: $a / scan: $b" err=""
            check "agree: $e (--kind $kind --at $at)" test "$a" = "$b" -a "$a" = "$c"
            [ -n "$a" ] && n=$((n + 1))
        done
    done
done
# the comparisons are not vacuous: most of them select something
check "non-empty answers ($n)" test "$n" -ge 40
finish
