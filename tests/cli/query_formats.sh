#!/usr/bin/env bash
# query_formats.sh: golden outputs of `aviary query` in every --format
# (table, jsonl, ids, count), --fields, --order-by/--desc, --limit, --kind,
# --at, and of `aviary stats` (plain and --group-by, every format) on the
# sample store (tests/data/query_magpie.jsonl + query_ultrafeedback.jsonl).
. "$(dirname "$0")/lib/query_lib.bash"
build_store
Q='tag.task_category = "Math" and tag.input_quality in ("good", "excellent")'

run "$A" -C "$S" query
gold all.table 0
for f in table jsonl ids count; do
    run "$A" -C "$S" query "$Q" --format $f
    gold math_good.$f 0
done
run "$A" -C "$S" query "$Q" --fields 'id,tag.uuid,len(response),instruct_reward_is_tag' 
gold fields_unknown 2
run "$A" -C "$S" query "$Q" --fields 'id,tag.uuid,len(response),tag.other_task_category,licence' --format jsonl
gold math_good_fields.jsonl 0
run "$A" -C "$S" query "$Q" --fields 'instruction,len(response),tag.instruct_reward' --order-by tag.instruct_reward --desc
gold math_good_by_reward.table 0
run "$A" -C "$S" query --order-by 'len(response)' --limit 3 --fields 'len(response),response' --format jsonl
gold shortest3.jsonl 0
run "$A" -C "$S" query 'instruction matches "^[Ww]hat"' --limit 2 --format ids
gold limit2.ids 0
run "$A" -C "$S" query 'response contains "🍂" or instruction contains "量子"' --fields 'tag.language,instruction,response'
gold unicode.table 0
run "$A" -C "$S" query --kind rating 'score >= 4' --fields 'id,name,score,response' 
gold ratings.table 0
run "$A" -C "$S" query --kind prompt 'tag.source = "false_qa"' --format jsonl
gold prompt_false_qa.jsonl 0
run "$A" -C "$S" query 'licence = "llama2"' --fields 'model,licence,instruction'
gold licence_llama2.table 0
run "$A" -C "$S" query --format count
gold count_head 0
run "$A" -C "$S" query --format count --at 1
gold count_at_1 0
"$A" -C "$S" tag release-1 1 >/dev/null 2>&1
run "$A" -C "$S" query 'source = "query_magpie" or source = "query_ultrafeedback"' --format count --at release-1
gold count_at_label 0
run "$A" -C "$S" query 'source = "query_ultrafeedback"' --format count --at HEAD~1
gold count_at_head_minus_1 0
run "$A" -C "$S" query 'version = 2' --fields id,version,source --format jsonl
gold version2.jsonl 0
run "$A" -C "$S" query "$Q" --explain
gold explain 0

run "$A" -C "$S" stats --group-by tag.task_category --agg tag.instruct_reward
gold group_category.table 0
run "$A" -C "$S" stats --group-by tag.task_category --agg tag.instruct_reward --format jsonl
gold group_category.jsonl 0
run "$A" -C "$S" stats --group-by tag.input_quality --where 'tag.task_category = "Math"'
gold group_quality_math.table 0
run "$A" -C "$S" stats --group-by model --kind response --agg 'len(response)'
gold group_model.table 0
run "$A" -C "$S" stats --group-by name --kind rating --agg score --format jsonl
gold group_rating_aspect.jsonl 0
run "$A" -C "$S" stats --group-by licence --at 1
gold group_licence_at_1.table 0
# plain stats: sizes depend on compression, so they are masked
run "$A" -C "$S" stats
out=$(printf '%s\n' "$out" | sed -E 's/^(on disk +).*/\1<size>/; s/^(texts +[0-9]+ distinct, ).*/\1<sizes>/')
gold stats.text 0
run "$A" -C "$S" stats --format json
out=$(printf '%s\n' "$out" | sed -E 's/"file_bytes":[0-9]+/"file_bytes":N/; s/"(raw_bytes|stored_bytes|dictionaries)":[0-9]+/"\1":N/g')
gold stats.json 0
run "$A" -C "$S" stats --at 1
out=$(printf '%s\n' "$out" | sed -E 's/^(on disk +).*/\1<size>/; s/^(texts +[0-9]+ distinct, ).*/\1<sizes>/')
gold stats_at_1.text 0
finish
