#!/usr/bin/env bash
# audit_export.sh: export gating by licence policy on the shipped mixed
# sample (tests/data/licence_mixed.jsonl): an export refused by a policy
# lists the violating rows and leaves nothing behind (folder or file);
# --drop-violations leaves them out and says how many; the dataset card's
# license fields come from the exported rows' lineage.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
P=$SRC/tests/data/policies
"$A" init "$S" >/dev/null && "$A" -C "$S" add "$SRC/tests/data/licence_mixed.jsonl" 2>/dev/null
check "sample loads" test $? = 0

run "$A" -C "$S" export --format sft --out "$T/refused" --policy "$P/no-openai.json"
check "refused: exit 1" test "$rc" = 1
check "refused: nothing on stdout" test -z "$out"
check "refused: the folder is not there" test ! -e "$T/refused"
check "refused: lists r1a" has "$err" "  b991cd3ecbde19def705e6332437343e  licence 'openai-terms' is denied"
check "refused: lists r4" has "$err" "  513fdc7ac834978f4b570241b31d826a  licence 'openai-terms' is denied"
check "refused: says why" has "$err" "aviary: export refused: 3 of 6 rows violate policy 'no OpenAI outputs'; nothing was written (--drop-violations leaves them out)"
check "refused: no temporary left" test -z "$(ls -A "$T" | grep -v '^s$' | grep -v '^\.')"

run "$A" -C "$S" export --format sft --out "$T/refused.jsonl" --policy "$P/commercial.json"
check "refused file: exit 1" test "$rc" = 1
check "refused file: not created" test ! -e "$T/refused.jsonl"
check "refused file: 6 of 6" has "$err" "6 of 6 rows violate policy 'commercial release'"

run "$A" -C "$S" export --format sft --out "$T/kept" --container jsonl --policy "$P/no-openai.json" --drop-violations
check "drop: exit 0" test "$rc" = 0
check "drop: says how many" has "$err" "left out 3 of 6 rows that violate policy 'no OpenAI outputs'"
check "drop: 3 rows written" test "$(cat "$T"/kept/data/*.jsonl | wc -l)" = 3
check "drop: card licence is other" has "$(cat "$T/kept/README.md")" 'license: "other"'
check "drop: card names the licences of what was kept" \
    has "$(cat "$T/kept/README.md")" 'license_name: "acme-weird-and-apache-2.0-and-llama3-and-mit-and-unknown"'
check "drop: no OpenAI in the card's licences" test -z "$(grep -c 'openai-terms' "$T/kept/README.md" | grep -v '^0$')"

printf '{"licences": {"deny": ["llama2"]}}\n' >"$T/no-llama2.json"
run "$A" -C "$S" export --format sft --out "$T/uf.jsonl" --where 'source = "ultrafeedback"' --policy "$T/no-llama2.json" --drop-violations
check "drop with --where: exit 0" test "$rc" = 0
check "drop with --where: one left out" has "$err" "left out 1 of 3 rows that violate policy '$T/no-llama2.json'"
check "drop with --where: 2 rows" test "$(wc -l <"$T/uf.jsonl")" = 2

printf '{"unknown": "allow"}\n' >"$T/all.json"
run "$A" -C "$S" export --format sft --out "$T/all.jsonl" --policy "$T/all.json"
check "allowed: exit 0" test "$rc" = 0
check "allowed: 6 rows" test "$(wc -l <"$T/all.jsonl")" = 6

run "$A" -C "$S" export --format sft --out "$T/x.jsonl" --drop-violations
check "--drop-violations alone: usage" test "$rc" = 2
run "$A" -C "$S" export --format sft --out "$T/x.jsonl" --policy "$P/bad-licence.json"
golden "bad policy" 1 "" "aviary: $P/bad-licence.json:6: 'mti' is not a known licence (see 'aviary licence list')"
check "bad policy: nothing written" test ! -e "$T/x.jsonl"

finish
