#!/usr/bin/env bash
# query_errors.sh: what `aviary query` and `aviary stats` say on bad input:
# a syntax error shows the expression with a caret (exit 2); an unknown field
# lists the nearest known ones; a string compared with a number is an error
# at compile time (exit 2) or, for a tag, at run time naming the record
# (exit 1), never an empty answer; bad options are usage errors; --help.
. "$(dirname "$0")/lib/query_lib.bash"
build_store

run "$A" -C "$S" query 'tag.task_category = "Math" and'
gold err_syntax_end 2
run "$A" -C "$S" query 'tag.task_category = Math'
gold err_unquoted 2
run "$A" -C "$S" query '(tag.x = 1 or tag.y = 2'
gold err_paren 2
run "$A" -C "$S" query 'tag.note = "café" tag.y = 2'
gold err_caret_unicode 2
run "$A" -C "$S" query 'licnse = "mit"'
gold err_unknown_field 2
run "$A" -C "$S" query 'task_category = "Math"'
gold err_unknown_tag_field 2
run "$A" -C "$S" query 'len(response) > "long"'
gold err_type_compile 2
run "$A" -C "$S" query 'tag.instruct_reward > "3"'
gold err_type_runtime 1
run "$A" -C "$S" query 'tag.task_category = 3'
gold err_type_runtime_index 1
run "$A" -C "$S" query 'instruction matches "(["'
gold err_regex 2
run "$A" -C "$S" query --format xml
gold err_format 2
run "$A" -C "$S" query --kind answer
gold err_kind 2
run "$A" -C "$S" query --limit -3
gold err_limit 2
run "$A" -C "$S" query 'tag.a = 1' 'tag.b = 2'
gold err_two_exprs 2
run "$A" -C "$S" query --order-by nosuch
gold err_order_by 2
run "$A" -C "$S" query --at 9
check "query --at 9: exit 1" test "$rc" = 1
check "query --at 9: names the version" has "$err" "9"
run "$A" -C "$S" stats --group-by tag.task_category --agg tag.task_category
gold err_agg_string 1
run "$A" -C "$S" stats --where 'tag.x = 1'
gold err_where_without_group 2
run "$A" -C "$S" stats --group-by 'tag.x = 1'
gold err_group_by 2
run "$A" query --help
check "query --help: exit 0" test "$rc" = 0
check "query --help: usage on stdout" has "$out" "usage: aviary query [<expr>]"
run "$A" stats --help
check "stats --help: exit 0" test "$rc" = 0
check "stats --help: usage on stdout" has "$out" "usage: aviary stats"
run "$A" -C "$T/nostore" query
check "no store: exit 1" test "$rc" = 1
check "no store: says so" has "$err" "no aviary store in"
finish
